"""Reading a fault file (TOML) and the proxy's fault flags into a validated `FaultPlan`.

    seed = 7                      # the draws: a rerun injects the same faults
    clock = "first-request"       # stage time counts from the first request (or "listen")
    profile = "scenario.toml"     # the stages: that profile's [load] plan (or [[timeline]] here)

    [faults]                      # every stage, unless its own table says otherwise
    latency_ms = 20

    [stages.outage]               # by the stage's name in the plan
    down = true

Every error is a `ProfileError` naming the file and field (or the flag) and what would fix it,
so the command line prints it and exits 2 instead of showing a traceback.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from locust_mlstress.errors import ProfileError
from locust_mlstress.profile.fields import Table
from locust_mlstress.readfile import FAULTS_MAX_BYTES
from locust_mlstress.servers.children import LOOPBACK
from locust_mlstress.servers.faultproxy.faults import BANDWIDTH_ON, CLOCKS, JITTERS, FaultPlan, FaultSet, FaultStage


def flag_name(field: str) -> str:
    """The command-line flag of a fault field: latency_ms -> --latency-ms."""
    return "--" + field.replace("_", "-")


def read_faults(t: Table, base: FaultSet) -> FaultSet:
    """A fault table; fields it leaves out keep `base`'s values."""
    latency = t.number("latency_ms", base.latency_ms, min=0)
    jitter_ms = t.number("jitter_ms", base.jitter_ms, min=0)
    jitter = t.str("jitter", base.jitter, choices=JITTERS)
    bandwidth = t.number("bandwidth", base.bandwidth, min=0)
    bandwidth_on = t.str("bandwidth_on", base.bandwidth_on, choices=BANDWIDTH_ON)
    reset = t.number("reset", base.reset, min=0, max=1)
    blackhole = t.number("blackhole", base.blackhole, min=0, max=1)
    hold = t.number("blackhole_hold_s", base.blackhole_hold_s, above=0)
    down = t.boolean("down", base.down)
    down_status = t.integer("down_status", base.down_status, min=100)
    if reset + blackhole > 1:
        raise t.error(
            "blackhole", f"reset ({reset:g}) + blackhole ({blackhole:g}) must be <= 1: they share one draw per request"
        )
    if down_status is not None and not 400 <= down_status <= 599:
        raise t.error("down_status", f"must be an HTTP error status from 400 to 599 (e.g. 503), got {down_status}")
    t.finish()
    return FaultSet(latency, jitter_ms, jitter, bandwidth or None, bandwidth_on, reset, blackhole, hold, down,
                    down_status)  # fmt: skip


def read_flags(flags: dict[str, Any], base: FaultSet) -> FaultSet:
    """The fault flags given on the command line (None: not given) on top of `base`."""
    given = {k: v for k, v in flags.items() if v is not None}
    try:
        return read_faults(Table(given, "", None), base)
    except ProfileError as exc:
        raise ProfileError(None, flag_name(exc.field), exc.message) from None


def stage_plan(stages: list[tuple[str, float]], by_name: dict[str, FaultSet], base: FaultSet) -> tuple[FaultStage, ...]:
    """A timeline of (name, duration) with each stage's faults: its own by name, else `base`."""
    out, start = [], 0.0
    for name, duration in stages:
        out.append(FaultStage(name, start, start + duration, by_name.get(name, base)))
        start += duration
    return tuple(out)


