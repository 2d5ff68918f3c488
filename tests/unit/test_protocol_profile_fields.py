"""Profile fields for real models: names as the model knows them, wire keys, v2 datatypes and parameters.

A model trained on sklearn's breast-cancer frame knows its columns as 'mean radius'; an MLflow
signature may use dots. These tests load such profiles (parametric and from a CSV whose header
holds those names) and follow the names through the payload factory to the bytes each codec
sends, and check that every bad value of a new field fails in one line naming the field.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from locust_mlstress.domain.schema import Target
from locust_mlstress.errors import ProfileError
from locust_mlstress.payloads import PayloadFactory
from locust_mlstress.profile import load_profile

SPACED = """\
seed = 3

[target]
path = "/predict"
codec = "{codec}"
{target_extra}

[output]
type = "binary"

[[features]]
name = "mean radius"
type = "float"
min = 0
{radius_extra}

[[features]]
name = "worst.area"
type = "float"
min = 0

[[features]]
name = "plan type"
type = "category"
categories = ["basic", "premium plus"]

[source]
{source}

[mix]
clean = 1
"""

PARAMETRIC_SOURCE = """\
type = "parametric"

[source.label_model]
type = "logistic"
weights = { "mean radius" = 0.3, "worst.area" = -0.01, "plan type=premium plus" = 1.0 }
"""
DISTRIBUTIONS = {
    "mean radius": 'distribution = { kind = "normal", mean = 14, std = 3 }',
    "worst.area": 'distribution = { kind = "uniform", low = 200, high = 2500 }',
    "plan type": 'distribution = { kind = "categorical" }',
}


def _parametric(text: str) -> str:
    for name, distribution in DISTRIBUTIONS.items():
        text = text.replace(f'name = "{name}"\n', f'name = "{name}"\n{distribution}\n', 1)
    return text


def _numeric_plan(text: str) -> str:
    """The profile with 'plan type' an int feature: a schema the v2 tensor layout can pack."""
    text = text.replace('type = "category"\ncategories = ["basic", "premium plus"]\n', 'type = "int"\n')
    text = text.replace('{ kind = "categorical" }', '{ kind = "int_range", low = 0, high = 3 }')
    return text.replace(', "plan type=premium plus" = 1.0', "")


def write(tmp_path: Path, *, codec="kserve_v1", target_extra="", radius_extra="", dataset=False) -> Path:
    if dataset:
        (tmp_path / "rows.csv").write_text(
            "mean radius,worst.area,plan type,diagnosis\n"
            "14.1,880.5,basic,0\n20.3,1900.0,premium plus,1\n11.0,410.2,basic,0\n17.5,1200.0,premium plus,1\n"
        )
        source = 'type = "dataset"\npath = "rows.csv"\nlabel_column = "diagnosis"\n'
    else:
        source = PARAMETRIC_SOURCE
    text = SPACED.format(codec=codec, target_extra=target_extra, radius_extra=radius_extra, source=source)
    if not dataset:
        text = _parametric(text)
    path = tmp_path / "p.toml"
    path.write_text(text)
    return path


def first_body(path: Path) -> object:
    profile = load_profile(path)
    payload = PayloadFactory(profile, 0, lambda: 0.0).next()
    assert payload.kind == "clean"
    return json.loads(payload.body)


@pytest.mark.parametrize("dataset", [False, True], ids=["parametric", "dataset"])
def test_spaced_and_dotted_names_load_and_reach_every_codec(tmp_path: Path, dataset: bool) -> None:
    names = ["mean radius", "worst.area", "plan type"]
    bodies = {
        codec: first_body(write(tmp_path, codec=codec, target_extra=extra, dataset=dataset))
        for codec, extra in [
            ("kserve_v1", ""),
            ("v2", ""),
            ("mlflow", 'mlflow_format = "dataframe_split"'),
            ("json", 'body_template = \'{"rows": "$columns"}\''),
        ]
    }
    assert list(bodies["kserve_v1"]["instances"][0]) == names
    assert [t["name"] for t in bodies["v2"]["inputs"]] == names
    assert bodies["mlflow"]["dataframe_split"]["columns"] == names
    assert list(bodies["json"]["rows"]) == names


def test_profile_reads_wire_and_datatype(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, radius_extra='wire = "mean_radius"\ndatatype = "FP32"'))
    radius = profile.feature("mean radius")
    assert (radius.wire, radius.datatype, radius.wire_name) == ("mean_radius", "FP32", "mean_radius")
    area = profile.feature("worst.area")
    assert (area.wire, area.datatype, area.wire_name) == (None, None, "worst.area")


@pytest.mark.parametrize("dataset", [False, True], ids=["parametric", "dataset"])
@pytest.mark.parametrize(
    "codec,extra,keys",
    [
        ("kserve_v1", "", lambda b: list(b["instances"][0])),
        ("tfserving", 'signature_name = "serving_default"', lambda b: list(b["instances"][0])),
        ("v2", "", lambda b: [t["name"] for t in b["inputs"]]),
        ("mlflow", 'mlflow_format = "dataframe_split"', lambda b: b["dataframe_split"]["columns"]),
        ("mlflow", 'mlflow_format = "dataframe_records"', lambda b: list(b["dataframe_records"][0])),
        ("mlflow", 'mlflow_format = "inputs"', lambda b: list(b["inputs"])),
        ("json", 'body_template = \'{"data": "$rows"}\'', lambda b: list(b["data"][0])),
        ("json", 'body_template = \'{"data": "$columns"}\'', lambda b: list(b["data"])),
    ],
)
def test_wire_names_are_what_each_codec_sends(tmp_path: Path, dataset: bool, codec: str, extra: str, keys) -> None:
    path = write(tmp_path, codec=codec, target_extra=extra, radius_extra='wire = "mean_radius"', dataset=dataset)
    assert keys(first_body(path)) == ["mean_radius", "worst.area", "plan type"]


def test_a_malformed_payload_keeps_its_own_keys_next_to_wire_names(tmp_path: Path) -> None:
    """missing_required drops a feature, extra keys pass: the fault reaches the wire as built."""
    profile = load_profile(write(tmp_path, radius_extra='wire = "mean_radius"'))
    codec = PayloadFactory(profile, 0, lambda: 0.0).kit.codec
    body = json.loads(codec.encode([{"worst.area": 1.0, "surprise": 2}]))
    assert body == {"instances": [{"worst.area": 1.0, "surprise": 2}]}
    body = json.loads(codec.encode([{"mean radius": 1.0, "worst.area": 2.0, "plan type": "basic"}]))
    assert body == {"instances": [{"mean_radius": 1.0, "worst.area": 2.0, "plan type": "basic"}]}


def test_weight_key_of_a_feature_whose_name_holds_an_equals_sign(tmp_path: Path) -> None:
    text = _parametric(SPACED.format(codec="kserve_v1", target_extra="", radius_extra="", source=PARAMETRIC_SOURCE))
    text = text.replace('name = "worst.area"', 'name = "ratio=a/b"').replace('"worst.area" = -0.01', '"ratio=a/b" = 2')
    path = tmp_path / "p.toml"
    path.write_text(text)
    terms = load_profile(path).source.label_model.predictors[0].terms
    assert [(t.feature, t.weight, t.category) for t in terms] == [
        ("mean radius", 0.3, None),
        ("ratio=a/b", 2.0, None),
        ("plan type", 1.0, "premium plus"),
    ]


def test_v2_target_fields_load(tmp_path: Path) -> None:
    extra = (
        'v2_layout = "tensor"\nv2_input_name = "float_input"\nv2_datatype = "FP32"\n'
        'v2_outputs = ["predict_proba"]\nv2_parameters = { content_type = "np", strict = true, version = 2 }'
    )
    text = _numeric_plan(
        _parametric(SPACED.format(codec="v2", target_extra=extra, radius_extra="", source=PARAMETRIC_SOURCE))
    )
    path = tmp_path / "p.toml"
    path.write_text(text)
    target = load_profile(path).target
    assert target.v2_parameters == (("content_type", "np"), ("strict", True), ("version", 2))
    assert (target.v2_input_name, target.v2_datatype, target.v2_outputs) == ("float_input", "FP32", ("predict_proba",))


def test_target_takes_a_mapping_of_parameters_and_stays_hashable() -> None:
    target = Target(path="/p", codec="v2", v2_parameters={"content_type": "pd"})
    assert target.v2_parameters == (("content_type", "pd"),)
    assert hash(target) == hash(Target(path="/p", codec="v2", v2_parameters=(("content_type", "pd"),)))


@pytest.mark.parametrize(
    "radius_extra,target_extra,codec,field,hints",
    [
        ("", "", "kserve_v1", "features[0].name", ("control character",)),
        ('wire = ""', "", "kserve_v1", "features[0].wire", ("must not be empty",)),
        ('wire = "worst.area"', "", "kserve_v1", "features[1].name", ("'worst.area' is already sent for features[0]",)),
        ('datatype = "FP16"', "", "v2", "features[0].datatype", ("FP32, FP64, INT32, INT64, BOOL, BYTES",)),
        ('datatype = "INT64"', "", "v2", "features[0].datatype", ("INT64 cannot carry float", "FP32, FP64")),
        ("", 'v2_datatype = "fp32"', "v2", "target.v2_datatype", ("did you mean 'FP32'?", "FP32, FP64, INT32")),
        ("", "v2_parameters = { content_type = { a = 1 } }", "v2", "target.v2_parameters.content_type",
         ("JSON scalar",)),
        ("", "v2_parameters = { tags = [1, 2] }", "v2", "target.v2_parameters.tags", ("got a list",)),
        ("", "v2_parameters = { t = nan }", "v2", "target.v2_parameters.t", ("finite number",)),
        ("", 'v2_parameters = "pd"', "v2", "target.v2_parameters", ("must be a table",)),
        ("", 'v2_input_name = " "', "v2", "target.v2_input_name", ("must not be empty",)),
    ],
)  # fmt: skip
def test_bad_new_fields_fail_in_one_line_naming_the_field(
    tmp_path: Path, radius_extra: str, target_extra: str, codec: str, field: str, hints: tuple[str, ...]
) -> None:
    path = write(tmp_path, codec=codec, target_extra=target_extra, radius_extra=radius_extra)
    if field == "features[0].name":
        path.write_text(path.read_text().replace('name = "mean radius"', 'name = "mean\\tradius"'))
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    message = str(caught.value)
    assert "\n" not in message
    assert field in message
    for hint in hints:
        assert hint in message


def test_tensor_datatype_must_carry_every_feature(tmp_path: Path) -> None:
    path = write(tmp_path, codec="v2", target_extra='v2_layout = "tensor"\nv2_datatype = "INT64"')
    text = _numeric_plan(path.read_text())
    (tmp_path / "p.toml").write_text(text)
    with pytest.raises(ProfileError) as caught:
        load_profile(tmp_path / "p.toml")
    assert "target.v2_datatype" in str(caught.value)
    assert "INT64 cannot carry float feature 'mean radius'; for this schema use one of: FP32, FP64" in str(caught.value)
