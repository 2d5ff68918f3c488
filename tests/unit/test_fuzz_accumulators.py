"""Fuzzed merges: any split of the records, merged in any order and shape, gives the pooled result.

test_accumulators.py checks a few seeded splits end to end (recorder -> msgpack -> monitor). Here
Hypothesis picks the data (probabilities on bin edges, 0 and 1, latencies of 0 and of hours,
regression values of any sign and size), the split (any part may be empty), how each part adds
(`add` or the bulk `add_many`), whether a part crosses the wire (`to_wire`, Locust's msgpack
message, `from_wire`) before merging, and the merge tree (parts merged pairwise in a random
order). The pooled accumulator, fed every record in order, must come out identical: the same
integer counts and fixed-point sums, bit for bit, for LinearHistogram, LogHistogram,
CalibrationBins, Consistency, KindStats of each output type and the QualityMonitor's summary
(with few windows, so that window coarsening interleaves with out-of-order deltas).

Hypothesis settings: derandomize=True (the same examples on every run, so CI is reproducible and a
failure reproduces from the test alone), database=None (nothing written to .hypothesis/),
deadline=None (a loaded CI machine must not turn a slow example into a failure). The example
counts keep this module near 10 s; MLSTRESS_FUZZ_SCALE=10 runs ten times as many.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from locust_mlstress.domain.outcomes import Outcome
from locust_mlstress.domain.schema import Output
from locust_mlstress.payloads import Payload
from locust_mlstress.quality import KindStats, QualityMonitor
from locust_mlstress.quality.calibration_bins import CalibrationBins
from locust_mlstress.quality.histograms import LinearHistogram, LogHistogram
from locust_mlstress.quality.kindstats import Consistency
from locust_mlstress.users.events import MLResult
from tests.unit.test_accumulators import _over_the_wire, _record
from tests.unit.test_fuzz_gates import fuzz

PROBABILITY = st.one_of(
    st.floats(0, 1),
    # bin edges (0.3 is stored as 0.30000000000000004), the ends, and values a hair off them
    st.sampled_from([0.0, 1.0, 0.1, 0.3, 0.30000000000000004, 0.5, 0.7, 0.9, 0.995, 1e-300, 1 - 1e-16, 0.1 + 1e-12]),
)
LATENCY = st.one_of(st.floats(0, 1e7), st.sampled_from([0.0, 1e-7, 1e-6, 1.0000001e-6, 1.0, 12.5, 3.6e6]))
VALUE = st.one_of(st.floats(-1e12, 1e12), st.sampled_from([0.0, -0.0, 1e-6, -1e-6, 2e-6, -3.2e5, 1e12]))
PROBS3 = st.lists(st.floats(0, 1), min_size=3, max_size=3)


def wire(rows):
    """Locust's own message encoding (msgpack), there and back, as a worker's report travels."""
    return _over_the_wire({"rows": rows})["rows"]


@st.composite
def plan(draw, n: int) -> tuple[list[int], list[bool], list[bool], list[tuple[int, int]]]:
    """For n records: the part of each, per part whether it adds in bulk and crosses the wire,
    and a merge tree as (into, from) pairs that folds every part into one."""
    parts = draw(st.integers(1, 6))
    assignment = [draw(st.integers(0, parts - 1)) for _ in range(n)]
    bulk = [draw(st.booleans()) for _ in range(parts)]
    wired = [draw(st.booleans()) for _ in range(parts)]
    alive, steps = list(range(parts)), []
    while len(alive) > 1:
        a, b = draw(st.permutations(alive))[:2]
        steps.append((a, b))
        alive.remove(b)
    return assignment, bulk, wired, steps


def split(values: list, assignment: list[int], parts: int) -> list[list]:
    out: list[list] = [[] for _ in range(parts)]
    for value, part in zip(values, assignment, strict=True):
        out[part].append(value)
    return out


def fold(parts: list, steps: list[tuple[int, int]]):
    for into, other in steps:
        parts[into].merge(parts[other])
    return parts[steps[-1][0]] if steps else parts[0]  # the last merge leaves the one survivor


def pooled_and_merged(data, values: list, new, add, revive, bulk_add=None):
    """The accumulator `new()` fed every value in order, and the same values split into parts
    (each filled with `add`, or `bulk_add` when the plan says so, and sent through the wire and
    `revive`d when it says so) merged along the plan's tree."""
    assignment, bulk, wired, steps = data.draw(plan(len(values)))
    pooled = new()
    for value in values:
        add(pooled, value)
    parts = []
    for i, chunk in enumerate(split(values, assignment, len(wired))):
        part = new()
        if bulk_add is not None and bulk[i]:
            bulk_add(part, chunk)
        else:
            for value in chunk:
                add(part, value)
        parts.append(revive(wire(part.to_wire())) if wired[i] else part)
    return pooled, fold(parts, steps)


