"""Open Inference Protocol v2 (KServe v2, Triton, MLServer) over REST/JSON.

Two request layouts, because servers disagree on what an input is: MLServer and most
tabular runtimes want one named tensor per column, while Triton models exported from
NumPy-style training code usually declare one [batch, features] FP tensor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from locust_mlstress.codecs.base import (
    STRUCTURAL_VARIANTS,
    V2_DATATYPES,
    WRONG_DATATYPE,
    WRONG_RANK,
    WRONG_SHAPE,
    Codec,
    DecodeError,
    NotApplicable,
    Row,
    column,
    columns_of,
    infer_datatype,
    json_kind,
    option_error,
    require_key,
)
from locust_mlstress.domain.schema import Feature, Output, Target
from locust_mlstress.http.framing import shown

# Integer datatypes and the values each holds; an output of these (or BOOL) holds class labels.
INT_RANGES: dict[str, tuple[int, int]] = {
    **{f"INT{b}": (-(1 << (b - 1)), (1 << (b - 1)) - 1) for b in (8, 16, 32, 64)},
    **{f"UINT{b}": (0, (1 << b) - 1) for b in (8, 16, 32, 64)},
}
LABEL_DATATYPES = frozenset({*INT_RANGES, "BOOL"})  # exact names only: anything else is untyped
TENSOR_INPUT_NAME = "input-0"  # the tensor layout's input name unless target.v2_input_name says otherwise


# Clean values in a datatype's JSON form: a strict server (Triton) reads an INT64 tensor's 3.0 or
# a BOOL tensor's 1 as a type error. Only values that are the same number in another JSON type
# are converted; anything else (a string, null, NaN, 2.5 in an INT tensor: what a malformed
# payload puts there on purpose) is sent untouched, so faults reach the wire as built.
# `value: Any`: a JSON value whose type is tested through `t = type(value)`, which mypy does not
# narrow on
def _as_float(value: Any) -> object:
    t = type(value)
    if t is int or t is bool:
        try:
            return float(value)
        except OverflowError:  # an integer no float holds: sent as built
            return value
    return value


def _int_form(lo: int, hi: int) -> Callable[[object], object]:
    """The converter into an integer datatype of range [lo, hi]: an integral float becomes that
    integer only when the datatype holds it (1e300 stays a float: not a 301-digit integer)."""

    def as_int(value: Any) -> object:
        t = type(value)
        if t is float and value.is_integer() and lo <= value <= hi:
            return int(value)
        return int(value) if t is bool else value

    return as_int


_as_int = _int_form(*INT_RANGES["INT64"])


def _as_bool(value: object) -> object:
    t = type(value)
    if (t is int or t is float) and (value == 0 or value == 1):
        return bool(value)
    return value


def json_form(datatype: str) -> Callable[[object], object] | None:
    """The converter of clean values into `datatype`'s JSON form; None when there is nothing to do."""
    if datatype.startswith("FP"):
        return _as_float
    if datatype in INT_RANGES:
        return _int_form(*INT_RANGES[datatype])
    if datatype == "BOOL":
        return _as_bool
    return None


def _converted(values: list, convert: Callable[[object], object] | None) -> list:
    return values if convert is None else [convert(v) for v in values]


def _flatten(data: list) -> list:
    """Row-major flattening of nested `data`, which the spec allows servers to send."""
    flat: list = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if type(item) is list:
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def _valid_shape(shape: object) -> list[int] | None:
    if type(shape) is not list:
        return None
    for d in shape:
        if type(d) is not int or d < 0:
            return None
    return shape


def _malformed_tensor(variant: str, tensor: object) -> dict:
    if type(tensor) is not dict or _valid_shape(tensor.get("shape")) is None:
        raise NotApplicable("input tensor has no valid shape")
    shape: list[int] = tensor["shape"]
    out = dict(tensor)
    if variant == WRONG_SHAPE:
        # Claims one instance more than `data` holds: prod(shape) != len(data).
        out["shape"] = [shape[0] + 1, *shape[1:]] if shape else [2]
    elif variant == WRONG_RANK:
        # Two trailing unit dimensions: the element count still matches `data`, so only a
        # rank check catches it, and rank+2 cannot coincide with a model declared [-1, 1].
        out["shape"] = [*shape, 1, 1]
    else:
        # A real v2 datatype name that contradicts the values: numbers/booleans as BYTES,
        # strings as FP64.
        out["datatype"] = "FP64" if tensor.get("datatype") == "BYTES" else "BYTES"
    return out


