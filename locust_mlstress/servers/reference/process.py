"""`ReferenceServer`: the reference model server as a subprocess, for Python callers and tests.

A subprocess rather than a greenlet: the model server then gets its own core, and neither
shares a GIL nor a gevent loop with the Locust process measuring it, so what Locust measures is
the server and not contention with itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

from locust_mlstress.domain.schema import Profile
from locust_mlstress.servers.children import child_env, stop_child, wait_for_port
from locust_mlstress.servers.reference.cli import knobs_to_argv
from locust_mlstress.servers.reference.knobs import ServerKnobs


class ReferenceServerError(RuntimeError):
    """The server process did not come up; the message carries its exit status and stderr."""


class ReferenceServer:
    """Start with `with ReferenceServer("profiles/quickstart.toml") as server: ... server.url`."""

    def __init__(
        self,
        profile: Profile | str | os.PathLike[str],
        knobs: ServerKnobs | None = None,
        startup_timeout: float = 30.0,
        train_samples: int | None = None,
    ) -> None:
        self.profile_path = Path(profile.path if isinstance(profile, Profile) else profile)
        self.knobs = knobs or ServerKnobs()
        self.startup_timeout = startup_timeout
        self.train_samples = train_samples
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self._stdout: IO[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the reference server is not running")
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        argv = [
            sys.executable,
            "-m",
            "locust_mlstress.servers.reference",
            "--profile",
            str(self.profile_path),
            "--port",
            "0",
        ]
        if self.train_samples is not None:
            argv += ["--train-samples", str(self.train_samples)]
        return argv + knobs_to_argv(self.knobs)

    def start(self) -> ReferenceServer:
        """Start the process and wait for its `listening on` line; raise with its stderr if it dies."""
        if self.process is not None:
            raise RuntimeError("the reference server is already started")
        env = child_env()
        # files, not pipes: nobody reads the child's output after start-up, and a full pipe would block it
        self._stdout = tempfile.TemporaryFile()  # noqa: SIM115 - closed in __exit__
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self.process = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=self._stdout, stderr=self._stderr, env=env
        )
        try:
            self.port = self._wait_for_port()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_for_port(self) -> int:
        assert self.process is not None and self._stdout is not None
        stdout = self._stdout
        port = wait_for_port(self.process, lambda: _read_all(stdout), self.startup_timeout)
        if port is not None:
            return port
        status = self.process.poll()
        if status is not None:
            raise ReferenceServerError(
                f"reference server exited with status {status} before listening:\n{self.stderr().strip()}"
            )
        limit = f"{self.startup_timeout:g} s"
        raise ReferenceServerError(f"reference server did not listen within {limit}:\n{self.stderr().strip()}")

    def stderr(self) -> str:
        """What the server wrote to stderr so far (errors, tracebacks of server bugs)."""
        return _read_all(self._stderr) if self._stderr is not None else ""

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate, wait, and kill if it will not go; safe to call twice."""
        process, self.process = self.process, None
        if process is not None:
            stop_child(process, timeout)
        self.port = None

    def __enter__(self) -> ReferenceServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        for stream in (self._stdout, self._stderr):
            if stream is not None:
                stream.close()
        self._stdout = self._stderr = None


def _read_all(stream: IO[bytes]) -> str:
    """Read without moving the file offset, which the child shares and writes at."""
    fd = stream.fileno()
    return os.pread(fd, os.fstat(fd).st_size, 0).decode("utf-8", "replace")
