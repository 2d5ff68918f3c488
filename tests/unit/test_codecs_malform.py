"""Structural malformations: each does what its name says, on a new document."""

from __future__ import annotations

import json
import math

import pytest

from locust_mlstress.codecs import (
    CODEC_NAMES,
    STRUCTURAL_VARIANTS,
    Codec,
    NotApplicable,
)
from locust_mlstress.errors import ProfileError
from tests.codec_helpers import (
    MIXED,
    NUMERIC,
    V2_DATATYPE_NAMES,
    codec,
    mixed_rows,
    numeric_rows,
)

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
