"""The profile's `[gates]` table, read into a `GateSpec`.

A bad check is reported as a `ProfileError` on `gates.checks[i]` carrying the parser's caret
message, so it stops the run before any traffic like every other profile mistake.
"""

from __future__ import annotations

from locust_mlstress.domain.gates import COMPARISON_METRICS, POLICIES, Gate, GateSpec
from locust_mlstress.profile.fields import Table
from locust_mlstress.profile.gate_expression import GateError, parse_gate

_ABSENT = object()  # not None: a key whose value is None is still checked as a list of strings


def read_gate_list(t: Table, key: str, default: tuple = (), *, stage: bool = False) -> tuple[Gate, ...]:
    """The gate expressions under `key` (`[gates]` checks, a stage's gates, a step plan's SLO),
    parsed now so a typo fails at load; `default` when the key is absent. A `stage`'s gates are
    judged on its own figures, which hold no champion/challenger comparison (a run-wide figure)."""
    texts = t.strings(key, _ABSENT)
    if texts is _ABSENT:
        return tuple(g for g in default if not (stage and g.metric in COMPARISON_METRICS))
    gates: list[Gate] = []
    for i, text in enumerate(texts):
        try:
            gate = parse_gate(text, label="check")
        except GateError as exc:
            raise t.error(f"{key}[{i}]", str(exc)) from None
        if stage and gate.metric in COMPARISON_METRICS:
            raise t.error(f"{key}[{i}]", f"{gate.metric} compares the whole run's pairs, not a stage's; "
                          "put it in [gates] checks")  # fmt: skip
        gates.append(gate)
    return tuple(gates)


def read_gates(t: Table) -> GateSpec:
    """Every field of `[gates]`; an absent table gives the empty spec (no gates)."""
    default = GateSpec()
    spec = GateSpec(
        checks=read_gate_list(t, "checks"),
        min_samples=t.integer("min_samples", default.min_samples, min=1),
        inconclusive=t.str("inconclusive", default.inconclusive, choices=POLICIES),
        abort_on_fail=t.boolean("abort_on_fail", default.abort_on_fail),
        grace_s=t.number("grace_s", default.grace_s, min=0),
        interval_s=t.number("interval_s", default.interval_s, above=0),
    )
    t.finish()
    return spec
