"""The codec contract and the prediction checks every codec shares.

A codec runs inside every Locust request, so everything that can be decided from the profile
(which checker applies, which datatype a feature gets, which variants exist) is decided once in
`__init__`; the per-call paths only walk the rows and the response.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from locust_mlstress.domain.schema import Feature, Output, Target
from locust_mlstress.errors import ProfileError
from locust_mlstress.http.framing import shown

# Structural malformation variants a codec may be asked to produce.
WRONG_TOP_LEVEL_KEY = "wrong_top_level_key"
WRONG_SHAPE = "wrong_shape"
WRONG_RANK = "wrong_rank"
WRONG_DATATYPE = "wrong_datatype"
STRUCTURAL_VARIANTS: tuple[str, ...] = (WRONG_TOP_LEVEL_KEY, WRONG_SHAPE, WRONG_RANK, WRONG_DATATYPE)

# Open Inference Protocol datatype per schema feature type.
V2_DATATYPES: dict[str, str] = {
    "float": "FP64",
    "int": "INT64",
    "bool": "BOOL",
    "category": "BYTES",
    "text": "BYTES",
}

Row = dict[str, object]
Checker = Callable[[object, int], list]


class DecodeError(Exception):
    """A response that cannot count as a valid answer; `reason` is short and human-readable."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotApplicable(Exception):
    """The codec's wire format has no way to express the requested malformation."""


def option_error(option: str, message: str) -> ProfileError:
    """A codec option the codec cannot work with, reported like any other profile mistake."""
    return ProfileError(None, f"target.{option}", message)


def _default(value: object) -> object:
    # Only reached for values json cannot serialise (numpy scalars from a dataset source, odd
    # objects in a deliberately malformed row): encoding must degrade, never crash.
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return item()
        except Exception:
            pass
    return str(value)


# One shared encoder: json.dumps(...) with non-default options builds a new encoder per call.
# ensure_ascii keeps lone surrogates in text features encodable; allow_nan is needed because
# malformed payloads carry NaN on purpose.
ENCODER = json.JSONEncoder(allow_nan=True, separators=(",", ":"), default=_default)
_DECODER = json.JSONDecoder()

_JSON_NAMES: dict[type, str] = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    type(None): "null",
    int: "a number",
    float: "a number",
}


def json_kind(value: object) -> str:
    """Name a value the way the server author sees it on the wire, not by its Python type."""
    return _JSON_NAMES.get(type(value), type(value).__name__)


def dump(document: object) -> bytes:
    return ENCODER.encode(document).encode("utf-8")


def parse_body(body: bytes | bytearray | memoryview | str) -> object:
    """Parse a response body strictly as UTF-8 JSON (json.loads would also guess UTF-16/32)."""
    if isinstance(body, str):
        text = body
    else:
        if not body:
            raise DecodeError("empty body")
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError("body is not UTF-8") from None
    if not text or text.isspace():
        raise DecodeError("empty body")
    try:
        return _DECODER.decode(text)
    except ValueError as exc:
        raise DecodeError(f"body is not JSON: {exc}") from None
    except RecursionError:  # a body nested past the interpreter's limit: no answer, not a crash
        raise DecodeError("body is not JSON: nested too deeply") from None


def require_key(document: object, key: str) -> object:
    if type(document) is not dict:
        raise DecodeError(f"response is {json_kind(document)}, expected an object with '{key}'")
    try:
        return document[key]
    except KeyError:
        raise DecodeError(f"missing key '{key}'") from None


def check_count(items: object, n: int, what: str = "predictions") -> list:
    if type(items) is not list:
        raise DecodeError(f"'{what}' is {json_kind(items)}, expected an array")
    if len(items) != n:
        raise DecodeError(f"expected {n} predictions, got {len(items)}")
    return items


def _not_a_number(value: object, label: str) -> DecodeError:
    if type(value) is bool:
        return DecodeError(f"{label} is a boolean, not a number")
    if isinstance(value, float) and math.isnan(value):
        return DecodeError(f"{label} is NaN")
    if isinstance(value, float) and math.isinf(value):
        return DecodeError(f"{label} is {value}")
    return DecodeError(f"{label} is {json_kind(value)}, not a number")


def _probability(value: object, label: str) -> float:
    # Fast path first: a float in range is by far the common case, and NaN fails the comparison.
    t = type(value)
    if t is float:
        if 0.0 <= value <= 1.0:  # type: ignore[operator]
            return value  # type: ignore[return-value]
        if not math.isfinite(value):  # type: ignore[arg-type]
            raise _not_a_number(value, label)
    elif t is int:
        if 0 <= value <= 1:  # type: ignore[operator]
            return float(value)  # type: ignore[arg-type]
    else:
        raise _not_a_number(value, label)
    raise DecodeError(f"{label} is {value!r}, outside [0, 1]")


