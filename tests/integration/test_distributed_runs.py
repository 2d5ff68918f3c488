"""A master with real worker processes: counts add up, and user identities match a local run."""

from collections import Counter

from tests.integration.conftest import QUICKSTART
from tests.integration.harness import free_port, outcome_counts, run_distributed, run_local


def test_master_counts_equal_the_sum_of_the_workers(server, tmp_path):
    run = run_distributed(QUICKSTART, server.url, tmp_path, 2, "-u", "4", "-r", "4", "-t", "6s")
    assert run.returncode == 0, run.stderr[-3000:]
    workers = run.workers()
    assert len(workers) == 2
    master = run.summary_outcomes("MasterRunner")
    assert master == sum((outcome_counts(w) for w in workers), start=Counter()) and sum(master.values()) > 100
    assert run.record("MasterRunner")["locust_requests"] == sum(master.values())
    summary = run.record("MasterRunner")["summary"]
    assert sorted(summary["workers"]["reported"]) == sorted(w["client_id"] for w in workers)
    assert summary["workers"]["missing"] == []
    # the same user identities as one process running 4 users: 0..3, split across workers
    assert sorted(i for w in workers for i in w["user_ids"]) == [0, 1, 2, 3]


def test_processes_option_runs_distributed(server, tmp_path):
    # A free port, not Locust's default 5557 (taken whenever another Locust runs on the machine):
    # the forked workers connect to --master-port, the master binds --master-bind-port.
    port = str(free_port())
    run = run_local(QUICKSTART, server.url, tmp_path, "--processes", "2", "-u", "2", "-r", "2", "-t", "4s",
                    "--master-bind-host", "127.0.0.1", "--master-bind-port", port, "--master-port", port)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    workers = run.workers()
    master = run.summary_outcomes("MasterRunner")
    assert master == sum((outcome_counts(w) for w in workers), start=Counter())
    assert sum(master.values()) == run.record("MasterRunner")["locust_requests"] > 0


def test_a_worker_killed_mid_run_loses_only_its_unsent_data(server, tmp_path):
    import json
    import os
    import signal
    import time

    from tests.integration.harness import finish_distributed, start_distributed

    master, workers = start_distributed(QUICKSTART, server.url, tmp_path, 2, "-u", "4", "-r", "4", "-t", "12s")
    victim = workers[0]
    report = tmp_path / f"report-{victim.pid}.json"

    def reported_requests() -> bool:  # a report to the master that carried requests
        return report.exists() and bool(json.loads(report.read_text())["outcomes"])

    deadline = time.monotonic() + 30
    while not reported_requests() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert reported_requests(), "the worker never reported any request"
    os.kill(victim.pid, signal.SIGKILL)
    last_report = json.loads(report.read_text())  # written before the kill: what the master got
    assert sum(outcome_counts(last_report).values()) > 0
    run = finish_distributed(master, workers, tmp_path)

    survivor = run.workers()[0]
    master_counts = run.summary_outcomes("MasterRunner")
    assert master_counts == outcome_counts(survivor) + outcome_counts(last_report)  # all it received, nothing twice
    summary = run.record("MasterRunner")["summary"]
    assert summary["workers"]["missing"] == [last_report["client_id"]]
    assert summary["received"][last_report["client_id"]] == sum(outcome_counts(last_report).values())
    assert "workers missing" in run.stdout + run.stderr
