"""The `[load]` section: how many users over time, and which mix, as a list of stages.

Every shape reduces to stages, each holding a user count (fixed, or a ramp from the previous
stage's) and optionally its own payload mix. Because the plan lives in the profile, every
process computes the stage in force from its own test clock: the master's shape sets the user
count, each worker's payload factories read the stage's mix, with no message between them.

    [load]
    shape = "ramp"        # ramp | spike | soak | seasonal | stages
    users = 50
    up = 30               # seconds; then hold, then down
    hold = 120
    down = 30
"""

from __future__ import annotations

import math
from functools import lru_cache

from locust_mlstress.domain.plan import LoadPlan, Stage
from locust_mlstress.domain.schema import KINDS
from locust_mlstress.errors import ProfileError
from locust_mlstress.profile.fields import Table
from locust_mlstress.profile.gates import read_gate_list
from locust_mlstress.profile.limits import MAX_USERS

SHAPES = ("ramp", "spike", "soak", "seasonal", "stages", "step")
# A plan is a handful of stages; thousands are a typo (a step of 1 up to a million users), and
# building them would stall the run before its first request.
MAX_STAGES = 10_000


def read_plan(t: Table, kind_weights_ok, default_gates: tuple = ()) -> LoadPlan | None:
    """The plan, or None without a [load] section. `kind_weights_ok(table, mix)` checks a stage's
    mix against the variants the profile has; `default_gates` (the profile's [gates] checks) are
    the SLOs of a step-to-failure plan that names none of its own."""
    if not t.data:
        return None
    shape = t.str("shape", choices=SHAPES)
    rate = t.number("spawn_rate", 10.0, above=0)
    if shape == "step":
        start, step = t.integer("users", min=1, max=MAX_USERS), t.integer("step", min=1)
        length, top = t.number("step_duration", above=0), t.integer("max_users", min=1, max=MAX_USERS)
        slo = read_gate_list(t, "slo", default_gates, stage=True)
        if not slo:
            raise t.error("slo", "step-to-failure needs SLO checks: slo = [...] here, or [gates] checks")
        if top < start:
            raise t.error("max_users", f"must be >= users ({start}), got {top}")
        steps = range(start, top + 1, step)
        if len(steps) > MAX_STAGES:
            raise t.error("step", f"gives {len(steps)} steps from {start} to {top} users, more than {MAX_STAGES}; "
                                  "raise step or lower max_users")  # fmt: skip
        stages = tuple(Stage(f"{u} users", length, u, rate, gates=slo) for u in steps)
    elif shape == "stages":
        built: list[Stage] = []
        # a ramp starts from the previous stage's users (0 at first)
        for table in t.tables("stages", max_items=MAX_STAGES):
            built.append(_stage(table, rate, kind_weights_ok, built[-1].users if built else 0))
        stages = tuple(built)
        if any(s.gates for s in stages) and t.has("slo"):
            raise t.error("slo", 'is for shape = "step"; give each stage its own gates = [...]')
        if not stages:
            raise t.error("stages", "needs at least one [[load.stages]] table")
    elif shape == "ramp":
        users = t.integer("users", min=1, max=MAX_USERS)
        up, hold, down = t.number("up", min=0), t.number("hold", min=0), t.number("down", 0.0, min=0)
        stages = tuple(
            s
            for s in (
                Stage("ramp up", up, users, rate, ramp_from=0),
                Stage("hold", hold, users, rate),
                Stage("ramp down", down, 0, rate, ramp_from=users),
            )
            if s.duration > 0
        )
    elif shape == "spike":
        base, factor = t.integer("users", min=1, max=MAX_USERS), t.number("factor", above=1)
        at, length, total = t.number("at", min=0), t.number("duration", above=0), t.number("total", above=0)
        if at + length > total:
            raise t.error("total", f"must cover the spike: at ({at:g}) + duration ({length:g}) > total ({total:g})")
        try:
            peak = math.ceil(base * factor)
        except OverflowError:  # the product is infinite
            raise t.error("factor", f"users ({base}) x factor ({factor:g}) must be a finite number of users") from None
        if peak > MAX_USERS:
            peak_text = f"users ({base}) x factor ({factor:g}) = {float(peak):g} users"
            raise t.error("factor", f"{peak_text}; at most {MAX_USERS:,} (a limit, docs/profiles.md)")
        stages = tuple(
            s
            for s in (
                Stage("base", at, base, rate),
                Stage("spike", length, peak, max(rate, float(peak))),
                Stage("after", total - at - length, base, max(rate, float(peak))),
            )
            if s.duration > 0
        )
    elif shape == "soak":
        users, total = t.integer("users", min=1, max=MAX_USERS), t.number("duration", above=0)
        stages = (Stage("soak", total, users, rate),)
    else:  # seasonal: a compressed day, sinusoidal between low and high, in steps
        low, high = t.integer("min_users", min=0, max=MAX_USERS), t.integer("max_users", min=1, max=MAX_USERS)
        period, total = t.number("period", above=0), t.number("duration", above=0)
        step = t.number("step", max(1.0, period / 24), above=0)
        if high <= low:
            raise t.error("max_users", f"must be greater than min_users ({low}), got {high}")
        if total / step > MAX_STAGES:
            raise t.error("step", f"duration / step gives {total / step:g} stages, more than {MAX_STAGES}; raise step")
        n = max(1, math.ceil(total / step))
        stages = tuple(
            Stage(f"t={k * step:g}s", min(step, total - k * step),
                  round(low + (high - low) * 0.5 * (1 - math.cos(2 * math.pi * (k * step) / period))), rate)
            for k in range(n)
        )  # fmt: skip
    t.finish()
    return LoadPlan(shape, stages)


