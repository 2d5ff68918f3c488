"""The Open Inference Protocol (KServe / Triton "v2"): tensors in, named tensors out.

Two request layouts are accepted. "columns": one tensor per feature, shape [n] or [n, 1], with
the datatype of the feature's type. "tensor": a single [n, F] tensor named `input-0` holding the
numeric (float, int, bool) features in schema order; it cannot carry strings, so category and
text features count as missing there. Shape, datatype and data must agree exactly, because a
server that guesses at tensors hides exactly the encoder bugs a stress run is meant to find.
"""

from __future__ import annotations

import math

import numpy as np

from locust_mlstress.domain.schema import Feature
from locust_mlstress.servers.reference.model import Model
from locust_mlstress.servers.reference.protocols import Decoded, check_keys, require_object
from locust_mlstress.servers.reference.validation import InputError, Schema, type_name

TENSOR_NAME = "input-0"
FLOAT_TYPES = ("FP64", "FP32", "FP16")
INT_TYPES = ("INT64", "INT32", "INT16", "INT8", "UINT64", "UINT32", "UINT16", "UINT8")
DATATYPES: dict[str, tuple[str, ...]] = {
    "float": FLOAT_TYPES,
    "int": INT_TYPES,
    "bool": ("BOOL",),
    "category": ("BYTES",),
    "text": ("BYTES",),
}
NUMERIC = ("float", "int", "bool")


def _datatype_accepts(datatype: str, value: object) -> bool:
    """Does one data element fit the declared datatype? (null passes: it means a missing value.)"""
    if value is None:
        return True
    if datatype in FLOAT_TYPES:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if datatype in INT_TYPES:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return ok and (value >= 0 or not datatype.startswith("U"))  # type: ignore[operator]
    if datatype == "BOOL":
        return isinstance(value, bool)
    return isinstance(value, str)


def output_specs(model: Model) -> dict[str, tuple[str, int]]:
    """Output name -> (datatype, rank) for the model's output type."""
    if model.output.type == "binary":
        return {"probability": ("FP64", 1), "label": ("INT64", 1)}
    if model.output.type == "multiclass":
        return {"probabilities": ("FP64", 2), "label": ("BYTES", 1)}
    return {"value": ("FP64", 1)}


def metadata(model: Model, model_name: str, version: str = "1") -> dict:
    k = len(model.output.classes)
    return {
        "name": model_name,
        "versions": [version],
        "platform": "locust-mlstress-reference",
        "inputs": [
            {"name": f.wire_name, "datatype": f.datatype or DATATYPES[f.type][0], "shape": [-1]} for f in model.features
        ],
        "outputs": [
            {"name": name, "datatype": datatype, "shape": [-1] if rank == 1 else [-1, k]}
            for name, (datatype, rank) in output_specs(model).items()
        ],
    }


def flatten(data: object, shape: list[int], where: str) -> list[object]:
    """Row-major flat data from flat or nested lists, checked against the shape."""
    if not isinstance(data, list):
        raise InputError(400, f"{where}.data: expected a list, got {type_name(data)}")
    expected = math.prod(shape)
    if not any(isinstance(item, list) for item in data):
        if len(data) != expected:
            raise InputError(400, f"{where}: shape {shape} needs {expected} values, data has {len(data)}")
        return data
    level: list[object] = [data]
    for dim in shape:
        deeper: list[object] = []
        for item in level:
            if not isinstance(item, list) or len(item) != dim:
                raise InputError(400, f"{where}.data: nested lists do not match shape {shape}")
            deeper.extend(item)
        level = deeper
    if any(isinstance(item, list) for item in level):
        raise InputError(400, f"{where}.data: nested lists do not match shape {shape}")
    return level


def _tensor(raw: object, i: int, strict: bool) -> tuple[str, list[int], str, list[object], str]:
    """(name, shape, datatype, flat data, location) of one checked input tensor."""
    where = f"inputs[{i}]"
    if not isinstance(raw, dict):
        raise InputError(400, f"{where}: expected a tensor object, got {type_name(raw)}")
    check_keys(raw, ("name", "shape", "datatype", "data", "parameters"), f"{where}: ", strict)
    for key in ("name", "shape", "datatype", "data"):
        if key not in raw:
            raise InputError(400, f"{where}: missing {key!r}")
    name, shape, datatype = raw["name"], raw["shape"], raw["datatype"]
    if not isinstance(name, str):
        raise InputError(400, f"{where}.name: expected a string, got {type_name(name)}")
    where = f"inputs[{i}] ({name})"
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise InputError(400, f"{where}.shape: expected a list of non-negative integers")
    if datatype not in (*FLOAT_TYPES, *INT_TYPES, "BOOL", "BYTES"):
        raise InputError(400, f"{where}.datatype: unknown datatype {datatype!r}")
    flat = flatten(raw["data"], shape, where)
    for j, value in enumerate(flat):
        if not _datatype_accepts(datatype, value):
            raise InputError(400, f"{where}.data[{j}]: datatype {datatype} does not allow {type_name(value)}")
    return name, shape, datatype, flat, where


