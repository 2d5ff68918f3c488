"""What the fault proxy does to each request: the faults in force per stage, and a seeded draw.

Pure: no sockets, no clock. The proxy asks `FaultPlan.at(t)` which stage's faults hold `t`
seconds after its clock started, then `decide(faults, seed, key)` what to do with one request.
The draw depends on the seed and the request's key only (its `X-Request-ID`, which the
project's payloads make deterministic, or its arrival number), never on timing, so a rerun
injects the same faults into the same requests, exactly like the payloads' drift draws.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

Action = Literal["forward", "reset", "blackhole", "down"]
JITTERS = ("uniform", "normal")
BANDWIDTH_ON = ("both", "response", "request")
CLOCKS = ("first-request", "listen")
AFTER_PLAN = "after plan"  # the stage name reported once the timeline has ended
WHOLE_RUN = "run"  # the stage name when there is no timeline


@dataclass(frozen=True)
class FaultSet:
    """The faults of one stage. Shares are of requests; `reset` and `blackhole` share one draw,
    so their sum is at most 1 and a request gets at most one of them."""

    latency_ms: float = 0.0  # added after the target answered, before the answer is relayed
    jitter_ms: float = 0.0  # uniform: ± this; normal: this standard deviation
    jitter: Literal["uniform", "normal"] = "uniform"
    bandwidth: float | None = None  # bytes per second per connection and direction; None: unlimited
    bandwidth_on: Literal["both", "response", "request"] = "both"
    reset: float = 0.0  # share of requests answered by a TCP reset (SO_LINGER 0), never forwarded
    blackhole: float = 0.0  # share of requests never forwarded nor answered
    blackhole_hold_s: float = 60.0  # a black-holed connection is closed after this, at the latest
    down: bool = False  # the target is down: every request is reset (or answered down_status)
    down_status: int | None = None  # with down: answer this status instead of resetting

    def describe(self) -> str:
        """One line for the log: the faults that are on."""
        parts = []
        if self.down:
            parts.append(f"down ({self.down_status or 'reset'})")
        if self.latency_ms or self.jitter_ms:
            jitter = f" ± {self.jitter_ms:g} ({self.jitter})" if self.jitter_ms else ""
            parts.append(f"latency {self.latency_ms:g} ms{jitter}")
        if self.bandwidth is not None:
            parts.append(f"bandwidth {self.bandwidth:g} B/s ({self.bandwidth_on})")
        if self.reset:
            parts.append(f"reset {self.reset:.1%}")
        if self.blackhole:
            parts.append(f"blackhole {self.blackhole:.1%} (hold {self.blackhole_hold_s:g} s)")
        return ", ".join(parts) or "no faults"


@dataclass(frozen=True)
class FaultStage:
    name: str
    start_s: float
    end_s: float
    faults: FaultSet


@dataclass(frozen=True)
class FaultPlan:
    """The base faults, and a timeline of stages whose faults replace them while they run."""

    base: FaultSet = FaultSet()
    stages: tuple[FaultStage, ...] = ()
    seed: int = 0
    clock: Literal["first-request", "listen"] = "first-request"

    def at(self, t: float) -> tuple[str, FaultSet]:
        """(stage name, faults) in force t seconds after the clock started."""
        if not self.stages:
            return WHOLE_RUN, self.base
        for stage in self.stages:
            if t < stage.end_s:
                return stage.name, stage.faults
        return AFTER_PLAN, self.base

    def describe(self) -> list[str]:
        """The plan in a few lines, for the proxy's start-up log."""
        lines = [f"seed {self.seed}, clock from {self.clock}"]
        if not self.stages:
            return [*lines, f"whole run: {self.base.describe()}"]
        lines += [f"{s.start_s:>7g}-{s.end_s:<7g}s  {s.name:<16} {s.faults.describe()}" for s in self.stages]
        return [*lines, f"after the plan: {self.base.describe()}"]


@dataclass(frozen=True)
class Decision:
    action: Action
    delay_s: float = 0.0  # forward: latency and jitter to add before relaying the answer


def decide(faults: FaultSet, seed: int, key: str) -> Decision:
    """What to do with the request whose key is `key`. One uniform number picks reset or
    blackhole (so shares are exact in expectation and never overlap), a second the jitter."""
    if faults.down:
        return Decision("down")
    rng = random.Random(f"{seed}/{key}")  # str seeding hashes with SHA-512: stable across runs and versions
    u = rng.random()
    if u < faults.reset:
        return Decision("reset")
    if u < faults.reset + faults.blackhole:
        return Decision("blackhole")
    jitter = 0.0
    if faults.jitter_ms:
        jitter = (
            rng.uniform(-faults.jitter_ms, faults.jitter_ms)
            if faults.jitter == "uniform"
            else rng.gauss(0.0, faults.jitter_ms)
        )
    return Decision("forward", max(0.0, faults.latency_ms + jitter) / 1000.0)
