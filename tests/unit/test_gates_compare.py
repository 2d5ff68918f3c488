"""Comparison gates and the promote/hold/rollback verdict, on figures the recorder and monitor
compute from simulated paired answers (the real recording, merging and judging code)."""

from __future__ import annotations

import math
import random

import pytest

from locust_mlstress.domain.gates import DEFAULT_COMPARISON_GATES
from locust_mlstress.domain.outcomes import Outcome
from locust_mlstress.gates import comparison_verdict, evaluate, lookup, parse_gate, parse_gates
from locust_mlstress.payloads import Payload
from locust_mlstress.profile import load_profile
from locust_mlstress.quality import QualityMonitor, QualityRecorder
from locust_mlstress.users.events import MLResult
from tests.conftest import PROFILES

PROFILE = load_profile(PROFILES / "quickstart.toml")
GATES = parse_gates(DEFAULT_COMPARISON_GATES)


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def simulate(seed: int, n: int, *, jitter: float = 0.0, flip: float = 0.0, extra_ms: float = 0.0) -> dict:
    """The figures gates read after `n` clean pairs: a calibrated champion, and a challenger whose
    logits jitter by N(0, jitter), which answers the other class for a `flip` share, and is
    `extra_ms` slower; latencies of both from one heavy-tailed distribution."""
    rng = random.Random(seed)
    monitor = QualityMonitor(PROFILE, window_s=10.0)
    recorder = QualityRecorder(PROFILE.output, 10.0, lambda: 30.0, monitor.absorb)
    for i in range(n):
        logit = rng.gauss(0.0, 2.0)
        y = int(rng.random() < _sigmoid(logit))
        p = _sigmoid(logit)
        q = _sigmoid(logit + rng.gauss(0.0, jitter)) if jitter else p
        if flip and rng.random() < flip:
            q = 1.0 - q
        payload = Payload("clean", "clean", b"{}", "application/json", f"r{i}", 1, [y], None)
        a = MLResult(Outcome.OK, 200, [p], rng.lognormvariate(1.5, 0.6), None)
        b = MLResult(Outcome.OK, 200, [q], rng.lognormvariate(1.5, 0.6) + extra_ms, None)
        recorder.record(payload, a)
        recorder.record_pair(payload, a, b)
    recorder.flush()
    return monitor.gate_figures(60.0)


def verdict(figures: dict) -> str:
    return comparison_verdict(evaluate(GATES, figures))[0]


def test_the_same_answers_disagree_exactly_never_and_are_promoted():
    figures = simulate(1, 3000)
    clean = figures["comparison"]["kinds"]["clean"]
    assert clean["disagreement"] == 0 and clean["mean_abs_diff"] == 0 and clean["accuracy_delta"]["ci"] == [0, 0]
    assert verdict(figures) == "promote"


def test_jittery_scores_are_falsely_rolled_back_in_at_most_five_percent_of_seeds():
    seeds, n = 200, 1500
    verdicts, disagreement = [], []
    for seed in range(seeds):
        figures = simulate(seed, n, jitter=0.02)
        disagreement.append(figures["comparison"]["kinds"]["clean"]["disagreement"])
        verdicts.append(verdict(figures))
    # the premise: the jitter moves answers, but far less than the 1% the gate allows
    assert 0 < sum(disagreement) / seeds < 0.005
    rollbacks = verdicts.count("rollback")
    assert rollbacks / seeds <= 0.05, (rollbacks, {v: verdicts.count(v) for v in set(verdicts)})
    assert verdicts.count("promote") > seeds / 2  # and the gates are not simply never conclusive


def test_a_three_percent_flip_is_rolled_back_for_its_disagreement():
    figures = simulate(7, 4000, flip=0.03)
    results = evaluate(GATES, figures)
    decided, reasons = comparison_verdict(results)
    assert decided == "rollback" and any(r.startswith("disagreement[clean]") for r in reasons)
    low, high = figures["comparison"]["kinds"]["clean"]["disagreement_ci"]
    assert low <= 0.03 <= high


def test_a_challenger_slower_by_far_more_than_the_gate_allows_is_rolled_back_for_latency():
    figures = simulate(3, 3000, extra_ms=40.0)
    results = {r.gate.text: r for r in evaluate(GATES, figures)}
    assert results["p99_delta_ms[clean] < 20"].status == "fail"
    low, _high = lookup(figures, "p99_delta_ms", "clean").interval
    assert low > 20


def test_too_few_pairs_hold_rather_than_guess():
    figures = simulate(5, 60, flip=0.03)
    decided, reasons = comparison_verdict(evaluate(GATES, figures))
    assert decided == "hold" and reasons and all("inconclusive" in r for r in reasons)


@pytest.mark.parametrize(
    ("interval", "status"),
    [((0.001, 0.008), "pass"), ((0.012, 0.03), "fail"), ((0.005, 0.015), "inconclusive")],
)
def test_an_interval_gate_passes_fails_or_straddles(interval, status):
    from locust_mlstress.gates import Observation, judge

    gate = parse_gate("disagreement[clean] < 1%")
    result = judge(gate, Observation(sum(interval) / 2, 5000, "clean", interval=interval), minimum=100)
    assert result.status == status
    assert "[" in result.message  # the interval is shown


def test_without_a_challenger_comparison_gates_are_inconclusive_and_say_why():
    figures = simulate(2, 100)
    del figures["comparison"]
    (result,) = evaluate([parse_gate("regressions == 0")], figures)
    assert result.status == "inconclusive" and "no challenger" in result.message


def test_an_ece_change_is_judged_against_both_noise_floors():
    figures = simulate(4, 3000)
    seen = lookup(figures, "ece_delta", "clean")
    versions = figures["comparison"]["kinds"]["clean"]["versions"]
    noise = versions["champion"]["ece_noise"] + versions["challenger"]["ece_noise"]
    assert seen.value == 0 and seen.interval == pytest.approx((-noise, noise))
    (result,) = evaluate([parse_gate("ece_delta[clean] < 0.01")], figures)
    assert result.status == "inconclusive"  # 3000 labelled pairs cannot tell 0.01 of ECE from noise


def test_regressions_count_every_kind_without_a_kind():
    figures = simulate(2, 200)
    figures["comparison"]["kinds"]["malformed"] = dict(figures["comparison"]["kinds"]["clean"], regressions=3)
    assert lookup(figures, "regressions", None).value == 3
    assert lookup(figures, "regressions", "clean").value == 0