@fuzz(150)
@given(data=st.data(), values=st.lists(PROBABILITY, max_size=80), bins=st.sampled_from([10, 200]))
def test_linear_histogram(data, values, bins):
    pooled, merged = pooled_and_merged(
        data, values, lambda: LinearHistogram(bins), LinearHistogram.add, lambda w: LinearHistogram.from_wire(w, bins),
        bulk_add=lambda h, chunk: h.add_many(np.asarray(chunk, dtype=np.float64)),
    )  # fmt: skip
    assert merged.counts.tolist() == pooled.counts.tolist() and merged.n == len(values)


@fuzz(150)
@given(data=st.data(), values=st.lists(st.one_of(LATENCY, VALUE), max_size=80))
def test_log_histogram(data, values):
    pooled, merged = pooled_and_merged(data, values, LogHistogram, LogHistogram.add, LogHistogram.from_wire)
    assert merged.items() == pooled.items() and merged.n == len(values)
    for q in (0.01, 0.5, 0.99, 1.0):
        assert merged.quantile(q) == pooled.quantile(q) or (np.isnan(merged.quantile(q)) and not values)


@fuzz(150)
@given(data=st.data(), values=st.lists(st.tuples(PROBABILITY, st.integers(0, 1), st.floats(0, 2)), max_size=60))
def test_calibration_bins(data, values):
    pooled, merged = pooled_and_merged(data, values, CalibrationBins, lambda c, v: c.add(*v), CalibrationBins.from_wire)
    assert merged.rows == pooled.rows
    assert all(np.array_equal(a, b) for a, b in zip(merged.arrays(), pooled.arrays(), strict=True))


PROBE = st.integers(1, 5).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(0, n), st.lists(st.floats(0, 1e6), min_size=n, max_size=n))
)


@fuzz(150)
@given(data=st.data(), probes=st.lists(PROBE, max_size=40))
def test_consistency(data, probes):
    pooled, merged = pooled_and_merged(data, probes, Consistency, lambda c, v: c.add(*v), Consistency.from_wire)
    assert merged.to_wire() == pooled.to_wire()


OUTCOMES = st.sampled_from(["ok", "ok", "rejected", "timeout", "server_error", "accepted_malformed"])


@st.composite
def kind_records(draw, output: str) -> list[tuple]:
    """(variant, outcome, latency, predictions, labels, probe, body bytes, labels only) per request, as users
    record them."""
    records = []
    for _ in range(draw(st.integers(0, 25))):
        n = draw(st.sampled_from([1, 1, 2, 40]))  # 40: a large batch takes the bulk (numpy) path
        if output == "binary":
            preds, labels = draw(st.lists(PROBABILITY, min_size=n, max_size=n)), st.integers(0, 1)
        elif output == "multiclass":
            preds, labels = draw(st.lists(PROBS3, min_size=n, max_size=n)), st.integers(0, 2)
        else:
            preds, labels = draw(st.lists(VALUE, min_size=n, max_size=n)), st.none()
        labels = draw(st.one_of(st.none(), st.lists(labels, min_size=n, max_size=n)))
        probe = draw(st.one_of(st.none(), PROBE))
        size = draw(st.integers(0, 2**21))  # body bytes
        labels_only = draw(st.booleans()) if output != "regression" else False
        records.append(
            (draw(st.sampled_from(["a", "b"])), draw(OUTCOMES), draw(LATENCY), preds, labels, probe, size, labels_only)
        )
    return records


