"""Request and response shapes of the row-oriented protocols: KServe v1 / TF Serving and MLflow.

Each decoder turns a decoded JSON payload into feature columns through the shared `Schema`, so
all protocols validate identically; only the envelope checks (top-level keys, frame layout)
live here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from locust_mlstress.servers.reference.model import Model
from locust_mlstress.servers.reference.validation import InputError, Schema, type_name


@dataclass
class Decoded:
    """A validated batch: feature columns (None = missing) plus protocol details to echo back."""

    columns: dict[str, list[object]]
    n: int
    request_id: str | None = None
    outputs: tuple[str, ...] | None = None  # v2: the outputs the client asked for


def require_object(payload: object, expected: str) -> dict[str, object]:
    if not isinstance(payload, dict):
        raise InputError(400, f"request body must be a JSON object with {expected}, got {type_name(payload)}")
    return payload


def check_keys(payload: dict[str, object], allowed: tuple[str, ...], where: str, strict: bool) -> None:
    if not strict:
        return
    for key in payload:
        if key not in allowed:
            raise InputError(400, f"{where}unknown key {key!r} (expected {' or '.join(map(repr, allowed))})")


def decode_v1(payload: object, schema: Schema, model: Model) -> Decoded:
    """`{"instances": [...], "signature_name"?: str}` (KServe v1 and TF Serving REST)."""
    if not schema.strict and not isinstance(payload, dict):
        payload = {"instances": payload}
    body = require_object(payload, "an 'instances' list")
    check_keys(body, ("instances", "signature_name"), "", schema.strict)
    if "instances" not in body:
        raise InputError(400, "missing top-level key 'instances'")
    signature = body.get("signature_name")
    if schema.strict and signature is not None and not isinstance(signature, str):
        raise InputError(400, f"signature_name: expected a string, got {type_name(signature)}")
    columns = schema.rows(body["instances"], "instances")
    return Decoded(columns, _length(columns))


def decode_mlflow(payload: object, schema: Schema, model: Model) -> Decoded:
    """MLflow scoring server: `dataframe_split`, `dataframe_records`, `inputs` (or `instances`)."""
    formats = ("dataframe_split", "dataframe_records", "inputs", "instances")
    body = require_object(payload, "one of " + ", ".join(map(repr, formats)))
    check_keys(body, (*formats, "params"), "", schema.strict)
    given = [key for key in formats if key in body]
    if not given or (schema.strict and len(given) > 1):
        raise InputError(400, f"expected exactly one of {', '.join(map(repr, formats))}, got {len(given)}")
    params = body.get("params")
    if schema.strict and params is not None and not isinstance(params, dict):
        raise InputError(400, f"params: expected an object, got {type_name(params)}")
    key = given[0]
    value = body[key]
    if key == "dataframe_split":
        columns = _dataframe_split(value, schema)
    elif key == "inputs" and isinstance(value, dict):
        n = _column_length(value, "inputs", schema)
        columns = schema.columns(value, n, "inputs", lambda name: f"inputs.{name}")
    else:
        columns = schema.rows(value, key)
    return Decoded(columns, _length(columns))


def _dataframe_split(frame: object, schema: Schema) -> dict[str, list[object]]:
    where = "dataframe_split"
    if not isinstance(frame, dict):
        raise InputError(400, f"{where}: expected an object with 'columns' and 'data', got {type_name(frame)}")
    check_keys(frame, ("columns", "data", "index"), f"{where}: ", schema.strict)
    names, data = frame.get("columns"), frame.get("data")
    if not isinstance(names, list) or not all(isinstance(c, str) for c in names):
        raise InputError(400, f"{where}.columns: expected a list of column names")
    if not isinstance(data, list):
        raise InputError(400, f"{where}.data: expected a list of rows, got {type_name(data)}")
    schema.check_field_count(len(names), f"{where}.columns")
    if schema.strict:
        if len(set(names)) != len(names):
            raise InputError(400, f"{where}.columns: duplicate column names")
        for name in names:
            if name not in schema.by_name:
                raise InputError(400, f"{where}.columns: unknown feature {name!r}")
    schema.check_batch_size(len(data), f"{where}.data")
    rows: list[object] = []
    for i, row in enumerate(data):
        if not isinstance(row, list) or (schema.strict and len(row) != len(names)):
            raise InputError(400, f"{where}.data[{i}]: expected a list of {len(names)} values, one per column")
        rows.append(dict(zip(names, row, strict=False)))
    return schema.rows(rows, f"{where}.data")


def _column_length(given: dict[str, object], where: str, schema: Schema) -> int:
    lengths = set()
    for name, values in given.items():
        if not isinstance(values, list):
            if schema.strict:
                raise InputError(400, f"{where}.{name}: expected a list of values, got {type_name(values)}")
            given[name] = [values]
        lengths.add(len(given[name]))  # type: ignore[arg-type]
    if len(lengths) > 1:
        raise InputError(400, f"{where}: columns have different lengths {sorted(lengths)}")
    n = lengths.pop() if lengths else 0
    if n == 0 and schema.strict:
        raise InputError(400, f"{where}: no instances")
    return n


def _length(columns: dict[str, list[object]]) -> int:
    for values in columns.values():
        return len(values)
    return 0


def encode_predictions(model: Model, model_name: str, predictions: np.ndarray, decoded: Decoded | None) -> dict:
    """`{"predictions": [...]}`: a probability, a list of K probabilities, or a value per instance."""
    return {"predictions": predictions.tolist()}


def guess_instances(payload: object) -> int:
    """How many predictions a client probably expects, for the neutral answers of lax "accept"."""
    if isinstance(payload, list):
        return len(payload)
    if not isinstance(payload, dict):
        return 1
    for key in ("instances", "dataframe_records"):
        if isinstance(payload.get(key), list):
            return len(payload[key])
    frame = payload.get("dataframe_split")
    if isinstance(frame, dict) and isinstance(frame.get("data"), list):
        return len(frame["data"])
    inputs = payload.get("inputs")
    if isinstance(inputs, dict):
        for values in inputs.values():
            return len(values) if isinstance(values, list) else 1
    if isinstance(inputs, list) and inputs and isinstance(inputs[0], dict):
        shape = inputs[0].get("shape")
        if isinstance(shape, list) and shape and isinstance(shape[0], int) and not isinstance(shape[0], bool):
            return shape[0]
    return 1
