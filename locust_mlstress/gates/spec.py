"""The `[gates]` settings of a run, in one frozen value shared by the profile and the options.

Kept apart from the profile reader so that `profile.model` can default to an empty spec, and the
Locust wiring can add `--ml-gate` checks, without either importing the other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from .expression import Gate, parse_gate


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


def parse_gates(texts: Iterable[str], *, label: str = "--ml-gate") -> tuple[Gate, ...]:
    """Parse several expressions; the first bad one raises its `GateError`."""
    return tuple(parse_gate(text, label=label) for text in texts)
