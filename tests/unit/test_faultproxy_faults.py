"""The fault proxy's decisions: seeded, per request key, shares as configured, stages by time."""

import math
import statistics
from collections import Counter

import pytest

from locust_mlstress.servers.faultproxy.faults import AFTER_PLAN, WHOLE_RUN, FaultPlan, FaultSet, FaultStage, decide

N = 20_000


def _shares(faults: FaultSet, seed: int = 1) -> Counter:
    return Counter(decide(faults, seed, f"7-{i:x}").action for i in range(N))


def _within(count: int, p: float, n: int = N) -> bool:
    """count is within 5 standard deviations of a binomial(n, p)'s mean."""
    return abs(count - n * p) <= 5 * math.sqrt(n * p * (1 - p))


def test_a_request_key_gets_the_same_fate_in_every_rerun():
    faults = FaultSet(latency_ms=20, jitter_ms=10, reset=0.3, blackhole=0.2)
    first = [decide(faults, 5, f"key-{i}") for i in range(500)]
    assert first == [decide(faults, 5, f"key-{i}") for i in range(500)]
    assert first != [decide(faults, 6, f"key-{i}") for i in range(500)]  # the seed matters


def test_reset_and_blackhole_shares_come_out_as_configured_and_never_overlap():
    counts = _shares(FaultSet(reset=0.1, blackhole=0.05))
    assert _within(counts["reset"], 0.1) and _within(counts["blackhole"], 0.05)
    assert counts["reset"] + counts["blackhole"] + counts["forward"] == N


def test_shares_of_zero_and_one_are_exact():
    assert _shares(FaultSet()) == Counter(forward=N)
    assert _shares(FaultSet(reset=1.0)) == Counter(reset=N)
    assert _shares(FaultSet(reset=0.4, blackhole=0.6)).get("forward", 0) == 0


def test_down_wins_over_every_other_fault():
    assert _shares(FaultSet(down=True, reset=0.5, latency_ms=10)) == Counter(down=N)


def test_uniform_jitter_stays_within_its_bounds_around_the_latency():
    delays = [decide(FaultSet(latency_ms=50, jitter_ms=10), 3, str(i)).delay_s * 1000 for i in range(N)]
    assert 40 <= min(delays) < 40.1 and 59.9 < max(delays) <= 60
    assert abs(statistics.fmean(delays) - 50) < 0.2


def test_normal_jitter_has_the_configured_spread_and_never_a_negative_delay():
    faults = FaultSet(latency_ms=100, jitter_ms=10, jitter="normal")
    delays = [decide(faults, 3, str(i)).delay_s * 1000 for i in range(N)]
    assert abs(statistics.fmean(delays) - 100) < 0.5 and abs(statistics.stdev(delays) - 10) < 0.5
    clamped = [decide(FaultSet(latency_ms=1, jitter_ms=50, jitter="normal"), 3, str(i)).delay_s for i in range(2000)]
    assert min(clamped) == 0.0 and max(clamped) > 0


def test_without_latency_a_forwarded_request_has_no_delay():
    assert {decide(FaultSet(reset=0.5), 1, str(i)).delay_s for i in range(200)} == {0.0}


PLAN = FaultPlan(
    base=FaultSet(latency_ms=5),
    stages=(
        FaultStage("calm", 0.0, 10.0, FaultSet(latency_ms=5)),
        FaultStage("outage", 10.0, 15.0, FaultSet(down=True)),
    ),
)


@pytest.mark.parametrize(
    ("t", "stage", "down"),
    [
        (0.0, "calm", False),
        (9.999, "calm", False),
        (10.0, "outage", True),
        (14.9, "outage", True),
        (15.0, AFTER_PLAN, False),
    ],
)
def test_the_stage_in_force_follows_the_timeline_and_the_base_holds_after_it(t, stage, down):
    name, faults = PLAN.at(t)
    assert (name, faults.down) == (stage, down)


def test_without_a_timeline_the_base_faults_hold_for_the_whole_run():
    assert FaultPlan(FaultSet(reset=0.1)).at(1e6) == (WHOLE_RUN, FaultSet(reset=0.1))


def test_the_plan_describes_every_stage_and_its_faults():
    lines = "\n".join(PLAN.describe())
    assert "calm" in lines and "latency 5 ms" in lines and "outage" in lines and "down (reset)" in lines
    assert "after the plan: latency 5 ms" in lines
