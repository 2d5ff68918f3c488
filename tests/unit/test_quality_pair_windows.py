"""The monitor's per-window pairs (disagreement over time), its reset, and the cheap trend rows the
web UI's charts poll: pair windows merge exactly across workers and coarsen with the other windows;
a reset counts afresh from its window on (what arrives after it counts, as in Locust's totals);
the trend rows' PSI equals the summary's window rows'.

Real parts throughout: real recorders fed real payload results at chosen clock times, their
deltas absorbed by a real monitor through the wire format, as a run does."""

from __future__ import annotations

import json
import random
from types import SimpleNamespace

import pytest

from locust_mlstress.domain.outcomes import Outcome
from locust_mlstress.domain.summary import LiveSummary
from locust_mlstress.profile import load_profile
from locust_mlstress.quality import QualityMonitor, QualityRecorder, Warmup
from locust_mlstress.quality.pairs import PairCounts, PairStats
from tests.conftest import PROFILES
from tests.summary_shape import shape_errors

QUICKSTART = load_profile(PROFILES / "quickstart.toml")
WINDOW_S = 5.0


class Clock:
    """The recorder's clock, set by the test: windows are chosen, not waited for."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _result(outcome: Outcome, predictions: list | None, ms: float) -> SimpleNamespace:
    """A judged answer as users/outcomes.py gives it to the `ml_request` and `ml_pair` events."""
    return SimpleNamespace(outcome=outcome, predictions=predictions, response_time=ms, labels_only=False)


def _payload(kind: str, rng: random.Random) -> SimpleNamespace:
    return SimpleNamespace(kind=kind, variant=kind, body=b"{}" * 40, labels=[int(rng.random() < 0.4)])


def _pairs_into(recorder: QualityRecorder, clock: Clock, rng: random.Random, t: float, n: int, flip: float) -> None:
    """`n` paired answers at time `t`; the challenger flips the class of a share `flip` of them,
    and answers a few with a 5xx (a regression)."""
    clock.t = t
    for _ in range(n):
        kind = rng.choice(("clean", "drifted"))
        payload = _payload(kind, rng)
        p = rng.betavariate(2, 5) if kind == "clean" else rng.betavariate(5, 2)
        champion = _result(Outcome.OK, [p], rng.uniform(2, 9))
        if rng.random() < 0.03:
            challenger = _result(Outcome.SERVER_ERROR, None, rng.uniform(2, 9))
        else:
            challenger = _result(Outcome.OK, [1 - p if rng.random() < flip else p], rng.uniform(2, 9))
        recorder.record(payload, champion)
        recorder.record_pair(payload, champion, challenger)


def _recorder(clock: Clock) -> QualityRecorder:
    return QualityRecorder(QUICKSTART.output, WINDOW_S, clock)


def _wire(delta: list[dict]) -> list[dict]:
    """A delta as a worker's report carries it (msgpack there; JSON keeps the same plain types)."""
    return json.loads(json.dumps(delta))


def _run(workers: int, seed: int = 3, windows: int = 12, max_windows: int = 120) -> QualityMonitor:
    """The same paired traffic (one seeded stream per window) split over `workers` recorders."""
    monitor = QualityMonitor(QUICKSTART, window_s=WINDOW_S, max_windows=max_windows)
    clocks = [Clock() for _ in range(workers)]
    recorders = [_recorder(c) for c in clocks]
    for w in range(windows):
        rng = random.Random(seed * 1000 + w)
        flip = 0.02 if w < windows // 2 else 0.3  # the challenger goes wrong half-way
        for i in range(90):
            k = i % workers
            _pairs_into(recorders[k], clocks[k], rng, w * WINDOW_S + 1, 1, flip)
    for k, recorder in enumerate(recorders):
        monitor.absorb(_wire(recorder.take_delta()), source=f"worker-{k}")
    return monitor


