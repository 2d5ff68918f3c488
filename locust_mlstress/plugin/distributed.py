"""Distributed runs: what a worker sends the master, what the master adds up, and the last reports.

- Every process records its users' requests into its `QualityRecorder`. A worker sends what it
  recorded since its last report in `report_to_master` and forgets it; the master adds it in
  `worker_report`. A local runner feeds its own monitor directly (plugin/lifecycle.py).
- A worker learns the run's worker count from the master's `mlstress_run` message, sent at the
  test start ahead of the spawn messages on the same ordered connection: user identities depend
  on it (users/context.py), so a run on W workers sends what one process would.
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

logger = logging.getLogger("locust_mlstress")
REPORT_KEY = "mlstress"
RUN_MESSAGE = "mlstress_run"  # master -> worker at each test start: {"workers": N}
FINAL_REPORT_WAIT_S = 5.0  # how long a master stopped by Ctrl-C/SIGTERM waits for the workers' final reports


def announce_run(environment: Environment) -> None:
    """At a test start on a master: note how many workers the run has, and tell each of them."""
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        state = state_of(environment)
        state.worker_count = max(1, runner.worker_count)
        runner.send_message(RUN_MESSAGE, {"workers": state.worker_count})


def welcome_worker(environment: Environment, client_id: str) -> None:
    """A worker that connects after the test start learns the count the others run with."""
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.send_message(RUN_MESSAGE, {"workers": state_of(environment).worker_count}, client_id=client_id)


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


def on_run_message(environment: Environment, msg: Message) -> None:
    """A worker's handler of `RUN_MESSAGE` (see `announce_run`)."""
    workers = msg.data.get("workers") if isinstance(msg.data, dict) else None
    if isinstance(workers, int) and workers > 0:
        state_of(environment).worker_count = workers
