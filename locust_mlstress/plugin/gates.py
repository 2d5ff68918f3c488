"""Gates in a Locust run: which gates apply, judging them at the end and during the run.

At `quitting` (local runner or master, once the workers' last reports are in) the gates are
judged on the final summary, a verdict table is printed, `--ml-junit` is written and
`environment.process_exit_code` is set: 0 when every gate passes, 3 when one fails, 4 when one
is inconclusive and the profile counts that as failing. With no gates, Locust's codes stand.

With `abort_on_fail`, a greenlet judges them every `interval_s` on the figures so far and stops
the run once some gate has failed for `grace_s` seconds without a break.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, cast

import gevent
from locust.env import Environment

from locust_mlstress.domain.schema import Profile
from locust_mlstress.gates import (
    EXIT_GATE_FAILED,
    GateResult,
    GateSpec,
    evaluate,
    exit_code,
    format_verdicts,
    junit_xml,
    parse_gates,
)
from locust_mlstress.gates.verdicts import FAIL, INCONCLUSIVE, PASS
from locust_mlstress.plugin.outputs import attempt
from locust_mlstress.plugin.state import MLRun, state_of
from locust_mlstress.users.context import option, plan_for

if TYPE_CHECKING:
    from locust_mlstress.plugin.shapes import ProfileShape

console = logging.getLogger("locust.stats_logger")
logger = logging.getLogger("locust_mlstress")


def gate_spec(environment: Environment, profile: Profile) -> GateSpec:
    """The profile's [gates] plus every --ml-gate (checked at init, so parsing cannot fail here)."""
    return profile.gates.with_checks(parse_gates(option(environment, "ml_gate", []) or []))


def judge_spec(spec: GateSpec, summary: dict) -> list[GateResult]:
    return evaluate(list(spec.checks), summary, min_samples=spec.min_samples, inconclusive=spec.inconclusive)


def conclude(
    environment: Environment,
    spec: GateSpec,
    summary: dict,
    aborted: dict | None,
    failures: list[str] | None = None,
    unreported: Sequence[str] = (),
) -> list[dict]:
    """Judge the final figures, report them, set the exit code; the verdicts as plain dicts.
    With `unreported` workers (their final reports never came) the figures are partial: a gate
    that held on them is inconclusive, and counts as failing whatever the profile's policy
    (exit 4). A --ml-junit that cannot be written is added to `failures` (artifacts.attempt),
    never raised."""
    if not spec.checks:
        return []
    results = judge_spec(spec, summary)
    if unreported:
        why = f"partial figures: no final report from worker(s) {', '.join(unreported)}"
        results = [
            r
            if r.status == FAIL
            else replace(
                r,
                status=INCONCLUSIVE,
                inconclusive_passes=False,
                reason=why,
                message=f"{r.message.replace(': pass', ': inconclusive')} ({why})",
            )
            for r in results
        ]
    console.info("\n%s\n", format_verdicts(results))
    if aborted:
        console.info("run stopped early at %.1f s: %s", aborted["at_s"], aborted["gate"])
    if path := option(environment, "ml_junit"):
        text = junit_xml(results)
        write = lambda target: Path(target).write_text(text)  # noqa: E731
        attempt(f"--ml-junit {path}", write, failures if failures is not None else [], path)
    code = exit_code(results)
    if code is not None:
        environment.process_exit_code = code
    return [
        {"gate": r.gate.text, "value": r.value, "n": r.n, "status": r.status, "message": r.message} for r in results
    ]


def watch(
    environment: Environment, spec: GateSpec, summarise: Callable[[], dict | None], run: MLRun
) -> gevent.Greenlet:
    """Judge the gates every interval; stop the run once one has failed for `grace_s` in a row."""

    since_start = state_of(environment).clock()

    def loop() -> None:
        failing_since: dict[str, float] = {}
        while True:
            gevent.sleep(spec.interval_s)
            summary = summarise()
            if summary is None:
                continue
            now = time.monotonic()
            for result in judge_spec(spec, summary):
                if result.status != FAIL:
                    failing_since.pop(result.gate.text, None)
                    continue
                since = failing_since.setdefault(result.gate.text, now)
                if now - since >= spec.grace_s:
                    run.aborted = {"gate": result.message, "at_s": round(since_start(), 3)}
                    logger.error("gate failed for %g s, stopping the run: %s", spec.grace_s, result.message)
                    environment.process_exit_code = EXIT_GATE_FAILED
                    if environment.runner is not None:
                        environment.runner.quit()
                    return

    return gevent.spawn(loop)


def conclude_stages(environment: Environment, profile: Profile, summary: dict) -> None:
    """Stage verdicts of a load plan: staged validation fails the run (exit 3) at its first
    failing stage; step-to-failure reports its breaking point (finding one is its purpose)."""
    shape = cast("ProfileShape", environment.shape_class)  # one with stage verdicts is, below
    verdicts = getattr(shape, "verdicts", None)
    plan = plan_for(environment, profile)
    if not verdicts or plan is None:
        return
    summary["stages"] = verdicts
    lines = ["Stage verdicts"]
    for v in verdicts:
        lines.append(f"  {v['name']:<20} {'pass' if v['passed'] else 'FAIL'}")
        lines += [f"      {g['message']}" for g in v["gates"] if g["status"] != PASS or v["passed"]]
    if plan.shape == "step":
        point = shape.breaking_point()
        summary["breaking_point"] = point
        last = point["last_passing"]["name"] if point["last_passing"] else "none"
        first = point["first_failing"]["name"] if point["first_failing"] else "none within the plan"
        lines.append(f"breaking point: last passing step {last}; first failing step {first}")
        lines += [f"  broke: {message}" for message in point["broken"]]
    elif shape.failure is not None:
        summary["stage_failure"] = shape.failure
        lines.append(f"stopped at stage {shape.failure['name']!r}: its gates failed")
        environment.process_exit_code = EXIT_GATE_FAILED
    console.info("\n%s\n", "\n".join(lines))
