"""The codec contract and the prediction checks every codec shares.

A codec runs inside every Locust request, so everything that can be decided from the profile
(which checker applies, which datatype a feature gets, which variants exist) is decided once in
`__init__`; the per-call paths only walk the rows and the response.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import ClassVar

from locust_mlstress.errors import ProfileError
from locust_mlstress.profile.model import Feature, Output, Target

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


def _binary_checker(classes: tuple[str, ...]) -> Checker:
    positive = classes[1] if len(classes) == 2 else None

    def check(items: object, n: int) -> list:
        items = check_count(items, n)
        out: list[float] = []
        for i, value in enumerate(items):
            t = type(value)
            if t is list:
                if len(value) == 1:
                    value = value[0]
                elif len(value) == 2:
                    value = value[1]
                else:
                    raise DecodeError(f"prediction {i} has {len(value)} values, expected 1 or 2")
            elif t is dict and positive is not None:
                if positive not in value:
                    raise DecodeError(f"prediction {i} has no class '{positive}'")
                value = value[positive]
            out.append(_probability(value, f"prediction {i}"))
        return out

    return check


def _multiclass_checker(classes: tuple[str, ...]) -> Checker:
    k = len(classes)

    def one(value: object, i: int) -> list[float]:
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

    def check(items: object, n: int) -> list:
        items = check_count(items, n)
        return [one(value, i) for i, value in enumerate(items)]

    return check


def _regression_check(items: object, n: int) -> list:
    items = check_count(items, n)
    out: list[float] = []
    for i, value in enumerate(items):
        if type(value) is list:
            if len(value) != 1:
                raise DecodeError(f"prediction {i} has {len(value)} values, expected 1")
            value = value[0]
        out.append(_real(value, f"prediction {i}"))
    return out


def prediction_checker(output: Output) -> Checker:
    """The function that turns raw per-instance predictions into validated floats."""
    if output.type == "binary":
        return _binary_checker(output.classes)
    if output.type == "multiclass":
        return _multiclass_checker(output.classes)
    if output.type == "regression":
        return _regression_check
    raise ValueError(f"unknown output type {output.type!r}")


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
        self._check = prediction_checker(output)
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

    def _items(self, document: object, n: int) -> object:
        raise NotImplementedError

    def decode(self, body: bytes, n: int) -> list:
        try:
            return self._check(self._items(parse_body(body), n), n)
        except DecodeError:
            raise
        except Exception as exc:
            # A codec bug or a pathological body (say, nesting deep enough to hit the recursion
            # limit) must read as a failed response, not crash the simulated user.
            raise DecodeError(f"unreadable response: {type(exc).__name__}: {exc}") from None

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
