"""The profile's `[gates]` table, read into a `GateSpec`.

A bad check is reported as a `ProfileError` on `gates.checks[i]` carrying the parser's caret
message, so it stops the run before any traffic like every other profile mistake.
"""

from __future__ import annotations

from ..errors import ProfileError
from ..gates.expression import Gate, GateError, parse_gate
from ..gates.spec import GateSpec
from .fields import Table


def read_gates(t: Table) -> GateSpec:
    """Every field of `[gates]`; an absent table gives the empty spec (no gates)."""
    checks: list[Gate] = []
    for i, text in enumerate(t.strings("checks", ())):
        try:
            checks.append(parse_gate(text, label="check"))
        except GateError as exc:
            raise ProfileError(t.file, t.at(f"checks[{i}]"), str(exc)) from None
    spec = GateSpec(
        checks=tuple(checks),
        min_samples=t.integer("min_samples", None, min=1),
        inconclusive=t.str("inconclusive", "fail", choices=("fail", "pass")),
        abort_on_fail=t.boolean("abort_on_fail", False),
        grace_s=t.number("grace_s", 30.0, min=0),
        interval_s=t.number("interval_s", 10.0, above=0),
    )
    t.finish()
    return spec
