"""Load shapes from the profile's `[load]` plan: ramp, spike, soak, seasonal, custom stages.

Import the shape into a locustfile and Locust uses it:

    from locust_mlstress.plugin.shapes import ProfileShape  # noqa: F401

The shape ticks on the master (or local runner) only; the stages' payload mixes are applied by
every process's users from the same plan and their own clock (`mix_for`).
"""

from __future__ import annotations

from locust import LoadTestShape
from locust.runners import MasterRunner

from locust_mlstress.domain.plan import LoadPlan
from locust_mlstress.domain.schema import Profile
from locust_mlstress.domain.summary import BreakingPoint, StageVerdict, no_figures
from locust_mlstress.gates import evaluate
from locust_mlstress.plugin.lifecycle import current_monitor, run_profile
from locust_mlstress.plugin.state import state_of
from locust_mlstress.quality.generator import mark_figures
from locust_mlstress.users.context import plan_for

SETTLE_LOCAL_S = 0.5  # a local recorder hands its data over at once
SETTLE_MASTER_S = 4.0  # workers report every 3 s: wait for a stage's last reports


class ProfileShape(LoadTestShape):
    """Users over time as the profile's `[load]` section says; stops when the plan ends, or at
    the first stage whose gates fail (staged validation, step-to-failure)."""

    abstract = False

    def __init__(self) -> None:
        super().__init__()
        self.reset_time()

    def reset_time(self) -> None:
        super().reset_time()
        self._stage = -1
        self.timeline: list[dict] = []  # stages as they began, for the run record
        self.verdicts: list[StageVerdict] = []  # stages whose gates were judged, in order
        self.failure: StageVerdict | None = None  # the first stage whose gates failed

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None  # Locust gives a shape its runner before it asks for ticks
        profile = run_profile(self.runner.environment)
        plan = plan_for(self.runner.environment, profile) if profile is not None else None
        if profile is None or plan is None or self.failure is not None:
            return None  # the init check has already refused a profile without [load]
        t = self.get_run_time()
        self._judge_ended_stages(profile, plan, t)
        if self.failure is not None:
            return None
        found = plan.stage_at(t)
        if found is None:
            waiting = len(self.verdicts) < sum(bool(s.gates) for s in plan.stages)
            return (0, plan.stages[-1].spawn_rate) if waiting else None  # hold on for the last verdict
        index, stage = found
        if index != self._stage:
            self._stage = index
            self.timeline.append(
                {"index": index, "name": stage.name, "started_s": round(t, 3), "users": stage.users, "mix": stage.mix}
            )
        return plan.users_at(t)

    def _judge_ended_stages(self, profile: Profile, plan: LoadPlan, t: float) -> None:
        assert self.runner is not None  # called from tick
        settle = SETTLE_MASTER_S if isinstance(self.runner, MasterRunner) else SETTLE_LOCAL_S
        judged = {v["index"] for v in self.verdicts}
        for index, (stage, end) in enumerate(zip(plan.stages, plan.ends, strict=True)):
            if not stage.gates or index in judged or t < end + settle:
                continue
            monitor = current_monitor(self.runner.environment)
            if monitor is None:
                return
            summary = monitor.stage_summary(index, stage.duration) or no_figures(stage.duration)
            if (health := state_of(self.runner.environment).run.health) is not None:
                mark_figures(summary, health.unreliable(end - stage.duration, end))
            results = evaluate(list(stage.gates), summary, min_samples=profile.gates.min_samples,
                               inconclusive=profile.gates.inconclusive)  # fmt: skip
            verdict: StageVerdict = {
                "index": index, "name": stage.name, "users": stage.users,
                "passed": all(r.passed for r in results),
                "gates": [{"gate": r.gate.text, "status": r.status, "message": r.message} for r in results],
            }  # fmt: skip
            self.verdicts.append(verdict)
            if not verdict["passed"]:
                self.failure = verdict
                return

    def breaking_point(self) -> BreakingPoint:
        """Step-to-failure: the last step whose SLOs held, the first that broke, and how."""
        passed = [v for v in self.verdicts if v["passed"]]
        return {
            "last_passing": passed[-1] if passed else None,
            "first_failing": self.failure,
            "broken": [g["message"] for g in self.failure["gates"] if g["status"] != "pass"] if self.failure else [],
        }
