"""Helper processes this package starts (the reference server, the fault proxy): their
environment, the line that says they listen, and `ChildServer`, the one way they are started,
waited for, stopped and heard from.

Light on purpose: the proxy's side imports no gevent and no numpy, and neither does this.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar, Self

LISTENING = "listening on "  # a helper's first stdout line, with its URL: what a parent waits for
LOOPBACK = ("127.0.0.1", "localhost", "::1")  # the only hosts a helper listens on or talks to

# the directory holding the locust_mlstress package, so a child imports this very tree
SOURCE_ROOT = Path(__file__).resolve().parents[2]


def child_env() -> dict[str, str]:
    """The environment of a helper process that imports this very tree and prints unbuffered,
    so its `listening on` line is seen as soon as it is written."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SOURCE_ROOT), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class ChildServer:
    """One of this package's servers in a child process on 127.0.0.1: `start()` runs
    `python -m <module> <arguments()>` and waits for its `listening on` line, `stop()` sends
    SIGTERM, and the `with` block does both.

    A subclass says what the server is called in messages (`name`), which module runs it, which
    error `start()` raises when it never listens, and its arguments. The child writes to files,
    not pipes: nobody reads its output while it runs, and a full pipe would block it. `stop()`
    keeps what it wrote and removes the files, so `stdout()` and `stderr()` still answer after.
    """

    name: ClassVar[str]  # "reference server": what messages call it
    module: ClassVar[str]  # what `python -m` runs
    error: ClassVar[type[RuntimeError]]  # what `start()` raises when the child never listens
    stop_timeout: ClassVar[float] = 5.0  # seconds from SIGTERM to SIGKILL

    def __init__(self, startup_timeout: float) -> None:
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self.returncode: int | None = None  # the child's exit status, once stopped
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._kept = ("", "")  # stdout and stderr, once the files are gone

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError(f"the {self.name} is not running")
        return f"http://127.0.0.1:{self.port}"

    def arguments(self) -> list[str]:
        """The child's arguments after `-m module`."""
        raise NotImplementedError

    def command(self) -> list[str]:
        return [sys.executable, "-m", self.module, *self.arguments()]

    def file(self, name: str) -> Path:
        """A file in this run's own directory: the child's output, or one it is told to write."""
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix=f"mlstress-{self.module.rsplit('.', 1)[-1]}-")
        return Path(self._dir.name, name)

    def start(self) -> Self:
        """Start the child and wait for its `listening on` line; raise `error` with its stderr if
        it exits first or is not listening within `startup_timeout`."""
        if self.process is not None:
            raise RuntimeError(f"the {self.name} is already started")
        command = self.command()
        with self.file("stdout").open("wb") as out, self.file("stderr").open("wb") as err:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=child_env())
        try:
            self.port = self._wait_for_port(self.process)
        except BaseException:
            self.stop()
            raise
        if self.port is None:
            status = self.process.poll()
            self.stop()
            raise self.error(self.failure(status))
        return self

    def _wait_for_port(self, process: subprocess.Popen[bytes]) -> int | None:
        """The port of the child's `listening on` line; None once it has exited or the time is up."""
        deadline = time.monotonic() + self.startup_timeout
        while True:
            for line in self.stdout().splitlines():
                if line.startswith(LISTENING):
                    return int(line.rsplit(":", 1)[1])
            if process.poll() is not None or time.monotonic() > deadline:
                return None
            time.sleep(0.02)

    def failure(self, status: int | None) -> str:
        """What `start()` says when the child never listened: `status` is its exit status, None
        if it was still running when `startup_timeout` ran out. Called once it is stopped."""
        if status is not None:
            return f"{self.name} exited with status {status} before listening:\n{self.stderr().strip()}"
        return f"{self.name} did not listen within {self.startup_timeout:g} s:\n{self.stderr().strip()}"

    def stdout(self) -> str:
        """What the child printed so far (its `listening on` line first)."""
        return self._read("stdout", self._kept[0])

    def stderr(self) -> str:
        """What the child wrote to stderr so far (errors, tracebacks of its bugs)."""
        return self._read("stderr", self._kept[1])

    def _read(self, name: str, kept: str) -> str:
        if self._dir is None:
            return kept
        path = self.file(name)
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM, wait (`stop_timeout` seconds unless given), and kill if it will not go; then
        keep its output and remove its files. Safe to call twice."""
        process, self.process = self.process, None
        wait = self.stop_timeout if timeout is None else timeout
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(wait)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(wait)
            self.returncode = process.returncode
        self.port = None
        if self._dir is not None:
            self.stopped()
            self._kept = (self.stdout(), self.stderr())
            self._dir.cleanup()
            self._dir = None

    def stopped(self) -> None:
        """Called by `stop()` once the child is gone, before its files are removed: what a
        subclass reads from them."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
