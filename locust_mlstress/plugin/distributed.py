"""Distributed runs: what a worker sends the master, what the master adds up, and the last reports.

- Every process records its users' requests into its `QualityRecorder`. A worker sends what it
  recorded since its last report in `report_to_master` and forgets it; the master adds it in
  `worker_report`. A local runner feeds its own monitor directly (plugin/lifecycle.py).
- A worker learns the run's worker count, and how far into the run it is, from `mlstress_run` in
  the master's options: Locust sends the master's custom options with every spawn message and a
  worker applies them before it fires `test_start`, so a worker that joins mid-run learns them
  too (a message of our own would reach it before its listeners exist). User identities depend
  on the count (users/context.py), so a run on W workers sends what one process would; a late
  joiner's clock starts where the run's is, so its requests fall in the run's windows.
- A master stopped by Ctrl-C or SIGTERM fires `quitting` while the workers still run:
  `await_final_reports` asks them to quit and waits, bounded, for each one's final report.
"""

from __future__ import annotations

import logging
import time
from typing import cast

import gevent
from locust.env import Environment
from locust.rpc import Message
from locust.runners import STATE_MISSING, STATE_RUNNING, STATE_SPAWNING, MasterRunner, WorkerRunner

from locust_mlstress.plugin.state import state_of
from locust_mlstress.users.context import option

logger = logging.getLogger("locust_mlstress")
REPORT_KEY = "mlstress"
RUN_OPTION = "mlstress_run"  # in the master's options, to every worker: {"workers": N, "elapsed_s": t}
FINAL_REPORT_WAIT_S = 5.0  # how long a master stopped by Ctrl-C/SIGTERM waits for the workers' final reports


def announce_run(environment: Environment) -> None:
    """At a test start on a master: note how many workers the run has, for every spawn message."""
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        state = state_of(environment)
        state.worker_count = max(1, runner.worker_count)
        _publish(environment, {"workers": state.worker_count, "elapsed_s": 0.0})


def note_run_time(environment: Environment, elapsed_s: float) -> None:
    """On a master, each second: how far into the run it is, for a worker that joins now."""
    if isinstance(environment.runner, MasterRunner):
        _publish(environment, {"workers": state_of(environment).worker_count, "elapsed_s": round(elapsed_s, 3)})


def note_missing(environment: Environment) -> None:
    """On a master, each second: the workers Locust marks missing, remembered, because Locust
    forgets a worker about a minute after it went missing, and the summary must still name it."""
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        state_of(environment).run.lost.update(c.id for c in runner.clients.values() if c.state == STATE_MISSING)


def missing_workers(environment: Environment) -> list[str]:
    """The workers missing at the end: missing now, or gone missing and since forgotten by
    Locust. One that went missing and came back (its heartbeats again) is not."""
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        return []
    known = {c.id: c.state for c in runner.clients.values()}
    forgotten = {worker for worker in state_of(environment).run.lost if worker not in known}
    return sorted({worker for worker, s in known.items() if s == STATE_MISSING} | forgotten)


def _publish(environment: Environment, info: dict) -> None:
    if environment.parsed_options is not None:  # None for a library caller: it has no workers
        setattr(environment.parsed_options, RUN_OPTION, info)


def join_run(environment: Environment) -> None:
    """At a worker's test start: the run's worker count, and its clock moved back to the run's
    start when it joins late (to within the master's one-second update and the network)."""
    info = option(environment, RUN_OPTION)
    if not isinstance(info, dict):
        return
    state = state_of(environment)
    workers, elapsed = info.get("workers"), info.get("elapsed_s")
    if isinstance(workers, int) and workers > 0:
        state.worker_count = workers
    if isinstance(elapsed, int | float) and elapsed > 0:
        state.t0 -= elapsed
        state.started -= elapsed


def await_final_reports(environment: Environment, bound_s: float = FINAL_REPORT_WAIT_S) -> list[str]:
    """On a master stopped while its test runs (Ctrl-C, SIGTERM: Locust fires `quitting` before it
    tells the workers to quit), ask each connected worker to quit and wait until each has left,
    at most `bound_s`: a worker sends its final report, then its `quit`, on one ordered
    connection, so once it has left its last figures are in. The ids that never left; [] on a
    local runner or when the workers were already told to quit. A second Ctrl-C ends the wait."""
    runner = environment.runner
    if not isinstance(runner, MasterRunner) or runner.state not in (STATE_SPAWNING, STATE_RUNNING):
        return []
    return _collect(runner, bound_s)


def collect_at_stop(environment: Environment, bound_s: float = FINAL_REPORT_WAIT_S) -> None:
    """A headless master's test stop ends its run: Locust then tells the workers to quit and
    waits a fixed half second for their final reports, which workers on a loaded host can miss
    (Locust's totals and ours would both lack them). At `test_stop`, while the master still
    listens, ask them to quit and wait for each as `await_final_reports` does; the ids that never
    left go to `MLRun.unreported`. Nothing elsewhere: a web UI's Stop keeps its workers."""
    runner = environment.runner
    run = state_of(environment).run
    if (
        isinstance(runner, MasterRunner)
        and run.monitor is not None
        and getattr(environment.parsed_options, "headless", False)
    ):
        run.unreported = _collect(runner, bound_s)


def _collect(runner: MasterRunner, bound_s: float) -> list[str]:
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


def send_report(environment: Environment, data: dict) -> None:
    """A worker's `report_to_master`: what its users recorded since the last report."""
    state = state_of(environment)
    run = state.run
    if run.recorder is not None:
        data[REPORT_KEY] = run.recorder.take_delta()
        if state.model_versions:
            data[REPORT_KEY + "_versions"] = dict(state.model_versions)
    if run.traces is not None:
        data[REPORT_KEY + "_traces"] = list(run.traces.take())
    if state.arrivals.unsent:
        data[REPORT_KEY + "_arrivals"] = state.arrivals.take_delta()
    if run.probe is not None and run.probe.pending:
        data[REPORT_KEY + "_health"] = run.probe.take()


def receive_report(environment: Environment, client_id: str, data: dict) -> None:
    """The master's `worker_report`: a worker's figures added to the run's."""
    state = state_of(environment)
    run = state.run
    if run.monitor is not None and REPORT_KEY in data:
        run.monitor.absorb(data[REPORT_KEY], source=client_id)
        for version, name in (data.get(REPORT_KEY + "_versions") or {}).items():
            if state.model_versions.get(version) is None:
                state.model_versions[version] = name
    if run.trace_file is not None and REPORT_KEY + "_traces" in data:
        run.trace_file.add(*data[REPORT_KEY + "_traces"])
    if REPORT_KEY + "_arrivals" in data:
        state.arrivals.add(data[REPORT_KEY + "_arrivals"])
    if run.health is not None and REPORT_KEY + "_health" in data:
        run.health.add(client_id, data[REPORT_KEY + "_health"])


def send_final_report(environment: Environment) -> None:
    """A worker stopped by its own Ctrl-C/SIGTERM (e.g. --processes) reports what it recorded
    since its last report before Locust tells the master it quits (listeners of `quitting` run
    last-registered first). After a quit from the master this sends an empty report."""
    runner = cast(WorkerRunner, environment.runner)  # registered on a worker only
    try:
        runner._send_stats()  # Locust's and ours together, so both totals keep agreeing
    except Exception as exc:  # noqa: BLE001  (the master may be gone)
        logger.debug("final report not sent: %s", exc)
