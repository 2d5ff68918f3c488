"""Codecs: round trips through a stand-in for each serving protocol, decode failures, malformations."""

from __future__ import annotations

import contextlib
import json
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from locust_mlstress.codecs import (
    CODEC_NAMES,
    STRUCTURAL_VARIANTS,
    Codec,
    DecodeError,
    NotApplicable,
    make_codec,
)
from locust_mlstress.errors import ProfileError
from locust_mlstress.profile.model import Feature, Output, Target

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


# --- decode validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "n", "output", "reason"),
    [
        (b"", 1, "binary", "empty body"),
        (b"  \n", 1, "binary", "empty body"),
        (b"\xff\xfe{}", 1, "binary", "body is not UTF-8"),
        (b"<html>502 Bad Gateway</html>", 1, "binary", "body is not JSON"),
        (b'{"error": "bad input"}', 1, "binary", "missing key 'predictions'"),
        (b"[0.5]", 1, "binary", "response is an array, expected an object with 'predictions'"),
        (b'{"predictions": {"p": 0.5}}', 1, "binary", "'predictions' is an object, expected an array"),
        (b'{"predictions": [0.1, 0.2]}', 3, "binary", "expected 3 predictions, got 2"),
        (b'{"predictions": [1.7]}', 1, "binary", r"prediction 0 is 1.7, outside \[0, 1\]"),
        (b'{"predictions": [-0.1]}', 1, "binary", r"prediction 0 is -0.1, outside \[0, 1\]"),
        (b'{"predictions": [2]}', 1, "binary", r"prediction 0 is 2, outside \[0, 1\]"),
        (b'{"predictions": [0.1, 0.2, 0.3, 0.4, NaN]}', 5, "binary", "prediction 4 is NaN"),
        (b'{"predictions": [Infinity]}', 1, "regression", "prediction 0 is inf"),
        (b'{"predictions": [-Infinity]}', 1, "binary", "prediction 0 is -inf"),
        (b'{"predictions": [1e400]}', 1, "regression", "prediction 0 is inf"),
        (b'{"predictions": [true]}', 1, "binary", "prediction 0 is a boolean, not a number"),
        (b'{"predictions": [false]}', 1, "regression", "prediction 0 is a boolean, not a number"),
        (b'{"predictions": [[true, 0.5]]}', 1, "regression", "has 2 values, expected 1"),
        (b'{"predictions": ["0.5"]}', 1, "binary", "prediction 0 is a string, not a number"),
        (b'{"predictions": [null]}', 1, "regression", "prediction 0 is null, not a number"),
        (b'{"predictions": [[0.1, 0.2, 0.7]]}', 1, "binary", "has 3 values, expected 1 or 2"),
        (b'{"predictions": [[0.1, 0.9]]}', 1, "multiclass", "has 2 values, expected 3"),
        (b'{"predictions": [0.5]}', 1, "multiclass", "is a number, expected 3 class probabilities"),
        (b'{"predictions": [[0.1, NaN, 0.5]]}', 1, "multiclass", r"prediction 0\[1\] is NaN"),
        (b'{"predictions": [[0.1, 1.5, 0.5]]}', 1, "multiclass", "outside"),
        (b'{"predictions": [{"low": 0.2, "mid": 0.8}]}', 1, "multiclass", "has no class 'high'"),
        (b'{"predictions": [' + b"1" * 400 + b"]}", 1, "regression", "too large"),
        (b"[" * 100_000, 1, "binary", "unreadable response|not JSON"),
    ],
)
def test_decode_errors(body, n, output, reason):
    c = codec("kserve_v1", output=output)
    with pytest.raises(DecodeError, match=reason) as info:
        c.decode(body, n)
    assert info.value.reason == str(info.value)


def test_binary_accepts_class_dict_when_two_classes_named():
    c = make_codec(Target(path="/", codec="kserve_v1"), MIXED, Output("binary", classes=("no", "yes")))
    assert c.decode(b'{"predictions": [{"no": 0.3, "yes": 0.7}, 0.1]}', 2) == [0.7, 0.1]
    with pytest.raises(DecodeError, match="has no class 'yes'"):
        c.decode(b'{"predictions": [{"no": 0.3}]}', 1)


def test_multiclass_dict_is_ordered_by_schema_classes():
    body = b'{"predictions": [{"high": 0.5, "low": 0.2, "mid": 0.3, "extra": 9}]}'
    assert codec("kserve_v1", output="multiclass").decode(body, 1) == [[0.2, 0.3, 0.5]]


def test_integer_predictions_become_floats():
    got = codec("kserve_v1", output="regression").decode(b'{"predictions": [3, [4]]}', 2)
    assert got == [3.0, 4.0] and all(type(x) is float for x in got)


