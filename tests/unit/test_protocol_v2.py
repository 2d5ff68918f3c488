"""The v2 codec as real servers need it: request parameters, named and typed inputs, JSON forms.

MLServer wants `"parameters": {"content_type": "pd"}` for column tensors; Triton-style models
want FP32 (or INT64...) tensors under their own names and read 3.0 in an INT64 tensor as a type
error. Each test encodes with the real codec and reads the bytes back as a server would.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from locust_mlstress.codecs import WRONG_DATATYPE, WRONG_RANK, WRONG_SHAPE, WRONG_TOP_LEVEL_KEY, make_codec
from locust_mlstress.domain.schema import Feature, Output, Target
from locust_mlstress.payloads import PayloadFactory
from locust_mlstress.profile import load_profile

TYPED = (
    Feature("mean radius", "float", wire="mean_radius", datatype="FP32"),
    Feature("visits", "int", datatype="INT32"),
    Feature("active", "bool"),
    Feature("flag", "bool", datatype="FP32"),
    Feature("plan", "category", categories=("a", "b")),
)
NUMERIC = (Feature("x", "float"), Feature("k", "int"), Feature("on", "bool"))


def v2(features=TYPED, **options) -> object:
    return make_codec(Target(path="/v2/models/m/infer", codec="v2", **options), features, Output("binary"))


def sent(codec, rows) -> dict:
    return json.loads(codec.encode(rows))


def test_request_parameters_are_sent_with_every_body() -> None:
    codec = v2(v2_parameters={"content_type": "pd", "batch": 2, "strict": False})
    body = sent(codec, [{"mean radius": 1.5, "visits": 2, "active": True, "flag": False, "plan": "a"}])
    assert body["parameters"] == {"content_type": "pd", "batch": 2, "strict": False}
    assert "parameters" not in sent(v2(), [{"mean radius": 1.5}])


def test_columns_are_named_by_wire_and_typed_by_feature_datatype() -> None:
    rows = [
        {"mean radius": 14, "visits": 2.0, "active": 1, "flag": True, "plan": "a"},
        {"mean radius": 9.5, "visits": 7, "active": False, "flag": 0, "plan": "b"},
    ]
    inputs = sent(v2(), rows)["inputs"]
    assert [(t["name"], t["datatype"], t["shape"]) for t in inputs] == [
        ("mean_radius", "FP32", [2]),
        ("visits", "INT32", [2]),
        ("active", "BOOL", [2]),
        ("flag", "FP32", [2]),
        ("plan", "BYTES", [2]),
    ]
    data = {t["name"]: t["data"] for t in inputs}
    # each value in its datatype's JSON form: FP -> float, INT -> int, BOOL -> bool
    assert data == {
        "mean_radius": [14.0, 9.5],
        "visits": [2, 7],
        "active": [True, False],
        "flag": [1.0, 0.0],
        "plan": ["a", "b"],
    }
    assert [type(v) for v in data["mean_radius"]] == [float, float]
    assert [type(v) for v in data["visits"]] == [int, int]


def test_one_row_takes_the_same_path_as_many() -> None:
    row = {"mean radius": 3, "visits": 4.0, "active": 0, "flag": True, "plan": "b"}
    one = sent(v2(), [row])["inputs"]
    assert [t["data"] for t in one] == [[3.0], [4], [False], [1.0], ["b"]]
    assert [type(t["data"][0]) for t in one] == [float, int, bool, float, str]


@pytest.mark.parametrize(
    "value",
    ["not-a-number", None, 2.5, math.inf, [1, [2]], {"a": 1}],
    ids=["string", "null", "fraction", "inf", "nested", "object"],
)
def test_malformed_values_reach_the_wire_as_built(value) -> None:
    """What a malformed payload put in an INT32 column stays there: the server must see it."""
    row = {"mean radius": 1.0, "visits": value, "active": True, "flag": False, "plan": "a"}
    text = v2().encode([row])
    assert json.loads(text)["inputs"][1]["data"] == [value] or (value is math.inf and b"Infinity" in text)


def test_a_column_no_feature_owns_is_typed_from_its_value_and_left_alone() -> None:
    inputs = sent(v2(), [{"mean radius": 1.0, "surprise": 3}, {"mean radius": 2.0, "surprise": 4}])["inputs"]
    assert inputs[1] == {"name": "surprise", "shape": [2], "datatype": "INT64", "data": [3, 4]}


@pytest.mark.parametrize(
    "datatype,want,kind",
    [("FP32", [1.0, 2.0, 1.0, 0.5, 3.0, 0.0], float), ("FP64", [1.0, 2.0, 1.0, 0.5, 3.0, 0.0], float)],
)
def test_tensor_layout_takes_name_and_datatype_from_the_target(datatype: str, want: list, kind: type) -> None:
    codec = v2(NUMERIC, v2_layout="tensor", v2_input_name="float_input", v2_datatype=datatype)
    body = sent(codec, [{"x": 1, "k": 2, "on": True}, {"x": 0.5, "k": 3, "on": False}])
    (tensor,) = body["inputs"]
    assert (tensor["name"], tensor["datatype"], tensor["shape"]) == ("float_input", datatype, [2, 3])
    assert tensor["data"] == want
    assert all(type(v) is kind for v in tensor["data"])


def test_integer_tensor_sends_integers() -> None:
    codec = v2((Feature("k", "int"), Feature("on", "bool")), v2_layout="tensor", v2_datatype="INT64")
    (tensor,) = sent(codec, [{"k": 2.0, "on": True}, {"k": 5, "on": False}])["inputs"]
    assert tensor["data"] == [2, 1, 5, 0]
    assert all(type(v) is int for v in tensor["data"])
    assert tensor["name"] == "input-0"


def test_tensor_keeps_a_malformed_value_as_built() -> None:
    codec = v2(NUMERIC, v2_layout="tensor", v2_datatype="FP32")
    (tensor,) = sent(codec, [{"x": "not-a-number", "k": None, "on": True}])["inputs"]
    assert tensor["data"] == ["not-a-number", None, 1.0]


def test_structural_variants_keep_parameters_and_outputs() -> None:
    codec = v2(NUMERIC, v2_parameters={"content_type": "pd"}, v2_outputs=("predict_proba",))
    document = codec.document([{"x": 1.0, "k": 2, "on": True}])
    renamed = codec.malform(WRONG_TOP_LEVEL_KEY, document)
    assert "inputs" not in renamed and renamed["parameters"] == {"content_type": "pd"}
    for variant in (WRONG_SHAPE, WRONG_RANK, WRONG_DATATYPE):
        bad = codec.malform(variant, document)
        assert bad["parameters"] == {"content_type": "pd"}
        assert bad["outputs"] == [{"name": "predict_proba"}]
        assert bad["inputs"] != document["inputs"]
    assert document["inputs"][0]["shape"] == [1]  # malform copies, never edits the clean document


def test_documents_share_no_parameters_dict() -> None:
    codec = v2(NUMERIC, v2_parameters={"content_type": "pd"})
    first = codec.document([{"x": 1.0, "k": 2, "on": True}])
    first["parameters"]["content_type"] = "np"
    assert codec.document([{"x": 1.0, "k": 2, "on": True}])["parameters"] == {"content_type": "pd"}


PROFILE = """\
seed = 11

