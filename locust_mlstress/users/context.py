"""What the ML users of one process share in a run, kept on the Locust environment.

A Locust `Environment` carries one object of ours, under `ATTRIBUTE`: a `RunContext` here (the
users' part: the run's clock, user identities, loaded profiles, the model version seen) that the
plugin's state extends with the quality part (plugin/state.py). Users read it through
`context_of`; they never import the plugin, which registers its state class (`use_state`).
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, overload

from locust.env import Environment
from locust.runners import WorkerRunner

from locust_mlstress.domain.plan import LoadPlan
from locust_mlstress.domain.schema import Profile
from locust_mlstress.errors import ProfileError
from locust_mlstress.http.origin import Origin
from locust_mlstress.profile import load_profile
from locust_mlstress.profile.plan import plan_from_option
from locust_mlstress.users.arrival_counts import ArrivalCounts

logger = logging.getLogger("locust_mlstress")
ATTRIBUTE = "mlstress"  # the one attribute this package sets on a Locust Environment


@dataclass(eq=False)
class RunContext:
    """The users' shared state; `begin` starts a new test in it."""

    t0: float = field(default_factory=time.monotonic)  # this process's test start (drift schedules)
    started: float = field(default_factory=time.time)  # the same, wall clock, for the run record
    worker_count: int = 1  # workers in the run: a worker learns it from the master (plugin/distributed.py)
    # per version ("champion", "challenger"): the first one an answer named (users/behaviour.py)
    model_versions: dict[str, str | None] = field(default_factory=dict)
    arrivals: ArrivalCounts = field(default_factory=ArrivalCounts)  # open-model dispatch counts
    ids: dict[str, itertools.count] = field(default_factory=dict)  # per user class
    profiles: dict[tuple[str, float], Profile] = field(default_factory=dict)  # one load per file version
    logged: set[str] = field(default_factory=set)  # errors said once

    def begin(self) -> None:
        """A new test: a fresh clock, identities from 0 again, no model version yet."""
        self.t0 = time.monotonic()
        self.started = time.time()
        self.ids.clear()
        self.model_versions.clear()

    @property
    def model_version(self) -> str | None:
        """The champion's: the model under test."""
        return self.model_versions.get("champion")

    def clock(self) -> Callable[[], float]:
        """Seconds since this process saw the test start; read at call time, so a clock taken
        before `begin` follows the new start."""
        return lambda: time.monotonic() - self.t0

    def log_once(self, message: str) -> None:
        """An error every user of a process would otherwise repeat."""
        if message not in self.logged:
            self.logged.add(message)
            logger.error("%s", message)


_make: Callable[[Environment], RunContext] = lambda _environment: RunContext()  # noqa: E731


def use_state(make: Callable[[Environment], RunContext]) -> None:
    """Have `context_of` build the plugin's state (a RunContext subclass) for a new environment."""
    global _make
    _make = make


def context_of(environment: Environment) -> RunContext:
    """The environment's shared state, made on first use (a test may build an Environment and
    users without any Locust event firing)."""
    context = vars(environment).get(ATTRIBUTE)
    if context is None:
        context = _make(environment)
        setattr(environment, ATTRIBUTE, context)
    return context


def option(environment: Environment, name: str, default=None):
    """An --ml-* option's value (workers have the master's from the first spawn message on)."""
    value = getattr(environment.parsed_options, name, None) if environment.parsed_options else None
    return default if value in (None, "") else value


def extra_headers(environment: Environment) -> dict[str, str]:
    """--ml-header values as a dict (checked before traffic by plugin/options.py)."""
    pairs = (h.split(":", 1) for h in option(environment, "ml_header", []) or [])
    return {name.strip(): value.strip() for name, value in pairs}


def origin_of(host: str | None) -> Origin:
    """The client's Origin of a host URL; a ProfileError naming --host when it is none."""
    try:
        return Origin.parse(host)
    except ValueError as exc:
        raise ProfileError(None, "--host", f"{exc}; give the model server's base URL, "
                           "e.g. http://127.0.0.1:8080") from None  # fmt: skip


def load_cached(environment: Environment, path: str | os.PathLike[str]) -> Profile:
    """One load per file version per environment: users share the profile and its payload kit."""
    p = Path(path)
    try:
        key = (str(p.resolve()), p.stat().st_mtime)
    except OSError:
        return load_profile(p)  # raises the clear not-found error
    profiles = context_of(environment).profiles
    if key not in profiles:
        profiles[key] = load_profile(p)
    return profiles[key]


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
        return source if isinstance(source, Profile) else load_cached(environment, source)
    except ProfileError:
        if quiet:
            return None
        raise


LATE_IDS = 1 << 32  # a late joiner's users: ids from (n + 1) x LATE_IDS on, n its place among them


def next_user_id(environment: Environment, user_class: type) -> int:
    """A user's identity, stable across worker counts: worker index + local index x workers.

    Locust hands users to workers round robin, so a run on W workers uses the same set of
    identities (and so the same payload streams) as one process with the same user count.
    Between them, the W indices below W own every id, so a worker whose index is not below the
    count (one that joined after the test start: Locust numbers workers in order of arrival and
    never reuses an index) numbers its users in a block of its own, far past any id the others
    reach: sharing one would resend another user's payloads under the same request ids.
    """
    context = context_of(environment)
    local = next(context.ids.setdefault(user_class.__name__, itertools.count()))
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        workers = max(1, context.worker_count)
        if runner.worker_index < workers:
            return runner.worker_index + local * workers
        return (runner.worker_index - workers + 1) * LATE_IDS + local
    return local


def plan_for(environment: Environment, profile: Profile) -> LoadPlan | None:
    """The run's load plan: --ml-shape if given (checked before traffic), else the profile's [load]."""
    text = option(environment, "ml_shape")
    return plan_from_option(text, profile.gates.checks) if text else profile.load
