"""A run's life: a fresh recorder and monitor at each test start, final figures and files at the end.

- `start` (test start): every process with users records their requests (`ml_request`) into a
  `QualityRecorder`; a local runner or master holds the `QualityMonitor` the figures come from
  (a worker's recorder is emptied into the master's by plugin/distributed.py).
- `finish` (`quitting`): on a headless master `test_stop` fires before the workers' last
  reports arrive; by `quitting` they are in. Not so after Ctrl-C or SIGTERM on a master: Locust
  fires `quitting` while the workers still run, so `finish` first waits, bounded, for their
  final reports (`await_final_reports`); those that never answer are named in the summary's
  `workers.missing` and make the gates inconclusive. Gates are judged there too: Locust reads
  `environment.process_exit_code` right after `quitting`.
- What that prints (the summary, gate and stage verdicts) is held back and printed at `quit`,
  which Locust fires after its own final tables: the ML summary is the last thing a run prints.
"""

from __future__ import annotations

import atexit
import logging
from typing import TypeVar

import gevent
from locust.env import Environment
from locust.runners import STATE_RUNNING, STATE_SPAWNING, MasterRunner

from locust_mlstress.domain.gates import GateSpec
from locust_mlstress.domain.plan import stage_of
from locust_mlstress.domain.schema import Profile
from locust_mlstress.domain.summary import SCHEMA_VERSION, Figures, LiveSummary, RunSummary
from locust_mlstress.gates import comparison_verdict
from locust_mlstress.plugin.console import HeldConsole, console
from locust_mlstress.plugin.distributed import (
    await_final_reports,
    join_run,
    missing_workers,
    note_missing,
    note_run_time,
)
from locust_mlstress.plugin.gates import (
    final_results,
    gate_spec,
    report_results,
    report_stages,
    stage_parts,
    verdicts_of,
    watch,
)
from locust_mlstress.plugin.health import HealthProbe
from locust_mlstress.plugin.outputs import attempt, finish_code, write_outputs
from locust_mlstress.plugin.state import MLRun, is_worker, state_of
from locust_mlstress.quality import QualityMonitor, QualityRecorder, Warmup
from locust_mlstress.quality.baseline import load_baseline, profile_identity, save_baseline
from locust_mlstress.quality.generator import LAG_MS, GeneratorHealth, mark_figures, mark_summary
from locust_mlstress.quality.traces import TraceFile, TraceSampler
from locust_mlstress.report.console import format_comparison, format_summary
from locust_mlstress.report.manifest import mask_host
from locust_mlstress.users.behaviour import ml_user_classes
from locust_mlstress.users.challenger import challenger_settings
from locust_mlstress.users.context import option, plan_for, resolve_profile

logger = logging.getLogger("locust_mlstress")


def finish_held(environment: Environment) -> HeldConsole:
    """`finish`, its console lines held back: what `quitting` runs. They are printed by the
    `quit` listener, or at interpreter exit when `quit` never fires (a library caller that only
    fires `quitting`); whichever comes first prints them, the other finds nothing left."""
    held = state_of(environment).held = HeldConsole()
    atexit.register(held.release)  # first: what was held before an error in `finish` still prints
    console.addFilter(held)
    try:
        finish(environment)
    except KeyboardInterrupt:  # a second Ctrl-C outside the file writes, which catch their own
        logger.error("interrupted again while finishing the run; the ML summary may be incomplete")
    finally:
        console.removeFilter(held)
    return held


def release_held(environment: Environment) -> None:
    held = state_of(environment).held
    if held is not None:
        held.release()


def run_profile(environment: Environment) -> Profile | None:
    """The profile of the run's ML users (the first ML user class's); None without one."""
    classes = ml_user_classes(environment)
    return resolve_profile(classes[0], environment, quiet=True) if classes else None