[target]
path = "/v2/models/m/infer"
codec = "v2"
v2_parameters = {{ content_type = "pd" }}
{extra}

[output]
type = "binary"

[[features]]
name = "mean radius"
type = "float"
min = 0
wire = "mean_radius"
datatype = "FP32"
distribution = {{ kind = "normal", mean = 14, std = 3 }}

[[features]]
name = "visits"
type = "int"
min = 0
datatype = "INT32"
distribution = {{ kind = "int_range", low = 0, high = 9 }}

[source]
type = "parametric"

[source.label_model]
type = "logistic"
weights = {{ "mean radius" = 0.2 }}

[mix]
clean = 1
malformed = 1
"""


@pytest.mark.parametrize("extra", ["", 'v2_layout = "tensor"\nv2_datatype = "FP32"\nv2_input_name = "x"'])
def test_payload_factory_bodies_follow_the_profile(tmp_path: Path, extra: str) -> None:
    """Clean bodies (templated or not) and malformed ones from a real profile, read back."""
    path = tmp_path / "p.toml"
    path.write_text(PROFILE.format(extra=extra))
    factory = PayloadFactory(load_profile(path), 0, lambda: 0.0)
    wrong_type = []
    for _ in range(300):
        payload = factory.next()
        if payload.kind == "malformed" and payload.variant == "wrong_type":
            wrong_type.append(json.loads(payload.body))
        if payload.kind != "clean":
            continue
        body = json.loads(payload.body)
        assert body["parameters"] == {"content_type": "pd"}
        if extra:
            (tensor,) = body["inputs"]
            assert (tensor["name"], tensor["datatype"]) == ("x", "FP32")
            assert all(type(v) is float for v in tensor["data"])
        else:
            radius, visits = body["inputs"]
            assert (radius["name"], radius["datatype"], visits["datatype"]) == ("mean_radius", "FP32", "INT32")
            assert type(radius["data"][0]) is float and type(visits["data"][0]) is int
    assert wrong_type, "the mix should have sent wrong_type"
    for body in wrong_type:  # the string the variant put in a numeric input is still there
        values = [v for t in body["inputs"] for v in t["data"]]
        assert "not-a-number" in values


def test_an_integer_no_float_holds_is_sent_as_built() -> None:
    codec = v2(NUMERIC, v2_layout="tensor", v2_datatype="FP64")
    (tensor,) = sent(codec, [{"x": 10**400, "k": 1, "on": False}])["inputs"]
    assert tensor["data"] == [10**400, 1.0, 0.0]


@pytest.mark.parametrize(
    "datatype,value,want",
    [
        ("INT64", 1e300, 1e300),  # not a 301-digit integer: no INT64 holds it
        ("INT64", 2.0**63, 2.0**63),
        ("INT64", -(2.0**63), -(2**63)),
        ("INT8", 200.0, 200.0),
        ("INT8", -128.0, -128),
        ("UINT8", -1.0, -1.0),
        ("UINT8", 255.0, 255),
        ("INT32", 7.0, 7),
    ],
)
def test_an_integral_float_becomes_an_integer_only_where_the_datatype_holds_it(datatype, value, want) -> None:
    codec = v2((Feature("k", "int"),), v2_layout="tensor", v2_datatype=datatype)
    (tensor,) = sent(codec, [{"k": value}])["inputs"]
    assert tensor["data"] == [want] and type(tensor["data"][0]) is type(want)
    assert len(codec.encode([{"k": value}])) < 200
