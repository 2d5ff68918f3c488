"""Codec round trips for each protocol and output type, and the generic JSON codec."""

from __future__ import annotations

import json
import re

import pytest

from locust_mlstress.codecs import (
    STRUCTURAL_VARIANTS,
    DecodeError,
    NotApplicable,
)
from locust_mlstress.domain.schema import Feature
from locust_mlstress.errors import ProfileError
from tests.codec_helpers import (
    MIXED,
    NUMERIC,
    OUTPUT_STYLES,
    assert_close,
    codec,
    encode_json,
    mixed_rows,
    model,
    numeric_rows,
    rows_from_mlflow,
    rows_from_v1,
    rows_from_v2,
    v1_response,
    v2_response,
)

# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 4])
@pytest.mark.parametrize(("output", "style"), OUTPUT_STYLES)
@pytest.mark.parametrize("name", ["kserve_v1", "tfserving"])
def test_v1_round_trip(name, output, style, n):
    c = codec(name, output=output)
    rows = mixed_rows(n)
    doc = json.loads(c.encode(rows))
    served = rows_from_v1(doc)
    assert served == rows
    preds = [model(r, output) for r in served]
    assert_close(c.decode(encode_json(v1_response(preds, output, style)), n), preds)


def test_tfserving_signature_name():
    doc = json.loads(codec("tfserving", signature_name="serving_default").encode(mixed_rows(1)))
    assert doc == {"signature_name": "serving_default", "instances": mixed_rows(1)}
    assert "signature_name" not in json.loads(codec("tfserving").encode(mixed_rows(1)))


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize(
    ("output", "style"),
    [
        ("binary", "flat"),
        ("binary", "column"),
        ("binary", "pair"),
        ("binary", "nested"),
        ("multiclass", "flat"),
        ("multiclass", "nested"),
        ("regression", "flat"),
        ("regression", "column"),
        ("regression", "nested"),
    ],
)
@pytest.mark.parametrize("layout", ["columns", "tensor"])
def test_v2_round_trip(layout, output, style, n):
    features = NUMERIC if layout == "tensor" else MIXED
    rows = numeric_rows(n) if layout == "tensor" else mixed_rows(n)
    c = codec("v2", features=features, output=output, v2_layout=layout)
    doc = json.loads(c.encode(rows))
    assert "outputs" not in doc
    served = rows_from_v2(doc)
    assert [list(r.values()) for r in served] == [list(r.values()) for r in rows]
    preds = [model(r, output) for r in served]
    assert_close(c.decode(encode_json(v2_response(preds, output, style)), n), preds)


def test_v2_columns_datatypes_follow_schema_then_first_value():
    rows = [{"age": 1, "visits": 2, "plan": "pro", "active": False, "extra": "?", "z": 0.5}]
    doc = codec("v2").document(rows)
    types = {t["name"]: t["datatype"] for t in doc["inputs"]}
    # age is declared float, so an int value still travels as FP64
    assert types == {
        "age": "FP64",
        "visits": "INT64",
        "plan": "BYTES",
        "active": "BOOL",
        "extra": "BYTES",
        "z": "FP64",
    }


def test_v2_tensor_layout_is_row_major_in_row_key_order():
    features = (*NUMERIC, Feature("flag", "bool"))
    rows = [{"y": 1.0, "x": 2.0, "k": 3, "flag": True}, {"x": 5.0, "y": 4.0, "k": 6, "flag": False}]
    doc = codec("v2", features=features, v2_layout="tensor").document(rows)
    assert doc == {
        "inputs": [
            {
                "name": "input-0",
                "shape": [2, 4],
                "datatype": "FP64",
                "data": [1.0, 2.0, 3, 1.0, 4.0, 5.0, 6, 0.0],
            }
        ]
    }


def test_v2_tensor_layout_rejects_non_numeric_profiles():
    with pytest.raises(ProfileError, match="plan"):
        codec("v2", v2_layout="tensor")


def test_v2_requested_outputs_are_sent_and_selected():
    c = codec("v2", output="binary", v2_outputs=("probability", "label"))
    doc = c.document(mixed_rows(2))
    assert doc["outputs"] == [{"name": "probability"}, {"name": "label"}]
    body = encode_json(v2_response([0.2, 0.9], "binary", "flat", name="probability"))
    assert c.decode(body, 2) == [0.2, 0.9]
    with pytest.raises(DecodeError, match="no output named 'probability'"):
        c.decode(encode_json(v2_response([0.2, 0.9], "binary", "flat")), 2)


def test_v2_output_without_shape_uses_nesting():
    body = encode_json({"outputs": [{"name": "p", "datatype": "FP32", "data": [[0.3, 0.7], [0.6, 0.4]]}]})
    assert codec("v2").decode(body, 2) == [0.7, 0.4]


@pytest.mark.parametrize(
    ("out", "reason"),
    [
        ({"name": "p", "shape": [3], "datatype": "FP64", "data": [0.1, 0.2]}, "shape [3] but 2 values"),
        ({"name": "p", "shape": [1], "datatype": "FP64", "data": [0.1]}, "expected 2 predictions, got 1"),
        (
            {"name": "p", "shape": [2, 3], "datatype": "FP64", "data": [0.1] * 6},
            "has 3 values, expected 1 or 2",
        ),
        ({"name": "p", "shape": [2]}, "missing key 'data' in output 'p'"),
        ({"name": "p", "shape": [2], "datatype": "BYTES", "data": ["a", "b"]}, "is a string, not a number"),
    ],
)
def test_v2_bad_outputs(out, reason):
    with pytest.raises(DecodeError, match=re.escape(reason)):
        codec("v2").decode(encode_json({"outputs": [out]}), 2)


