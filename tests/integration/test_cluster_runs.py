"""A cluster-shaped run: a master and eight workers started separately, as pods would be, one
worker SIGKILLed mid-run (an evicted pod) and a ninth joining while the run goes.

One run (a module fixture, ~35 s on two cores), four readings of it: the master's ML counts
equal Locust's and what the workers sent, the killed one up to its last report; the lost worker
is named; the master's figures are those one process computes from the same recorder deltas;
user identities stay unique, so the requests are those one process sends for the same user ids
(regenerated here from the profile's seed).
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from locust.rpc import Message

from locust_mlstress.payloads.factory import PayloadFactory
from locust_mlstress.profile import load_profile
from locust_mlstress.quality import QualityMonitor, Warmup
from locust_mlstress.users.context import LATE_IDS
from tests.integration.conftest import QUICKSTART
from tests.integration.harness import Run, outcome_counts, start_cluster

WORKERS = 8
# 2 users a worker; paced (fast.py's wait) so that ten processes on two cores still answer
# Locust's heartbeats and only the killed worker goes missing. 20 s leave the joiner ~10 s of traffic.
ARGS = ("-u", "16", "-r", "16", "-t", "20s")
ENV = {"MLSTRESS_TEST_DELTAS": "1", "MLSTRESS_TEST_WAIT": "0.05"}
NAME = "POST /v1/models/churn:predict [{}]"  # Locust's request name per kind (quickstart)
REPORT_EVERY_S = 3.0  # Locust's worker report interval (not configurable)
# the summary's parts that follow from the deltas alone; `traffic` and `duration_s` read the
# master's clock and user counts, `run` and `workers` its connections
FROM_DELTAS = ("kinds", "all", "windows", "baseline")


@dataclass
class ClusterRun:
    run: Run
    victim: dict  # the killed worker's last report (fast.py's report-<pid>.json)
    joiner: dict  # the late worker's record

    @property
    def summary(self) -> dict:
        return self.run.record("MasterRunner")["summary"]

    def sent(self) -> dict[str, int]:
        """Requests per worker: all a survivor sent, the killed one's up to its last report."""
        found = {w["client_id"]: sum(outcome_counts(w).values()) for w in self.run.workers()}
        return found | {self.victim["client_id"]: sum(outcome_counts(self.victim).values())}

    def processes(self) -> list[dict]:
        return [*self.run.workers(), self.victim]


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def kill_between_reports(victim, report: Path) -> dict:
    """SIGKILL `victim` once it has reported requests, well after one report and well before
    the next: its last report has then reached the master (fast.py writes it just before Locust
    sends it). Returns that report: what the master got from it."""

    def settled() -> bool:
        if not report.exists() or not json.loads(report.read_text())["outcomes"]:
            return False
        return 0.5 <= time.time() - report.stat().st_mtime < REPORT_EVERY_S - 1.0

    wait_for(settled, 45, "the victim never reported requests")
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    return json.loads(report.read_text())


@pytest.fixture(scope="module")
def cluster_run(server, tmp_path_factory) -> ClusterRun:
    """Master and 8 workers; a worker killed once it has reported; a 9th started once the master
    has marked the killed one missing (a replacement pod); the run to its end."""
    out = tmp_path_factory.mktemp("cluster")
    cluster = start_cluster(QUICKSTART, server.url, out, WORKERS, *ARGS, env=ENV)
    try:
        victim = cluster.workers[0]
        last_report = kill_between_reports(victim, out / f"report-{victim.pid}.json")
        missing = f"Worker {last_report['client_id']} failed to send heartbeat"
        wait_for(lambda: missing in cluster.master_log(), 30, "the master never marked the killed worker missing")
        joiner = cluster.add_worker()
    except BaseException:
        cluster.kill()
        raise
    run = cluster.finish()
    assert len(run.workers()) == WORKERS, run.stderr[-3000:]
    return ClusterRun(run, last_report, json.loads((out / f"{joiner.pid}.json").read_text()))


def deltas_by_worker(out: Path) -> dict[str, list[list[dict]]]:
    """Each worker's recorder deltas, one per report, decoded as the master decodes them."""
    found: dict[str, list[tuple[int, list[dict]]]] = {}
    for path in out.glob("report-*-*.msgpack"):
        msg = Message.unserialize(path.read_bytes())
        found.setdefault(msg.node_id, []).append((int(path.stem.rsplit("-", 1)[1]), msg.data))
    return {worker: [delta for _, delta in sorted(reports)] for worker, reports in found.items()}


def requests_in(delta: list[dict]) -> int:
    # champion items only: a challenger's pair and version items are not requests of their own
    return sum(
        n for item in delta if "pair" not in item and "version" not in item for *_, n in item["stats"]["outcomes"]
    )


def without_marks(value):
    """The summary less the generator's `unreliable` marks: they come from its health reports,
    not from the recorder deltas."""
    if isinstance(value, dict):
        return {k: without_marks(v) for k, v in value.items() if k != "unreliable"}
    if isinstance(value, list):
        return [without_marks(v) for v in value]
    return value


def fresh_monitor() -> QualityMonitor:
    # the master's: the profile, and the defaults of --ml-window and --ml-warmup (plugin/lifecycle.py)
    return QualityMonitor(load_profile(QUICKSTART), window_s=10.0, warmup=Warmup.parse("10s"))


