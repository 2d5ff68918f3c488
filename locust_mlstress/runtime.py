"""Locust wiring: our command-line options, profile checks before traffic, user identities.

Listeners register on import of `locust_mlstress`, as Locust plugins do. What runs where:
- `init_command_line_parser` (every process, and on each web UI page load): adds `--ml-*` options.
- `init` on a local runner or master: loads every ML user's profile, so a bad profile or option
  stops the run with a clear message and exit code 2 before any traffic.
- `test_start` (everywhere): fixes the run's time origin (drift schedules read it); on a master it
  also records the worker count, which reaches workers inside the spawn message.
"""

from __future__ import annotations

import itertools
import logging
import os
import sys
import time
from pathlib import Path
from typing import Literal, overload

import gevent
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from .errors import ProfileError
from .profile import load_profile
from .profile.load import header_problem
from .profile.model import Profile

logger = logging.getLogger("locust_mlstress")
EXIT_BAD_PROFILE = 2


OPTIONS: tuple[tuple[str, dict], ...] = (
    ("--ml-profile", {"include_in_web_ui": True, "env_var": "MLSTRESS_PROFILE",
                      "help": "Traffic profile (.toml) for ML users; overrides a user class's `profile` attribute"}),
    ("--ml-baseline", {"include_in_web_ui": True,
                       "help": "Compare predictions with a baseline saved by an earlier run (--ml-save-baseline)"}),
    ("--ml-save-baseline", {"help": "Save this run's clean predictions as a baseline file at PATH"}),
    ("--ml-json", {"help": "Write the ML summary as JSON to PATH at the end of the run"}),
    ("--ml-html", {"help": "Write a self-contained HTML report with plots to PATH at the end of the run"}),
    ("--ml-csv", {"help": "Write PREFIX_ml_windows.csv: one row per time window and payload kind"}),
    ("--ml-window", {"default": "10", "help": "Seconds per time window of the ML figures (default 10)"}),
    ("--ml-warmup", {"default": "10s", "help": "Clean traffic that forms the warm-up baseline: seconds ('30s') "
                                               "or a prediction count ('500'); default 10s"}),
    ("--ml-consistency", {"help": "Share of requests that resend an earlier payload to check the answer "
                                  "stays the same (0-1); overrides the profile's [consistency] fraction"}),
    ("--ml-version-header", {"help": "Response header that carries the model version, recorded in reports"}),
    ("--ml-header", {"action": "append", "help": "Extra request header 'Name: value' (repeatable); its value is "
                                                "treated as a secret: never written to reports or manifests"}),
    ("--ml-gate", {"action": "append", "include_in_web_ui": True,
                   "help": "An SLO gate, e.g. 'p99_ms[clean] < 300'; several: 'A; B' in the web UI, the option "
                           "repeated on the command line; added to the profile's [gates]; exit code 3 if one fails "
                           "(docs/gates.md)"}),
    ("--ml-junit", {"help": "Write the gate verdicts as JUnit XML to PATH, one test case per gate"}),
    ("--ml-shape", {"help": "Load plan instead of the profile's [load], e.g. 'ramp users=50 up=30 hold=120' "
                            "(needs ProfileShape in the locustfile; docs/scenarios.md)"}),
    ("--ml-arrival-rate", {"help": "Open model (MLArrivalUser): arrivals per second per dispatcher user"}),
    ("--ml-arrival-process", {"choices": ["constant", "poisson"],
                              "help": "Open model: evenly spaced or Poisson arrivals (default: the class's)"}),
    ("--ml-artifacts", {"help": "Directory that gathers the run record: manifest, ML summary JSON and CSV, "
                                "Locust's CSV and HTML reports, sampled request traces"}),
    ("--ml-manifest", {"help": "Write the run's manifest (seed, profile hash, versions, command line without "
                               "secrets, host, times, workers, gate verdicts) to PATH"}),
    ("--ml-trace-rate", {"default": "0.01", "help": "Share of requests kept as traces in --ml-artifacts "
                                                    "(0-1, chosen by request id; default 0.01)"}),
)  # fmt: skip


@events.init_command_line_parser.add_listener
def _add_options(parser, **_kwargs) -> None:
    # Added on the parser itself (not a group): only those can show in the web UI's form, and
    # Locust shows every option there unless told not to: only those marked include_in_web_ui do
    # (a header's secret value, or an output path on the master's disk, has no place in a form).
    # This event fires on every web UI page load: add each option once.
    known = {s for a in parser._actions for s in a.option_strings}
    for flag, kwargs in OPTIONS:
        if flag not in known:
            parser.add_argument(flag, **({"include_in_web_ui": False} | kwargs))