def start(environment: Environment) -> MLRun:
    """A fresh clock, recorder (and, on a local runner or master, monitor) for a new test."""
    state = state_of(environment)
    state.begin()
    worker = is_worker(environment)
    if worker:
        join_run(environment)
    old = state.run
    old.stop()
    run = state.run = MLRun()
    run.profile = profile = run_profile(environment)
    if profile is None:
        return old if old.profile is None else run
    window = float(option(environment, "ml_window", 10.0))
    artifacts = option(environment, "ml_artifacts")
    if not worker:
        baseline = None
        path = option(environment, "ml_baseline")
        if path:
            baseline, run.baseline_header = load_baseline(path, profile)
        run.monitor = QualityMonitor(
            profile,
            window_s=window,
            warmup=Warmup.parse(option(environment, "ml_warmup", "10s")),
            baseline=baseline,
        )
        run.counter = gevent.spawn(_count_users, environment, run.monitor)
        run.health = GeneratorHealth(float(option(environment, "ml_generator_lag_ms", LAG_MS)))
        run.gates = gate_spec(environment, profile)
        if run.gates.abort_on_fail and run.gates.checks:
            run.watcher = watch(environment, run.gates, lambda: gate_summary(environment), run)
        if artifacts:
            run.trace_file = TraceFile(f"{artifacts}/traces.jsonl")
    if not isinstance(environment.runner, MasterRunner):
        sink = run.monitor.absorb if run.monitor is not None else None
        plan = plan_for(environment, profile)
        challenger = challenger_settings(environment, profile)
        tolerance = challenger.tolerance if challenger is not None else 0.0
        run.recorder = QualityRecorder(profile.output, window, state.clock(), sink, stage_of(plan), tolerance)
        if artifacts:
            run.traces = TraceSampler(float(option(environment, "ml_trace_rate", 0.01)))
        health = run.health
        local = (lambda row: health.add("local", [row])) if health is not None else None
        run.probe = HealthProbe(state.clock(), state.arrivals, local)
        run.prober = gevent.spawn(run.probe.run, environment)
    return run


def _count_users(environment: Environment, monitor: QualityMonitor) -> None:
    """Runs until the test finishes (killed in `finish` or by the next start)."""
    clock = state_of(environment).clock()
    while True:
        if environment.runner is not None and environment.runner.state in (STATE_SPAWNING, STATE_RUNNING):
            monitor.note_users(clock(), environment.runner.user_count)
            note_run_time(environment, clock())
            note_missing(environment)
        gevent.sleep(1.0)


