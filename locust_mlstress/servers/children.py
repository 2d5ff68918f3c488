"""Helper processes this package starts (the reference server, the fault proxy): their
environment, the line that says they listen, and how they are waited for and stopped.

Light on purpose: the proxy's side imports no gevent and no numpy, and neither does this.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

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


def wait_for_port(process: subprocess.Popen, read_stdout: Callable[[], str], timeout: float) -> int | None:
    """The port of the child's `listening on` line; None once it has exited or `timeout` passed."""
    deadline = time.monotonic() + timeout
    while True:
        for line in read_stdout().splitlines():
            if line.startswith(LISTENING):
                return int(line.rsplit(":", 1)[1])
        if process.poll() is not None or time.monotonic() > deadline:
            return None
        time.sleep(0.02)


def stop_child(process: subprocess.Popen, timeout: float) -> None:
    """SIGTERM, wait, and kill if it will not go."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
