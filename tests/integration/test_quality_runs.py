"""Baselines across runs and consistency probes, with real Locust processes and servers."""

import json

import pytest

from locust_mlstress.servers.reference.knobs import ServerKnobs
from locust_mlstress.servers.reference.process import ReferenceServer
from tests.integration.conftest import QUICKSTART
from tests.integration.harness import run_local

SHORT = ("-u", "4", "-r", "4", "-t", "6s")


@pytest.fixture(scope="module")
def saved_baseline(server, tmp_path_factory):
    out = tmp_path_factory.mktemp("release1")
    path = out / "baseline.json"
    run = run_local(QUICKSTART, server.url, out, *SHORT, "--ml-save-baseline", str(path),
                    "--ml-version-header", "X-Model-Version")  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    return path


def test_a_saved_baseline_records_the_model_and_the_profile(saved_baseline, quickstart):
    record = json.loads(saved_baseline.read_text())
    assert record["profile"]["sha256"] == quickstart.sha256
    assert record["model"]["version"] == "1" and record["model"]["path"] == quickstart.target.path
    assert sum(record["clean"]["predictions"][1::2]) > 100  # a histogram: [bin, count, bin, count, ...]


def test_a_new_release_is_compared_with_the_saved_baseline(saved_baseline, tmp_path):
    """Release 2 is miscalibrated (temperature 3): its clean predictions move against release 1."""
    with ReferenceServer(QUICKSTART, ServerKnobs(temperature=3.0, model_version="2")) as release2:
        run = run_local(QUICKSTART, release2.url, tmp_path, *SHORT, "--ml-baseline", str(saved_baseline),
                        "--ml-version-header", "X-Model-Version")  # fmt: skip
    summary = run.record()["summary"]
    assert summary["baseline"]["mode"] == "file" and summary["baseline"]["model"]["version"] == "1"
    assert summary["run"]["model_version"] == "2"
    clean = summary["kinds"]["clean"]["shift"]
    assert clean["significant"] and clean["verdict"] in ("moderate", "major")


def test_the_same_release_against_its_baseline_is_stable(saved_baseline, server, tmp_path):
    run = run_local(QUICKSTART, server.url, tmp_path, *SHORT, "--ml-baseline", str(saved_baseline))
    clean = run.record()["summary"]["kinds"]["clean"]["shift"]
    assert clean["verdict"] == "stable" and clean["psi"] < 0.1


def test_a_baseline_from_another_profile_is_refused_before_traffic(saved_baseline, server, tmp_path):
    other = tmp_path / "other.toml"
    other.write_text(QUICKSTART.read_text().replace("seed = 20261122", "seed = 1"))
    run = run_local(other, server.url, tmp_path / "out", *SHORT, "--ml-baseline", str(saved_baseline))
    assert run.returncode == 2 and run.records == []
    assert "--ml-baseline" in run.stderr and "save a new baseline" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(("noise", "flips"), [(0.0, False), (3.0, True)])
def test_consistency_probes_catch_answers_that_change_under_load(tmp_path, noise, flips):
    with ReferenceServer(QUICKSTART, ServerKnobs(load_noise=noise, concurrency_latency_ms=2)) as target:
        run = run_local(QUICKSTART, target.url, tmp_path, "-u", "8", "-r", "8", "-t", "5s", "--ml-consistency", "0.2")
    probe = run.record()["summary"]["kinds"]["probe"]
    assert probe["requests"] == run.record()["by_name"]["POST /v1/models/churn:predict [probe]"][0] > 50
    consistency = probe["consistency"]
    assert consistency["probes"] > 50
    if flips:
        assert consistency["flip_rate"] > 0 and consistency["max_abs_diff"] > 0.05
    else:
        assert consistency["flip_rate"] == 0 and consistency["max_abs_diff"] == 0
