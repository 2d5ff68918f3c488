"""Everything a run needs, judged before any traffic; payload kits built before the clock starts.

At `init` on a local runner or master, a bad profile, option, plan or baseline stops the run
with one line and exit code 2; the web UI's start form runs the same `check_run` (plugin/webui.py).
"""

from __future__ import annotations

import logging
import sys

import gevent
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from locust_mlstress.errors import ProfileError
from locust_mlstress.payloads.kit import kit_for
from locust_mlstress.payloads.oversized import build_all
from locust_mlstress.plugin.options import check_options
from locust_mlstress.profile.plan import plan_from_option
from locust_mlstress.quality.baseline import load_baseline
from locust_mlstress.users.behaviour import ml_user_classes
from locust_mlstress.users.context import context_of, option, origin_of, resolve_profile

logger = logging.getLogger("locust_mlstress")
EXIT_BAD_PROFILE = 2


def check_hosts(environment: Environment) -> None:
    """The host each ML user class will send to (--host, or the class's `host`), where known."""
    for cls in ml_user_classes(environment):
        host = environment.host or getattr(cls, "host", None)
        if host:
            origin_of(host)


def check_run(environment: Environment) -> None:
    """Everything a run needs before traffic: options, every ML user's profile, the load plan, the
    baseline; the first problem as a ProfileError. At init (exit code 2) and from the web UI's
    start form (plugin/webui.py: the message shows in the form), so both judge a value alike."""
    check_options(environment)
    profiles = [resolve_profile(cls, environment) for cls in ml_user_classes(environment)]
    check_hosts(environment)
    if option(environment, "ml_shape") and profiles:
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
        load_baseline(baseline, profiles[0])


def before_traffic(environment: Environment, **_kwargs) -> None:
    """At `init`: a local runner or master judges the run (a worker gets the master's options
    later); a process with users builds their payload kits."""
    if not isinstance(environment.runner, WorkerRunner):
        try:
            check_run(environment)
        except ProfileError as exc:
            logger.error("%s", exc)
            sys.stderr.flush()
            sys.exit(EXIT_BAD_PROFILE)
        if environment.reset_stats and environment.shape_class is not None:
            logger.warning(
                "--reset-stats with a load shape: Locust and locust-mlstress reset their figures whenever a "
                "stage finishes spawning, so the summary and stage gates keep only the last stage; "
                "leave --reset-stats off to judge every stage"
            )
    if not isinstance(environment.runner, MasterRunner):
        build_payload_kits(environment)
    # gevent's loop caches "now" between iterations, and nothing has let it run since start-up:
    # Locust's `-t` timer, armed next, would count from before the seconds spent above and in
    # loading the locustfile, and a short run could end within a second of its start.
    gevent.get_hub().loop.update_now()


def build_payload_kits(environment: Environment) -> None:
    """Build what users share (codec, sampler, body templates, oversized bodies) before the run's
    clock starts, so that neither the first users' latency nor a short `-t` pays for it."""
    for cls in ml_user_classes(environment):
        profile = resolve_profile(cls, environment, quiet=True)  # a worker may get --ml-profile later
        if profile is not None:
            kit = kit_for(profile)
            kit.templates  # noqa: B018  (decided now: a few ms of checking, not in a user's first block)
            build_all(kit)


def recheck_profiles(environment: Environment) -> None:
    """At a test start on a local runner or master: the web UI may have changed --ml-profile. A
    class whose profile no longer loads sends nothing (users/behaviour.py); say why once."""
    for cls in ml_user_classes(environment):
        try:
            resolve_profile(cls, environment)
        except ProfileError as exc:
            context_of(environment).log_once(str(exc))
