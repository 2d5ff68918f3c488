"""Counting outcomes per kind and variant, across workers, and the table printed at the end.

The listener on `ml_request` is O(1) per request (one dict increment). Workers send their
counts since the last report and clear them; the master adds; the table is printed in
`quitting`, when the workers' last reports are in (on a headless master `test_stop` is early).
"""

from __future__ import annotations

import logging
from collections import Counter

from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

from .events import ml_events
from .outcomes import OUTCOMES
from .profile.model import KINDS

REPORT_KEY = "mlstress_outcomes"
console = logging.getLogger("locust.stats_logger")  # Locust's plain console logger

Key = tuple[str, str, str]  # kind, variant, outcome


class OutcomeCounts:
    def __init__(self) -> None:
        self.total: Counter[Key] = Counter()  # everything this process has seen or received
        self.unsent: Counter[Key] = Counter()  # a worker's counts since its last report

    def record(self, payload, result, **_kwargs) -> None:
        key = (payload.kind, payload.variant, result.outcome.value)
        self.total[key] += 1
        self.unsent[key] += 1

    def take_delta(self) -> list[list]:
        """msgpack-safe rows [kind, variant, outcome, count], and the slate wiped."""
        rows = [[k, v, o, int(n)] for (k, v, o), n in self.unsent.items()]
        self.unsent.clear()
        return rows

    def add(self, rows: list[list]) -> None:
        for kind, variant, outcome, n in rows:
            self.total[(kind, variant, outcome)] += n

    def by_kind(self) -> dict[str, Counter[str]]:
        out: dict[str, Counter[str]] = {}
        for (kind, _variant, outcome), n in self.total.items():
            out.setdefault(kind, Counter())[outcome] += n
        return out

    def by_variant(self, kind: str) -> dict[str, Counter[str]]:
        out: dict[str, Counter[str]] = {}
        for (k, variant, outcome), n in self.total.items():
            if k == kind:
                out.setdefault(variant, Counter())[outcome] += n
        return out


def format_table(counts: OutcomeCounts) -> str:
    kinds = counts.by_kind()
    outcomes = [o for o in OUTCOMES if any(c[o] for c in kinds.values())]
    header = f"{'kind':<12}{'requests':>10}" + "".join(f"{o:>20}" for o in outcomes)
    lines = ["ML outcomes per payload kind", header, "-" * len(header)]
    for kind in [k for k in KINDS if k in kinds]:
        c = kinds[kind]
        lines.append(f"{kind:<12}{sum(c.values()):>10}" + "".join(f"{c[o]:>20}" for o in outcomes))
    for kind in ("malformed", "oversized"):
        variants = counts.by_variant(kind)
        if not variants:
            continue
        lines.append("")
        lines.append(f"{kind} variants: outcome counts")
        for variant, c in sorted(variants.items()):
            detail = ", ".join(f"{o} {c[o]}" for o in OUTCOMES if c[o])
            lines.append(f"  {variant:<26}{detail}")
    return "\n".join(lines)


def attach(environment: Environment) -> OutcomeCounts:
    """The environment's counter, wired to its events once."""
    counts = getattr(environment, "mlstress_outcomes", None)
    if counts is None:
        counts = environment.mlstress_outcomes = OutcomeCounts()
        ml_events(environment).add_listener(counts.record)
    return counts


@events.init.add_listener
def _wire(environment: Environment, **_kwargs) -> None:
    counts = attach(environment)

    def report(client_id, data, **_kw):
        data[REPORT_KEY] = counts.take_delta()

    def receive(client_id, data, **_kw):
        counts.add(data.get(REPORT_KEY, []))

    def print_table(environment, **_kw):
        if counts.total:
            console.info("\n%s\n", format_table(counts))

    if isinstance(environment.runner, WorkerRunner):
        environment.events.report_to_master.add_listener(report)
    else:
        environment.events.worker_report.add_listener(receive)
        environment.events.quitting.add_listener(print_table)