def _fill(stats: KindStats, records: list[tuple], by_variant: bool) -> KindStats:
    for variant, outcome, latency, preds, labels, probe, size, labels_only in records:
        stats.record_outcome(variant, outcome, latency, size, by_variant)
        if outcome == "ok":
            stats.record_predictions(preds, labels if stats.output != "regression" else None, labels_only)
        if probe is not None:
            stats.consistency.add(*probe)
    return stats


def canonical(stats: KindStats) -> str:
    w = stats.to_wire()
    for key in ("outcomes", "sizes", "variant_latency"):  # rows keyed by variant: their order is
        w[key] = sorted(w.get(key, []))  # insertion order, not part of the value
    return json.dumps(w, sort_keys=True)


@fuzz(100)
@given(data=st.data(), output=st.sampled_from(["binary", "multiclass", "regression"]), by_variant=st.booleans())
def test_kind_stats(data, output, by_variant):
    records = data.draw(kind_records(output))
    n_classes = 3 if output == "multiclass" else 0
    pooled, merged = pooled_and_merged(
        data, records, lambda: KindStats(output, n_classes), lambda s, r: _fill(s, [r], by_variant),
        lambda w: KindStats.from_wire(w, output, n_classes),
    )  # fmt: skip
    assert canonical(merged) == canonical(pooled) and merged.requests == len(records)


OUTPUTS = {"binary": Output("binary", ("0", "1")), "multiclass": Output("multiclass", ("a", "b", "c")),
           "regression": Output("regression")}  # fmt: skip


@st.composite
def requests(draw, output: str) -> list[tuple]:
    """(time, payload, result) triples over a few seconds, of every kind, as the recorder gets them."""
    out = []
    for i, (variant, outcome, latency, preds, labels, *_) in enumerate(draw(kind_records(output))):
        kind = draw(st.sampled_from(["clean", "clean", "drifted", "malformed", "oversized"]))
        when = draw(st.floats(0, 12))
        payload = Payload(kind, f"{kind}-{variant}", b"", "application/json", f"r{i}", len(preds), labels, None)
        result = MLResult(Outcome(outcome), 200, preds if outcome == "ok" else None, latency, None)
        out.append((when, payload, result))
    return sorted(out, key=lambda r: r[0])  # one recorder sees time go forward


@fuzz(60)
@given(data=st.data(), output=st.sampled_from(sorted(OUTPUTS)), max_windows=st.sampled_from([2, 3, 120]))
def test_monitor_summary(quickstart, data, output, max_windows):
    profile = replace(quickstart, output=OUTPUTS[output])
    reqs = data.draw(requests(output))
    assignment, _, _, _ = data.draw(plan(len(reqs)))
    pooled = QualityMonitor(profile, window_s=1.0, max_windows=max_windows)
    pooled.absorb(_record(reqs, OUTPUTS[output], probe_every=4))
    parts = split(reqs, assignment, max(assignment, default=0) + 1)
    deltas = [(f"w{i}", d) for i, part in enumerate(parts) for d in _record(part, OUTPUTS[output], probe_every=4)]
    merged = QualityMonitor(profile, window_s=1.0, max_windows=max_windows)
    for source, delta in data.draw(st.permutations(deltas)):  # reports arrive in any order
        merged.absorb([delta], source=source)
    a, b = pooled.summary(), merged.summary()
    assert sum(a.pop("received").values()) == sum(b.pop("received").values()) == len(reqs)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
