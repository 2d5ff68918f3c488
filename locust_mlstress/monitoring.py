"""Locust wiring of the quality recorder and monitor: what runs where, and when.

- Every process records its users' requests (the `ml_request` hook) into a `QualityRecorder`.
- A worker sends what it recorded since its last report in `report_to_master` and forgets it;
  the master adds it in `worker_report`. A local runner feeds its own monitor directly.
- Final figures are computed in `quitting`: on a headless master `test_stop` fires before the
  workers' last reports arrive; by `quitting` they are in. Not so after Ctrl-C or SIGTERM on a
  master: Locust fires `quitting` while the workers still run, and tells them to quit only
  after. So `finish` first asks them to quit and waits, at most `FINAL_REPORT_WAIT_S`, for each
  one's final report (`await_final_reports`); those that never answer are named in the
  summary's `workers.missing` and make the gates inconclusive. A worker that is itself
  interrupted sends a final report before it tells the master it quits. Gates are judged there too: Locust
  reads `environment.process_exit_code` right after `quitting`.
- What that prints to the console (the summary, gate and stage verdicts) is held back and printed
  at `quit`, which Locust fires after its own final tables (requests, percentiles, errors): the
  ML summary is the last thing a run prints, not buried under ~60 lines of Locust's.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import gevent
from greenlet import getcurrent
from locust import events
from locust.env import Environment
from locust.rpc import Message
from locust.runners import STATE_MISSING, STATE_RUNNING, STATE_SPAWNING, MasterRunner, WorkerRunner

from .artifacts import attempt, finish_code, prepare, write_outputs
from .events import ml_events
from .gates import GateSpec
from .gating import conclude, conclude_stages, gate_spec, watch
from .profile.model import Profile
from .quality import QualityMonitor, QualityRecorder, Warmup
from .quality.arrival_counts import counts_for
from .quality.baseline import load_baseline, profile_identity, save_baseline
from .quality.traces import TraceFile, TraceSampler
from .report.console import format_summary
from .report.manifest import mask_host
from .runtime import clock_for, ml_user_classes, option, resolve_profile
from .shapes import plan_for, stage_of

REPORT_KEY = "mlstress"
console = logging.getLogger("locust.stats_logger")  # Locust's plain console logger
logger = logging.getLogger("locust_mlstress")
PACKAGE_DIR = str(Path(__file__).resolve().parent) + os.sep  # a prefix of our files, not of a sibling package
FINAL_REPORT_WAIT_S = 5.0  # how long a master stopped by Ctrl-C/SIGTERM waits for the workers' final reports


class HeldConsole(logging.Filter):
    """While added to the console logger, keeps back what this package logs there (Locust's own
    lines pass) until `release`, which prints it once: the end-of-run summary goes out after
    Locust's final tables. Records are told apart by the file that logged them."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if os.path.realpath(record.pathname).startswith(PACKAGE_DIR):  # as PACKAGE_DIR: absolute, links resolved
            self.records.append(record)
            return False
        return True

    def release(self) -> None:
        records, self.records = self.records, []
        for record in records:
            console.handle(record)


def finish_held(environment: Environment) -> HeldConsole:
    """`finish`, its console lines held back: what `quitting` runs. They are printed by the
    `quit` listener, or at interpreter exit when `quit` never fires (a library caller that only
    fires `quitting`); whichever comes first prints them, the other finds nothing left."""
    held = environment.mlstress_held = HeldConsole()  # type: ignore[attr-defined]  # plugin state
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
    held = getattr(environment, "mlstress_held", None)
    if held is not None:
        held.release()


