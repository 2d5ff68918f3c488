"""Body templates (payloads/templates.py) give exactly the codec's bytes, or are not used."""

from __future__ import annotations

from pathlib import Path

import pytest

from locust_mlstress.domain.schema import Feature
from locust_mlstress.payloads import factory
from locust_mlstress.payloads.kit import kit_for
from locust_mlstress.payloads.templates import BodyTemplate, column_texts
from locust_mlstress.profile import load_profile
from tests.codec_helpers import codec

PROFILES = sorted((Path(__file__).parents[2] / "profiles").glob("*.toml"))
AWKWARD = {  # values whose JSON must come out as the codec writes them
    "age": [20.5, -0.0, 1e300, None, 3.0, 1 / 3],
    "visits": [0, -7, 2**62, 12, 1, 5],
    "plan": ["free", 'p"ro', "a,b", "100%", "ünï", None],
    "active": [True, False, True, None, False, True],
}
KINDS = ["f", "i", "O", "O"]


def _rows(columns: dict[str, list], lo: int, hi: int) -> list[dict]:
    return [{name: col[i] for name, col in columns.items()} for i in range(lo, hi)]


@pytest.mark.parametrize("bs", [1, 2])
@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("kserve_v1", {}),
        ("tfserving", {"signature_name": "serving_default"}),
        ("v2", {}),
        ("mlflow", {"mlflow_format": "dataframe_split"}),
        ("mlflow", {"mlflow_format": "dataframe_records"}),
        ("mlflow", {"mlflow_format": "inputs"}),
        ("json", {"body_template": '{"model": "m", "data": "$matrix", "n": "$n"}'}),
        ("json", {"body_template": '{"cols": "$columns"}'}),
        ("json", {"body_template": '{"rows": "$rows", "note": "50% off"}'}),
    ],
)
def test_template_bodies_equal_the_codecs(name, options, bs):
    c = codec(name, **options)
    names = tuple(AWKWARD)
    template = BodyTemplate.build(c, names, bs)
    assert template is not None
    texts = [column_texts(col, kind) for col, kind in zip(AWKWARD.values(), KINDS, strict=True)]
    for lo in range(0, 6 - bs + 1, bs):
        assert template.render(texts, lo) == c.encode(_rows(AWKWARD, lo, lo + bs))
    assert template.agrees(c, names, list(AWKWARD.values()), KINDS)


def test_a_value_sent_twice_gets_no_template():
    # each value must have one hole: a body carrying the rows twice is encoded per payload
    c = codec("json", body_template='{"a": "$rows", "b": "$matrix"}')
    assert BodyTemplate.build(c, tuple(AWKWARD), 1) is None


def test_a_codec_that_changes_values_fails_the_check():
    # an INT64 column sends booleans as 1/0: a template of verbatim values would write true/false
    features = (Feature("x", "float"), Feature("k", "int"))
    c = codec("v2", features=features)
    template = BodyTemplate.build(c, ("x", "k"), 1)
    columns = [[1.5, 2.5], [True, False]]
    assert template is None or not template.agrees(c, ("x", "k"), columns, ["f", "b"])


@pytest.mark.parametrize("datatype", ["FP64", "FP32"])
@pytest.mark.parametrize("bs", [1, 3])
def test_a_float_tensor_with_int_and_bool_features_keeps_the_template(datatype, bs):
    """v2's FP tensor writes an int feature's 3 as 3.0 and a boolean as 1.0: the template
    writes each column in that form too, so the fast path stays in use, byte for byte."""
    features = (Feature("x", "float"), Feature("k", "int"), Feature("on", "bool"))
    c = codec("v2", features=features, v2_layout="tensor", v2_datatype=datatype)
    names = ("x", "k", "on")
    columns = [[1.5, -0.0, 1e300, None, 2.0, 0.25], [3, 0, -7, 2**53, 12, 1], [True, False, True, True, False, False]]
    kinds = ["f", "i", "b"]
    template = BodyTemplate.build(c, names, bs)
    assert template is not None and template.agrees(c, names, columns, kinds)
    texts = template.texts(columns, kinds)
    for lo in range(0, 6 - bs + 1, bs):
        rows = [dict(zip(names, [col[i] for col in columns], strict=True)) for i in range(lo, lo + bs)]
        assert template.render(texts, lo) == c.encode(rows)
    assert b"3.0" in template.render(texts, 0)


def test_a_tensor_profile_with_int_features_uses_the_template(tmp_path):
    """Through the kit and the factory, as a run sends them."""
    path = tmp_path / "p.toml"
    path.write_text(TENSOR_PROFILE)
    profile = load_profile(path)
    kit = kit_for(profile)
    assert kit.template(tuple(f.name for f in profile.features)) is not None
    f = factory.PayloadFactory(profile, 3, lambda: 0.0)
    rows = f._draw_block().clean
    bs = profile.target.batch_size
    for lo in range(0, min(rows.n, 40 * bs), bs):
        assert rows.body(kit.codec, lo, bs) == kit.codec.encode(rows.rows(lo, lo + bs))


TENSOR_PROFILE = """\
seed = 5

[target]
path = "/v2/models/m/infer"
codec = "v2"
v2_layout = "tensor"
batch_size = 2

[output]
type = "binary"

[[features]]
name = "radius"
type = "float"
distribution = { kind = "normal", mean = 14, std = 3 }

[[features]]
name = "visits"
type = "int"
min = 0
distribution = { kind = "int_range", low = 0, high = 9 }

[source]
type = "parametric"

[source.label_model]
type = "logistic"
weights = { radius = 0.2 }

[mix]
clean = 1
"""


def test_column_texts_split_numbers_and_quote_strings():
    assert column_texts([1.5, None, -2.0], "f") == ["1.5", "null", "-2.0"]
    assert column_texts([True, False], "b") == ["true", "false"]
    assert column_texts(['a,"b"', None], "O") == ['"a,\\"b\\""', "null"]
    assert column_texts([], "f") == []


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_every_profile_sends_the_codecs_bytes(path):
    profile = load_profile(path)
    kit = kit_for(profile)
    assert kit.template(tuple(f.name for f in profile.features)) is not None  # the fast path is in use
    f = factory.PayloadFactory(profile, 3, lambda: 1e6)  # late: gradual drift is in force
    block = f._draw_block()
    bs = profile.target.batch_size
    sources = [block.clean, *(rows for rows, _ in block.drifted.values())]
    for rows in sources:
        for lo in range(0, min(rows.n, 40 * bs), bs):
            assert rows.body(kit.codec, lo, bs) == kit.codec.encode(rows.rows(lo, lo + bs))


def test_a_template_is_decided_once_per_kit():
    profile = load_profile(PROFILES[0])
    kit = kit_for(profile)
    names = tuple(f.name for f in profile.features)
    assert kit.template(names) is kit.template(names)
    assert kit.template(("not", "these")) is None  # no sample has these columns: never unchecked