def _stage(t: Table, rate: float, kind_weights_ok, previous_users: int) -> Stage:
    """One [[load.stages]] table; with `ramp = true` it goes linearly from `previous_users`."""
    name = t.str("name", "")
    duration = t.number("duration", above=0)
    users = t.integer("users", min=0, max=MAX_USERS)
    spawn_rate = t.number("spawn_rate", rate, above=0)
    mix = None
    if t.has("mix"):
        m = t.table("mix")
        mix = {k: m.number(k, 0.0, min=0) for k in KINDS}
        m.finish()
        if sum(mix.values()) <= 0:
            raise m.error("", "needs a positive weight for at least one kind")
        kind_weights_ok(m, mix)
    gates = read_gate_list(t, "gates", (), stage=True)
    rate = t.number("rate", None, min=0)
    ramp_from = previous_users if t.boolean("ramp", False) else None
    t.finish()
    return Stage(name or f"stage {users} users", duration, users, spawn_rate, mix, ramp_from, gates, rate)


@lru_cache(maxsize=32)
def plan_from_option(text: str, default_gates: tuple = ()) -> LoadPlan:
    """`--ml-shape 'spike users=4 factor=5 at=30 duration=20 total=120'`: the shape name, then
    the same fields as [load] (numbers, or comma-separated gate expressions for `slo`).

    Cached: every user spawn and shape tick asks for the run's plan, which is frozen (a bad text
    raises each time, as exceptions are not cached)."""
    words = text.split()
    if not words:
        raise ProfileError(None, "--ml-shape", f"needs a shape name first: one of {', '.join(SHAPES)}")
    data: dict = {"shape": words[0]}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise ProfileError(None, "--ml-shape", f"{word!r} is not key=value, e.g. users=10")
        if key == "slo":
            data[key] = value.split(",")
            continue
        try:
            data[key] = int(value)
        except ValueError:
            try:
                data[key] = float(value)
            except ValueError:
                raise ProfileError(None, f"--ml-shape {key}", f"must be a number, got {value!r}") from None
    if data["shape"] == "stages":
        raise ProfileError(None, "--ml-shape", "custom stages are written in the profile's [load] section")

    def no_mix(_t, _mix) -> None:
        return None

    plan = read_plan(Table(data, "--ml-shape", None), no_mix, default_gates)  # errors name no file
    assert plan is not None
    return plan
