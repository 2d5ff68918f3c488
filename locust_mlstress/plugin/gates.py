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
from typing import TYPE_CHECKING, TypedDict, cast

import gevent
from locust.env import Environment

from locust_mlstress.domain.gates import COMPARISON_METRICS, DEFAULT_COMPARISON_GATES
from locust_mlstress.domain.schema import Profile
from locust_mlstress.domain.summary import Aborted, BreakingPoint, Figures, GateVerdict, StageVerdict
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
from locust_mlstress.users.challenger import challenger_settings
from locust_mlstress.users.context import option, plan_for

if TYPE_CHECKING:
    from locust_mlstress.plugin.shapes import ProfileShape

console = logging.getLogger("locust.stats_logger")
logger = logging.getLogger("locust_mlstress")


def gate_spec(environment: Environment, profile: Profile) -> GateSpec:
    """The profile's [gates] plus every --ml-gate (checked at init, so parsing cannot fail here);
    with a challenger and no gate on a comparison figure, the default comparison gates."""
    spec = profile.gates.with_checks(parse_gates(option(environment, "ml_gate", []) or []))
    if challenger_settings(environment, profile) is None or any(g.metric in COMPARISON_METRICS for g in spec.checks):
        return spec
    return spec.with_checks(parse_gates(DEFAULT_COMPARISON_GATES, label="default comparison gate"))


def judge_spec(spec: GateSpec, summary: Figures) -> list[GateResult]:
    return evaluate(list(spec.checks), summary, min_samples=spec.min_samples, inconclusive=spec.inconclusive)


def final_results(spec: GateSpec, figures: Figures, unreported: Sequence[str] = ()) -> list[GateResult]:
    """The gates judged on the final figures. With `unreported` workers (their final reports
    never came) the figures are partial: a gate that held on them is inconclusive, and counts as
    failing whatever the profile's policy (exit 4)."""
    if not spec.checks:
        return []
    results = judge_spec(spec, figures)
    if not unreported:
        return results
    why = f"partial figures: no final report from worker(s) {', '.join(unreported)}"
    return [
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


def verdicts_of(results: Sequence[GateResult]) -> list[GateVerdict]:
    """The summary's `gates`."""
    return [
        {"gate": r.gate.text, "value": r.value, "n": r.n, "status": r.status, "message": r.message} for r in results
    ]


def report_results(
    environment: Environment, results: list[GateResult], aborted: Aborted | None, failures: list[str]
) -> None:
    """Print the verdict table, write --ml-junit, set the exit code. A --ml-junit that cannot be
    written is added to `failures` (outputs.attempt), never raised."""
    if not results:
        return
    console.info("\n%s\n", format_verdicts(results))
    if aborted:
        console.info("run stopped early at %.1f s: %s", aborted["at_s"], aborted["gate"])
    if path := option(environment, "ml_junit"):
        text = junit_xml(results)
        write = lambda target: Path(target).write_text(text)  # noqa: E731
        attempt(f"--ml-junit {path}", write, failures, path)
    code = exit_code(results)
    if code is not None:
        environment.process_exit_code = code


def watch(
    environment: Environment, spec: GateSpec, summarise: Callable[[], Figures | None], run: MLRun
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


class StageParts(TypedDict, total=False):
    """The summary's load-plan keys: `stages`, and `breaking_point` or `stage_failure`."""

    stages: list[StageVerdict]
    breaking_point: BreakingPoint
    stage_failure: StageVerdict


def stage_parts(environment: Environment, profile: Profile) -> StageParts:
    """Stage verdicts of a load plan, and for step-to-failure its breaking point (finding one is
    its purpose) or for staged validation the stage it stopped at; empty without stage gates."""
    shape = cast("ProfileShape", environment.shape_class)  # one with stage verdicts is, below
    verdicts = getattr(shape, "verdicts", None)
    plan = plan_for(environment, profile)
    if not verdicts or plan is None:
        return {}
    if plan.shape == "step":
        return {"stages": verdicts, "breaking_point": shape.breaking_point()}
    if shape.failure is not None:
        return {"stages": verdicts, "stage_failure": shape.failure}
    return {"stages": verdicts}


def report_stages(environment: Environment, parts: StageParts) -> None:
    """Print the stage verdicts; staged validation fails the run (exit 3) at its first failing
    stage, while a step plan's breaking point is what it was run to find."""
    if "stages" not in parts:
        return
    lines = ["Stage verdicts"]
    for v in parts["stages"]:
        lines.append(f"  {v['name']:<20} {'pass' if v['passed'] else 'FAIL'}")
        lines += [f"      {g['message']}" for g in v["gates"] if g["status"] != PASS or v["passed"]]
    if "breaking_point" in parts:
        point = parts["breaking_point"]
        last = point["last_passing"]["name"] if point["last_passing"] else "none"
        first = point["first_failing"]["name"] if point["first_failing"] else "none within the plan"
        lines.append(f"breaking point: last passing step {last}; first failing step {first}")
        lines += [f"  broke: {message}" for message in point["broken"]]
    elif "stage_failure" in parts:
        lines.append(f"stopped at stage {parts['stage_failure']['name']!r}: its gates failed")
        environment.process_exit_code = EXIT_GATE_FAILED
    console.info("\n%s\n", "\n".join(lines))
