"""Generator health: which seconds are saturated, how rows from many processes merge, and what a
saturated span does to latency figures and the gates on them."""

import random

import msgpack

from locust_mlstress.domain.summary import no_figures
from locust_mlstress.gates import evaluate, parse_gates
from locust_mlstress.gates.verdicts import INCONCLUSIVE, PASS
from locust_mlstress.quality.generator import (
    GeneratorHealth,
    mark_figures,
    mark_summary,
    saturation,
)


def row(second, cpu=0.3, lag=2.0, scheduled=0, late=0, dropped=0, dispatch=0.0):
    return [second, cpu, lag, scheduled, late, dropped, dispatch]


def test_a_second_is_saturated_by_a_late_loop_or_late_arrivals_not_by_cpu_alone():
    assert saturation(row(0, lag=49.9)) is None
    assert saturation(row(0, lag=50.0)) == "event-loop lag 50 ms"
    assert saturation(row(0, lag=20.0), lag_ms=20) == "event-loop lag 20 ms"
    assert saturation(row(0, cpu=1.0, lag=5.0)) is None  # busy, but waking on time
    assert saturation(row(0, scheduled=100, late=5)) == "5% of arrivals sent late"
    assert saturation(row(0, scheduled=100, late=4)) is None
    assert saturation(row(0, scheduled=9, late=9)) is None  # too few arrivals to say


def test_a_span_is_a_bottleneck_from_two_saturated_seconds_and_five_percent_of_it():
    health = GeneratorHealth()
    health.add("w1", [row(s, lag=80.0 if s in (10, 11, 12) else 1.0) for s in range(100)])
    assert health.saturated_seconds() == 3
    assert health.unreliable(0, 100) is None  # 3 of 100 s: under 5%
    assert health.unreliable(0, 60) == "load generator saturated 3 of 60 s (w1: event-loop lag 80 ms)"
    assert health.unreliable(10, 20) is not None
    assert health.unreliable(12, 20) is None  # one saturated second is a blip
    assert health.unreliable(20, 30) is None
    assert health.spans() == [[10, 13]]


def test_rows_merge_to_the_same_figures_in_any_order_and_any_split():
    rng = random.Random(3)
    rows = {
        f"w{w}": [row(s, cpu=rng.random(), lag=rng.choice([1.0, 3.0, 70.0]), scheduled=rng.randint(0, 50),
                      late=rng.randint(0, 5), dropped=rng.randint(0, 2), dispatch=rng.random() * 30)
                  for s in range(60)]
        for w in range(8)
    }  # fmt: skip
    one = GeneratorHealth()
    for source, rs in rows.items():
        one.add(source, rs)
    many = GeneratorHealth()
    pieces = [(source, rs[i : i + 3]) for source, rs in rows.items() for i in range(0, 60, 3)]
    rng.shuffle(pieces)
    for source, rs in pieces:
        many.add(source, msgpack.unpackb(msgpack.packb(rs)))  # as a worker report carries them
    a, b = one.figures(60.0), many.figures(60.0)
    assert a is not None and b is not None
    for figures in (a, b):
        for p in figures["processes"].values():
            p.pop("cpu_mean")  # a float sum: equal to rounding, not bit for bit
    assert a == b
    assert a["measured_s"] == 60 and sum(p["seconds"] for p in a["processes"].values()) == 480


def test_the_summary_block_names_the_processes_and_the_thresholds():
    health = GeneratorHealth(lag_ms=20.0)
    health.add("w1", [row(s, cpu=1.0, lag=30.0) for s in range(5)])
    health.add("w2", [row(s, cpu=0.2, lag=1.0, scheduled=100, late=1, dropped=3, dispatch=4.0) for s in range(5)])
    block = health.figures(5.0)
    assert block is not None
    assert (
        block["bottleneck"] is True
        and block["reason"] == "load generator saturated 5 of 5 s (w1: event-loop lag 30 ms)"
    )
    assert block["saturated_s"] == 5 and block["spans"] == [[0, 5]]
    assert block["processes"]["w1"]["cpu_bound_s"] == 5 and block["processes"]["w1"]["late_share"] is None
    assert block["processes"]["w2"] == {
        "seconds": 5, "saturated_s": 0, "cpu_bound_s": 0, "cpu_mean": 0.2, "cpu_max": 0.2,
        "loop_lag_ms_max": 1.0, "late_share": 0.01, "dropped_share": 0.03, "dispatch_lag_ms_max": 4.0,
    }  # fmt: skip
    assert block["thresholds"]["loop_lag_ms"] == 20.0
    assert GeneratorHealth().figures(5.0) is None


def test_memory_is_a_byte_per_second_of_the_run_whatever_the_reports():
    health = GeneratorHealth()
    for report in range(1000):
        health.add(f"w{report % 128}", [row(report % 30, lag=60.0)])
    assert len(health._saturated) == len(health._measured) == 30
    assert len(health.processes) == 128


def test_saturation_marks_latency_and_makes_latency_gates_inconclusive():
    figures = no_figures(30.0)
    figures["all"]["latency_ms"] = {"p50": 10.0, "p95": 20.0, "p99": 40.0, "n": 500}
    figures["all"]["requests"] = 500
    gates = parse_gates(["p99_ms < 1000", "requests > 100"])
    assert [r.status for r in evaluate(gates, figures)] == [PASS, PASS]
    health = GeneratorHealth()
    health.add("local", [row(s, lag=90.0 if s < 10 else 1.0) for s in range(30)])
    mark_figures(figures, health.unreliable(0, 30))
    assert figures["all"]["latency_ms"]["unreliable"].startswith("load generator saturated 10 of 30 s")
    latency, requests = evaluate(gates, figures)
    assert latency.status == INCONCLUSIVE and latency.value == 40.0
    assert "load generator saturated" in latency.message and latency.message.endswith("inconclusive (n=500)")
    assert requests.status == PASS  # counts are not the generator's doing


def test_windows_are_marked_by_their_own_span():
    health = GeneratorHealth()
    health.add("local", [row(s, lag=90.0 if 10 <= s < 20 else 1.0) for s in range(30)])
    latency = lambda: {"p50": 1.0, "p95": 2.0, "p99": 3.0, "n": 10}  # noqa: E731
    summary = no_figures(30.0) | {
        "windows": [{"window": w, "start_s": 10.0 * w, "end_s": 10.0 * (w + 1), "kind": "clean", "requests": 10,
                     "outcomes": {}, "shift": None, "calibration": None, "latency_ms": latency()} for w in range(3)],
    }  # fmt: skip
    mark_summary(summary, health)  # type: ignore[arg-type]  (only the parts it reads)
    assert ["unreliable" in w["latency_ms"] for w in summary["windows"]] == [False, True, False]
    assert "unreliable" in summary["all"]["latency_ms"]  # 10 of 30 s
    assert summary["generator"]["spans"] == [[10, 20]]