def _real(value: object, label: str) -> float:
    t = type(value)
    if t is float:
        if math.isfinite(value):  # type: ignore[arg-type]
            return value  # type: ignore[return-value]
    elif t is int:
        try:
            return float(value)  # type: ignore[arg-type]
        except OverflowError:
            raise DecodeError(f"{label} is too large for a float") from None
    raise _not_a_number(value, label)


# An answer checker: (raw items, n, the output's integer/boolean datatype or None) ->
# (validated predictions, labels_only). One pass over the instances, whatever the answer.
AnswerChecker = Callable[[object, int, "str | None"], tuple[list, bool]]


def class_ids(classes: tuple[str, ...]) -> dict[int, int]:
    """Integer answer -> class index. When every class name is an integer written plainly (what
    `mlstress init` writes for integer labels: sorted, e.g. ("1", "2", "3")), an integer answer
    is the class of that name; otherwise it is a position (0 = the first class)."""
    ids: dict[int, int] = {}
    for j, name in enumerate(classes):
        try:
            v = int(name)
        except ValueError:
            return {j: j for j in range(len(classes))}
        if str(v) != name:  # "01", "+1", " 1": not the integer's own text
            return {j: j for j in range(len(classes))}
        ids[v] = j
    return ids


def _ids_text(ids: dict[int, Any]) -> str:
    """The integer class ids, for a failure text: "0 or 1", "0..2", or the names ("1, 2, 3")."""
    keys = list(ids)
    if keys == list(range(len(keys))):
        return "0 or 1" if len(keys) == 2 else f"0..{len(keys) - 1}"
    return ", ".join(map(str, keys[:10])) + (", ..." if len(keys) > 10 else "")


def _binary_checker(classes: tuple[str, ...]) -> AnswerChecker:
    positive = classes[1] if len(classes) == 2 else None
    negative, positive_name = classes if len(classes) == 2 else ("0", "1")  # the loader's default classes
    names = {negative: 0.0, positive_name: 1.0}
    ids = {v: float(j) for v, j in class_ids((negative, positive_name)).items()}
    # Integers 0 and 1 read as a label give the same number as read as a probability: such an
    # answer is ambiguous, recorded as probabilities, and judged at the kind level (quality/figures.py).
    # Otherwise (classes ("1", "2"): 2 is the positive class) an integer class name is a label.
    ambiguous = ids == {0: 0.0, 1: 1.0}

    def check(items: object, n: int, typed: str | None = None) -> tuple[list, bool]:
        """Probabilities of the positive class; a class label reads as 0.0/1.0 and is counted.

        Certain labels are a boolean, a class name, an integer class name other than 0/1 (classes
        ("1", "2")), or anything in an output whose datatype is integer/boolean; the answer is
        labels-only when every instance is one. A JSON 0 or 1 otherwise is a probability written
        without a fraction (JSON from JavaScript or Go writes 1.0 as 1): whether a kind whose
        answers are all exactly 0 or 1 answered labels is decided over the kind, not per answer.
        """
        items = check_count(items, n)
        out: list[float] = []
        labels = 0  # instances answered as a certain class label
        named = 0  # of those, by an integer class name (which a probability 0/1 could also be)
        for i, value in enumerate(items):
            t = type(value)
            if t is float and typed is None:  # the common case: a probability
                out.append(_probability(value, f"prediction {i}"))
                continue
            scalar = True
            if t is list:
                if len(value) == 1:
                    value = value[0]
                elif len(value) == 2:
                    value, scalar = value[1], False
                else:
                    raise DecodeError(f"prediction {i} has {len(value)} values, expected 1 or 2")
                t = type(value)
            elif t is dict and positive is not None:
                if positive not in value:
                    raise DecodeError(f"prediction {i} has no class '{positive}'")
                value, scalar = value[positive], False
                t = type(value)
            if scalar:
                if t is bool:
                    out.append(1.0 if value else 0.0)
                    labels += 1
                    continue
                if t is int:
                    p = ids.get(value)
                    if p is not None and (typed is not None or not ambiguous):
                        out.append(p)
                        labels += 1
                        named += typed is None
                        continue
                    if typed is not None:
                        which = _ids_text(ids)
                        raise DecodeError(f"prediction {i} is {value!r}, not a class id ({which}) of a {typed} output")
                elif t is str and value in names:
                    out.append(names[value])
                    labels += 1
                    continue
            if typed is not None:
                raise DecodeError(f"prediction {i} is {json_kind(value)}, expected a class id in a {typed} output")
            out.append(_probability(value, f"prediction {i}"))
        if labels and labels == len(out):
            return out, True
        if labels:
            if named == labels:  # integer names among probabilities: probabilities written as 0 or 1
                return [_probability(_scalar(v), f"prediction {i}") for i, v in enumerate(items)], False
            raise DecodeError("the answer mixes class labels and probabilities")
        return out, False

    def _scalar(value: Any) -> object:
        if type(value) is list:
            return value[-1] if len(value) == 2 else value[0]
        if type(value) is dict:
            return value[positive]
        return value

    return check


