"""Load shapes from the profile's `[load]` plan: ramp, spike, soak, seasonal, custom stages.

Import the shape into a locustfile and Locust uses it:

    from locust_mlstress.shapes import ProfileShape  # noqa: F401

The shape ticks on the master (or local runner) only; the stages' payload mixes are applied by
every process's users from the same plan and their own clock (`mix_for`).
"""

from __future__ import annotations

from locust import LoadTestShape

from .payloads.factory import Mix, cumulative
from .profile.model import Profile


def mix_for(profile: Profile) -> Mix | None:
    """The kind weights in force at t under the profile's plan; None when no stage changes them."""
    plan = profile.load
    if plan is None or all(s.mix is None for s in plan.stages):
        return None
    base = cumulative(profile.kind_weights)
    per_stage = [cumulative(s.mix) if s.mix is not None else base for s in plan.stages]
    ends, acc = [], 0.0
    for s in plan.stages:
        acc += s.duration
        ends.append(acc)

    def mix(t: float) -> list[float]:
        for end, weights in zip(ends, per_stage, strict=True):
            if t < end:
                return weights
        return per_stage[-1]

    return mix


class ProfileShape(LoadTestShape):
    """Users over time as the profile's `[load]` section says; stops when the plan ends."""

    abstract = False

    def __init__(self) -> None:
        super().__init__()
        self._stage = -1
        self.timeline: list[dict] = []  # stages as they began, for the run record

    def reset_time(self) -> None:
        super().reset_time()
        self._stage = -1
        self.timeline = []

    def _plan(self):
        from .runtime import ml_user_classes, resolve_profile

        environment = self.runner.environment
        classes = ml_user_classes(environment)
        profile = resolve_profile(classes[0], environment, quiet=True) if classes else None
        return profile.load if profile is not None else None

    def tick(self) -> tuple[int, float] | None:
        plan = self._plan()
        if plan is None:
            return None  # the init check has already refused a profile without [load]
        t = self.get_run_time()
        found = plan.stage_at(t)
        if found is None:
            return None
        index, stage = found
        if index != self._stage:
            self._stage = index
            self.timeline.append(
                {"index": index, "name": stage.name, "started_s": round(t, 3), "users": stage.users, "mix": stage.mix}
            )
        return plan.users_at(t)