def option(environment: Environment, name: str, default=None):
    """An --ml-* option's value (workers have the master's from the first spawn message on)."""
    value = getattr(environment.parsed_options, name, None) if environment.parsed_options else None
    return default if value in (None, "") else value


def check_options(environment: Environment) -> None:
    """Every --ml-* option that has a wrong value, as a ProfileError naming it and the fix."""
    try:
        window = float(option(environment, "ml_window", 10))
        if not window > 0:
            raise ValueError
    except ValueError:
        raise ProfileError(None, "--ml-window", "must be a number of seconds > 0, e.g. 10") from None
    from .quality.monitor import Warmup

    try:
        Warmup.parse(option(environment, "ml_warmup", "10s"))
    except ValueError as exc:
        raise ProfileError(None, "--ml-warmup", str(exc).split(": ", 1)[1]) from None
    for name, flag in (("ml_consistency", "--ml-consistency"), ("ml_trace_rate", "--ml-trace-rate")):
        share = option(environment, name)
        if share is None:
            continue
        try:
            if not 0 <= float(share) <= 1:
                raise ValueError
        except ValueError:
            raise ProfileError(None, flag, f"must be a share between 0 and 1, got {share!r}") from None
    rate = option(environment, "ml_arrival_rate")
    if rate is not None:
        try:
            if not float(rate) > 0:
                raise ValueError
        except ValueError:
            raise ProfileError(None, "--ml-arrival-rate", f"must be arrivals per second > 0, got {rate!r}") from None
    from .gates import GateError, parse_gates

    try:
        parse_gates(option(environment, "ml_gate", []) or [])
    except GateError as exc:
        raise ProfileError(None, "", str(exc)) from None
    from .artifacts import check_outputs

    check_outputs(environment)  # every output path writable (folders created), before any traffic
    for header in option(environment, "ml_header", []) or []:
        if ":" not in header or not header.split(":", 1)[0].strip():
            raise ProfileError(None, "--ml-header", "must look like 'Name: value', e.g. 'Authorization: Bearer $TOKEN'")
        name, value = (part.strip() for part in header.split(":", 1))
        if problem := header_problem(name, value):
            raise ProfileError(None, "--ml-header", problem)


def check_hosts(environment: Environment) -> None:
    """The host each ML user class will send to (--host, or the class's `host`), where known."""
    for cls in ml_user_classes(environment):
        host = environment.host or getattr(cls, "host", None)
        if host:
            origin_of(host)


def origin_of(host: str | None):
    """The transport's Origin of a host URL; a ProfileError naming --host when it is none."""
    from .transport import Origin

    try:
        return Origin.parse(host)
    except ValueError as exc:
        raise ProfileError(None, "--host", f"{exc}; give the model server's base URL, "
                           "e.g. http://127.0.0.1:8080") from None  # fmt: skip


def extra_headers(environment: Environment) -> dict[str, str]:
    """--ml-header values as a dict (checked by `check_options`)."""
    pairs = (h.split(":", 1) for h in option(environment, "ml_header", []) or [])
    return {name.strip(): value.strip() for name, value in pairs}


_profiles: dict[tuple[str, float], Profile] = {}


def load_cached(path: str | os.PathLike[str]) -> Profile:
    """One load per file version per process: users share the profile and its payload kit."""
    p = Path(path)
    try:
        key = (str(p.resolve()), p.stat().st_mtime)
    except OSError:
        return load_profile(p)  # raises the clear not-found error
    if key not in _profiles:
        _profiles[key] = load_profile(p)
    return _profiles[key]


@overload
def resolve_profile(user_class: type, environment: Environment, *, quiet: Literal[False] = False) -> Profile: ...
@overload
def resolve_profile(user_class: type, environment: Environment, *, quiet: bool) -> Profile | None: ...
def resolve_profile(user_class: type, environment: Environment, *, quiet: bool = False) -> Profile | None:
    """The option wins over the class attribute; `quiet` returns None instead of raising."""
    source = option(environment, "ml_profile") or getattr(user_class, "profile", None)
    try:
        if source is None:
            raise ProfileError(
                None,
                "--ml-profile",
                f"{user_class.__name__} has no profile: set its `profile` attribute or pass --ml-profile",
            )
        return source if isinstance(source, Profile) else load_cached(source)
    except ProfileError:
        if quiet:
            return None
        raise