def test_disagreement_over_time_follows_the_windows_and_adds_up_to_the_run():
    monitor = _run(workers=1)
    rows = monitor.pair_window_rows()
    assert {r["kind"] for r in rows} == {"clean", "drifted"}
    assert [r["start_s"] for r in rows if r["kind"] == "clean"] == [w * WINDOW_S for w in range(12)]
    early = [r["disagreement"] for r in rows if r["window"] < 6]
    late = [r["disagreement"] for r in rows if r["window"] >= 6]
    assert max(early) < 0.15 < min(late)  # the challenger going wrong shows in its windows
    totals = monitor.comparison_kinds()
    for kind, figures in totals.items():
        mine = [r for r in rows if r["kind"] == kind]
        assert sum(r["n_pairs"] for r in mine) == figures["n_pairs"]
        assert sum(r["n_compared"] for r in mine) == figures["n_compared"]
        assert sum(r["regressions"] for r in mine) == figures["regressions"] > 0
    for r in rows:
        low, high = r["disagreement_ci"]
        assert low <= r["disagreement"] <= high


def test_pair_windows_merge_exactly_across_workers():
    """Three workers' reports, merged on a master, give the very rows of one process."""
    one, three = _run(workers=1), _run(workers=3)
    assert three.pair_window_rows() == one.pair_window_rows()
    assert sorted(three.received) == ["worker-0", "worker-1", "worker-2"]


def test_pair_windows_coarsen_with_the_other_windows_and_stay_bounded():
    fine, coarse = _run(workers=2, windows=20), _run(workers=2, windows=20, max_windows=4)
    assert len(coarse.pair_windows) <= 4 and coarse.factor == 8
    assert set(coarse.pair_windows) == set(coarse.windows)
    for row in coarse.pair_window_rows():  # each coarse window holds exactly its fine ones
        inside = [r for r in fine.pair_window_rows() if row["start_s"] <= r["start_s"] < row["end_s"]
                  and r["kind"] == row["kind"]]  # fmt: skip
        assert row["n_pairs"] == sum(r["n_pairs"] for r in inside)
        assert row["n_compared"] == sum(r["n_compared"] for r in inside)
        disagree = sum(round(r["disagreement"] * r["n_compared"]) for r in inside)
        assert row["disagreement"] == pytest.approx(disagree / row["n_compared"])
        assert row["end_s"] - row["start_s"] == 8 * WINDOW_S


def test_pair_counts_are_four_integers_however_many_pairs():
    stats = PairStats()
    rng = random.Random(1)
    for _ in range(5000):
        p = rng.random()
        stats.record("clean", "ok", "ok", [p], [1 - p if rng.random() < 0.1 else p], 3.0, 4.0, None, "binary", 0.0)
    counts = PairCounts()
    counts.add(stats)
    assert (counts.n_pairs, counts.compared) == (5000, 5000)
    assert counts.figures()[0] == pytest.approx(stats.disagree / 5000)
    assert PairCounts().figures() == (None, None)  # nothing compared: no figure, no interval


def test_the_summary_carries_the_pair_windows_in_its_declared_shape():
    monitor = _run(workers=2)
    live = monitor.summary(now=12 * WINDOW_S)
    assert live["comparison"]["windows"] == monitor.pair_window_rows()
    assert shape_errors(live, LiveSummary) == []
    assert "windows" not in monitor.gate_figures(60.0)["comparison"]  # gates read no windows


def _kind_traffic(recorder: QualityRecorder, clock: Clock, rng: random.Random, t: float, n: int = 60) -> None:
    clock.t = t
    for _ in range(n):
        kind = rng.choice(("clean", "drifted", "malformed"))
        if kind == "malformed":
            recorder.record(_payload(kind, rng), _result(Outcome.REJECTED, None, 1.0))
            continue
        p = rng.betavariate(2, 5) if kind == "clean" else rng.betavariate(5, 2)
        recorder.record(_payload(kind, rng), _result(Outcome.OK, [p], rng.uniform(2, 9)))


