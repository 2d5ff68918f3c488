"""MLServer 1.7.1, MLflow 3.17.2 and KServe 0.21.0, installed from PyPI, serving small sklearn
models on 127.0.0.1; `mlstress init` writes each profile by probing the live endpoint, and one
headless Locust run per endpoint is checked against figures the plugin did not compute.

Endpoints (all fitted on sklearn's breast cancer data, column names with spaces):

| endpoint        | server                              | answers                                   |
|-----------------|-------------------------------------|-------------------------------------------|
| mlserver-proba  | MLServer sklearn runtime, v2        | predict_proba (init asks for it)          |
| mlserver-labels | the same, init's profile without `v2_outputs` | the INT64 `predict` output: labels |
| mlflow-proba    | mlflow models serve, pyfunc_predict_fn="predict_proba" | probabilities          |
| mlflow-labels   | mlflow models serve, plain save_model | class labels                            |
| kserve-v1       | KServe ModelServer, v1              | probabilities                             |
| kserve-v2       | the same server, v2: ONE input `features`, FP32, else 400 | probabilities       |
"""

from __future__ import annotations

import re
import tomllib

import pytest
import requests

from locust_mlstress.profile import load_profile

from . import checks, harness
from .conftest import EndpointRun, need, serving, trained

VERSION = "1.0.3"  # scripts/train.py and scripts/kserve_server.py
LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1", "::1"}


def _no_outputs(text: str) -> str:
    """init's MLServer profile without `v2_outputs`: MLServer then answers its default `predict`
    output, INT64 class labels, as a user who never asked for predict_proba would get."""
    edited, n = re.subn(r"(?m)^v2_outputs = .*\n", "", text)
    assert n == 1, "init's MLServer profile has no v2_outputs line to remove"
    return edited


# endpoint -> (site fixture, server index in the site, path, profile edit)
ENDPOINTS = {
    "mlserver-proba": ("mlserver_site", 0, "/v2/models/cancer/infer", None),
    "mlserver-labels": ("mlserver_site", 0, "/v2/models/cancer/infer", _no_outputs),
    "mlflow-proba": ("mlflow_site", 1, "/invocations", None),
    "mlflow-labels": ("mlflow_site", 0, "/invocations", None),
    "kserve-v1": ("kserve_site", 0, "/v1/models/cancer:predict", None),
    "kserve-v2": ("kserve_site", 0, "/v2/models/cancer/infer", None),
}
PROBA = ["mlserver-proba", "mlflow-proba", "kserve-v1", "kserve-v2"]
LABELS = ["mlserver-labels", "mlflow-labels"]
VERSIONED = ["mlserver-proba", "mlserver-labels", "kserve-v2"]  # the v2 answers carry model_version
DISTINCT = ["mlserver-proba", "mlflow-proba", "kserve-v1", "kserve-v2"]  # one per server and wire format


@pytest.fixture(scope="module")
def mlserver_site(installs, tmp_path_factory):
    stack = need(installs, "mlserver")
    folder = trained(stack, "mlserver", tmp_path_factory.mktemp("mlserver"))
    for servers in serving([harness.mlserver(stack, folder / "models")]):
        yield folder, servers


@pytest.fixture(scope="module")
def mlflow_site(installs, tmp_path_factory):
    stack = need(installs, "mlflow")
    folder = trained(stack, "mlflow", tmp_path_factory.mktemp("mlflow"))
    both = [harness.mlflow(stack, folder / "mlflow-labels"), harness.mlflow(stack, folder / "mlflow-proba")]
    for servers in serving(both):
        yield folder, servers


@pytest.fixture(scope="module")
def kserve_site(installs, tmp_path_factory):
    stack = need(installs, "kserve")
    folder = trained(stack, "kserve", tmp_path_factory.mktemp("kserve"))
    for servers in serving([harness.kserve(stack, folder)]):
        yield folder, servers


@pytest.fixture
def endpoint_for(request, endpoint_runs):
    """The EndpointRun of a named endpoint, made on first use and kept for the session."""

    def get(name: str) -> EndpointRun:
        if name not in endpoint_runs:
            site, index, path, edit = ENDPOINTS[name]
            folder, servers = request.getfixturevalue(site)
            endpoint_runs[name] = EndpointRun(name, servers[index], path, folder, edit)
        return endpoint_runs[name]

    return get


@pytest.fixture
def endpoint(request, endpoint_for) -> EndpointRun:
    return endpoint_for(request.param)


def _profile(ep: EndpointRun) -> dict:
    return tomllib.loads(ep.profile.read_text())


