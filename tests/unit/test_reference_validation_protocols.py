"""Strict validation of the v2 and MLflow envelopes: tensors, shapes, datatypes, frames."""

from __future__ import annotations

import pytest

from locust_mlstress.servers.reference.app import ReferenceApp
from locust_mlstress.servers.reference.knobs import ServerKnobs
from locust_mlstress.servers.reference.testing import call
from locust_mlstress.servers.reference.training import model_for_profile

from .test_reference_validation import MLFLOW, ROW, V2, expect, tensor, v2_columns, with_


@pytest.fixture(scope="module")
def app(quickstart):
    model = model_for_profile(quickstart, 2_000)
    return ReferenceApp(model, ServerKnobs(max_instances=8, max_fields=12), "churn")


# --- Open Inference Protocol v2 ----------------------------------------------------------------


def test_v2_valid_columns_and_nested_data(app):
    assert call(app, "POST", V2, v2_columns()).status == 200
    nested = v2_columns(n=2)
    for t in nested["inputs"]:
        t["shape"], t["data"] = [2, 1], [[v] for v in t["data"]]
    assert call(app, "POST", V2, nested).status == 200


def test_v2_shape_does_not_match_data(app):
    body = v2_columns()
    body["inputs"][0]["shape"] = [2]
    expect(call(app, "POST", V2, body), 400, "inputs[0] (age)", "shape [2] needs 2 values, data has 1")
    body = v2_columns(n=2)
    body["inputs"][0]["shape"], body["inputs"][0]["data"] = [2, 1], [[40, 41]]
    expect(call(app, "POST", V2, body), 400, "inputs[0] (age).data", "do not match shape")


def test_v2_wrong_rank_and_inconsistent_batches(app):
    body = v2_columns()
    body["inputs"][1]["shape"] = [1, 1, 1]
    expect(call(app, "POST", V2, body), 400, "inputs[1] (income_k).shape", "[n] or [n, 1]")
    body = v2_columns()
    body["inputs"][2] = tensor("tenure_months", [2], "INT64", [12, 13])
    expect(call(app, "POST", V2, body), 400, "inputs[2] (tenure_months).shape", "2 instances")


def test_v2_datatypes(app):
    body = v2_columns()
    body["inputs"][0]["datatype"] = "FP64"
    expect(call(app, "POST", V2, body), 400, "inputs[0] (age).datatype", "does not match feature type int")
    body = v2_columns()
    body["inputs"][1]["data"] = ["55.5"]
    expect(call(app, "POST", V2, body), 400, "inputs[1] (income_k).data[0]", "FP64 does not allow str")
    body = v2_columns()
    body["inputs"][4]["datatype"] = "STRING"
    expect(call(app, "POST", V2, body), 400, "unknown datatype 'STRING'")
    body = v2_columns()
    body["inputs"][5]["data"] = [1]
    expect(call(app, "POST", V2, body), 400, "inputs[5] (autopay).data[0]", "BOOL does not allow int")


def test_v2_tensor_names(app):
    body = v2_columns()
    body["inputs"].append(tensor("mystery", [1], "FP64", [1.0]))
    expect(call(app, "POST", V2, body), 400, "unknown feature 'mystery'")
    body = v2_columns()
    body["inputs"].append(dict(body["inputs"][0]))
    expect(call(app, "POST", V2, body), 400, "duplicate tensor name 'age'")
    body = v2_columns()
    del body["inputs"][0]
    expect(call(app, "POST", V2, body), 400, "age", "missing required feature")
    expect(call(app, "POST", V2, {"inputs": []}), 400, "non-empty list")
    expect(
        call(app, "POST", V2, {"inputs": [{"name": "age", "shape": [1], "data": [1]}]}),
        400,
        "missing 'datatype'",
    )


def test_v2_envelope(app):
    expect(call(app, "POST", V2, {**v2_columns(), "id": 7}), 400, "id: expected a string")
    expect(call(app, "POST", V2, {**v2_columns(), "instances": []}), 400, "unknown key 'instances'")
    expect(
        call(app, "POST", V2, {**v2_columns(), "outputs": [{"name": "logits"}]}),
        400,
        "unknown output 'logits'",
    )
    expect(call(app, "POST", V2, {**v2_columns(), "outputs": "probability"}), 400, "outputs: expected a list")


def test_v2_tensor_layout(app):
    numeric = [40, 55.5, 12, 80.0, 1.0, 2]  # age, income_k, tenure, charges, autopay (0/1), tickets
    assert call(app, "POST", V2, {"inputs": [tensor("input-0", [1, 6], "FP64", numeric)]}).status == 200
    expect(
        call(app, "POST", V2, {"inputs": [tensor("input-0", [1, 5], "FP64", numeric[:5])]}),
        400,
        "expected [n, 6]",
        "age, income_k",
    )
    bad_bool = numeric[:4] + [2.0] + numeric[5:]
    expect(
        call(app, "POST", V2, {"inputs": [tensor("input-0", [1, 6], "FP64", bad_bool)]}),
        400,
        "autopay",
        "0 or 1",
    )
    too_young = [17] + numeric[1:]
    expect(
        call(app, "POST", V2, {"inputs": [tensor("input-0", [1, 6], "FP64", too_young)]}),
        400,
        "(age)",
        "minimum",
    )
    nulls = [None] + numeric[1:]
    expect(call(app, "POST", V2, {"inputs": [tensor("input-0", [1, 6], "FP64", nulls)]}), 400, "(age)", "null")


def test_v2_batch_limit(app):
    expect(call(app, "POST", V2, v2_columns(n=9)), 413, "9 instances")


# --- MLflow --------------------------------------------------------------------------------------


def test_mlflow_envelopes(app):
    split = {"columns": list(ROW), "data": [list(ROW.values())]}
    assert call(app, "POST", MLFLOW, {"dataframe_split": split}).status == 200
    expect(call(app, "POST", MLFLOW, {"dataframe_split": split, "dataframe_records": [ROW]}), 400, "exactly one")
    expect(call(app, "POST", MLFLOW, {"data": [ROW]}), 400, "unknown key 'data'")
    bad = {"columns": [*ROW, "color"], "data": [[*ROW.values(), "red"]]}
    expect(call(app, "POST", MLFLOW, {"dataframe_split": bad}), 400, "dataframe_split.columns", "'color'")
    short = {"columns": list(ROW), "data": [list(ROW.values())[:-1]]}
    expect(call(app, "POST", MLFLOW, {"dataframe_split": short}), 400, "dataframe_split.data[0]")
    twice = {"columns": ["age", "age"], "data": [[40, 40]]}
    expect(call(app, "POST", MLFLOW, {"dataframe_split": twice}), 400, "duplicate column")
    expect(call(app, "POST", MLFLOW, {"dataframe_records": [with_(age="x")]}), 400, "dataframe_records[0].age")
    columns = {k: [v] for k, v in ROW.items()}
    expect(call(app, "POST", MLFLOW, {"inputs": {**columns, "age": [40, 41]}}), 400, "different lengths")
    expect(call(app, "POST", MLFLOW, {"inputs": {**columns, "age": ["x"]}}), 400, "inputs.age[0]", "integer")