def test_a_reset_counts_afresh_from_its_window_warm_up_included():
    clock = Clock()
    monitor = QualityMonitor(QUICKSTART, window_s=WINDOW_S, warmup=Warmup(seconds=10.0))
    recorder = QualityRecorder(QUICKSTART.output, WINDOW_S, clock, monitor.absorb)
    rng = random.Random(5)
    for w in range(6):
        _kind_traffic(recorder, clock, rng, w * WINDOW_S + 1)
    _pairs_into(recorder, clock, rng, 6 * WINDOW_S + 1, 30, 0.1)
    late_report = _recorder(Clock())  # a worker's report recorded before the reset, arriving after it
    _kind_traffic(late_report, late_report.clock, rng, 4 * WINDOW_S + 1)  # type: ignore[arg-type]
    recorder.flush()
    before = monitor.revision
    assert monitor.totals and monitor.pairs and monitor.stages == {}

    _kind_traffic(recorder, clock, rng, 7 * WINDOW_S + 1)  # in the open window: forgotten by the reset
    recorder.reset()
    monitor.reset(7)
    assert monitor.revision > before
    assert not (monitor.totals or monitor.windows or monitor.pairs or monitor.pair_windows or monitor.clean_head)
    late = _wire(late_report.take_delta())
    monitor.absorb(late, source="worker-0")
    # it arrived after the reset, so it counts (as in Locust's totals), in the reset's window
    late_requests = sum(s.requests for s in monitor.totals.values())
    assert monitor.received == {"worker-0": late_requests} and late_requests > 0
    assert set(monitor.windows) == {7}

    for w in range(7, 11):
        _kind_traffic(recorder, clock, rng, w * WINDOW_S + 1)
    recorder.flush()
    live = monitor.summary(now=11 * WINDOW_S)
    assert [r["window"] for r in live["traffic"]] == [7, 8, 9, 10]
    assert live["baseline"]["warmup"]["windows"] == [7, 8]  # the 10 s after the reset
    assert live["kinds"]["clean"]["requests"] == sum(r["requests"] for r in live["windows"] if r["kind"] == "clean")
    assert live["kinds"]["clean"]["shift"]["n"] > 0  # clean after the new warm-up against it
    assert "comparison" not in live  # the pairs came before the reset


@pytest.mark.parametrize("profile", ["quickstart.toml", "multiclass_router.toml", "regression_prices.toml"])
def test_the_trend_rows_psi_is_the_summary_windows_psi(profile):
    """The cheap per-window PSI (reference bins cut once) against `figures.shift`'s, for each
    output type; and each row's outcomes and percentiles against the window row's."""
    loaded = load_profile(PROFILES / profile)
    monitor = QualityMonitor(loaded, window_s=WINDOW_S)
    clock = Clock()
    recorder = QualityRecorder(loaded.output, WINDOW_S, clock, monitor.absorb)
    rng = random.Random(9)
    classes = len(loaded.output.classes)
    for w in range(8):
        clock.t = w * WINDOW_S + 1
        for i in range(40 + 15 * w):
            kind = "clean" if i % 2 else "drifted"
            shifted = kind == "drifted" and w >= 3
            if loaded.output.type == "regression":
                answer = rng.lognormvariate(3.5 if shifted else 3.0, 0.4)
            elif loaded.output.type == "multiclass":
                top = rng.randrange(classes) if not shifted else classes - 1
                answer = [0.7 if c == top else 0.3 / (classes - 1) for c in range(classes)]
            else:
                answer = rng.betavariate(5, 2) if shifted else rng.betavariate(2, 5)
            payload = SimpleNamespace(kind=kind, variant=kind, body=b"{}", labels=None)
            recorder.record(payload, _result(Outcome.OK, [answer], rng.uniform(1, 30)))
    recorder.flush()
    live = monitor.summary(now=40.0)
    trend = {(r["window"], r["kind"]): r for r in monitor.trend_rows()}
    assert len(trend) == len(live["windows"]) == 16
    computed = 0
    for row in live["windows"]:
        mine = trend[(row["window"], row["kind"])]
        psi = row["shift"]["psi"] if row["shift"] else None
        assert mine["psi"] == psi
        computed += psi is not None
        assert (mine["p50"], mine["p99"]) == (row["latency_ms"]["p50"], row["latency_ms"]["p99"])
        assert mine["outcomes"] == row["outcomes"] and mine["requests"] == row["requests"]
    assert computed >= 12
    assert monitor.trend_rows() == list(trend.values())  # the kept parts read the same
