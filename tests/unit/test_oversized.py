"""Oversized variants are large in the dimension their name says, and valid otherwise."""

import json

from locust_mlstress.payloads.kit import kit_for
from locust_mlstress.payloads.oversized import build_oversized


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


def test_oversized_bodies_are_built_once_per_process(quickstart):
    _, a = _built(quickstart, "body_bytes")
    _, b = _built(quickstart, "body_bytes")
    assert a is b
