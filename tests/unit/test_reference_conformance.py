"""The reference server against the project's own payloads: every kind gets the status its profile expects.

This is the contract the quickstart relies on: clean and drifted traffic is answered 2xx with a
body the profile's codec decodes, malformed traffic 4xx, oversized traffic 2xx or 413.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from locust_mlstress.payloads.factory import PayloadFactory
from locust_mlstress.payloads.kit import kit_for
from locust_mlstress.servers.reference.app import ReferenceApp
from locust_mlstress.servers.reference.knobs import ServerKnobs
from locust_mlstress.servers.reference.testing import call
from locust_mlstress.servers.reference.training import model_for_profile


def unexpected_answers(profile, payloads: int = 1500) -> Counter:
    app = ReferenceApp(model_for_profile(profile, 2_000), ServerKnobs(), profile.target.model_name)
    codec = kit_for(profile).codec
    factory = PayloadFactory(profile, user_id=0, clock=lambda: 1e6)  # every drift schedule at full strength
    wrong: Counter = Counter()
    for _ in range(payloads):
        payload = factory.next()
        reply = call(app, "POST", profile.target.path, payload.body, content_type=payload.content_type)
        assert reply.status < 500, (payload.kind, payload.variant, reply.body[:200])
        expectation = profile.expectation(payload.kind, payload.variant)
        ok = expectation.allows(reply.status)
        if ok and reply.status < 300 and expectation.decodable:
            assert len(codec.decode(reply.body, payload.n)) == payload.n
        if not ok:
            wrong[(payload.kind, payload.variant, reply.status, reply.body[:120])] += 1
    return wrong


def test_quickstart_payloads_get_the_expected_statuses(quickstart):
    assert unexpected_answers(quickstart) == Counter()


@pytest.mark.parametrize("codec", ["v2", "mlflow", "tfserving"])
def test_quickstart_through_other_codecs(quickstart, codec):
    path = {"v2": "/v2/models/churn/infer", "mlflow": "/invocations", "tfserving": "/v1/models/churn:predict"}
    target = dataclasses.replace(quickstart.target, codec=codec, path=path[codec])
    profile = dataclasses.replace(quickstart, target=target, sha256=f"{quickstart.sha256}-{codec}")
    assert unexpected_answers(profile, 600) == Counter()


def test_multiclass_router_payloads_get_the_expected_statuses(router):
    assert unexpected_answers(router) == Counter()
