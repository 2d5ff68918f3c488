"""Accumulators add exactly: any split of the data, merged in any order, gives the pooled result,
and everything crossing the worker -> master wire survives msgpack unchanged."""

import json
import random

import numpy as np
import pytest
from locust.rpc.protocol import Message

from locust_mlstress import metrics
from locust_mlstress.domain.outcomes import Outcome
from locust_mlstress.domain.schema import Output
from locust_mlstress.payloads import Payload
from locust_mlstress.quality import KindStats, QualityMonitor, QualityRecorder
from locust_mlstress.quality.histograms import LinearHistogram, LogHistogram, key_bounds, key_value, log_key
from locust_mlstress.users.events import MLResult

OUTCOMES = [Outcome.OK] * 8 + [Outcome.REJECTED, Outcome.TIMEOUT]


def _requests(output: str, n: int, seed: int = 0):
    """Seeded (time, payload, result) triples of every kind, as users would report them."""
    rng = random.Random(seed)
    for i in range(n):
        kind = rng.choice(["clean", "clean", "drifted", "malformed", "oversized"])
        size = 40 if kind == "oversized" else 1
        if output == "binary":
            preds = [rng.random() for _ in range(size)]
            labels = [int(rng.random() < p) for p in preds]
        elif output == "multiclass":
            preds = [list(np.random.default_rng(i + j).dirichlet([1, 1, 1])) for j in range(size)]
            preds = [[float(x) for x in p] for p in preds]
            labels = [rng.randrange(3) for _ in range(size)]
        else:
            preds = [rng.gauss(300, 80) for _ in range(size)]
            labels = None
        outcome = rng.choice(OUTCOMES) if kind != "malformed" else Outcome.REJECTED
        payload = Payload(
            kind, f"{kind}-v{i % 3}", b"x" * (size * 30 + i % 7), "application/json", f"r{i}", size, labels, None
        )
        result = MLResult(outcome, 200, preds if outcome is Outcome.OK else None, rng.expovariate(0.1), None)
        yield i * 0.01, payload, result


def _record(requests, output: Output, monitor: QualityMonitor | None = None, probe_every: int = 0):
    """Feed a recorder with a fake clock; return its deltas (msgpack round-tripped)."""
    t = [0.0]
    deltas = []
    recorder = QualityRecorder(output, 1.0, lambda: t[0], sink=deltas.extend)
    for when, payload, result in requests:
        t[0] = when
        resent = probe_every and int(payload.request_id[1:]) % probe_every == 0  # the same ones in any split
        probe = result.predictions if resent and result.predictions else None
        recorder.record(payload=payload, result=result, probe_of=probe)
    recorder.flush()
    return [_over_the_wire(d) for d in deltas]


def _over_the_wire(delta: dict) -> dict:
    """What the master gets: Locust's own message encoding, there and back."""
    return Message.unserialize(Message("stats", {"mlstress": [delta]}, "w1").serialize()).data["mlstress"][0]


OUTPUTS = [Output("binary", ("0", "1")), Output("multiclass", ("a", "b", "c")), Output("regression")]


@pytest.mark.parametrize("output", OUTPUTS, ids=lambda o: o.type)
@pytest.mark.parametrize("parts", [2, 3, 7])
def test_split_and_merged_equals_pooled(output, parts, quickstart):
    from dataclasses import replace

    profile = replace(quickstart, output=output)
    requests = list(_requests(output.type, 1500, seed=parts))
    pooled = QualityMonitor(profile, window_s=1.0)
    pooled.absorb(_record(requests, output, probe_every=9))
    rng = random.Random(parts)
    shards = [[] for _ in range(parts)]
    for r in requests:
        shards[rng.randrange(parts)].append(r)
    merged = QualityMonitor(profile, window_s=1.0)
    deltas = [(f"w{i}", d) for i, shard in enumerate(shards) for d in _record(shard, output, probe_every=9)]
    rng.shuffle(deltas)
    for source, d in deltas:
        merged.absorb([d], source=source)
    a, b = pooled.summary(), merged.summary()
    a.pop("received"), b.pop("received")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)  # bit for bit
    assert sum(merged.received.values()) == sum(s.requests for s in pooled.totals.values())


