"""A load plan as a value: stages of users, mix and arrival rate over time, and where t falls.

Read from a profile's `[load]` or `--ml-shape` by profile/plan.py; followed by the load shape
(plugin/shapes.py) and by every user's payload mix (users/context.py).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate


@dataclass(frozen=True)
class Stage:
    name: str
    duration: float
    users: int
    spawn_rate: float
    mix: dict[str, float] | None = None  # None: the profile's [mix]
    ramp_from: int | None = None  # users at the stage's start when it ramps linearly
    gates: tuple = ()  # Gate objects judged on this stage's own figures when it ends
    rate: float | None = None  # open-model arrivals per second per dispatcher (arrivals.py)


@dataclass(frozen=True)
class LoadPlan:
    shape: str
    stages: tuple[Stage, ...]

    @cached_property
    def ends(self) -> tuple[float, ...]:
        """Each stage's end, seconds into the test: the durations summed in order from 0.0 (none
        is negative, so the ends never decrease and `stage_at` can bisect them)."""
        return tuple(accumulate((s.duration for s in self.stages), initial=0.0))[1:]

    @cached_property
    def starts(self) -> tuple[float, ...]:
        """Each stage's start: 0.0, then the previous stage's end."""
        return ((0.0,) + self.ends)[:-1]

    @property
    def duration(self) -> float:
        return self.ends[-1] if self.ends else 0

    def stage_at(self, t: float) -> tuple[int, Stage] | None:
        """(index, stage) in force t seconds into the test: the first stage with t < its end;
        None once the plan is over."""
        i = bisect_right(self.ends, t)
        return (i, self.stages[i]) if i < len(self.stages) else None

    def users_at(self, t: float) -> tuple[int, float] | None:
        """(users, spawn rate) at t: what a LoadTestShape's tick() returns; None to stop."""
        found = self.stage_at(t)
        if found is None:
            return None
        i, stage = found
        if stage.ramp_from is None:
            return stage.users, stage.spawn_rate
        into = t - self.starts[i]
        users = stage.ramp_from + (stage.users - stage.ramp_from) * into / stage.duration
        return max(0, round(users)), stage.spawn_rate

    def timeline(self) -> list[dict]:
        """The planned stages with their start and end, for the run record."""
        return [
            {"name": s.name, "start_s": start, "end_s": end, "users": s.users, "mix": s.mix}
            for s, start, end in zip(self.stages, self.starts, self.ends, strict=True)
        ]


def stage_of(plan: LoadPlan | None) -> Callable[[float], int] | None:
    """t -> the plan's stage index (the last after the plan ends), for the recorder; None without
    a plan whose stages have gates (only those need per-stage figures)."""
    if plan is None or not any(s.gates for s in plan.stages):
        return None
    last = len(plan.stages) - 1

    def index(t: float) -> int:
        found = plan.stage_at(t)
        return found[0] if found is not None else last

    return index