@pytest.mark.parametrize("endpoint", list(ENDPOINTS), indirect=True)
def test_clean_requests_succeed_with_the_initd_profile(endpoint):
    share = checks.assert_clean_ok(endpoint.run)
    endpoint.figures["clean_ok"] = round(share, 4)
    endpoint.figures["clean_requests"] = endpoint.run.summary["kinds"]["clean"]["requests"]


@pytest.mark.parametrize("endpoint", PROBA, indirect=True)
def test_clean_calibration_matches_the_model_offline(endpoint):
    c = checks.assert_calibration_offline(endpoint.run, endpoint.data)
    endpoint.figures["calibration"] = {
        "ece": round(c.ece, 4),
        "ece_offline_99": [round(x, 4) for x in c.interval["ece"]],
        "brier": round(c.brier, 4),
        "brier_offline_99": [round(x, 4) for x in c.interval["brier"]],
        "n": c.n,
        "percentile_in_bootstrap": {k: round(v, 3) for k, v in c.percentile.items()},
        "offline_same_rows": {k: round(v, 4) for k, v in c.same_rows.items()},
        "max_gap_to_offline": c.max_gap,
    }


@pytest.mark.parametrize("endpoint", LABELS, indirect=True)
def test_label_answers_are_flagged_without_ece(endpoint):
    clean = checks.assert_labels_flagged(endpoint.run)
    endpoint.figures["labels"] = {"calibration_reason": clean["calibration_reason"], "accuracy": clean["accuracy"]}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS), indirect=True)
def test_malformed_outcomes_match_a_direct_send(endpoint):
    replays = checks.assert_malformed_match(endpoint.run, endpoint.profile, endpoint.url)
    endpoint.figures["malformed"] = checks.outcome_table(replays).splitlines()


@pytest.mark.parametrize("endpoint", DISTINCT, indirect=True)
def test_every_malformed_variant_matches_a_direct_send(endpoint):
    run = endpoint.malformed_only()
    replays = checks.assert_malformed_match(run, endpoint.malformed_profile, endpoint.url)
    declared = {name for name, _ in load_profile(endpoint.malformed_profile).variants("malformed")}
    assert set(replays) == declared, f"variants never sent: {sorted(declared - set(replays))}"
    endpoint.figures["malformed_only"] = checks.outcome_table(replays).splitlines()


@pytest.mark.parametrize("endpoint", VERSIONED, indirect=True)
def test_model_version_is_recorded(endpoint):
    assert endpoint.run.summary["run"]["model_version"] == VERSION


def test_init_asks_mlserver_for_probabilities_as_fp32(endpoint_for):
    """MLServer's metadata declares input-0 FP32 (model-settings.json); init reads it and asks for
    the predict_proba output, since the default `predict` output is labels."""
    ep = endpoint_for("mlserver-proba")
    target = _profile(ep)["target"]
    assert (target["codec"], target["v2_layout"]) == ("v2", "tensor"), target
    assert (target["v2_input_name"], target["v2_datatype"]) == ("input-0", "FP32"), target
    assert target["v2_outputs"] == ["predict_proba"], target


def test_kserve_v2_demands_fp32_and_its_input_name(endpoint_for):
    """The Triton-like endpoint: a FP64 tensor or another name answers 400, so the run's clean
    successes prove the plugin sent FP32 under the declared name."""
    ep = endpoint_for("kserve-v2")
    target = _profile(ep)["target"]
    assert (target["v2_input_name"], target["v2_datatype"]) == ("features", "FP32"), target
    row = [1.0] * 30
    for name, datatype in (("features", "FP64"), ("input-0", "FP32")):
        body = {"inputs": [{"name": name, "shape": [1, 30], "datatype": datatype, "data": row}]}
        r = requests.post(ep.url, json=body, timeout=30)
        assert r.status_code == 400, (name, datatype, r.status_code, r.text[:200])
    body = {"inputs": [{"name": "features", "shape": [1, 30], "datatype": "FP32", "data": row}]}
    assert requests.post(ep.url, json=body, timeout=30).status_code == 200
    checks.assert_clean_ok(ep.run)


def test_mlflow_labels_profile_warns_at_init(endpoint_for):
    ep = endpoint_for("mlflow-labels")
    assert "class labels, not probabilities" in ep.made.output and "predict_proba" in ep.made.output, ep.made.output


@pytest.mark.parametrize("site", ["mlserver_site", "mlflow_site", "kserve_site"])
def test_servers_listen_on_loopback_only(request, site):
    _folder, servers = request.getfixturevalue(site)
    for s in servers:
        hosts = s.listening_hosts()
        assert hosts and hosts <= LOOPBACK, f"{s.name} listens on {sorted(hosts)}"
