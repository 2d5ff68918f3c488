"""The one object locust-mlstress keeps on a Locust environment, and the run it holds.

`MLState` extends the users' `RunContext` (users/context.py) with what the plugin needs: the
quality state of the current test (`MLRun`, replaced at each test start) and the console lines
held back until Locust has printed its own. `register()` (plugin/__init__.py) makes it the class
`context_of` builds, so users and plugin share the one object under `environment.mlstress`.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

import gevent
from locust.env import Environment
from locust.runners import WorkerRunner

from locust_mlstress.domain.gates import GateSpec
from locust_mlstress.domain.schema import Profile
from locust_mlstress.domain.summary import Aborted, BaselineHeader, RunSummary
from locust_mlstress.quality import QualityMonitor, QualityRecorder
from locust_mlstress.quality.generator import GeneratorHealth
from locust_mlstress.quality.traces import TraceFile, TraceSampler
from locust_mlstress.users.context import ATTRIBUTE, RunContext, context_of
from locust_mlstress.users.events import ml_events, ml_pair_events

if TYPE_CHECKING:
    from locust_mlstress.plugin.console import HeldConsole
    from locust_mlstress.plugin.health import HealthProbe
    from locust_mlstress.plugin.observe import Exports


def new_run_id() -> str:
    """When the test started (UTC) and four random hex digits: sorts by time, unique enough to
    tell apart the runs of one dashboard."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(2)


@dataclass
class MLRun:
    """One test's quality state; replaced at each test start."""

    profile: Profile | None = None
    run_id: str = field(default_factory=new_run_id)  # names the run in exports and the summary
    recorder: QualityRecorder | None = None
    monitor: QualityMonitor | None = None
    baseline_header: BaselineHeader | None = None
    summary: RunSummary | None = None
    traces: TraceSampler | None = None  # processes with users, when --ml-artifacts is given
    trace_file: TraceFile | None = None  # the local runner or master
    gates: GateSpec | None = None  # the local runner or master
    watcher: gevent.Greenlet | None = None  # judges the gates during the run (abort_on_fail)
    counter: gevent.Greenlet | None = None  # notes the running user count each second
    aborted: Aborted | None = None
    unreported: list[str] = field(default_factory=list)  # workers whose final report never came
    lost: set[str] = field(default_factory=set)  # workers a master saw missing during the run
    health: GeneratorHealth | None = None  # the local runner or master: every process's health rows
    probe: HealthProbe | None = None  # processes with users: this one's health (plugin/health.py)
    prober: gevent.Greenlet | None = None  # runs the probe

    def record(self, **kwargs) -> None:
        if self.recorder is not None:
            self.recorder.record(**kwargs)
        if self.traces is not None:
            self.traces.record(**kwargs)
            if self.trace_file is not None and len(self.traces.pending) >= 100:
                self.trace_file.add(*self.traces.take())

    def record_pair(self, **kwargs) -> None:
        if self.recorder is not None:
            self.recorder.record_pair(**kwargs)

    def stop(self) -> None:
        """Kill the run's greenlets: the gate watcher, the user counter and the health probe."""
        for greenlet in (self.watcher, self.counter, self.prober):
            if greenlet is not None:
                greenlet.kill(block=False)


@dataclass(eq=False)
class MLState(RunContext):
    run: MLRun = field(default_factory=MLRun)
    held: HeldConsole | None = None  # the end-of-run console lines, until Locust's tables are out
    exports: Exports | None = None  # --ml-prometheus-port and --otel (plugin/observe.py)

    @classmethod
    def make(cls, environment: Environment) -> MLState:
        """A state whose run records every `ml_request` and `ml_pair` of the environment (the run of the
        moment: a test start replaces it). A stand-in environment (the web UI's form check)
        has no events to listen to."""
        state = cls()
        if isinstance(environment, Environment):
            ml_events(environment).add_listener(lambda **kw: state.run.record(**kw))
            ml_pair_events(environment).add_listener(lambda **kw: state.run.record_pair(**kw))
        return state


def is_worker(environment: Environment) -> bool:
    """Whether this process is a worker. A worker that joins a running test fires `test_start`
    inside its runner's constructor, before `environment.runner` is set: its options say it."""
    if environment.runner is not None:
        return isinstance(environment.runner, WorkerRunner)
    return bool(getattr(environment.parsed_options, "worker", False))


def state_of(environment: Environment) -> MLState:
    """The environment's state, made on first use."""
    context = context_of(environment)
    if isinstance(context, MLState):
        return context
    # made before the plugin registered (a library caller's users came first): carry it over
    state = MLState.make(environment)
    for f in fields(RunContext):
        setattr(state, f.name, getattr(context, f.name))
    setattr(environment, ATTRIBUTE, state)
    return state