def reset(environment: Environment) -> bool:
    """Locust's Reset button (`reset_stats`, fired on the process serving the web UI: a local
    runner or a master; workers are not told, so a report in flight counts, as in Locust's
    totals): the run's figures count afresh from the current window on, as Locust's statistics do
    from the click. The recorder of a local runner forgets its open window's counts, the monitor
    its totals, windows, pairs and warm-up (`QualityMonitor.reset`), and the arrival counts and
    generator health start again; the run itself (clock, load plan, gates, traces, the user
    counter) goes on, and the end-of-run summary holds what came after the reset. Whether there
    was anything to reset: nothing before a test with a profile."""
    run = state_of(environment).run
    if run.recorder is not None:  # a local runner's open window, or a worker's unsent counts
        run.recorder.reset()
    state_of(environment).arrivals.reset()
    if run.monitor is None:  # a worker (`--reset-stats`), or no test with a profile yet
        return False
    run.monitor.reset(int(state_of(environment).clock()() // run.monitor.window_s))
    if run.health is not None:
        run.health.reset()
    logger.info("ML figures reset: counting afresh from now, warm-up included")
    return True


def reset_after_spawning(environment: Environment) -> bool:
    """Locust's `--reset-stats`: at every `spawning_complete` (the end of a ramp-up, and of each
    load-plan stage's) Locust clears its statistics, without firing `reset_stats`; ours follow, so
    the summary holds what Locust's tables hold. A worker forgets what it has not reported yet, as
    Locust's worker statistics do; the local runner or master counts afresh. Both happen in
    `reset`, in the same moment as Locust's own reset, so the totals stay equal. Whether the
    figures were reset (never on a worker: it holds none)."""
    return bool(environment.reset_stats) and reset(environment)


def current_monitor(environment: Environment) -> QualityMonitor | None:
    """The run's monitor holding everything recorded so far (a local recorder hands over its
    open window first); None on a worker, or without a profile."""
    run = state_of(environment).run
    if run.monitor is not None and run.recorder is not None:
        run.recorder.flush()
    return run.monitor


def _with_data(environment: Environment) -> tuple[QualityMonitor, float] | None:
    """The run's monitor and the seconds since the run's start; None before any data."""
    monitor = current_monitor(environment)
    if monitor is None or not monitor.totals:
        return None
    return monitor, state_of(environment).clock()()


def live_summary(environment: Environment) -> LiveSummary | None:
    """The figures so far, latency marked where the generator was saturated; None before any data."""
    found = _with_data(environment)
    if found is None:
        return None
    summary = found[0].summary(found[1])
    if (health := state_of(environment).run.health) is not None:
        mark_summary(summary, health)
    return _identify(environment, summary)


def gate_summary(environment: Environment) -> Figures | None:
    """What gates read of the figures so far (`kinds`, `all`, `duration_s`, `comparison`): the
    live summary without its per-window figures, for judging gates during the run; None before
    any data."""
    found = _with_data(environment)
    if found is None:
        return None
    figures = found[0].gate_figures(round(found[1], 3))
    if (health := state_of(environment).run.health) is not None:
        mark_figures(figures, health.unreliable(0.0, figures["duration_s"]))
    return _identify(environment, figures)


F = TypeVar("F", Figures, LiveSummary)


def _identify(environment: Environment, figures: F) -> F:
    """Name the challenger in a `comparison` block: its URL (credentials masked), the share
    mirrored, and the model version each version's answers named."""
    comparison = figures.get("comparison")
    profile = state_of(environment).run.profile
    settings = challenger_settings(environment, profile) if profile is not None else None
    if comparison is not None and settings is not None:
        comparison["challenger"] = mask_host(settings.url) or ""
        comparison["share"] = settings.share
        versions = state_of(environment).model_versions
        comparison["model_versions"] = {v: versions.get(v) for v in ("champion", "challenger")}
    return figures


def finish(environment: Environment) -> RunSummary | None:
    """Final figures, printed and written where the options say; None if nothing ran. The
    summary is built whole, once, before anything prints or is written: every output reads the
    same figures."""
    state = state_of(environment)
    run = state.run
    run.stop()
    unreported = await_final_reports(environment) if run.monitor is not None else []
    unreported = sorted(set(unreported) | set(run.unreported))  # asked at a headless test stop
    if run.traces is not None and run.trace_file is not None:
        run.trace_file.add(*run.traces.take())
    figures = live_summary(environment)
    if figures is None:
        return None
    # a summary comes from run.monitor, which start() makes only for a run with a profile
    assert run.monitor is not None and run.profile is not None
    results = final_results(run.gates or GateSpec(), figures, unreported)
    stages = stage_parts(environment, run.profile)
    summary: RunSummary = {
        "schema_version": SCHEMA_VERSION,
        **figures,
        "run": {
            "profile": profile_identity(run.profile),
            "host": mask_host(environment.host),
            "model_version": state.model_version,
            "run_id": run.run_id,
        },
    }
    if run.baseline_header is not None:
        summary["baseline"] = figures["baseline"] | {
            "path": str(option(environment, "ml_baseline")),
            **run.baseline_header,
        }
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        summary["workers"] = {
            "reported": sorted(figures["received"]),
            "missing": sorted(set(missing_workers(environment)) | set(unreported)),
        }
    if results:
        summary["gates"] = verdicts_of(results)
        if run.aborted:
            summary["aborted"] = run.aborted
    if (arrivals := state.arrivals.figures()) is not None:
        summary["arrivals"] = arrivals
    if "comparison" in summary:
        summary["comparison"]["verdict"], summary["comparison"]["reasons"] = comparison_verdict(results)
    summary.update(stages)
    run.summary = summary

    console.info("\n%s\n", format_summary(summary))
    if "comparison" in summary:
        console.info("\n%s\n", format_comparison(summary["comparison"]))
    failures: list[str] = []
    report_results(environment, results, run.aborted, failures)
    if arrivals is not None:
        console.info(
            "open-model arrivals: %s scheduled, %s sent, %s late, %s dropped; achieved %.1f/s",
            arrivals["scheduled"],
            arrivals["sent"],
            arrivals["late"],
            arrivals["dropped"],
            arrivals["achieved_rate"] or 0,
        )
    report_stages(environment, stages)
    if path := option(environment, "ml_save_baseline"):  # before the slow HTML: a second Ctrl-C spares it
        clean = run.monitor.totals.get("clean")
        if clean is None or clean.predictions.n == 0:
            logger.warning("--ml-save-baseline: no clean predictions were recorded; nothing saved")
        else:
            model = {
                "host": mask_host(environment.host),
                "path": run.profile.target.path,
                "version": state.model_version,
            }
            save = lambda target: save_baseline(target, run.profile, clean, model)  # noqa: E731
            attempt(f"--ml-save-baseline {path}", save, failures, path)
    write_outputs(environment, state, summary, failures=failures)
    finish_code(environment, failures)
    return summary
