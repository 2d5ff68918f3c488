"""Each malformed variant is what its name says, checked the way a strict server would look."""

import json
import math

import numpy as np
import pytest

from locust_mlstress.payloads.kit import kit_for
from locust_mlstress.payloads.malformed import MALFORMED, UNKNOWN_FEATURE
from locust_mlstress.payloads.rows import to_rows


def _rows(kit, n=1):
    return to_rows(kit.sampler.draw(np.random.default_rng(1), n).columns, n)


def _build(profile, name, aux=0):
    kit = kit_for(profile)
    rows = _rows(kit)
    body, ctype = MALFORMED[name][0](kit, rows, aux)
    return kit, rows, body, ctype


def _reject_constant(token):
    raise ValueError(token)


def test_there_are_at_least_fifteen_stable_names():
    assert len(MALFORMED) >= 15
    assert {"invalid_json", "truncated_body", "empty_body", "wrong_content_type", "deeply_nested"} <= set(MALFORMED)


def test_invalid_json_does_not_parse(quickstart):
    _, _, body, _ = _build(quickstart, "invalid_json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)


def test_truncated_body_is_a_strict_prefix_of_the_valid_body(quickstart):
    kit, rows, body, _ = _build(quickstart, "truncated_body")
    valid = kit.codec.encode(rows)
    assert valid.startswith(body) and 0 < len(body) < len(valid)
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)


def test_empty_body(quickstart):
    assert _build(quickstart, "empty_body")[2] == b""


def test_wrong_content_type_is_a_valid_body_with_another_type(quickstart):
    kit, rows, body, ctype = _build(quickstart, "wrong_content_type")
    assert body == kit.codec.encode(rows) and ctype == "text/plain"


def test_wrong_top_level_key(quickstart):
    doc = json.loads(_build(quickstart, "wrong_top_level_key")[2])
    assert "instances" not in doc and len(doc) == 1


@pytest.mark.parametrize("aux", range(4))
def test_missing_required_feature(quickstart, aux):
    row = json.loads(_build(quickstart, "missing_required_feature", aux)[2])["instances"][0]
    required = {f.name for f in quickstart.features if f.required}
    assert len(required - set(row)) == 1


def test_unknown_extra_feature(quickstart):
    row = json.loads(_build(quickstart, "unknown_extra_feature")[2])["instances"][0]
    assert UNKNOWN_FEATURE in row and UNKNOWN_FEATURE not in {f.name for f in quickstart.features}


def test_wrong_type_puts_a_string_in_a_number(quickstart):
    row = json.loads(_build(quickstart, "wrong_type")[2])["instances"][0]
    numeric = [f.name for f in quickstart.features if f.type in ("float", "int")]
    assert any(isinstance(row[n], str) for n in numeric)


def test_null_required(quickstart):
    row = json.loads(_build(quickstart, "null_required")[2])["instances"][0]
    assert any(row[f.name] is None for f in quickstart.features if f.required)


@pytest.mark.parametrize(("name", "token"), [("nan_literal", "NaN"), ("infinity_literal", "Infinity")])
def test_non_finite_literals(quickstart, name, token):
    body = _build(quickstart, name)[2]
    with pytest.raises(ValueError, match=token):
        json.loads(body, parse_constant=_reject_constant)


def test_huge_number_overflows_to_infinity(quickstart):
    row = json.loads(_build(quickstart, "huge_number")[2])["instances"][0]
    assert any(isinstance(v, float) and math.isinf(v) for v in row.values())
    assert b"1e400" in _build(quickstart, "huge_number")[2]


def test_out_of_domain(quickstart):
    row = json.loads(_build(quickstart, "out_of_domain")[2])["instances"][0]
    outside = [
        f.name
        for f in quickstart.features
        if (f.min is not None and row[f.name] < f.min) or (f.max is not None and row[f.name] > f.max)
    ]
    assert len(outside) == 1


def test_wrong_shape_and_rank_in_v1(quickstart):
    assert isinstance(json.loads(_build(quickstart, "wrong_shape")[2])["instances"], dict)
    assert isinstance(json.loads(_build(quickstart, "wrong_rank")[2])["instances"][0], list)


def test_v2_shape_rank_and_datatype(router):
    for tensor in json.loads(_build(router, "wrong_shape")[2])["inputs"]:
        assert math.prod(tensor["shape"]) != len(tensor["data"])
    for tensor in json.loads(_build(router, "wrong_rank")[2])["inputs"]:
        assert len(tensor["shape"]) == 3
    declared = {t["name"]: t["datatype"] for t in json.loads(_build(router, "wrong_datatype")[2])["inputs"]}
    assert declared["message_length"] == "BYTES"  # an INT64 feature declared as strings


def test_wrong_datatype_is_not_offered_for_v1(quickstart):
    assert "wrong_datatype" not in {v.name for v in quickstart.malformed}


def test_deeply_nested_exceeds_a_parser_recursion_limit(quickstart):
    with pytest.raises(RecursionError):
        json.loads(_build(quickstart, "deeply_nested")[2])


def test_invalid_utf8(quickstart):
    with pytest.raises(UnicodeDecodeError):
        _build(quickstart, "invalid_utf8")[2].decode("utf-8")


def test_duplicate_keys(quickstart):
    seen = []
    json.loads(_build(quickstart, "duplicate_keys")[2], object_pairs_hook=lambda pairs: seen.append(pairs) or {})
    assert any(len({k for k, _ in pairs}) < len(pairs) for pairs in seen)


def test_every_offered_variant_builds_for_every_shipped_profile(quickstart, router):
    from locust_mlstress.profile import load_profile
    from tests.conftest import PROFILES

    for path in sorted(PROFILES.glob("*.toml")):
        profile = load_profile(path)
        kit = kit_for(profile)
        for variant in profile.malformed:
            body, ctype = MALFORMED[variant.name][0](kit, _rows(kit, profile.target.batch_size), 7)
            assert isinstance(body, bytes) and ctype, (path.name, variant.name)
