"""Decoding: every reason a response is not a prediction, and encoding rows that are wrong on purpose."""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from locust_mlstress.codecs import (
    CODEC_NAMES,
    DecodeError,
    make_codec,
)
from locust_mlstress.codecs.base import parse_body
from locust_mlstress.domain.schema import Output, Target
from tests.codec_helpers import (
    MIXED,
    OUTPUTS,
    codec,
)

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
        (b'{"predictions": [true]}', 1, "multiclass", "prediction 0 is a boolean, expected 3 class probabilities"),
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


def test_only_ascii_digits_index_arrays_in_a_response_path():
    from locust_mlstress.codecs.generic import compile_path

    assert compile_path("outputs.0.data") == (("outputs", None), ("0", 0), ("data", None))
    assert compile_path("outputs.²") == (("outputs", None), ("²", None))  # a key, not int("²")


def test_a_v2_output_name_from_the_server_is_shortened_in_the_reason():
    """Issue 13: an output name as long as the body reached the reason (and Locust's table) whole."""
    v2 = codec("v2", output="regression")
    name = "\x1b[31m" + "n" * 100_000
    with pytest.raises(DecodeError) as caught:
        v2.decode(json.dumps({"outputs": [{"name": name, "shape": [1]}]}).encode(), 1)
    assert caught.value.reason == "missing key 'data' in output '?[31mnnnnnnnnnnnnnnnnnnnnnnnnnnn...'"


def test_a_body_nested_past_the_recursion_limit_is_a_decode_error():
    with pytest.raises(DecodeError, match="nested too deeply"):
        parse_body(b"[" * 200_000 + b"]" * 200_000)
