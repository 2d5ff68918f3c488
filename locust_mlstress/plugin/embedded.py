"""Serving the reference model from inside a Locust run, when no target was given.

Lets a locustfile work out of the box: with no `--host`, the local runner or master starts the
reference server on a free 127.0.0.1 port and points the run at it; it stops at `quitting`.
Workers never start one: they get the master's host with their spawn message.
"""

from __future__ import annotations

import logging
import os

from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

from locust_mlstress.servers.reference.process import ReferenceServer

logger = logging.getLogger("locust_mlstress")


def serve_when_no_host(profile: str | os.PathLike[str] | None = None, knobs=None) -> None:
    """Register listeners that start the reference server for runs without `--host`.

    The server fits its model to `profile`, or to the run's `--ml-profile` when it is None.
    """
    servers: list[ReferenceServer] = []

    @events.init.add_listener
    def _start(environment: Environment, **_kwargs) -> None:
        if environment.host or isinstance(environment.runner, WorkerRunner):
            return
        chosen = profile or getattr(environment.parsed_options, "ml_profile", None)
        if chosen is None:
            return  # nothing to fit a model to; the profile check reports the missing profile
        server = ReferenceServer(chosen, knobs)
        servers.append(server)
        server.start()
        environment.host = server.url
        logger.info("no --host given: serving the reference model at %s", server.url)

    @events.quitting.add_listener
    def _stop(environment: Environment, **_kwargs) -> None:
        for server in servers:
            server.stop()
