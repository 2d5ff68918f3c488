"""Headless local runs of real Locust processes against the reference server on 127.0.0.1."""

import json
import re

import pytest
from scipy.stats import chisquare

from tests.integration.conftest import QUICKSTART
from tests.integration.harness import free_port, run_local


@pytest.fixture(scope="module")
def strict_run(server, tmp_path_factory):
    out = tmp_path_factory.mktemp("strict")
    return run_local(
        QUICKSTART, server.url, out, "-u", "4", "-r", "4", "-t", "14s", "--ml-window", "2", "--ml-warmup", "1000",
        "--ml-json", str(out / "ml.json"), "--ml-csv", str(out / "run"), "--csv", str(out / "run"),
    )  # fmt: skip


def test_every_request_is_counted_once_beside_locusts_stats(strict_run):
    record = strict_run.record()
    assert sum(strict_run.by_kind().values()) == record["locust_requests"] > 500
    for kind, n in strict_run.by_kind().items():
        assert record["by_name"][f"POST /v1/models/churn:predict [{kind}]"][0] == n


def test_run_time_counts_from_the_start_of_traffic(strict_run):
    """-t 14s gives 14 s of traffic, however long the locustfile took to import and the payload
    kits to build (gevent's cached clock once let Locust's timer count those seconds too)."""
    duration = json.loads(strict_run.path("ml.json").read_text())["duration_s"]
    assert 13.9 <= duration < 20, duration


def test_kinds_follow_the_mix_weights(strict_run, quickstart):
    counts = strict_run.by_kind()
    total = sum(counts.values())
    weights = quickstart.kind_weights
    expected = [total * weights[k] / sum(weights.values()) for k in weights]
    observed = [counts[k] for k in weights]
    assert chisquare(observed, expected).pvalue > 1e-3, (observed, expected)


def test_malformed_inputs_are_rejected_and_count_as_successes(strict_run):
    outcomes = strict_run.outcomes()
    malformed = {o for (k, _v, o) in outcomes if k == "malformed"}
    assert malformed == {"rejected"}
    assert strict_run.record()["by_name"]["POST /v1/models/churn:predict [malformed]"][1] == 0


def test_clean_and_drifted_answers_decode(strict_run):
    for (kind, _v, outcome), _n in strict_run.outcomes().items():
        if kind in ("clean", "drifted"):
            assert outcome == "ok"
    assert strict_run.returncode == 0, strict_run.stderr[-2000:]


def test_the_quality_table_is_printed(strict_run):
    text = strict_run.stdout + strict_run.stderr
    assert "ML quality per payload kind" in text and "malformed variants: outcome counts" in text


def test_the_summary_counts_what_the_users_sent(strict_run):
    assert strict_run.summary_outcomes() == strict_run.outcomes()


def test_the_quickstart_shows_drift_and_miscalibration(strict_run):
    """Drifted traffic: a major, significant PSI shift and a worse ECE than clean traffic, whose
    own PSI against its warm-up stays below 0.1."""
    kinds = strict_run.record()["summary"]["kinds"]
    clean, drifted = kinds["clean"], kinds["drifted"]
    assert drifted["shift"]["verdict"] == "major" and drifted["shift"]["psi"] > 0.25
    assert drifted["shift"]["significant"] and drifted["shift"]["n"] > 300
    assert clean["shift"]["psi"] < 0.1 and clean["shift"]["n_reference"] >= 1000
    assert drifted["calibration"]["ece"] > clean["calibration"]["ece"]
    assert drifted["calibration"]["significant"]


def test_json_summary_file(strict_run):
    import json

    summary = strict_run.record()["summary"]
    on_disk = json.loads(strict_run.path("ml.json").read_text())
    assert on_disk["kinds"].keys() == summary["kinds"].keys()
    for figures in on_disk["kinds"].values():
        assert isinstance(figures["requests"], int) and isinstance(figures["outcomes"], dict)
        assert {"p50", "p95", "p99"} <= figures["latency_ms"].keys()
    shift, cal = on_disk["kinds"]["drifted"]["shift"], on_disk["kinds"]["drifted"]["calibration"]
    assert {"psi", "js", "ks", "wasserstein", "n"} <= shift.keys() and {
        "ece",
        "mce",
        "brier",
        "n",
    } <= cal.keys()
    assert on_disk["windows"] and on_disk["baseline"]["mode"] == "clean"


def test_csv_has_a_row_per_window_and_kind_beside_locusts(strict_run):
    import csv

    rows = list(csv.DictReader(strict_run.path("run_ml_windows.csv").open()))
    assert strict_run.path("run_stats.csv").exists()  # Locust's own, same prefix
    windows = {(r["window"], r["kind"]) for r in rows}
    assert len(windows) == len(rows) and {r["kind"] for r in rows} >= {"clean", "drifted", "malformed"}
    assert sum(int(r["requests"]) for r in rows) == strict_run.record()["locust_requests"]


def test_a_lax_server_yields_accepted_malformed_failures(lax_server, tmp_path):
    run = run_local(QUICKSTART, lax_server.url, tmp_path, "-u", "2", "-r", "2", "-t", "4s")
    outcomes = run.outcomes()
    accepted = sum(n for (k, _v, o), n in outcomes.items() if k == "malformed" and o == "accepted_malformed")
    assert accepted == run.by_kind()["malformed"] > 0
    requests, failures = run.record()["by_name"]["POST /v1/models/churn:predict [malformed]"]
    assert failures == requests
    assert run.returncode == 1  # Locust's own code for a run with failures
    assert "Traceback" not in run.stderr


def test_a_server_that_is_down_gives_classified_connection_errors(tmp_path):
    host = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    run = run_local(QUICKSTART, host, tmp_path, "-u", "2", "-r", "2", "-t", "4s")
    outcomes = {o for (_k, _v, o) in run.outcomes()}
    assert outcomes == {"connection_error"}
    assert run.record()["locust_failures"] == run.record()["locust_requests"] > 0
    assert "Traceback" not in run.stderr


def test_a_slow_server_gives_classified_timeouts(tmp_path):
    from locust_mlstress.servers.reference.knobs import ServerKnobs
    from locust_mlstress.servers.reference.process import ReferenceServer

    profile = tmp_path / "slow.toml"
    profile.write_text(re.sub(r"timeout = 10.0", "timeout = 0.3", QUICKSTART.read_text()))
    with ReferenceServer(QUICKSTART, ServerKnobs(latency_ms=1500)) as slow:
        run = run_local(profile, slow.url, tmp_path / "out", "-u", "2", "-r", "2", "-t", "4s")
    kinds = {o for (k, _v, o) in run.outcomes() if k == "clean"}
    assert kinds == {"timeout"}
    assert "Traceback" not in run.stderr


def test_a_bad_profile_stops_before_any_traffic(tmp_path, server):
    bad = tmp_path / "bad.toml"
    bad.write_text(QUICKSTART.read_text().replace('codec = "kserve_v1"', 'codec = "kserve"'))
    run = run_local(bad, server.url, tmp_path / "out", "-u", "1", "-t", "2s")
    assert run.returncode == 2
    assert "target.codec" in run.stderr and "kserve_v1" in run.stderr
    assert "Traceback" not in run.stderr
    assert run.records == []  # it never got as far as quitting with counts
