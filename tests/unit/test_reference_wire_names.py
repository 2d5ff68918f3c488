"""The reference server reads features by their wire keys, as the codecs send them.

A profile may name a feature `age` and send it as `Age (years)`; `mlstress serve` on that profile
must accept what the plugin sends and answer as it would for the plain names.
"""

from __future__ import annotations

import dataclasses

import pytest

from locust_mlstress.payloads import PayloadFactory
from locust_mlstress.servers.reference.app import ReferenceApp
from locust_mlstress.servers.reference.knobs import ServerKnobs
from locust_mlstress.servers.reference.testing import call
from locust_mlstress.servers.reference.training import model_for_profile

WIRE = {"age": "Age (years)", "income_k": "income.k", "plan": "plan name"}


def _profile(quickstart, codec: str, path: str, **target):
    features = tuple(dataclasses.replace(f, wire=WIRE.get(f.name)) for f in quickstart.features)
    return dataclasses.replace(
        quickstart,
        features=features,
        kind_weights={"clean": 1.0, "drifted": 0.0, "malformed": 0.0, "oversized": 0.0},
        target=dataclasses.replace(quickstart.target, codec=codec, path=path, batch_size=4, **target),
    )


def _app(profile):
    return ReferenceApp(model_for_profile(profile, 2_000), ServerKnobs(), "churn")


@pytest.fixture(scope="module")
def apps(quickstart):
    """(a server on the wired profile, a server on the plain one): the same model, trained alike."""
    wired = _profile(quickstart, "kserve_v1", quickstart.target.path)
    return _app(wired), _app(quickstart)


@pytest.mark.parametrize(
    ("codec", "path", "target"),
    [
        ("kserve_v1", "/v1/models/churn:predict", {}),
        ("v2", "/v2/models/churn/infer", {}),
        ("mlflow", "/invocations", {"mlflow_format": "dataframe_split"}),
    ],
)
def test_wire_keys_are_accepted_and_answer_as_the_plain_names(apps, quickstart, codec, path, target):
    wired_app, plain_app = apps
    wired = _profile(quickstart, codec, path, **target)
    plain = dataclasses.replace(wired, features=quickstart.features)
    sent_wired, sent_plain = PayloadFactory(wired, 1), PayloadFactory(plain, 1)
    for _ in range(5):
        a, b = sent_wired.next(), sent_plain.next()
        assert b"Age (years)" in a.body and b"Age (years)" not in b.body
        reply_a = call(wired_app, "POST", path, a.body)
        reply_b = call(plain_app, "POST", path, b.body)
        assert reply_a.status == 200, reply_a.body[:300]
        assert reply_a.body == reply_b.body


def test_v2_metadata_names_inputs_by_wire_key_and_datatype(quickstart):
    features = tuple(
        dataclasses.replace(f, wire=WIRE.get(f.name), datatype="FP32" if f.name == "income_k" else None)
        for f in quickstart.features
    )
    profile = dataclasses.replace(quickstart, features=features)
    app = ReferenceApp(model_for_profile(profile, 500), ServerKnobs(), "churn")
    inputs = {i["name"]: i["datatype"] for i in call(app, "GET", "/v2/models/churn").json()["inputs"]}
    assert inputs["Age (years)"] == "INT64"
    assert inputs["income.k"] == "FP32"
    assert "age" not in inputs
