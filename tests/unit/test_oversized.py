"""Oversized variants are large in the dimension their name says, and valid otherwise."""

import dataclasses
import json

import pytest

from locust_mlstress.payloads.kit import PayloadKit, kit_for
from locust_mlstress.payloads.oversized import body_bytes, build_oversized
from locust_mlstress.profile import load_profile

# v2's tensor layout takes numeric features only: a profile of those
NUMERIC_PROFILE = """\
seed = 11

[target]
path = "/v2/models/m/infer"
codec = "v2"
v2_layout = "tensor"

[output]
type = "binary"

[[features]]
name = "x"
type = "float"
distribution = { kind = "normal", mean = 5, std = 2 }

[[features]]
name = "k"
type = "int"
min = 0
max = 90
distribution = { kind = "uniform", low = 0, high = 90 }

[source]
type = "parametric"

[source.label_model]
type = "logistic"
weights = { x = 0.5, k = -0.01 }

[mix]
clean = 1
oversized = 1
"""

# every codec and layout a body is encoded in: (codec options, numeric features only)
CODEC_OPTIONS = (
    ({"codec": "kserve_v1"}, False),
    ({"codec": "tfserving"}, False),
    ({"codec": "v2", "v2_layout": "columns"}, False),
    ({"codec": "v2", "v2_layout": "tensor"}, True),
    ({"codec": "v2", "v2_layout": "tensor", "v2_datatype": "FP32", "v2_input_name": "dense_input"}, True),
    ({"codec": "mlflow", "mlflow_format": "dataframe_split"}, False),
    ({"codec": "mlflow", "mlflow_format": "dataframe_records"}, False),
    ({"codec": "mlflow", "mlflow_format": "inputs"}, False),
    ({"codec": "json"}, False),
)


def _built(profile, name):
    variant = next(v for v in profile.oversized if v.name == name)
    return variant, build_oversized(kit_for(profile), variant)


def test_large_batch_has_size_instances(quickstart):
    variant, o = _built(quickstart, "large_batch")
    assert len(json.loads(o.body)["instances"]) == variant.size == o.n == len(o.labels)


def test_huge_string_carries_a_string_of_size_bytes(quickstart):
    variant, o = _built(quickstart, "huge_string")
    row = json.loads(o.body)["instances"][0]
    assert max(len(v) for v in row.values() if isinstance(v, str)) == variant.size


def test_many_features(quickstart):
    variant, o = _built(quickstart, "many_features")
    assert len(json.loads(o.body)["instances"][0]) >= variant.size


def test_body_bytes_passes_the_stated_size_and_stays_valid_json(quickstart):
    variant, o = _built(quickstart, "body_bytes")
    assert len(o.body) > variant.size
    assert len(json.loads(o.body)["instances"]) == o.n


@pytest.fixture(scope="module")
def numeric(tmp_path_factory):
    path = tmp_path_factory.mktemp("profiles") / "numeric.toml"
    path.write_text(NUMERIC_PROFILE)
    return load_profile(path)


def _kit(profile, options: dict) -> PayloadKit:
    """A kit for the profile sent in another codec (its own kit: the cached one is the profile's)."""
    return PayloadKit.build(dataclasses.replace(profile, target=dataclasses.replace(profile.target, **options)))


@pytest.mark.parametrize("size", [2 * 1024 * 1024, 64 * 1024])
@pytest.mark.parametrize(
    ("options", "numeric_only"),
    CODEC_OPTIONS,
    ids=lambda o: "-".join(map(str, o.values())) if isinstance(o, dict) else "",
)
def test_body_bytes_passes_its_size_by_under_one_percent_in_every_codec(
    quickstart, numeric, options, numeric_only, size
):
    profile = numeric if numeric_only else quickstart
    kit = _kit(profile, options)
    variant = dataclasses.replace(next(v for v in profile.oversized if v.name == "body_bytes"), size=size)
    o = body_bytes(kit, variant)
    assert size < len(o.body) <= size * 1.01, f"{len(o.body)} B for {size} B asked ({options})"
    json.loads(o.body)  # valid in form
    assert o.n == len(o.labels)


def test_body_bytes_of_a_size_under_one_row_is_one_row(quickstart):
    variant = dataclasses.replace(next(v for v in quickstart.oversized if v.name == "body_bytes"), size=10)
    o = body_bytes(kit_for(quickstart), variant)
    assert o.n == 1 and len(o.body) > 10


def test_oversized_bodies_are_built_once_per_process(quickstart):
    _, a = _built(quickstart, "body_bytes")
    _, b = _built(quickstart, "body_bytes")
    assert a is b
