"""Soak: a master and two workers run the quickstart for minutes, and their memory stays flat.

Per-request work must be O(1) and memory must not grow with the request count (the recorders
hand their windows on, the monitor keeps at most 120 windows, histograms are bounded by bins).
A unit test can check each piece; only a long run of the real processes shows that nothing else
(Locust's own stats, our listeners, gevent, the codecs' buffers) accumulates per request.

How it measures: every SAMPLE_S seconds the resident set size (RSS) of each locust process is
read with psutil and written to build/test-artifacts/soak_memory.csv (the figures: .txt). The first WARMUP_S seconds
are warm-up: imports finish, connection pools and allocator arenas fill, and with --ml-window 0.5
the monitor's 120 windows fill in 60 s (after that it merges pairs, so its size cycles between
60 and 120 windows). After the warm-up, the floor of each process's RSS (its lowest sample over a
minute) may rise by at most GROWTH_BOUND_MB between the first minute and the last; see the bounds
for why. docs/soak.md gives the figures of a run and how to soak longer
(MLSTRESS_SOAK_SECONDS=3600).

The load is moderate on purpose (10 users, each waiting 0.1 s between requests) so the test can
share a CI machine: the point is the number of requests over time, not their rate.
"""

from __future__ import annotations

import contextlib
import csv
import os
import subprocess
import time
from collections import Counter

import psutil
import pytest

from locust_mlstress.servers.reference.process import ReferenceServer
from tests.conftest import ARTIFACTS, PROFILES
from tests.integration.harness import finish_distributed, outcome_counts, start_distributed

pytestmark = [pytest.mark.soak, pytest.mark.integration]

QUICKSTART = PROFILES / "quickstart.toml"
SECONDS = int(os.environ.get("MLSTRESS_SOAK_SECONDS", "300"))
WARMUP_S = min(60.0, SECONDS / 5)
SAMPLE_S = 5.0
USERS, WAIT_S = 10, 0.1
# A worker forgets its windows at every report, so its floor should not move at all (it moved by
# 0.01-0.04 MB in the runs of docs/soak.md); 5 MB is a few of Python's 1 MiB arenas of slack, and
# what a leak of ~370 bytes per request would add over a worker's ~14,000 requests. The master
# keeps up to 120 windows; each time it merges them into windows twice as long, their latency
# histograms span more bins and its RSS steps up by 1-2 MB, then stays put until the next merge
# (at 60, 120, 240, 480 s...): growth bounded by bins and logarithmic in time, ~5 MB over the
# default run. 10 MB leaves room for that and still fails a leak of ~180 bytes per request.
GROWTH_BOUND_MB = {"master": 10.0, "worker1": 5.0, "worker2": 5.0}
CSV_PATH = ARTIFACTS / "soak_memory.csv"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def soak_server():
    with ReferenceServer(QUICKSTART) as server:
        yield server


def _sample(processes: dict[str, psutil.Process], start: float, rows: list[dict], cpu: dict[str, float]) -> None:
    now = round(time.monotonic() - start, 1)
    for role, proc in processes.items():
        try:
            rss = proc.memory_info().rss
            cpu[role] = round(sum(proc.cpu_times()[:2]), 1)  # user + system seconds so far
        except psutil.NoSuchProcess:
            continue  # a worker quitting at the very end
        rows.append({"t_s": now, "role": role, "pid": proc.pid, "rss_mb": round(rss / MB, 2)})


def _write_csv(rows: list[dict]) -> None:
    CSV_PATH.parent.mkdir(parents=True, exist_ok=True)
    with CSV_PATH.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["t_s", "role", "pid", "rss_mb"])
        writer.writeheader()
        writer.writerows(rows)


