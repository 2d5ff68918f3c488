"""Locust's `--reset-stats`: Locust clears its statistics once spawning completes, and the ML figures
follow in the same moment, so the summary still counts exactly what Locust's tables count
(docs/webui.md, "Reset"). Users ramp up slowly, so the reset leaves out a few seconds of traffic."""

from __future__ import annotations

from tests.integration.conftest import QUICKSTART
from tests.integration.harness import finish_distributed, outcome_counts, run_local, start_distributed


def test_a_local_run_resets_its_ml_figures_with_locusts_after_the_ramp_up(server, tmp_path):
    run = run_local(QUICKSTART, server.url, tmp_path, "-u", "4", "-r", "1", "-t", "7s", "--reset-stats")
    assert run.returncode in (0, 4), run.stderr[-3000:]
    assert "Resetting stats" in run.stderr and "ML figures reset" in run.stderr
    record = run.record()
    ml = sum(run.summary_outcomes().values())
    sent = sum(run.outcomes().values())  # the locustfile's own count, never reset
    assert ml == record["locust_requests"] > 0
    assert sent > ml, (sent, ml)  # the ramp-up's requests are left out of both
    for kind, figures in record["summary"]["kinds"].items():
        assert record["by_name"][f"POST /v1/models/churn:predict [{kind}]"][0] == figures["requests"], kind


def test_a_master_and_its_workers_reset_together_and_their_totals_stay_equal(server, tmp_path):
    master, workers = start_distributed(QUICKSTART, server.url, tmp_path, 2, "-u", "4", "-r", "1", "-t", "8s",
                                        env={"LOCUST_RESET_STATS": "true"})  # fmt: skip
    run = finish_distributed(master, workers, tmp_path)
    assert run.returncode in (0, 4), run.stderr[-3000:]
    record = run.record("MasterRunner")
    ml = sum(run.summary_outcomes("MasterRunner").values())
    sent = sum(sum(outcome_counts(w).values()) for w in run.workers())
    assert ml == record["locust_requests"] > 0
    assert sent > ml, (sent, ml)


def test_with_a_load_shape_every_stage_resets_both_and_the_run_says_so(server, tmp_path):
    profile = tmp_path / "plan.toml"
    spike = '\n[load]\nshape = "spike"\nusers = 2\nfactor = 2\nat = 2\nduration = 2\ntotal = 6\nspawn_rate = 10\n'
    profile.write_text(QUICKSTART.read_text() + spike)
    run = run_local(profile, server.url, tmp_path / "out", "--reset-stats", locustfile="shaped.py")
    assert run.returncode in (0, 4), run.stderr[-3000:]
    assert "--reset-stats with a load shape" in run.stderr
    assert run.stderr.count("ML figures reset") == run.stderr.count("Resetting stats") >= 3  # one per stage
    record = run.record()
    assert sum(run.summary_outcomes().values()) == record["locust_requests"] > 0