def test_decode_accepts_str_and_bytearray():
    c = codec("kserve_v1")
    assert c.decode('{"predictions": [0.5]}', 1) == [0.5]
    assert c.decode(bytearray(b'{"predictions": [0.5]}'), 1) == [0.5]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
PATHS = st.sampled_from(["predictions", "outputs", "data", "0", "name", "shape"])


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(CODEC_NAMES),
    output=st.sampled_from(sorted(OUTPUTS)),
    value=json_values,
    key=PATHS,
    n=st.integers(0, 3),
)
def test_decode_only_ever_raises_decode_error(name, output, value, key, n):
    c = codec(name, output=output)
    for doc in (value, {key: value}, {"outputs": [{"name": "p", "shape": value, "data": value}]}):
        try:
            got = c.decode(json.dumps(doc).encode(), n)
        except DecodeError:
            continue
        assert isinstance(got, list) and len(got) == n


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(CODEC_NAMES), body=st.binary(max_size=64))
def test_decode_random_bytes(name, body):
    with contextlib.suppress(DecodeError):
        codec(name).decode(body, 1)


# --- encoding deliberately malformed rows ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("kserve_v1", {}),
        ("tfserving", {}),
        ("v2", {}),
        ("mlflow", {"mlflow_format": "dataframe_split"}),
        ("mlflow", {"mlflow_format": "dataframe_records"}),
        ("mlflow", {"mlflow_format": "inputs"}),
        ("json", {"body_template": '{"a": "$rows", "b": "$columns", "c": "$matrix", "n": "$n"}'}),
    ],
)
def test_encode_never_crashes_on_malformed_rows(name, options):
    c = codec(name, **options)
    rows = [
        {"age": "twenty", "visits": None, "plan": "enterprise", "active": True, "surprise": 1},
        {"age": float("nan"), "plan": "free", "active": 3},  # visits and surprise missing
        {},
        {"age": np.float64(1.5), "visits": np.int64(7), "plan": object(), "active": "\ud800"},
    ]
    body = c.encode(rows)
    assert isinstance(body, bytes)
    body.decode("utf-8")
    assert b"NaN" in body
    doc = json.loads(body)
    assert doc
    assert c.encode([]) is not None
    assert c.encode(rows[:1]) is not None


def test_columns_follow_first_row_and_fill_missing_with_none():
    rows = [{"visits": 1, "age": "x", "new": 2}, {"age": 3.0}]
    split = codec("mlflow").document(rows)["dataframe_split"]
    assert split == {"columns": ["visits", "age", "new"], "data": [[1, "x", 2], [None, 3.0, None]]}
    v2 = codec("v2").document(rows)["inputs"]
    assert [(t["name"], t["datatype"], t["data"]) for t in v2] == [
        ("visits", "INT64", [1, None]),
        ("age", "FP64", ["x", 3.0]),
        ("new", "INT64", [2, None]),
    ]


def test_encode_is_compact_utf8_json():
    body = codec("kserve_v1").encode([{"age": 1.0, "plan": "café"}])
    assert body == b'{"instances":[{"age":1.0,"plan":"caf\\u00e9"}]}'
    assert codec("kserve_v1").content_type == "application/json"


# --- malformations -------------------------------------------------------------------------


ALL_CODECS = [
    ("kserve_v1", {}),
    ("tfserving", {"signature_name": "sig"}),
    ("v2", {}),
    ("v2", {"v2_layout": "tensor"}),
    ("mlflow", {"mlflow_format": "dataframe_split"}),
    ("mlflow", {"mlflow_format": "dataframe_records"}),
    ("mlflow", {"mlflow_format": "inputs"}),
    ("json", {"body_template": '{"payload": "$rows", "n": "$n"}'}),
]


def frozen(doc: object) -> str:
    return json.dumps(doc, sort_keys=True)


@pytest.mark.parametrize(("name", "options"), ALL_CODECS)
@pytest.mark.parametrize("variant", STRUCTURAL_VARIANTS)
def test_malform_returns_new_document_or_not_applicable(name, options, variant):
    features = NUMERIC if options.get("v2_layout") == "tensor" else MIXED
    c = codec(name, features=features, **options)
    rows = numeric_rows(2) if features is NUMERIC else mixed_rows(2)
    doc = c.document(rows)
    before = frozen(doc)
    if not c.supports(variant):
        with pytest.raises(NotApplicable):
            c.malform(variant, doc)
        return
    bad = c.malform(variant, doc)
    assert frozen(doc) == before, "malform mutated its input"
    assert frozen(bad) != before
    json.dumps(bad)