def _growth(rows: list[dict], role: str) -> dict[str, float]:
    """RSS at the start, its floor in the first span after the warm-up and in the last span of the
    run, and the growth between the two floors. Floors, because a worker's RSS jumps by several MB
    while it builds a 2 MiB oversized body and falls back after: a transient, not a trend; a leak
    raises the floor."""
    series = [(r["t_s"], r["rss_mb"]) for r in rows if r["role"] == role]
    after = [(t, rss) for t, rss in series if t >= WARMUP_S]
    assert len(after) >= 6, f"{role}: too few samples after the warm-up: {series}"
    span = min(60.0, (after[-1][0] - after[0][0]) / 3)
    first = min(rss for t, rss in after if t <= after[0][0] + span)
    last = min(rss for t, rss in after if t >= after[-1][0] - span)
    return {"start": series[0][1], "warm": first, "end": last, "growth": last - first,
            "peak": max(rss for _, rss in after)}  # fmt: skip


def test_memory_stays_flat_over_a_long_distributed_run(soak_server, tmp_path, monkeypatch):
    monkeypatch.setenv("MLSTRESS_TEST_WAIT", str(WAIT_S))  # read by the locustfile, inherited by the processes
    # glibc otherwise raises its mmap threshold after the first 2 MiB body is freed, and later
    # ones come from the heap, which it keeps: RSS would step up by 2-10 MB and stay there with no
    # live object behind it. A fixed threshold maps and unmaps big buffers, so RSS follows what
    # the process holds. (A no-op with another allocator.)
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", str(128 * 1024))
    master, workers = start_distributed(
        QUICKSTART, soak_server.url, tmp_path, 2,
        "-u", str(USERS), "-r", str(USERS), "-t", f"{SECONDS}s", "--ml-window", "0.5", "--only-summary",
    )  # fmt: skip
    processes = {"master": psutil.Process(master.pid)}
    processes |= {f"worker{i + 1}": psutil.Process(w.pid) for i, w in enumerate(workers)}
    processes["server"] = psutil.Process(soak_server.process.pid)  # recorded, not asserted: not a locust process
    start, rows, cpu = time.monotonic(), [], {}
    deadline = start + SECONDS + 90  # startup and the end-of-run summary fit well inside 90 s
    try:
        while master.poll() is None and time.monotonic() < deadline:
            _sample(processes, start, rows, cpu)
            with contextlib.suppress(subprocess.TimeoutExpired):  # the pause between samples, cut short at the end
                master.wait(timeout=SAMPLE_S)
    finally:
        run = finish_distributed(master, workers, tmp_path, timeout=60)
        _write_csv(rows)

    assert run.returncode == 0, run.stderr[-3000:]
    summary = run.summary_outcomes("MasterRunner")
    requests = sum(summary.values())
    assert run.record("MasterRunner")["locust_requests"] == requests  # the ML summary counts what Locust counts
    assert requests >= SECONDS * USERS  # at least 1 request per user-second: the run really ran
    worker_records = run.workers()
    assert len(worker_records) == 2
    sent = sum((outcome_counts(w) for w in worker_records), start=Counter())
    # Everything the master counted was sent; what it lacks can only be the workers' final
    # reports, which Locust's master waits 0.5 s for at quit (a loaded machine misses them):
    # at most one report interval (3 s) of each worker's traffic.
    assert not summary - sent
    lost = sum(sent.values()) - requests
    assert lost <= 2 * 3 * requests / SECONDS

    figures = {role: _growth(rows, role) for role in processes}
    report = [f"soak: {SECONDS} s, {requests} requests ({lost} in final reports the master missed), "
              f"warm-up {WARMUP_S:g} s, CPU seconds {cpu}"]  # fmt: skip
    for role, g in figures.items():
        report.append(f"{role}: RSS start {g['start']:.1f} MB, floor after warm-up {g['warm']:.1f} MB, floor at "
                      f"the end {g['end']:.1f} MB, growth {g['growth']:+.2f} MB, peak {g['peak']:.1f} MB")  # fmt: skip
    print("\n".join(report))
    CSV_PATH.with_suffix(".txt").write_text("\n".join(report) + "\n")
    for role, bound in GROWTH_BOUND_MB.items():
        assert figures[role]["growth"] < bound, "\n".join(report)