def test_wire_form_is_plain_python():
    def plain(x):
        if isinstance(x, dict):
            return all(isinstance(k, str) and plain(v) for k, v in x.items())
        if isinstance(x, list):
            return all(plain(v) for v in x)
        return type(x) in (int, float, str, bool) or x is None

    for output in OUTPUTS:
        for delta in _record(list(_requests(output.type, 300)), output, probe_every=5):
            assert plain(delta)


def test_binned_ece_equals_the_array_function():
    rng = np.random.default_rng(4)
    p = rng.random(5000)
    y = (rng.random(5000) < p).astype(int)
    stats = KindStats("binary")
    stats.record_predictions(p.tolist(), y.tolist())
    count, sum_p, sum_y, sum_sq, _ = stats.calibration.arrays()
    c = metrics.calibration_from_bins(count, sum_p, sum_y, sum_sq)
    assert c.ece == pytest.approx(metrics.expected_calibration_error(y, p), rel=1e-9)
    assert c.brier == pytest.approx(metrics.brier_score(y, p), rel=1e-9)


def test_psi_from_the_fine_histogram_equals_psi_on_raw_data():
    rng = np.random.default_rng(5)
    ref, cur = rng.beta(2, 5, 4000), rng.beta(2.5, 5, 3000)
    a, b = LinearHistogram(), LinearHistogram()
    a.add_many(ref), b.add_many(cur)
    edges = metrics.coarse_edges(a.edges, a.counts, bins=10)
    streamed = metrics.psi_from_counts(
        metrics.regroup(a.counts, a.edges, edges), metrics.regroup(b.counts, a.edges, edges)
    )
    assert streamed == metrics.psi(ref, cur, edges=edges)


def test_linear_histogram_is_right_closed_with_zero_in_the_first_bin():
    h = LinearHistogram(10)
    for p in (0.0, 0.1, 0.1000001, 1.0):
        h.add(p)
    assert h.counts.tolist() == [2, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    bulk = LinearHistogram(10)
    bulk.add_many(np.array([0.0, 0.1, 0.1000001, 1.0]))
    assert bulk.counts.tolist() == h.counts.tolist()


@pytest.mark.parametrize("x", [1e-5, 0.37, 1.0, 12.5, 999.9, 3.2e5, -0.5, -4200.0])
def test_log_bins_hold_their_values_within_half_a_percent(x):
    lo, hi = key_bounds(log_key(x))
    assert lo <= x <= hi
    assert abs(key_value(log_key(x)) - x) <= 0.005 * abs(x)


def test_latency_quantiles_are_within_one_percent():
    rng = np.random.default_rng(6)
    values = rng.lognormal(2.0, 1.0, 100_000)
    h = LogHistogram()
    for v in values:
        h.add(float(v))
    for q in (0.5, 0.95, 0.99):
        exact = float(np.quantile(values, q, method="inverted_cdf"))
        assert abs(h.quantile(q) - exact) <= 0.01 * exact


def test_memory_is_bounded_by_bins_not_requests():
    """A monitor that absorbed many windows keeps at most max_windows of them."""
    profile_output = Output("binary", ("0", "1"))
    from locust_mlstress.profile import load_profile
    from tests.conftest import PROFILES

    monitor = QualityMonitor(load_profile(PROFILES / "quickstart.toml"), window_s=1.0, max_windows=16)
    requests = [(i * 0.5, p, r) for i, (_, p, r) in enumerate(_requests("binary", 400))]
    monitor.absorb(_record(requests, profile_output))
    assert len(monitor.windows) <= 16 and monitor.factor > 1
    assert sum(s.requests for w in monitor.windows.values() for s in w.values()) == 400


@pytest.mark.parametrize("p", [0.0, 0.1, 0.2, 0.3, 0.7, 0.9, 1.0, 0.30000000000000004, 0.1 + 1e-12])
def test_streaming_bins_follow_the_metric_functions_on_edges(p):
    """One binning rule: the recorder's scalar path, its bulk path and metrics agree on edges."""
    from locust_mlstress.quality.calibration_bins import CalibrationBins

    cal = CalibrationBins(10)
    cal.add(p, 1, 0.0)
    expected = int(metrics.calibration_bin_index(np.array([p]), n_bins=10)[0])
    assert [i for i, row in enumerate(cal.rows) if row[0]] == [expected]
    one, bulk = LinearHistogram(10), LinearHistogram(10)
    one.add(p)
    bulk.add_many(np.array([p]))
    assert one.counts.tolist() == bulk.counts.tolist() and int(np.argmax(one.counts)) == expected