def _multiclass_checker(classes: tuple[str, ...]) -> AnswerChecker:
    k = len(classes)
    index = {name: j for j, name in enumerate(classes)}
    ids = class_ids(classes)  # an integer answer by class name, or by position (class_ids)
    onehot = [tuple(1.0 if j == c else 0.0 for j in range(k)) for c in range(k)]

    def one(value: Any, i: int) -> list[float]:  # Any: a JSON value, tested by `type(value) is`
        t = type(value)
        if t is list:
            if len(value) != k:
                raise DecodeError(f"prediction {i} has {len(value)} values, expected {k}")
            return [_probability(p, f"prediction {i}[{j}]") for j, p in enumerate(value)]
        if t is dict:
            probs = []
            for name in classes:
                if name not in value:
                    raise DecodeError(f"prediction {i} has no class '{name}'")
                probs.append(_probability(value[name], f"prediction {i}['{name}']"))
            return probs
        raise DecodeError(f"prediction {i} is {json_kind(value)}, expected {k} class probabilities")

    def check(items: object, n: int, typed: str | None = None) -> tuple[list, bool]:
        """Class-probability vectors; a class id (an integer class name, or a position when the
        names are not integers) or a class name reads as one-hot. A whole answer is labels or
        probabilities: a mix of the two is no answer."""
        items = check_count(items, n)
        out: list[list[float]] = []
        labels = 0
        for i, value in enumerate(items):
            t = type(value)
            if t is list and len(value) == 1 and type(value[0]) in (int, str):  # [[2]]: one label per row
                value = value[0]
                t = type(value)
            if t is int:
                c = ids.get(value)
                if c is None:
                    raise DecodeError(f"prediction {i} is {value}, not a class id ({_ids_text(ids)})")
                out.append(list(onehot[c]))
                labels += 1
                continue
            if t is str and value in index:
                out.append(list(onehot[index[value]]))
                labels += 1
                continue
            if typed is not None:
                raise DecodeError(f"prediction {i} is {json_kind(value)}, expected a class id in a {typed} output")
            out.append(one(value, i))
        if labels:
            if labels != len(out):
                raise DecodeError("the answer mixes class labels and probabilities")
            return out, True
        return out, False

    return check


def _regression_check(items: object, n: int, typed: str | None = None) -> tuple[list, bool]:
    items = check_count(items, n)
    out: list[float] = []
    for i, value in enumerate(items):
        if type(value) is list:
            if len(value) != 1:
                raise DecodeError(f"prediction {i} has {len(value)} values, expected 1")
            value = value[0]
        out.append(_real(value, f"prediction {i}"))
    return out, False


def answer_checker(output: Output) -> AnswerChecker:
    """The function that turns raw per-instance predictions into validated floats, and says
    whether the server answered class labels instead of probabilities."""
    if output.type == "binary":
        return _binary_checker(output.classes)
    if output.type == "multiclass":
        return _multiclass_checker(output.classes)
    if output.type == "regression":
        return _regression_check
    raise ValueError(f"unknown output type {output.type!r}")


def prediction_checker(output: Output) -> Checker:
    """`answer_checker` without the labels flag: (items, n) -> predictions."""
    check = answer_checker(output)
    return lambda items, n: check(items, n, None)[0]


MAX_VERSION_CHARS = 200  # a model version is an identifier; a longer one is cut, not stored whole


