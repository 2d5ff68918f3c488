"""A gate as a value: what it reads, how it compares, and the `[gates]` settings around it.

The profile reader parses gates into these (profile/gate_expression.py) and the judge reads
them (gates/); the values live here so that neither imports the other.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

LATENCY_METRICS = ("p50_ms", "p95_ms", "p99_ms")
TRAFFIC_METRICS = ("error_rate", "rps", "requests", "accepted_malformed")
SHIFT_METRICS = ("psi", "js", "ks")
CALIBRATION_METRICS = ("ece", "mce", "brier")
ACCURACY_METRICS = ("accuracy",)  # against the payloads' labels; higher is better
CONSISTENCY_METRICS = ("flip_rate",)
# champion against challenger (docs/compare.md): judged on intervals, so noise holds, never fails
INTERVAL_METRICS = ("disagreement", "p50_delta_ms", "p95_delta_ms", "p99_delta_ms", "ece_delta", "accuracy_delta")
COMPARISON_METRICS = ("regressions", *INTERVAL_METRICS)
METRICS: tuple[str, ...] = (
    LATENCY_METRICS + TRAFFIC_METRICS + SHIFT_METRICS + CALIBRATION_METRICS + ACCURACY_METRICS + CONSISTENCY_METRICS
    + COMPARISON_METRICS
)  # fmt: skip
# what a run with a challenger is judged on when no gate names a comparison metric; not
# `ece_delta`: telling an ECE change of 0.01 from noise takes tens of thousands of labelled pairs
DEFAULT_COMPARISON_GATES = ("regressions == 0", "disagreement[clean] < 1%", "p99_delta_ms[clean] < 20")
# the payload kinds of a summary, plus `all` (every kind but probe); kept literal so that this
# module imports nothing (a test checks it against domain.schema.KINDS)
TRAFFIC_KINDS = ("clean", "drifted", "malformed", "oversized")
KINDS: tuple[str, ...] = (*TRAFFIC_KINDS, "probe", "all")

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
POLICIES = ("fail", "pass")  # what an inconclusive gate counts as


def subject(metric: str, kind: str | None) -> str:
    return f"{metric}[{kind}]" if kind else metric


@dataclass(frozen=True)
class Gate:
    """One parsed gate. `threshold` is already divided by 100 when written with `%` (`percent`)."""

    text: str
    metric: str
    kind: str | None
    op: str
    threshold: float
    percent: bool = False

    @property
    def subject(self) -> str:
        """The figure the gate reads, as written: `p99_ms[clean]` or `rps`."""
        return subject(self.metric, self.kind)

    def holds(self, value: float) -> bool:
        """Whether `value OP threshold` is true (`==` and `!=` compare exactly)."""
        return OPERATORS[self.op](value, self.threshold)


@dataclass(frozen=True)
class GateSpec:
    """Checks and how to judge them; the empty default means "no gates": exit codes untouched."""

    checks: tuple[Gate, ...] = ()
    min_samples: int | None = None  # None: each metric's default (verdicts.DEFAULT_MIN_SAMPLES)
    inconclusive: str = "fail"  # what a gate with too few samples counts as: "fail" or "pass"
    abort_on_fail: bool = False  # also evaluate during the run, stop once a gate fails for grace_s
    grace_s: float = 30.0
    interval_s: float = 10.0

    def with_checks(self, extra: Iterable[Gate]) -> GateSpec:
        """This spec plus `extra` (the `--ml-gate` options), a gate already present kept once."""
        checks = list(self.checks)
        seen = {_key(g) for g in checks}
        for gate in extra:
            if _key(gate) not in seen:
                seen.add(_key(gate))
                checks.append(gate)
        return replace(self, checks=tuple(checks))


def _key(gate: Gate) -> tuple:
    # the same check however it was spelt: `error_rate<1%` and `error_rate < 0.01` are one gate
    return gate.metric, gate.kind, gate.op, gate.threshold