def load_plan(
    path: str | os.PathLike[str] | None = None,
    *,
    flags: dict[str, Any] | None = None,
    profile: str | os.PathLike[str] | None = None,
    seed: int | None = None,
    clock: str | None = None,
) -> FaultPlan:
    """The plan from a fault file (optional), flags on top of its [faults], and a profile whose
    [load] gives the stages (overriding the file's `profile`); seed and clock override the file's."""
    file = Path(path) if path is not None else None
    top = Table(_read_toml(file), "", file) if file is not None else Table({}, "", None)
    file_seed = top.integer("seed", 0, min=0)
    file_clock = top.str("clock", "first-request", choices=CLOCKS)
    base = read_faults(top.table("faults"), FaultSet())
    base = read_flags(flags or {}, base)
    names_durations = _timeline(top, file, profile)
    by_name: dict[str, FaultSet] = {}
    if top.has("stages"):
        stages = top.table("stages")
        known = [name for name, _ in names_durations]
        for name in stages.names():
            if not names_durations:
                raise top.error("stages", 'needs a timeline: profile = "a profile with [load]" or [[timeline]] tables')
            if name not in known:
                near = difflib.get_close_matches(name, known, n=1)
                did = f" (did you mean {near[0]!r}?)" if near else ""
                raise stages.error(name, f"is not a stage of the plan{did}; its stages are: {', '.join(known)}")
            by_name[name] = read_faults(stages.table(name), base)
    top.finish()
    if clock is not None and clock not in CLOCKS:
        raise ProfileError(None, "--clock", f"{clock!r} is not allowed; choose one of: {', '.join(CLOCKS)}")
    if seed is not None and seed < 0:
        raise ProfileError(None, "--seed", f"must be >= 0, got {seed}")
    return FaultPlan(
        base=base,
        stages=stage_plan(names_durations, by_name, base),
        seed=file_seed if seed is None else seed,
        clock=clock or file_clock,  # type: ignore[arg-type]
    )


def _read_toml(file: Path) -> dict:
    """The fault file as TOML: a regular file under a cap (readfile.py), parsed as profiles are."""
    from locust_mlstress.profile.load import read_toml_file  # the profile reader (numpy) only for a fault file

    return read_toml_file(file, FAULTS_MAX_BYTES, "a .toml fault file")[0]


def _timeline(top: Table, file: Path | None, profile: str | os.PathLike[str] | None) -> list[tuple[str, float]]:
    """(name, duration) of each stage: from a profile's [load] plan, or the file's [[timeline]]."""
    named = top.str("profile", None)
    if top.has("timeline"):
        if named is not None or profile is not None:
            raise top.error("timeline", "give the stages once: either [[timeline]] tables or a profile with [load]")
        out = []
        for t in top.tables("timeline"):
            out.append((t.str("name"), t.number("duration", above=0)))
            t.finish()
        if not out:
            raise top.error("timeline", "needs at least one [[timeline]] table with name and duration")
        return out
    if profile is not None:
        return _profile_stages(Path(profile), "--profile")
    if named is not None:
        base = file.parent if file is not None else Path()
        return _profile_stages(base / named, "profile")
    return []


def _profile_stages(path: Path, field: str) -> list[tuple[str, float]]:
    from locust_mlstress.profile import load_profile  # only a fault file that names a profile

    plan = load_profile(path).load
    if plan is None:
        raise ProfileError(path, "load", f"has no [load] plan, so {field} gives no stages; add one (docs/scenarios.md)")
    return [(s.name, s.duration) for s in plan.stages]


def parse_listen(text: str) -> tuple[str, int]:
    """`127.0.0.1:PORT` (port 0: any free port) -> (host, port); loopback only."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ProfileError(None, "--listen", f"{text!r} is not HOST:PORT; e.g. 127.0.0.1:8081 (port 0: any free port)")
    if host not in LOOPBACK:
        raise ProfileError(None, "--listen", f"{host!r} is not loopback; the proxy listens on 127.0.0.1 only")
    return host, int(port)


def parse_upstream(url: str) -> tuple[str, int]:
    """`http://127.0.0.1:PORT` -> (host, port); the proxy only ever sends to loopback."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ProfileError(None, "--upstream", f"{url!r} is not a URL; e.g. http://127.0.0.1:8080") from None
    if parts.scheme != "http":
        raise ProfileError(None, "--upstream", f"{url!r}: only http:// targets (the proxy reads plain HTTP/1.1)")
    if parts.hostname not in LOOPBACK:
        where = f"{parts.hostname!r} is not loopback"
        raise ProfileError(None, "--upstream", f"{where}; the proxy forwards to 127.0.0.1 only")
    if port is None:
        raise ProfileError(None, "--upstream", f"{url!r} needs a port, e.g. http://127.0.0.1:8080")
    if parts.path not in ("", "/") or parts.query:
        raise ProfileError(None, "--upstream", f"{url!r}: give no path; requests keep the path the client sent")
    return parts.hostname, port
