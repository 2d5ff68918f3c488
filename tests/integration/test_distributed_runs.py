"""A master with real worker processes: counts add up, and user identities match a local run."""

from tests.integration.conftest import QUICKSTART
from tests.integration.harness import run_distributed, run_local


def test_master_counts_equal_the_sum_of_the_workers(server, tmp_path):
    run = run_distributed(QUICKSTART, server.url, tmp_path, 2, "-u", "4", "-r", "4", "-t", "6s")
    assert run.returncode == 0, run.stderr[-3000:]
    master = run.outcomes("MasterRunner")
    workers = [r for r in run.records if r["role"] == "WorkerRunner"]
    assert len(workers) == 2
    summed = sum((run_outcomes(w) for w in workers), start=type(master)())
    assert master == summed and sum(master.values()) > 100
    assert run.record("MasterRunner")["locust_requests"] == sum(master.values())
    # the same user identities as one process running 4 users: 0..3, split across workers
    ids = sorted(i for w in workers for i in w["user_ids"])
    assert ids == [0, 1, 2, 3]


def test_processes_option_runs_distributed(server, tmp_path):
    run = run_local(QUICKSTART, server.url, tmp_path, "--processes", "2", "-u", "2", "-r", "2", "-t", "4s")
    assert run.returncode == 0, run.stderr[-3000:]
    master = run.record("MasterRunner")
    assert sum(n for *_k, n in master["outcomes"]) == master["locust_requests"] > 0


def run_outcomes(record):
    from collections import Counter

    return Counter({(k, v, o): n for k, v, o, n in record["outcomes"]})