@pytest.mark.parametrize(("name", "options"), ALL_CODECS)
def test_wrong_top_level_key(name, options):
    features = NUMERIC if options.get("v2_layout") == "tensor" else MIXED
    c = codec(name, features=features, **options)
    assert c.supports("wrong_top_level_key")
    doc = c.document(numeric_rows(1) if features is NUMERIC else mixed_rows(1))
    bad = c.malform("wrong_top_level_key", doc)
    assert c.top_key in doc and c.top_key not in bad
    assert len(bad) == len(doc)
    (renamed,) = set(bad) - set(doc)
    assert bad[renamed] == doc[c.top_key]
    assert list(bad).index(renamed) == list(doc).index(c.top_key)


def test_v1_top_key_typo():
    bad = codec("kserve_v1").malform("wrong_top_level_key", {"instances": []})
    assert bad == {"instancez": []}


@pytest.mark.parametrize("name", ["kserve_v1", "tfserving"])
def test_v1_shape_and_rank(name):
    c = codec(name)
    doc = c.document(mixed_rows(2))
    assert c.malform("wrong_shape", doc)["instances"] == mixed_rows(1)[0]
    assert c.malform("wrong_rank", doc)["instances"] == [[r] for r in mixed_rows(2)]
    assert not c.supports("wrong_datatype")


@pytest.mark.parametrize("layout", ["columns", "tensor"])
def test_v2_wrong_shape(layout):
    features = NUMERIC if layout == "tensor" else MIXED
    c = codec("v2", features=features, v2_layout=layout)
    bad = c.malform("wrong_shape", c.document(numeric_rows(3) if layout == "tensor" else mixed_rows(3)))
    for t in bad["inputs"]:
        assert math.prod(t["shape"]) != len(t["data"])


@pytest.mark.parametrize("layout", ["columns", "tensor"])
def test_v2_wrong_rank(layout):
    features = NUMERIC if layout == "tensor" else MIXED
    c = codec("v2", features=features, v2_layout=layout)
    doc = c.document(numeric_rows(3) if layout == "tensor" else mixed_rows(3))
    bad = c.malform("wrong_rank", doc)
    for good, t in zip(doc["inputs"], bad["inputs"], strict=True):
        assert len(t["shape"]) == len(good["shape"]) + 2
        assert math.prod(t["shape"]) == len(t["data"]) == len(good["data"])


@pytest.mark.parametrize("layout", ["columns", "tensor"])
def test_v2_wrong_datatype(layout):
    features = NUMERIC if layout == "tensor" else MIXED
    c = codec("v2", features=features, v2_layout=layout)
    doc = c.document(numeric_rows(2) if layout == "tensor" else mixed_rows(2))
    bad = c.malform("wrong_datatype", doc)
    for good, t in zip(doc["inputs"], bad["inputs"], strict=True):
        assert t["datatype"] in V2_DATATYPE_NAMES
        assert t["datatype"] != good["datatype"]
        assert t["data"] == good["data"]
        strings = all(isinstance(v, str) for v in t["data"])
        assert strings != (t["datatype"] == "BYTES")


def test_mlflow_split_shape_and_rank():
    c = codec("mlflow")
    doc = c.document(mixed_rows(2))
    bad = c.malform("wrong_shape", doc)["dataframe_split"]
    assert all(len(r) == len(bad["columns"]) - 1 for r in bad["data"])
    deep = c.malform("wrong_rank", doc)["dataframe_split"]
    assert deep["data"] == [[r] for r in doc["dataframe_split"]["data"]]


def test_mlflow_records_and_inputs_shape_and_rank():
    records = codec("mlflow", mlflow_format="dataframe_records")
    doc = records.document(mixed_rows(2))
    assert records.malform("wrong_shape", doc)["dataframe_records"] == mixed_rows(1)[0]
    assert records.malform("wrong_rank", doc)["dataframe_records"] == [[r] for r in mixed_rows(2)]

    inputs = codec("mlflow", mlflow_format="inputs")
    doc = inputs.document(mixed_rows(2))
    lengths = {len(v) for v in inputs.malform("wrong_shape", doc)["inputs"].values()}
    assert lengths == {1, 2}
    assert inputs.malform("wrong_rank", doc)["inputs"]["age"] == [[20.5], [21.5]]
    single = codec("mlflow", features=MIXED[:1], mlflow_format="inputs")
    assert not single.supports("wrong_shape")
    with pytest.raises(NotApplicable):
        inputs.malform("wrong_shape", {"inputs": {"age": [1.0]}})


def test_make_codec_registry():
    assert CODEC_NAMES == ("kserve_v1", "tfserving", "v2", "mlflow", "json")
    for name in CODEC_NAMES:
        c = codec(name)
        assert c.name == name and isinstance(c, Codec)
    with pytest.raises(ProfileError, match="target.codec: 'grpc' is not one of"):
        codec("grpc")
