"""Shared by the codec tests: schemas, rows, a toy model and stand-ins for the servers."""

from __future__ import annotations

import json
import math

import pytest

from locust_mlstress.codecs import (
    Codec,
    make_codec,
)
from locust_mlstress.domain.schema import Feature, Output, Target

V2_DATATYPE_NAMES = {
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
}

MIXED = (
    Feature("age", "float"),
    Feature("visits", "int"),
    Feature("plan", "category", categories=("free", "pro")),
    Feature("active", "bool"),
)
NUMERIC = (Feature("x", "float"), Feature("y", "float"), Feature("k", "int"))
CLASSES = ("low", "mid", "high")
OUTPUTS = {
    "binary": Output("binary"),
    "multiclass": Output("multiclass", classes=CLASSES),
    "regression": Output("regression"),
}


def codec(name: str, features=MIXED, output: str = "binary", **options) -> Codec:
    return make_codec(Target(path="/predict", codec=name, **options), features, OUTPUTS[output])


def mixed_rows(n: int) -> list[dict[str, object]]:
    return [{"age": 20.5 + i, "visits": i, "plan": ("free", "pro")[i % 2], "active": i % 3 == 0} for i in range(n)]


def numeric_rows(n: int) -> list[dict[str, object]]:
    return [{"x": 0.25 * i, "y": -1.5 + i, "k": 3 * i} for i in range(n)]


# --- a toy model and stand-ins for the servers ------------------------------------------------


def model(row: dict, output: str):
    """Deterministic predictions from whatever numeric value the row carries."""
    z = float(next(v for v in row.values() if isinstance(v, (int, float)))) / 10.0
    if output == "binary":
        return 1.0 / (1.0 + math.exp(-z))
    if output == "multiclass":
        scores = [math.exp(z * j) for j in range(len(CLASSES))]
        total = sum(scores)
        return [s / total for s in scores]
    return 3.0 * z - 1.0


def rows_from_v1(doc: dict) -> list[dict]:
    assert isinstance(doc["instances"], list)
    return doc["instances"]


def rows_from_v2(doc: dict) -> list[dict]:
    inputs = doc["inputs"]
    if len(inputs) == 1 and inputs[0]["name"] == "input-0":
        tensor = inputs[0]
        n, width = tensor["shape"]
        assert tensor["datatype"] == "FP64" and len(tensor["data"]) == n * width
        return [{f"c{j}": tensor["data"][i * width + j] for j in range(width)} for i in range(n)]
    for t in inputs:
        assert t["datatype"] in V2_DATATYPE_NAMES
        assert t["shape"] == [len(t["data"])]
    n = inputs[0]["shape"][0]
    return [{t["name"]: t["data"][i] for t in inputs} for i in range(n)]


def rows_from_mlflow(doc: dict) -> list[dict]:
    if "dataframe_split" in doc:
        split = doc["dataframe_split"]
        return [dict(zip(split["columns"], r, strict=True)) for r in split["data"]]
    if "dataframe_records" in doc:
        return doc["dataframe_records"]
    cols = doc["inputs"]
    n = len(next(iter(cols.values())))
    return [{c: vs[i] for c, vs in cols.items()} for i in range(n)]


def v1_response(preds: list, output: str, style: str) -> dict:
    if output == "binary" and style == "pair":
        preds = [[1.0 - p, p] for p in preds]
    elif output != "multiclass" and style == "single":
        preds = [[p] for p in preds]
    elif output == "multiclass" and style == "dict":
        preds = [dict(zip(CLASSES, p, strict=True)) for p in preds]
    return {"predictions": preds}


def v2_response(preds: list, output: str, style: str, name: str = "predict") -> dict:
    n = len(preds)
    if output == "multiclass":
        shape, data = [n, len(CLASSES)], [p for row in preds for p in row]
    elif output == "binary" and style == "pair":
        shape, data = [n, 2], [x for p in preds for x in (1.0 - p, p)]
    elif style == "column":
        shape, data = [n, 1], list(preds)
    else:
        shape, data = [n], list(preds)
    if style == "nested" and len(shape) == 2:
        data = [data[i * shape[1] : (i + 1) * shape[1]] for i in range(n)]
    return {
        "model_name": "m",
        "outputs": [
            {"name": "other", "shape": [n], "datatype": "INT64", "data": [7] * n},
            {"name": name, "shape": shape, "datatype": "FP64", "data": data},
        ][1 if name == "predict" else 0 :],
    }


def encode_json(doc: object) -> bytes:
    return json.dumps(doc).encode()


def assert_close(got: list, want: list) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        if isinstance(w, list):
            assert g == pytest.approx(w)
            assert all(type(x) is float for x in g)
        else:
            assert g == pytest.approx(w)
            assert type(g) is float


OUTPUT_STYLES = [
    ("binary", "plain"),
    ("binary", "single"),
    ("binary", "pair"),
    ("multiclass", "plain"),
    ("multiclass", "dict"),
    ("regression", "plain"),
    ("regression", "single"),
]