def decode_v2(payload: object, schema: Schema, model: Model) -> Decoded:
    body = require_object(payload, "an 'inputs' list")
    check_keys(body, ("id", "inputs", "outputs", "parameters"), "", schema.strict)
    request_id = body.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InputError(400, f"id: expected a string, got {type_name(request_id)}")
    outputs = _requested_outputs(body.get("outputs"), model, schema.strict)
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InputError(400, f"inputs: expected a non-empty list of tensors, got {type_name(inputs)}")
    schema.check_field_count(len(inputs), "inputs")
    tensors = [_tensor(raw, i, schema.strict) for i, raw in enumerate(inputs)]
    if len(tensors) == 1 and tensors[0][0] == TENSOR_NAME and TENSOR_NAME not in schema.by_name:
        columns, n = _tensor_layout(tensors[0], schema)
    else:
        columns, n = _columns_layout(tensors, schema)
    return Decoded(columns, n, request_id, outputs)


def _requested_outputs(raw: object, model: Model, strict: bool) -> tuple[str, ...] | None:
    if raw is None:
        return None
    known = output_specs(model)
    if not isinstance(raw, list):
        raise InputError(400, f"outputs: expected a list, got {type_name(raw)}")
    names: list[str] = []
    for i, item in enumerate(raw):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            raise InputError(400, f"outputs[{i}]: expected an object with a string 'name'")
        if name not in known:
            if strict:
                raise InputError(400, f"outputs[{i}]: unknown output {name!r} (known: {', '.join(known)})")
            continue
        names.append(name)
    return tuple(names)


def _columns_layout(tensors: list, schema: Schema) -> tuple[dict[str, list[object]], int]:
    given: dict[str, list[object]] = {}
    where_of: dict[str, str] = {}
    n: int | None = None
    for name, shape, datatype, flat, where in tensors:
        if name in given:
            raise InputError(400, f"{where}: duplicate tensor name {name!r}")
        feature: Feature | None = schema.by_name.get(name)
        if feature is None:
            if schema.strict:
                raise InputError(400, f"{where}: unknown feature {name!r}")
            continue
        if schema.strict and datatype not in DATATYPES[feature.type]:
            raise InputError(
                400,
                f"{where}.datatype: {datatype} does not match feature type {feature.type} "
                f"(expected {' or '.join(DATATYPES[feature.type])})",
            )
        if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
            raise InputError(400, f"{where}.shape: expected [n] or [n, 1], got {shape}")
        if n is not None and shape[0] != n:
            raise InputError(400, f"{where}.shape: {shape[0]} instances, but earlier tensors have {n}")
        n = shape[0]
        given[name] = flat
        where_of[name] = where
    n = n or 0
    if n == 0 and schema.strict:
        raise InputError(400, "inputs: no instances")
    return schema.columns(given, n, "inputs", lambda name: where_of.get(name, f"inputs ({name})")), n


def _tensor_layout(tensor: tuple, schema: Schema) -> tuple[dict[str, list[object]], int]:
    _, shape, datatype, flat, where = tensor
    numeric = [f for f in schema.features if f.type in NUMERIC]
    if datatype == "BYTES":
        raise InputError(400, f"{where}.datatype: the {TENSOR_NAME} tensor must be numeric, got BYTES")
    if len(shape) != 2 or shape[1] != len(numeric):
        raise InputError(
            400,
            f"{where}.shape: expected [n, {len(numeric)}] "
            f"(numeric features in schema order: {', '.join(f.wire_name for f in numeric)}), got {shape}",
        )
    n, width = shape
    schema.check_batch_size(n, where)
    if n == 0 and schema.strict:
        raise InputError(400, f"{where}: no instances")
    columns = schema.empty_columns()
    for feature in schema.features:
        if feature.type not in NUMERIC:
            columns[feature.name] = [None] * n
    for j, feature in enumerate(numeric):
        values = flat[j::width]
        if feature.type == "bool" and datatype != "BOOL":
            values = [_bit(v, feature, f"{where}.data[{i * width + j}] ({feature.name})") for i, v in enumerate(values)]
        columns[feature.name] = [
            schema.value(feature, v, lambda: f"{where}.data[{i * width + j}] ({feature.name})")  # noqa: B023
            for i, v in enumerate(values)
        ]
    return columns, n


def _bit(value: object, feature: Feature, where: str) -> object:
    """A bool feature inside a numeric tensor travels as 0 or 1."""
    if value is None or isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    raise InputError(400, f"{where}: expected 0 or 1 for a bool feature, got {value!r}")


def encode_v2(model: Model, model_name: str, predictions: np.ndarray, decoded: Decoded | None) -> dict:
    n = predictions.shape[0]
    outputs: dict[str, dict] = {}
    if model.output.type == "binary":
        outputs["probability"] = _out("probability", [n], "FP64", predictions.tolist())
        outputs["label"] = _out("label", [n], "INT64", (predictions >= 0.5).astype(int).tolist())
    elif model.output.type == "multiclass":
        k = predictions.shape[1]
        outputs["probabilities"] = _out("probabilities", [n, k], "FP64", predictions.ravel().tolist())
        classes = model.output.classes
        outputs["label"] = _out("label", [n], "BYTES", [classes[i] for i in predictions.argmax(axis=1)])
    else:
        outputs["value"] = _out("value", [n], "FP64", predictions.tolist())
    wanted = decoded.outputs if decoded is not None and decoded.outputs is not None else tuple(outputs)
    response: dict[str, object] = {"model_name": model_name}
    if decoded is not None and decoded.request_id is not None:
        response["id"] = decoded.request_id
    response["outputs"] = [outputs[name] for name in wanted]
    return response


def _out(name: str, shape: list[int], datatype: str, data: list) -> dict:
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}