def body_version(document: object) -> str | None:
    """A top-level `model_version` in an answer (v2 always names one; KServe v1 and MLflow
    servers may), as text; None when absent or not a string or integer."""
    if type(document) is not dict:
        return None
    value = document.get("model_version")
    if type(value) is str:
        return value[:MAX_VERSION_CHARS] if value else None
    if type(value) is int:
        return str(value)
    return None


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded answer: per-instance predictions (probability shape even for labels: 0.0/1.0 or
    one-hot), whether the server answered certain labels only (a binary answer of only 0/1 values
    is not: the run judges those over the kind, figures.hard_labels), and the model version the
    body names."""

    predictions: list
    labels_only: bool = False
    model_version: str | None = None


# --- row helpers shared by the columnar layouts ---------------------------------------------


def columns_of(rows: Sequence[Row], features: Sequence[Feature]) -> list[str]:
    """Columns follow the first row, not the schema, so malformed rows reach the wire as built."""
    if rows:
        return list(rows[0])
    return [f.wire_name for f in features]


def column(rows: Sequence[Row], name: str) -> list[object]:
    if len(rows) == 1:
        return [rows[0].get(name)]
    return [r.get(name) for r in rows]


def matrix(rows: Sequence[Row], columns: Sequence[str]) -> list[list[object]]:
    if len(rows) == 1:
        # The first row's own order is the column order, so no lookups are needed.
        return [list(rows[0].values())]
    first = rows[0]
    return [list(first.values())] + [[r.get(c) for c in columns] for r in rows[1:]]


def infer_datatype(value: object) -> str:
    t = type(value)
    if t is bool:
        return "BOOL"
    if t is int:
        return "INT64"
    if t is str:
        return "BYTES"
    return "FP64"


def renamed_key(key: str) -> str:
    """A near-miss spelling of `key`, the kind of typo a client bug produces."""
    return key[:-1] + "z" if key and key[-1] != "z" else key + "_"


def rename_top_key(document: dict, key: str) -> dict:
    if key not in document:
        raise NotApplicable(f"document has no top-level key '{key}'")
    wrong = renamed_key(key)
    return {(wrong if k == key else k): v for k, v in document.items()}


class Codec:
    """Encode a batch of rows into a request body and decode the response into predictions.

    Subclasses implement `document` and `_items` (raw per-instance predictions out of the
    parsed response); the base does the JSON, the validation, and the exception firewall that
    keeps anything but `DecodeError` from reaching a Locust user.
    """

    name: ClassVar[str] = ""
    content_type: str = "application/json"
    top_key: str = ""
    variants: frozenset[str] = frozenset({WRONG_TOP_LEVEL_KEY})

    def __init__(self, target: Target, features: tuple[Feature, ...], output: Output) -> None:
        self.target = target
        self.features = tuple(features)
        self.output = output
        self._check = answer_checker(output)
        # profile name -> wire key, for the features the model knows by another name
        self._wire = {f.name: f.wire for f in self.features if f.wire is not None and f.wire != f.name}

    def wired(self, rows: Sequence[Row]) -> list[Row]:
        """The rows keyed as the model knows its features (`wire`); keys no feature owns (a
        malformed payload's extra field) pass unchanged, so faults reach the wire as built."""
        wire = self._wire
        if not wire:
            return list(rows)
        return [{wire.get(k, k): v for k, v in r.items()} if type(r) is dict else r for r in rows]

    def document(self, rows: list[Row]) -> dict:
        raise NotImplementedError

    def encode(self, rows: list[Row]) -> bytes:
        return dump(self.document(rows))

    def float_columns(self, names: Sequence[str]) -> frozenset[str]:
        """The columns whose clean integers and booleans this codec writes as JSON floats (3 as
        3.0, a v2 FP tensor's JSON form), so a body template writes them alike (templates.py)."""
        return frozenset()

    def _items(self, document: object, n: int) -> object:
        raise NotImplementedError

    def _answer(self, document: object, n: int) -> tuple[object, str | None]:
        """Raw per-instance predictions, and the output's datatype when it declares integers or
        booleans (labels whatever the values); only the v2 codec has datatypes to read."""
        return self._items(document, n), None

    def decode_result(self, body: bytes, n: int) -> Decoded:
        """The answer as `Decoded`; raises `DecodeError` for anything that is not one."""
        try:
            document = parse_body(body)
            items, typed = self._answer(document, n)
            predictions, labels_only = self._check(items, n, typed)
            return Decoded(predictions, labels_only, body_version(document))
        except DecodeError:
            raise
        except Exception as exc:
            # A codec bug or a pathological body (say, nesting deep enough to hit the recursion
            # limit) must read as a failed response, not crash the simulated user.
            raise DecodeError(f"unreadable response: {type(exc).__name__}: {shown(str(exc), 80)}") from None

    def decode(self, body: bytes, n: int) -> list:
        """Just the predictions (`decode_result(...).predictions`)."""
        return self.decode_result(body, n).predictions

    def supports(self, variant: str) -> bool:
        return variant in self.variants

    def malform(self, variant: str, document: dict) -> dict:
        if not self.supports(variant):
            raise NotApplicable(f"codec '{self.name}' cannot produce '{variant}'")
        if variant == WRONG_TOP_LEVEL_KEY:
            return rename_top_key(document, self.top_key)
        return self._malform(variant, document)

    def _malform(self, variant: str, document: dict) -> dict:
        raise NotApplicable(f"codec '{self.name}' cannot produce '{variant}'")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