def regenerate(processes: list[dict]) -> tuple[Counter, dict[tuple[str, str], list[int]]]:
    """What one process sends for the same users and request counts: requests per (kind, variant),
    and [Σ body bytes, max body bytes] per (kind, variant)."""
    profile = load_profile(QUICKSTART)
    counts: Counter = Counter()
    sizes: dict[tuple[str, str], list[int]] = {}
    for process in processes:
        for user, n, _last_seq in process["user_requests"]:
            factory = PayloadFactory(profile, user, lambda: 0.0)
            for _ in range(n):
                payload = factory.next()
                counts[(payload.kind, payload.variant)] += 1
                row = sizes.setdefault((payload.kind, payload.variant), [0, 0])
                row[0] += len(payload.body)
                row[1] = max(row[1], len(payload.body))
    return counts, sizes


def by_variant(counts: Counter) -> Counter:
    found: Counter = Counter()
    for (kind, variant, _outcome), n in counts.items():
        found[(kind, variant)] += n
    return found


def test_the_lost_worker_is_named_and_its_reports_kept(cluster_run):
    summary, victim = cluster_run.summary, cluster_run.victim["client_id"]
    sent = cluster_run.sent()
    assert summary["workers"]["missing"] == [victim]
    assert summary["workers"]["reported"] == sorted(sent) and cluster_run.joiner["client_id"] in sent
    console = [
        line for line in (cluster_run.run.stdout + cluster_run.run.stderr).splitlines() if "workers missing" in line
    ]
    assert console and all(victim in line for line in console), console
    # the killed worker's reports up to its last one, nothing after; the workers there from the
    # start sent the master all they recorded
    joiner = cluster_run.joiner["client_id"]
    assert {w: n for w, n in summary["received"].items() if w != joiner} == {
        w: n for w, n in sent.items() if w != joiner
    }
    assert sent[victim] > 0 and 0 < summary["received"][joiner] <= sent[joiner]


def test_ml_totals_equal_locusts_and_what_the_workers_sent(cluster_run):
    master = cluster_run.run.record("MasterRunner")
    counts = cluster_run.run.summary_outcomes("MasterRunner")
    assert sum(counts.values()) == master["locust_requests"] > 500
    per_kind: Counter = Counter()
    for (kind, _variant, _outcome), n in counts.items():
        per_kind[kind] += n
    assert {name: n for name, (n, _failures) in master["by_name"].items()} == {
        NAME.format(k): n for k, n in per_kind.items()
    }
    # nothing lost that was received, nothing twice: the survivors' all, the victim's last report
    assert counts == sum((outcome_counts(p) for p in cluster_run.processes()), start=Counter())
    assert cluster_run.summary["received"] == cluster_run.sent()
    # and so the master's figures are those of the requests sent, regenerated from the seed:
    # body sizes of every kind whose rows do not depend on the time (not drifted's gradual drift)
    _, sizes = regenerate(cluster_run.processes())
    for kind, figures in cluster_run.summary["kinds"].items():
        for variant, row in figures["payloads"].items() if kind != "drifted" else ():
            total, top = sizes[(kind, variant)]
            assert (row["mean_bytes"], row["max_bytes"]) == (total / row["requests"], top), (kind, variant)


def test_the_masters_figures_are_one_processs_over_the_same_deltas(cluster_run):
    """The deltas each worker wrote just before sending add up to what the master counted of it;
    absorbed in another order (each with its worker), or as one process's single delta, they give
    the master's figures exactly (every count is an integer, every sum fixed-point)."""
    summary = cluster_run.summary
    deltas = deltas_by_worker(cluster_run.run.out)
    assert {w: sum(map(requests_in, ds)) for w, ds in deltas.items()} == summary["received"]
    reports = [(worker, delta) for worker, ds in deltas.items() for delta in ds]
    random.Random(17).shuffle(reports)
    shuffled, single = fresh_monitor(), fresh_monitor()
    for worker, delta in reports:
        shuffled.absorb(delta, source=worker)
    single.absorb([item for _, delta in reports for item in delta])
    merged, one = (json.loads(json.dumps(m.summary())) for m in (shuffled, single))
    assert merged["received"] == summary["received"]
    assert one["received"] == {"local": sum(summary["received"].values())}
    for part in FROM_DELTAS:
        assert without_marks(summary[part]) == merged[part] == one[part], part


def test_user_ids_stay_unique_and_the_requests_are_one_processs(cluster_run):
    """No two workers (the killed one, the late one included) send as the same user, each user's
    request ids run 1..n, and the kinds and variants sent are those one process draws for the
    same users from the profile's seed."""
    owners: dict[int, list[str]] = {}
    for process in cluster_run.processes():
        for user, n, last_seq in process["user_requests"]:
            owners.setdefault(user, []).append(process["client_id"])
            assert n == last_seq, (process["client_id"], user, n, last_seq)
    shared = {user: who for user, who in owners.items() if len(who) > 1}
    assert not shared, f"user ids sent by more than one worker: {shared}"
    assert len(owners) >= 16 and cluster_run.joiner["user_requests"]
    counts, _sizes = regenerate(cluster_run.processes())
    assert by_variant(sum((outcome_counts(p) for p in cluster_run.processes()), start=Counter())) == counts


def test_the_joiner_learns_the_run_it_joins(cluster_run):
    """A worker that joins mid-run learns the worker count (its users take the first block of
    late ids: index 8 of 8 workers) and the run's clock (its requests fall in the run's windows:
    joining some 8 s in, most of them in window 1, 10-20 s, not in a window 0 of its own)."""
    users = [user for user, _n, _last in cluster_run.joiner["user_requests"]]
    assert users and all(LATE_IDS <= user < 2 * LATE_IDS for user in users), users
    per_window: Counter = Counter()
    for delta in deltas_by_worker(cluster_run.run.out)[cluster_run.joiner["client_id"]]:
        for item in delta:
            if "pair" not in item and "version" not in item:
                per_window[item["window"]] += sum(n for *_, n in item["stats"]["outcomes"])
    assert per_window[1] > per_window[0], per_window