def ml_user_classes(environment: Environment) -> list[type]:
    from .users import _MLBehaviour

    return [cls for cls in environment.user_classes if issubclass(cls, _MLBehaviour)]


_counters: dict[tuple[int, str], itertools.count] = {}


def next_user_id(environment: Environment, user_class: type) -> int:
    """A user's identity, stable across worker counts: worker index + local index x workers.

    Locust hands users to workers round robin, so a run on W workers uses the same set of
    identities (and so the same payload streams) as one process with the same user count.
    """
    counter = _counters.setdefault((id(environment), user_class.__name__), itertools.count())
    local = next(counter)
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        workers = int(getattr(environment.parsed_options, "ml_worker_count", 0) or 1)
        return runner.worker_index + local * workers
    return local


def clock_for(environment: Environment):
    """Seconds since this process saw the test start (drift schedules run on it)."""
    return lambda: time.monotonic() - getattr(environment, "mlstress_t0", time.monotonic())


def check_run(environment: Environment) -> None:
    """Everything a run needs before traffic: options, every ML user's profile, the load plan, the
    baseline; the first problem as a ProfileError. At init (exit code 2) and from the web UI's
    start form (webui.py: the message shows in the form), so both judge a value alike."""
    check_options(environment)
    profiles = [resolve_profile(cls, environment) for cls in ml_user_classes(environment)]
    check_hosts(environment)
    if option(environment, "ml_shape") and profiles:
        from .profile.plan import plan_from_option

        plan_from_option(option(environment, "ml_shape"), profiles[0].gates.checks)
    shape = getattr(environment.shape_class, "__class__", None)
    no_plan = profiles and profiles[0].load is None and not option(environment, "ml_shape")
    if shape is not None and shape.__name__ == "ProfileShape" and no_plan:
        raise ProfileError(
            profiles[0].path,
            "load",
            "ProfileShape is in the locustfile but the profile has no [load] section; "
            "add one (docs/scenarios.md) or remove the shape",
        )
    baseline = option(environment, "ml_baseline")
    if baseline and profiles:
        from .quality.baseline import load_baseline

        load_baseline(baseline, profiles[0])


@events.init.add_listener
def _check_before_traffic(environment: Environment, **_kwargs) -> None:
    if not isinstance(environment.runner, WorkerRunner):  # workers get the master's options later
        try:
            check_run(environment)
        except ProfileError as exc:
            logger.error("%s", exc)
            sys.stderr.flush()
            sys.exit(EXIT_BAD_PROFILE)
    if not isinstance(environment.runner, MasterRunner):
        _build_payload_kits(environment)
    # gevent's loop caches "now" between iterations, and nothing has let it run since start-up:
    # Locust's `-t` timer, armed next, would count from before the seconds spent above and in
    # loading the locustfile, and a short run could end within a second of its start.
    gevent.get_hub().loop.update_now()


def _build_payload_kits(environment: Environment) -> None:
    """Build what users share (codec, sampler, body templates, oversized bodies) before the run's
    clock starts, so that neither the first users' latency nor a short `-t` pays for it."""
    from .payloads.kit import kit_for
    from .payloads.oversized import build_all

    for cls in ml_user_classes(environment):
        profile = resolve_profile(cls, environment, quiet=True)  # a worker may get --ml-profile later
        if profile is not None:
            kit = kit_for(profile)
            kit.templates  # noqa: B018  (decided now: a few ms of checking, not in a user's first block)
            build_all(kit)


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_kwargs) -> None:
    # plugin state on Locust's Environment, which declares no such attributes
    environment.mlstress_t0 = time.monotonic()  # type: ignore[attr-defined]
    environment.mlstress_started = time.time()  # type: ignore[attr-defined]
    _counters.clear()
    runner = environment.runner
    if isinstance(runner, MasterRunner) and environment.parsed_options is not None:
        environment.parsed_options.ml_worker_count = max(1, runner.worker_count)
    if isinstance(runner, WorkerRunner):
        return
    for cls in ml_user_classes(environment):
        try:
            resolve_profile(cls, environment)  # the web UI may have changed --ml-profile
        except ProfileError as exc:
            log_once(str(exc))  # its users will send nothing (see users._MLBehaviour._setup)


_logged: set[str] = set()


def log_once(message: str) -> None:
    """An error every user of a process would otherwise repeat."""
    if message not in _logged:
        _logged.add(message)
        logger.error("%s", message)