def test_v2_empty_outputs():
    with pytest.raises(DecodeError, match="'outputs' is empty"):
        codec("v2").decode(b'{"outputs": []}', 1)
    with pytest.raises(DecodeError, match="missing key 'outputs'"):
        codec("v2").decode(b'{"error": "boom"}', 1)


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize(("output", "style"), OUTPUT_STYLES)
@pytest.mark.parametrize("fmt", ["dataframe_split", "dataframe_records", "inputs"])
def test_mlflow_round_trip(fmt, output, style, n):
    c = codec("mlflow", output=output, mlflow_format=fmt)
    assert c.top_key == fmt
    rows = mixed_rows(n)
    doc = json.loads(c.encode(rows))
    assert list(doc) == [fmt]
    served = rows_from_mlflow(doc)
    assert served == rows
    preds = [model(r, output) for r in served]
    body = v1_response(preds, output, style)
    assert_close(c.decode(encode_json(body), n), preds)
    # MLflow 1.x answers with the bare list
    assert_close(c.decode(encode_json(body["predictions"]), n), preds)


def test_mlflow_split_layout():
    doc = codec("mlflow").document(mixed_rows(2))
    assert doc == {
        "dataframe_split": {
            "columns": ["age", "visits", "plan", "active"],
            "data": [[20.5, 0, "free", True], [21.5, 1, "pro", False]],
        }
    }
    assert codec("mlflow", mlflow_format="inputs").document(mixed_rows(2)) == {
        "inputs": {"age": [20.5, 21.5], "visits": [0, 1], "plan": ["free", "pro"], "active": [True, False]}
    }


def test_mlflow_rejects_unknown_format():
    with pytest.raises(ProfileError, match="mlflow_format"):
        codec("mlflow", mlflow_format="tensor")


# --- generic JSON ---------------------------------------------------------------------------


def test_json_defaults_match_v1():
    c = codec("json")
    assert c.top_key == "instances"
    assert json.loads(c.encode(mixed_rows(2))) == {"instances": mixed_rows(2)}
    assert c.decode(b'{"predictions": [0.1, [0.2, 0.8]]}', 2) == [0.1, 0.8]


def test_json_template_placeholders():
    template = json.dumps(
        {
            "request": {"rows": "$rows", "count": "$n"},
            "columns": "$columns",
            "matrix": "$matrix",
            "meta": {"tags": ["$n", "$other", 1.5, None, True]},
        }
    )
    c = codec("json", body_template=template)
    assert c.top_key == "request"
    assert sorted(name for _, name in c.placeholders) == ["$columns", "$matrix", "$n", "$n", "$rows"]
    rows = mixed_rows(2)
    doc = json.loads(c.encode(rows))
    assert doc == {
        "request": {"rows": rows, "count": 2},
        "columns": {"age": [20.5, 21.5], "visits": [0, 1], "plan": ["free", "pro"], "active": [True, False]},
        "matrix": [[20.5, 0, "free", True], [21.5, 1, "pro", False]],
        "meta": {"tags": [2, "$other", 1.5, None, True]},
    }


def test_json_documents_share_no_mutable_state():
    c = codec("json", body_template='{"x": "$matrix", "meta": {"v": [1]}}')
    first = c.document(numeric_rows(1))
    first["meta"]["v"].append(2)
    assert c.document(numeric_rows(1))["meta"] == {"v": [1]}


@pytest.mark.parametrize(
    ("path", "item", "response"),
    [
        ("result.scores", None, {"result": {"scores": [0.25, 0.5]}}),
        ("outputs.0.data", None, {"outputs": [{"data": [0.25, 0.5]}]}),
        ("results", "score", {"results": [{"score": 0.25}, {"score": 0.5}]}),
        ("", "out.p", [{"out": {"p": 0.25}}, {"out": {"p": 0.5}}]),
        ("a.-1", None, {"a": [[0.9], [0.25, 0.5]]}),
    ],
)
def test_json_response_paths(path, item, response):
    c = codec("json", response_path=path, item_path=item)
    assert c.decode(encode_json(response), 2) == [0.25, 0.5]


@pytest.mark.parametrize(
    ("path", "item", "response", "reason"),
    [
        ("result.scores", None, {"result": {}}, "missing key 'result.scores'"),
        ("outputs.1.data", None, {"outputs": [{"data": []}]}, "missing index 'outputs.1'"),
        ("result.scores", None, {"result": [1]}, "'result' is an array, cannot take 'scores'"),
        ("results", "score", {"results": [{"score": 0.2}, {}]}, "missing key 'results.1.score'"),
        ("results", "score", {"results": [{"score": 0.2}]}, "expected 2 predictions, got 1"),
    ],
)
def test_json_response_path_errors(path, item, response, reason):
    c = codec("json", response_path=path, item_path=item)
    with pytest.raises(DecodeError, match=reason):
        c.decode(encode_json(response), 2)


@pytest.mark.parametrize(
    ("template", "match"),
    [("{not json", "not JSON"), ('{"rows": "$n"}', "placeholder")],
)
def test_json_bad_templates(template, match):
    with pytest.raises(ProfileError, match=match):
        codec("json", body_template=template)


def test_json_bare_list_template():
    c = codec("json", body_template='"$matrix"')
    assert c.document(numeric_rows(2)) == [[0.0, -1.5, 0], [0.25, -0.5, 3]]
    assert c.top_key == ""
    assert not any(c.supports(v) for v in STRUCTURAL_VARIANTS)
    with pytest.raises(NotApplicable):
        c.malform("wrong_top_level_key", {"x": 1})
