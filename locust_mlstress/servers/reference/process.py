"""`ReferenceServer`: the reference model server as a subprocess, for Python callers and tests.

A subprocess rather than a greenlet: the model server then gets its own core, and neither
shares a GIL nor a gevent loop with the Locust process measuring it, so what Locust measures is
the server and not contention with itself. Starting, waiting and stopping are `ChildServer`'s.
"""

from __future__ import annotations

import os
from pathlib import Path

from locust_mlstress.domain.schema import Profile
from locust_mlstress.servers.children import ChildServer
from locust_mlstress.servers.reference.cli import knobs_to_argv
from locust_mlstress.servers.reference.knobs import ServerKnobs


class ReferenceServerError(RuntimeError):
    """The server process did not come up; the message carries its exit status and stderr."""


class ReferenceServer(ChildServer):
    """Start with `with ReferenceServer("profiles/quickstart.toml") as server: ... server.url`."""

    name = "reference server"
    module = "locust_mlstress.servers.reference"
    error = ReferenceServerError

    def __init__(
        self,
        profile: Profile | str | os.PathLike[str],
        knobs: ServerKnobs | None = None,
        startup_timeout: float = 30.0,
        train_samples: int | None = None,
    ) -> None:
        super().__init__(startup_timeout)
        self.profile_path = Path(profile.path if isinstance(profile, Profile) else profile)
        self.knobs = knobs or ServerKnobs()
        self.train_samples = train_samples

    def arguments(self) -> list[str]:
        argv = ["--profile", str(self.profile_path), "--port", "0"]
        if self.train_samples is not None:
            argv += ["--train-samples", str(self.train_samples)]
        return argv + knobs_to_argv(self.knobs)