@dataclass
class MLRun:
    """One environment's quality state; replaced at each test start."""

    profile: Profile | None = None
    recorder: QualityRecorder | None = None
    monitor: QualityMonitor | None = None
    baseline_header: dict | None = None
    model_version: str | None = None
    summary: dict | None = None
    traces: TraceSampler | None = None  # processes with users, when --ml-artifacts is given
    trace_file: TraceFile | None = None  # the local runner or master
    gates: GateSpec | None = None  # the local runner or master
    watcher: gevent.Greenlet | None = None  # judges the gates during the run (abort_on_fail)
    counter: gevent.Greenlet | None = None  # notes the running user count each second
    aborted: dict | None = None

    def record(self, **kwargs) -> None:
        if self.recorder is not None:
            self.recorder.record(**kwargs)
        if self.traces is not None:
            self.traces.record(**kwargs)
            if self.trace_file is not None and len(self.traces.pending) >= 100:
                self.trace_file.add(*self.traces.take())


def ml_run(environment: Environment) -> MLRun:
    run = getattr(environment, "mlstress_run", None)
    if run is None:
        # plugin state on Locust's Environment, which declares no such attribute
        run = environment.mlstress_run = MLRun()  # type: ignore[attr-defined]

        def record(**kw) -> None:  # the run of the moment: start() replaces it
            environment.mlstress_run.record(**kw)  # type: ignore[attr-defined]

        ml_events(environment).add_listener(record)
    return run


def run_profile(environment: Environment) -> Profile | None:
    """The profile of the run's ML users (the first ML user class's); None without one."""
    classes = ml_user_classes(environment)
    return resolve_profile(classes[0], environment, quiet=True) if classes else None


def start(environment: Environment) -> MLRun:
    """A fresh recorder (and, on a local runner or master, monitor) for a new test."""
    old = ml_run(environment)
    _stop(old)
    run = MLRun()
    environment.mlstress_run = run  # type: ignore[attr-defined]
    run.profile = profile = run_profile(environment)
    if profile is None:
        return old if old.profile is None else run
    window = float(option(environment, "ml_window", 10.0))
    artifacts = option(environment, "ml_artifacts")
    if not isinstance(environment.runner, WorkerRunner):
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
        run.gates = gate_spec(environment, profile)
        if run.gates.abort_on_fail and run.gates.checks:
            run.watcher = watch(environment, run.gates, lambda: gate_summary(environment), run)
        if artifacts:
            run.trace_file = TraceFile(f"{artifacts}/traces.jsonl")
    if not isinstance(environment.runner, MasterRunner):
        sink = run.monitor.absorb if run.monitor is not None else None
        plan = plan_for(environment, profile)
        run.recorder = QualityRecorder(profile.output, window, clock_for(environment), sink, stage_of(profile, plan))
        if artifacts:
            run.traces = TraceSampler(float(option(environment, "ml_trace_rate", 0.01)))
    return run


def _stop(run: MLRun) -> None:
    """Kill a run's greenlets: the gate watcher and the user counter."""
    for greenlet in (run.watcher, run.counter):
        if greenlet is not None:
            greenlet.kill(block=False)


def _count_users(environment: Environment, monitor: QualityMonitor) -> None:
    """Runs until the test finishes (killed in `finish` or by the next start)."""
    clock = clock_for(environment)
    while True:
        if environment.runner is not None and environment.runner.state in (STATE_SPAWNING, STATE_RUNNING):
            monitor.note_users(clock(), environment.runner.user_count)
        gevent.sleep(1.0)


def current_monitor(environment: Environment) -> QualityMonitor | None:
    """The run's monitor holding everything recorded so far (a local recorder hands over its
    open window first); None on a worker, or without a profile."""
    run = ml_run(environment)
    if run.monitor is not None and run.recorder is not None:
        run.recorder.flush()
    return run.monitor


def _so_far(environment: Environment, figures: Callable[[QualityMonitor, float], dict]) -> dict | None:
    """`figures` of the monitor now, with the run's `duration_s`; None before any data."""
    monitor = current_monitor(environment)
    if monitor is None or not monitor.totals:
        return None
    now = clock_for(environment)()
    summary = figures(monitor, now)
    summary["duration_s"] = round(now, 3)
    return summary


def live_summary(environment: Environment) -> dict | None:
    """The figures so far; None before any data."""
    return _so_far(environment, lambda monitor, now: monitor.summary(now))


