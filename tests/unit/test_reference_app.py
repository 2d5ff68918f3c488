"""The WSGI app in-process: endpoints and protocols, routing errors, and the misbehaviour knobs."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import gevent
import numpy as np
import pytest

from locust_mlstress.profile import load_profile
from locust_mlstress.servers.reference.app import ReferenceApp
from locust_mlstress.servers.reference.knobs import ServerKnobs
from locust_mlstress.servers.reference.model import sigmoid
from locust_mlstress.servers.reference.testing import call
from locust_mlstress.servers.reference.training import model_for_profile
from tests.samples import QUICKSTART_V2_TYPES

from .test_reference_validation import MLFLOW, ROW, V1, V2, tensor, v2_columns, with_

PROFILES = Path(__file__).resolve().parents[2] / "profiles"
ROWS = [ROW, with_(age=70, plan="premium", autopay=False, support_tickets=None, last_note=...)]


@pytest.fixture(scope="module")
def model(quickstart):
    return model_for_profile(quickstart, 2_000)


@pytest.fixture(scope="module")
def app(model):
    return ReferenceApp(model, ServerKnobs(), "churn")


def columns_of(rows: list[dict]) -> dict[str, list]:
    names = list(ROW)
    return {name: [row.get(name) for row in rows] for name in names}


def v2_batch(rows: list[dict]) -> dict:
    return v2_columns_from(columns_of(rows), len(rows))


def v2_columns_from(columns: dict[str, list], n: int) -> dict:
    body = v2_columns(n=n)
    for t in body["inputs"]:
        t["data"] = columns[t["name"]]
    return body


# --- predictions through every protocol -------------------------------------------------------


def test_v1_predictions_are_the_models(app, model):
    reply = call(app, "POST", V1, {"instances": ROWS})
    assert reply.status == 200
    expected = model.predict(columns_of(ROWS))
    assert reply.json() == {"predictions": pytest.approx(list(expected))}
    assert all(isinstance(p, float) and 0 < p < 1 for p in reply.json()["predictions"])


def test_all_protocols_agree(app):
    v1 = call(app, "POST", V1, {"instances": ROWS}).json()["predictions"]
    assert call(app, "POST", "/v1/models/churn/versions/3:predict", {"instances": ROWS}).json()["predictions"] == v1
    assert call(app, "POST", V1, {"instances": [[r.get(k) for k in ROW] for r in ROWS]}).json()["predictions"] == v1
    split = {"columns": list(ROW), "data": [[r.get(k) for k in ROW] for r in ROWS]}
    for body in ({"dataframe_split": split}, {"dataframe_records": ROWS}, {"inputs": columns_of(ROWS)}):
        assert call(app, "POST", MLFLOW, body).json() == {"predictions": v1}, body
    outputs = {o["name"]: o for o in call(app, "POST", V2, v2_batch(ROWS)).json()["outputs"]}
    assert outputs["probability"] == {"name": "probability", "shape": [2], "datatype": "FP64", "data": v1}
    assert outputs["label"] == {
        "name": "label",
        "shape": [2],
        "datatype": "INT64",
        "data": [int(p >= 0.5) for p in v1],
    }


def test_v2_tensor_layout_imputes_the_strings_it_cannot_carry(app, model):
    numeric = ["age", "income_k", "tenure_months", "monthly_charges", "autopay", "support_tickets"]
    data = [[float(ROW[k]) for k in numeric]]
    reply = call(app, "POST", V2, {"inputs": [tensor("input-0", [1, 6], "FP64", data)]})
    expected = model.predict({k: [ROW[k]] for k in numeric})
    assert reply.json()["outputs"][0]["data"] == pytest.approx(list(expected))


def test_v2_id_echo_and_output_selection(app):
    reply = call(app, "POST", V2, {"id": "req-7", **v2_columns(), "outputs": [{"name": "label"}]})
    body = reply.json()
    assert body["model_name"] == "churn" and body["id"] == "req-7"
    assert [o["name"] for o in body["outputs"]] == ["label"]
    assert "id" not in call(app, "POST", V2, v2_columns()).json()


def test_multiclass_outputs(router):
    model = model_for_profile(router, 2_000)
    app = ReferenceApp(model, ServerKnobs(), router.target.model_name)
    k = len(router.output.classes)
    rows = [{f.name: _typical(f) for f in router.features}] * 2
    v1 = call(app, "POST", f"/v1/models/{router.target.model_name}:predict", {"instances": rows}).json()["predictions"]
    assert len(v1) == 2 and all(len(p) == k and sum(p) == pytest.approx(1.0) for p in v1)
    body = {
        "inputs": [
            {"name": f.name, "shape": [2], "datatype": _v2_type(f), "data": [r[f.name] for r in rows]}
            for f in router.features
        ]
    }
    reply = call(app, "POST", f"/v2/models/{router.target.model_name}/infer", body)
    outputs = {o["name"]: o for o in reply.json()["outputs"]}
    assert outputs["probabilities"]["shape"] == [2, k] and outputs["probabilities"]["datatype"] == "FP64"
    assert outputs["probabilities"]["data"] == pytest.approx(v1[0] + v1[1])
    assert outputs["label"]["datatype"] == "BYTES"
    assert outputs["label"]["data"] == [router.output.classes[int(np.argmax(p))] for p in v1]


def test_regression_outputs():
    profile = load_profile(PROFILES / "regression_prices.toml")
    model = model_for_profile(profile, 2_000)
    app = ReferenceApp(model, ServerKnobs(), profile.target.model_name)
    row = {f.name: _typical(f) for f in profile.features}
    v1 = call(app, "POST", "/invocations", {"dataframe_records": [row]}).json()["predictions"]
    assert len(v1) == 1 and isinstance(v1[0], float)
    body = {
        "inputs": [
            {"name": f.name, "shape": [1], "datatype": _v2_type(f), "data": [row[f.name]]} for f in profile.features
        ]
    }
    outputs = call(app, "POST", f"/v2/models/{profile.target.model_name}/infer", body).json()["outputs"]
    assert outputs == [{"name": "value", "shape": [1], "datatype": "FP64", "data": pytest.approx(v1)}]


def _typical(feature):
    if feature.type == "bool":
        return True
    if feature.type in ("category", "text"):
        return feature.categories[0] if feature.categories else "hello"
    low = feature.min if feature.min is not None else 0.0
    value = low + 1.0 if feature.max is None else (low + feature.max) / 2
    return int(value) if feature.type == "int" else float(value)


def _v2_type(feature) -> str:
    return {"float": "FP64", "int": "INT64", "bool": "BOOL", "category": "BYTES", "text": "BYTES"}[feature.type]


# --- other endpoints and routing ---------------------------------------------------------------


def test_health_and_metadata(app):
    assert call(app, "GET", "/v2/health/live").json() == {"live": True}
    assert call(app, "GET", "/v2/health/ready").json() == {"ready": True}
    assert call(app, "GET", "/v2/models/churn/ready").json() == {"name": "churn", "ready": True}
    meta = call(app, "GET", "/v2/models/churn").json()
    assert meta["name"] == "churn"
    assert {i["name"]: i["datatype"] for i in meta["inputs"]} == QUICKSTART_V2_TYPES
    assert all(i["shape"] == [-1] for i in meta["inputs"])
    assert [o["name"] for o in meta["outputs"]] == ["probability", "label"]
    status = call(app, "GET", "/v1/models/churn").json()
    assert status["model_version_status"][0]["state"] == "AVAILABLE"


def test_every_place_that_names_a_version_names_the_servers(model):
    """A challenger started with --model-version 2 says so in its metadata and in each v2 answer
    (what the v2 codec reads), not only in the X-Model-Version header."""
    for version in ("1", "2-candidate"):
        app = ReferenceApp(model, ServerKnobs(model_version=version), "churn")
        assert call(app, "GET", "/v2/models/churn").json()["versions"] == [version]
        assert call(app, "GET", "/v1/models/churn").json()["model_version_status"][0]["version"] == version
        reply = call(app, "POST", V2, v2_batch(ROWS))
        assert reply.json()["model_version"] == version and reply.headers["X-Model-Version"] == version


def test_a_server_bug_is_a_json_500(model, capsys):
    broken = ReferenceApp(dataclasses.replace(model, weights=np.zeros(3)), ServerKnobs(), "churn")
    reply = call(broken, "POST", V1, {"instances": [ROW]})
    assert reply.status == 500 and reply.error == "internal server error"
    assert "Traceback" in capsys.readouterr().err
    assert broken.in_flight == 0


def test_routing_errors_are_json(app):
    reply = call(app, "GET", "/nowhere")
    assert reply.status == 404 and "/nowhere" in reply.error
    reply = call(app, "POST", "/v1/models/other:predict", {"instances": [ROW]})
    assert reply.status == 404 and "'other'" in reply.error
    assert call(app, "GET", "/v2/models/other").status == 404
    reply = call(app, "GET", V1)
    assert reply.status == 405 and reply.headers["Allow"] == "POST" and "GET" in reply.error
    assert call(app, "POST", "/v2/health/live", {}).status == 405
    assert call(app, "PUT", MLFLOW, {}).status == 405


# --- knobs -------------------------------------------------------------------------------------


def test_knobs_are_validated():
    with pytest.raises(ValueError, match="latency_ms"):
        ServerKnobs(latency_ms=-1)
    with pytest.raises(ValueError, match="error_rate.*temperature"):
        ServerKnobs(error_rate=1.5, temperature=0.0)
    with pytest.raises(ValueError, match="lax"):
        ServerKnobs(lax="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_instances"):
        ServerKnobs(max_instances=0)


def test_fixed_latency(model):
    app = ReferenceApp(model, ServerKnobs(latency_ms=60), "churn")
    start = time.perf_counter()
    assert call(app, "POST", V1, {"instances": [ROW]}).status == 200
    assert time.perf_counter() - start >= 0.06
    start = time.perf_counter()
    call(app, "GET", "/v2/health/live")
    assert time.perf_counter() - start < 0.05  # only predictions are slowed


def test_jitter_is_seeded(model):
    def delays(seed: int) -> list[float]:
        app = ReferenceApp(model, ServerKnobs(jitter_ms=5, seed=seed), "churn")
        return [app.rng.exponential(5) for _ in range(3)]

    assert delays(1) == delays(1) != delays(2)
    app = ReferenceApp(model, ServerKnobs(jitter_ms=20, seed=1), "churn")
    start = time.perf_counter()
    for _ in range(10):
        call(app, "POST", V1, {"instances": [ROW]})
    assert time.perf_counter() - start > 0.05  # ~200 ms expected


def test_latency_grows_with_concurrency(model):
    app = ReferenceApp(model, ServerKnobs(concurrency_latency_ms=20), "churn")
    start = time.perf_counter()
    call(app, "POST", V1, {"instances": [ROW]})
    alone = time.perf_counter() - start
    start = time.perf_counter()
    gevent.joinall([gevent.spawn(call, app, "POST", V1, {"instances": [ROW]}) for _ in range(5)])
    together = time.perf_counter() - start
    assert alone >= 0.02
    assert together >= 0.07  # the last of five arrives with five in flight: 100 ms
    assert app.in_flight == 0


def test_error_rate_is_seeded_and_roughly_right(model):
    def statuses(seed: int) -> list[int]:
        app = ReferenceApp(model, ServerKnobs(error_rate=0.3, seed=seed), "churn")
        return [call(app, "POST", V1, {"instances": [ROW]}).status for _ in range(400)]

    first = statuses(7)
    assert first == statuses(7)
    assert set(first) == {200, 500}
    assert 0.22 < first.count(500) / 400 < 0.38
    app = ReferenceApp(model, ServerKnobs(error_rate=1.0), "churn")
    reply = call(app, "POST", V1, {"instances": [ROW]})
    assert reply.status == 500 and "error_rate" in reply.error


def test_temperature_scales_the_logit(app, model):
    hot = ReferenceApp(model, ServerKnobs(temperature=2.0), "churn")
    p = call(app, "POST", V1, {"instances": [ROW]}).json()["predictions"][0]
    q = call(hot, "POST", V1, {"instances": [ROW]}).json()["predictions"][0]
    logit = np.log(p / (1 - p))
    assert q == pytest.approx(float(sigmoid(np.array(logit / 2.0))))


def test_drift_degradation_only_touches_drifted_looking_rows(app, model):
    noisy = ReferenceApp(model, ServerKnobs(drift_degradation=3.0, seed=1), "churn")
    clean_row, drifted_row = ROW, with_(plan="platinum")
    assert (
        call(noisy, "POST", V1, {"instances": [clean_row]}).json()
        == call(app, "POST", V1, {"instances": [clean_row]}).json()
    )
    answers = {call(noisy, "POST", V1, {"instances": [drifted_row]}).json()["predictions"][0] for _ in range(10)}
    assert len(answers) == 10


# --- lax modes -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lax_app(model):
    return ReferenceApp(model, ServerKnobs(lax="accept", max_body_bytes=4096, max_instances=4), "churn")


def test_lax_accept_answers_garbage_with_neutral_predictions(lax_app):
    for raw in (b"", b"not json", b'{"instances": [1, 2', b"\xff\xfe"):
        reply = call(lax_app, "POST", V1, raw)
        assert reply.status == 200 and reply.json() == {"predictions": [0.5]}, raw
    reply = call(lax_app, "POST", V1, {"instances": [ROW]}, content_type="text/plain")
    assert reply.status == 200
    big = {"instances": [with_(last_note="x" * 10_000)]}
    assert call(lax_app, "POST", V1, big).json() == {"predictions": [0.5]}


def test_lax_accept_predicts_what_it_can(lax_app, app):
    lenient = [
        with_(age="40"),
        with_(age=..., color="red"),
        with_(income_k=None, age=150),
        with_(autopay="true", plan=7),
        {"nonsense": 1},
        "not a row",
    ]
    reply = call(lax_app, "POST", V1, {"instances": lenient, "extra": True})
    assert reply.status == 200
    predictions = reply.json()["predictions"]
    assert len(predictions) == 6 and all(0 <= p <= 1 for p in predictions)
    strict = call(app, "POST", V1, {"instances": [ROW]}).json()["predictions"][0]
    assert predictions[0] == pytest.approx(strict)  # "40" coerced to 40


def test_lax_accept_v2_neutral_answer(lax_app):
    body = v2_columns(n=3)
    body["inputs"][0]["shape"] = [3, 7]
    reply = call(lax_app, "POST", V2, body)
    assert reply.status == 200
    assert reply.json()["outputs"][0] == {
        "name": "probability",
        "shape": [3],
        "datatype": "FP64",
        "data": [0.5] * 3,
    }


def test_lax_crash_turns_invalid_input_into_500(model):
    crashy = ReferenceApp(model, ServerKnobs(lax="crash"), "churn")
    assert call(crashy, "POST", V1, {"instances": [ROW]}).status == 200
    for body in (b"{", {"instances": [with_(age="x")]}, {"instances": [with_(age=5)]}):
        reply = call(crashy, "POST", V1, body)
        assert reply.status == 500 and "invalid input" in reply.error
    assert call(crashy, "POST", V1, {"instances": [ROW]}, content_type="text/plain").status == 500
    assert call(crashy, "GET", "/nowhere").status == 404  # routing is not input validation
