"""Strict input validation: every malformed request is a 4xx naming what is wrong, never a 5xx."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from locust_mlstress.servers.reference.app import ReferenceApp
from locust_mlstress.servers.reference.knobs import ServerKnobs
from locust_mlstress.servers.reference.testing import call
from locust_mlstress.servers.reference.training import model_for_profile
from tests.samples import QUICKSTART_V2_TYPES

V1 = "/v1/models/churn:predict"
V2 = "/v2/models/churn/infer"
MLFLOW = "/invocations"
ROW = {
    "age": 40,
    "income_k": 55.5,
    "tenure_months": 12,
    "monthly_charges": 80.0,
    "plan": "basic",
    "autopay": True,
    "support_tickets": 2,
    "last_note": "slow app",
}
V2_TYPES = QUICKSTART_V2_TYPES


@pytest.fixture(scope="module")
def model(quickstart):
    return model_for_profile(quickstart, 2_000)


@pytest.fixture(scope="module")
def app(model):
    return ReferenceApp(model, ServerKnobs(max_body_bytes=64 * 1024, max_instances=8, max_fields=12), "churn")


def with_(**changes: object) -> dict:
    row = dict(ROW)
    for key, value in changes.items():
        if value is ...:
            del row[key]
        else:
            row[key] = value
    return row


def v2_columns(row: dict = ROW, n: int = 1) -> dict:
    return {
        "inputs": [
            {"name": k, "shape": [n], "datatype": V2_TYPES.get(k, "FP64"), "data": [v] * n} for k, v in row.items()
        ]
    }


def tensor(name: str, shape: list, datatype: str, data: list) -> dict:
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


def expect(reply, status: int, *fragments: str) -> None:
    assert reply.status == status, reply.body
    assert reply.headers["Content-Type"] == "application/json"
    message = reply.error
    for fragment in fragments:
        assert fragment in message, message


# --- the body and its JSON ---------------------------------------------------------------------


def test_valid_request_passes(app):
    assert call(app, "POST", V1, {"instances": [ROW]}).status == 200
    assert call(app, "POST", V1, {"instances": [ROW]}, content_type="application/json; charset=utf-8").status == 200


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_content_type_must_be_json(app, content_type):
    expect(call(app, "POST", V1, {"instances": [ROW]}, content_type=content_type), 415, "application/json")


@pytest.mark.parametrize("content_length", [True, False])  # False: chunked, the size is learnt by reading
def test_oversized_body_is_drained_then_413(app, content_length):
    raw = json.dumps({"instances": [with_(last_note="x" * 100_000)]}).encode()
    stream = io.BytesIO(raw)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": V1,
        "CONTENT_TYPE": "application/json",
        "wsgi.input": stream,
    }
    if content_length:
        environ["CONTENT_LENGTH"] = str(len(raw))
    seen = {}
    body = b"".join(app(environ, lambda status, headers: seen.update(status=status)))
    assert seen["status"].startswith("413")
    assert "65536 bytes" in json.loads(body)["error"]
    assert stream.tell() == len(raw)  # read to the end, so the client is not reset


def test_empty_body(app):
    expect(call(app, "POST", V1, b""), 400, "empty")


def test_invalid_utf8(app):
    expect(call(app, "POST", V1, b'{"instances": [{"plan": "\xff\xfe"}]}'), 400, "UTF-8")


@pytest.mark.parametrize(
    "raw",
    [b'{"instances" [1]}', b'{"instances": [{"age": 4', b"not json", b'{"instances": [1]} trailing'],
)
def test_invalid_or_truncated_json(app, raw):
    expect(call(app, "POST", V1, raw), 400, "invalid JSON")


def test_deeply_nested_json(app):
    raw = b'{"instances": [{"age": ' + b"[" * 5000 + b"1" + b"]" * 5000 + b"}]}"
    expect(call(app, "POST", V1, raw), 400, "nested too deeply")


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_literals(app, literal):
    raw = json.dumps({"instances": [with_(income_k="SPLICE")]}).encode().replace(b'"SPLICE"', literal)
    expect(call(app, "POST", V1, raw), 400, "invalid JSON", literal.decode().lstrip("-"))


def test_huge_float_literal(app):
    raw = json.dumps({"instances": [with_(income_k="SPLICE")]}).encode().replace(b'"SPLICE"', b"1e400")
    expect(call(app, "POST", V1, raw), 400, "out of range")


def test_huge_integer_literals(app):
    body = {"instances": [with_(income_k=10**400)]}
    expect(call(app, "POST", V1, body), 400, "instances[0].income_k", "out of range")
    expect(call(app, "POST", V1, {"instances": [with_(support_tickets=2**70)]}), 400, "64-bit")
    raw = (
        json.dumps({"instances": [with_(income_k=0)]}).encode().replace(b'"income_k": 0', b'"income_k": ' + b"9" * 5000)
    )
    expect(call(app, "POST", V1, raw), 400, "invalid JSON")


def test_duplicate_keys(app):
    raw = b'{"instances": null, ' + json.dumps({"instances": [ROW]}).encode()[1:]
    expect(call(app, "POST", V1, raw), 400, "duplicate key 'instances'")
    raw = json.dumps({"instances": [ROW]}).encode().replace(b'"age": 40', b'"age": 40, "age": 41')
    expect(call(app, "POST", V1, raw), 400, "duplicate key 'age'")


# --- envelope ----------------------------------------------------------------------------------


def test_wrong_top_level_key(app):
    expect(call(app, "POST", V1, {"inputs": [ROW]}), 400, "unknown key 'inputs'")
    expect(call(app, "POST", V1, {"instances": [ROW], "extra": 1}), 400, "unknown key 'extra'")
    expect(call(app, "POST", V1, {}), 400, "missing top-level key 'instances'")
    expect(call(app, "POST", V1, [ROW]), 400, "JSON object", "got list")
    expect(call(app, "POST", V1, {"instances": ROW}), 400, "instances: expected a list")
    expect(call(app, "POST", V1, {"instances": []}), 400, "no instances")


def test_signature_name(app):
    assert call(app, "POST", V1, {"signature_name": "serving_default", "instances": [ROW]}).status == 200
    expect(call(app, "POST", V1, {"signature_name": 3, "instances": [ROW]}), 400, "signature_name")


def test_batch_and_row_size_limits(app):
    expect(call(app, "POST", V1, {"instances": [ROW] * 9}), 413, "9 instances", "limit of 8")
    assert call(app, "POST", V1, {"instances": [ROW] * 8}).status == 200
    wide = {**ROW, **{f"extra_{i}": 0.0 for i in range(5)}}
    expect(call(app, "POST", V1, {"instances": [wide]}), 413, "instances[0]", "13 fields")


# --- values ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "fragments"),
    [
        (with_(age=...), ("instances[0].age: missing required feature",)),
        (with_(age=None), ("instances[0].age: null",)),
        (with_(color="red"), ("instances[0]: unknown feature 'color'",)),
        (with_(income_k="55"), ("instances[0].income_k: expected a number, got str",)),
        (with_(income_k=True), ("instances[0].income_k: expected a number, got bool",)),
        (with_(age=40.5), ("instances[0].age: expected an integer, got float 40.5",)),
        (with_(autopay=1), ("instances[0].autopay: expected true or false, got int",)),
        (with_(plan=3), ("instances[0].plan: expected a string, got int",)),
        (with_(last_note=["a"]), ("instances[0].last_note: expected a string, got list",)),
        (with_(age=17), ("instances[0].age", "below the minimum 18")),
        (with_(age=101), ("instances[0].age", "above the maximum 100")),
        (with_(income_k=-0.5), ("instances[0].income_k", "below the minimum 0")),
        (with_(monthly_charges=500.01), ("instances[0].monthly_charges", "above the maximum 500")),
    ],
)
def test_bad_values_are_400_naming_the_field(app, row, fragments):
    expect(call(app, "POST", V1, {"instances": [row]}), 400, *fragments)


def test_field_location_counts_instances(app):
    expect(call(app, "POST", V1, {"instances": [ROW, with_(income_k="x")]}), 400, "instances[1].income_k")


@pytest.mark.parametrize(
    "row",
    [
        with_(support_tickets=None),  # null for an optional feature: imputed
        with_(support_tickets=..., last_note=...),  # absent optional features
        with_(plan="platinum"),  # unseen category: drift, not an error
        with_(age=40.0),  # an integral float is an integer that went through a float column
        with_(income_k=55),  # an integer is a number
    ],
)
def test_acceptable_rows(app, row):
    reply = call(app, "POST", V1, {"instances": [row]})
    assert reply.status == 200, reply.body
    assert 0.0 <= reply.json()["predictions"][0] <= 1.0


def test_list_rows_in_schema_order(app):
    assert call(app, "POST", V1, {"instances": [list(ROW.values())]}).status == 200
    expect(
        call(app, "POST", V1, {"instances": [list(ROW.values())[:-1]]}),
        400,
        "expected 8 values in schema order",
    )
    expect(call(app, "POST", V1, {"instances": ["age"]}), 400, "instances[0]: expected an object or a list")


# --- never a 5xx -------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from([V1, V2, MLFLOW]),
    key=st.sampled_from(list(ROW)),
    value=json_values,
    envelope=st.sampled_from(["row", "v2", "split", "whole"]),
)
def test_arbitrary_json_is_never_a_server_error(app, path, key, value, envelope):
    if envelope == "row":
        body = {"instances": [with_(**{key: value})]}
    elif envelope == "v2":
        body = v2_columns()
        body["inputs"][list(ROW).index(key)]["data"] = value
    elif envelope == "split":
        body = {"dataframe_split": {"columns": list(ROW), "data": [[*list(ROW.values())[:-1], value]]}}
    else:
        body = value
    reply = call(app, "POST", path, body)
    assert reply.status in (200, 400, 413), reply.body
    if reply.status != 200:
        assert reply.error