def gate_summary(environment: Environment) -> dict | None:
    """What gates read of the figures so far (`kinds`, `all`, `duration_s`): the live summary
    without its per-window figures, for judging gates during the run; None before any data."""
    return _so_far(environment, lambda monitor, _now: monitor.gate_figures())


def await_final_reports(environment: Environment, bound_s: float = FINAL_REPORT_WAIT_S) -> list[str]:
    """On a master stopped while its test runs (Ctrl-C, SIGTERM: Locust fires `quitting` before it
    tells the workers to quit), ask each connected worker to quit and wait until each has left,
    at most `bound_s`: a worker sends its final report, then its `quit`, on one ordered
    connection, so once it has left its last figures are in. The ids that never left; [] on a
    local runner or when the workers were already told to quit. A second Ctrl-C ends the wait."""
    runner = environment.runner
    if not isinstance(runner, MasterRunner) or runner.state not in (STATE_SPAWNING, STATE_RUNNING):
        return []
    waiting = [c.id for c in runner.clients.values() if c.state != STATE_MISSING]
    if not waiting:
        return []
    logger.info("waiting up to %g s for the final reports of %d worker(s)", bound_s, len(waiting))
    try:
        for client_id in waiting:
            runner.server.send_to_client(Message("quit", None, client_id))
        deadline = time.monotonic() + bound_s
        while any(c in runner.clients for c in waiting) and time.monotonic() < deadline:
            gevent.sleep(0.05)
    except KeyboardInterrupt:
        logger.error("interrupted again: not waiting any longer for the workers' final reports")
    except Exception as exc:  # noqa: BLE001  (a closed connection: what came is what there is)
        logger.error("could not ask the workers for their final reports: %s", exc)
    lost = sorted(c for c in waiting if c in runner.clients)
    if lost:
        logger.error("no final report from worker(s) %s within %g s: their last figures are missing",
                     ", ".join(lost), bound_s)  # fmt: skip
    return lost


def finish(environment: Environment) -> dict | None:
    """Final figures, printed and written where the options say; None if nothing ran."""
    run = ml_run(environment)
    _stop(run)
    unreported = await_final_reports(environment) if run.monitor is not None else []
    if run.traces is not None and run.trace_file is not None:
        run.trace_file.add(*run.traces.take())
    summary = live_summary(environment)
    if summary is None:
        return None
    # a summary comes from run.monitor, which start() makes only for a run with a profile
    assert run.monitor is not None and run.profile is not None
    summary["run"] = {
        "profile": profile_identity(run.profile),
        "host": mask_host(environment.host),
        "model_version": run.model_version,
    }
    if run.baseline_header is not None:
        summary["baseline"] |= {"path": str(option(environment, "ml_baseline")), **run.baseline_header}
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        summary["workers"] = {
            "reported": sorted(summary["received"]),
            "missing": sorted({c.id for c in runner.clients.values() if c.state == STATE_MISSING} | set(unreported)),
        }
    run.summary = summary
    console.info("\n%s\n", format_summary(summary))
    failures: list[str] = []
    verdicts = conclude(environment, run.gates or GateSpec(), summary, run.aborted, failures, unreported)
    if verdicts:
        summary["gates"] = verdicts
        if run.aborted:
            summary["aborted"] = run.aborted
    arrivals = getattr(environment, "mlstress_arrivals", None)
    if arrivals is not None and (figures := arrivals.figures()) is not None:
        summary["arrivals"] = figures
        console.info(
            "open-model arrivals: %s scheduled, %s sent, %s late, %s dropped; achieved %.1f/s",
            figures["scheduled"],
            figures["sent"],
            figures["late"],
            figures["dropped"],
            figures["achieved_rate"] or 0,
        )
    conclude_stages(environment, run.profile, summary)
    if path := option(environment, "ml_save_baseline"):  # before the slow HTML: a second Ctrl-C spares it
        clean = run.monitor.totals.get("clean")
        if clean is None or clean.predictions.n == 0:
            logger.warning("--ml-save-baseline: no clean predictions were recorded; nothing saved")
        else:
            model = {"host": mask_host(environment.host), "path": run.profile.target.path, "version": run.model_version}
            save = lambda target: save_baseline(target, run.profile, clean, model)  # noqa: E731
            attempt(f"--ml-save-baseline {path}", save, failures, path)
    write_outputs(environment, run, summary, gates=verdicts, failures=failures)
    finish_code(environment, failures)
    return summary