class V2Codec(Codec):
    name = "v2"
    top_key = "inputs"
    variants = frozenset(STRUCTURAL_VARIANTS)

    def __init__(self, target: Target, features: tuple[Feature, ...], output: Output) -> None:
        super().__init__(target, features, output)
        self._tensor = target.v2_layout == "tensor"
        # columns layout: each wire name's datatype (the feature's own, else its type's) and converter
        self._dtypes = {f.wire_name: f.datatype or V2_DATATYPES[f.type] for f in features}
        self._convert = {name: json_form(dt) for name, dt in self._dtypes.items()}
        # tensor layout: one input, named and typed by the target
        self._input_name = target.v2_input_name
        self._tensor_dtype = target.v2_datatype
        self._tensor_convert = json_form(target.v2_datatype)
        self._parameters = dict(target.v2_parameters)
        self._requested = tuple(target.v2_outputs)
        self._wanted = self._requested[0] if self._requested else None
        if self._tensor:
            for f in features:
                if f.type in ("category", "text"):
                    raise option_error("v2_layout", f"'tensor' needs numeric features; '{f.name}' is {f.type}")

    # --- encode ----------------------------------------------------------------------------

    def _input(self, name: str, n: int, data: list) -> dict:
        """One column tensor; a column no feature owns (a malformed payload's extra key) is typed
        from its first value and sent as it is."""
        dt = self._dtypes.get(name)
        if dt is None:
            return {"name": name, "shape": [n], "datatype": infer_datatype(data[0] if data else None), "data": data}
        return {"name": name, "shape": [n], "datatype": dt, "data": _converted(data, self._convert[name])}

    def _columns(self, rows: list[Row]) -> list[dict]:
        if len(rows) == 1:
            return [self._input(c, 1, [v]) for c, v in rows[0].items()]
        n = len(rows)
        return [self._input(c, n, column(rows, c)) for c in columns_of(rows, self.features)]

    def _single_tensor(self, rows: list[Row]) -> dict:
        cols = columns_of(rows, self.features)
        data = list(rows[0].values()) if len(rows) == 1 else [r.get(c) for r in rows for c in cols]
        return {
            "name": self._input_name,
            "shape": [len(rows), len(cols)],
            "datatype": self._tensor_dtype,
            "data": _converted(data, self._tensor_convert),
        }

    def document(self, rows: list[Row]) -> dict:
        if self._wire:
            rows = self.wired(rows)
        inputs = [self._single_tensor(rows)] if self._tensor else self._columns(rows)
        document: dict = {"inputs": inputs}
        if self._requested:
            document["outputs"] = [{"name": o} for o in self._requested]
        if self._parameters:
            document["parameters"] = dict(self._parameters)
        return document

    def float_columns(self, names: Sequence[str]) -> frozenset[str]:
        if self._tensor:
            return frozenset(names) if self._tensor_convert is _as_float else frozenset()
        return frozenset(n for n in names if self._convert.get(self._wire.get(n, n)) is _as_float)

    # --- decode ----------------------------------------------------------------------------

    def _pick(self, outputs: list) -> dict:
        if self._wanted is None:
            if not outputs:
                raise DecodeError("'outputs' is empty")
            chosen = outputs[0]
            if type(chosen) is not dict:
                raise DecodeError(f"output 0 is {json_kind(chosen)}, expected an object")
            return chosen
        for out in outputs:
            if type(out) is dict and out.get("name") == self._wanted:
                return out
        raise DecodeError(f"no output named '{self._wanted}'")

    def _items(self, document: object, n: int) -> object:
        return self._answer(document, n)[0]

    def _answer(self, document: object, n: int) -> tuple[object, str | None]:
        """The chosen output's per-instance values, and its datatype when that is an integer or
        boolean one: MLServer's sklearn `predict` is INT64 labels whatever the values look like."""
        outputs = require_key(document, "outputs")
        if type(outputs) is not list:
            raise DecodeError(f"'outputs' is {json_kind(outputs)}, expected an array")
        out = self._pick(outputs)
        label = shown(out.get("name", "0"))  # the server's name: shortened, its own quotes
        datatype = out.get("datatype")
        # Only an exact integer/boolean datatype name types the output, so the text failure
        # reasons quote is always one of LABEL_DATATYPES, never unbounded server text.
        typed = datatype if type(datatype) is str and datatype in LABEL_DATATYPES else None
        if "data" not in out:
            raise DecodeError(f"missing key 'data' in output {label}")
        data = out["data"]
        if type(data) is not list:
            raise DecodeError(f"output {label} data is {json_kind(data)}, expected an array")
        nested = False
        for x in data:
            if type(x) is list:
                nested = True
                break
        shape = _valid_shape(out.get("shape"))
        if shape is None:
            # No usable shape: trust the nesting, one element per instance.
            return ([_flatten(x) if type(x) is list else x for x in data] if nested else data), typed
        flat = _flatten(data) if nested else data
        total = 1
        for d in shape:
            total *= d
        if total != len(flat):
            told = shape if len(shape) <= 8 else f"[{len(shape)} dimensions]"  # a server's list: bounded text
            raise DecodeError(f"output {label} has shape {told} but {len(flat)} values")
        if len(shape) == 0:
            return flat, typed
        if shape[0] != n:
            raise DecodeError(f"expected {n} predictions, got {shape[0]}")
        width = total // shape[0] if shape[0] else 0
        if len(shape) == 1 or width == 1:
            return flat, typed
        return [flat[i * width : (i + 1) * width] for i in range(shape[0])], typed

    # --- malform ---------------------------------------------------------------------------

    def _malform(self, variant: str, document: dict) -> dict:
        inputs = document.get("inputs")
        if type(inputs) is not list or not inputs:
            raise NotApplicable("document has no input tensors")
        if variant not in (WRONG_SHAPE, WRONG_RANK, WRONG_DATATYPE):
            raise NotApplicable(f"codec 'v2' cannot produce '{variant}'")
        out = dict(document)
        out["inputs"] = [_malformed_tensor(variant, t) for t in inputs]
        return out