def quiet_interrupts() -> None:
    """Ctrl-C without tracebacks, for the first press as for a second one.

    - Python raises KeyboardInterrupt in whatever runs when the signal comes: often a user's
      greenlet, which gevent then reports with a traceback before passing the interrupt on to
      the main greenlet. Here it goes straight to the main greenlet, where Locust expects it.
    - One that Locust itself does not catch (while a master waits for its workers before the
      test starts, or a second one while Locust shuts down) ends the process with one line on
      stderr instead of a traceback; any other uncaught exception keeps its traceback.
    Installed once, from the main greenlet, only over Python's own SIGINT handler."""
    previous = sys.excepthook
    if getattr(previous, "mlstress", False):
        return

    def hook(kind, value, tb) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.stderr.write("locust-mlstress: interrupted (Ctrl-C); the run ended here\n")
            return
        previous(kind, value, tb)

    hook.mlstress = True  # type: ignore[attr-defined]  # marks it installed (checked above)
    sys.excepthook = hook
    main = getcurrent()
    if main.parent is not None or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return

    def on_sigint(_signum, _frame) -> None:
        if getcurrent() is main:
            raise KeyboardInterrupt
        gevent.get_hub().loop.run_callback(main.throw, KeyboardInterrupt)

    signal.signal(signal.SIGINT, on_sigint)


@events.init.add_listener
def _wire(environment: Environment, **_kwargs) -> None:
    ml_run(environment)
    quiet_interrupts()
    if not isinstance(environment.runner, WorkerRunner):
        prepare(environment)

    def report(client_id, data, **_kw):
        run = ml_run(environment)
        if run.recorder is not None:
            data[REPORT_KEY] = run.recorder.take_delta()
            if run.model_version:
                data[REPORT_KEY + "_version"] = run.model_version
        if run.traces is not None:
            data[REPORT_KEY + "_traces"] = list(run.traces.take())
        arrivals = getattr(environment, "mlstress_arrivals", None)
        if arrivals is not None:
            data[REPORT_KEY + "_arrivals"] = arrivals.take_delta()

    def receive(client_id, data, **_kw):
        run = ml_run(environment)
        if run.monitor is not None and REPORT_KEY in data:
            run.monitor.absorb(data[REPORT_KEY], source=client_id)
            run.model_version = run.model_version or data.get(REPORT_KEY + "_version")
        if run.trace_file is not None and REPORT_KEY + "_traces" in data:
            run.trace_file.add(*data[REPORT_KEY + "_traces"])
        if REPORT_KEY + "_arrivals" in data:
            counts_for(environment).add(data[REPORT_KEY + "_arrivals"])

    def final_report(**_kw) -> None:
        """A worker stopped by its own Ctrl-C/SIGTERM (e.g. --processes) reports what it recorded
        since its last report before Locust tells the master it quits (listeners of `quitting`
        run last-registered first). After a quit from the master this sends an empty report."""
        runner = cast(WorkerRunner, environment.runner)  # registered on a worker only
        try:
            runner._send_stats()  # Locust's and ours together, so both totals keep agreeing
        except Exception as exc:  # noqa: BLE001  (the master may be gone)
            logger.debug("final report not sent: %s", exc)

    if isinstance(environment.runner, WorkerRunner):
        environment.events.report_to_master.add_listener(report)
        environment.events.quitting.add_listener(final_report)
    else:
        environment.events.worker_report.add_listener(receive)
        environment.events.quitting.add_listener(lambda environment, **_kw: finish_held(environment))
        environment.events.quit.add_listener(lambda **_kw: release_held(environment))


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_kwargs) -> None:
    start(environment)
