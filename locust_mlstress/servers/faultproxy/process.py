"""`FaultProxyProcess`: the fault proxy as a subprocess, for tests and Python callers.

A subprocess for the same reason as the reference server's (target/process.py): the proxy's
sleeps and relays then run on their own gevent loop and core, and never queue behind the Locust
process whose latency they are meant to change.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from locust_mlstress.servers.children import child_env, stop_child, wait_for_port


class FaultProxyError(RuntimeError):
    """The proxy process did not come up (bad flags: exit 2); the message carries its stderr."""


class FaultProxyProcess:
    """`with FaultProxyProcess(server.url, "--latency-ms", "50") as proxy: ... proxy.url`; after
    the block, `proxy.counts` holds what it injected (`{"stages": {...}, "total": {...}}`)."""

    def __init__(self, upstream: str, *flags: str, faults: str | os.PathLike[str] | None = None,
                 startup_timeout: float = 20.0) -> None:  # fmt: skip
        self.upstream = upstream
        self.flags = flags
        self.faults = faults
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self.counts: dict | None = None
        self.returncode: int | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="mlstress-proxy-")  # noqa: SIM115 - cleaned in __exit__
        self._out = Path(self._dir.name, "stdout")
        self._err = Path(self._dir.name, "stderr")
        self._counts = Path(self._dir.name, "counts.json")
        self._kept: tuple[str, str] | None = None  # the output, once the directory is gone

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the fault proxy is not running")
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        argv = [sys.executable, "-m", "locust_mlstress.servers.faultproxy", "--upstream", self.upstream,
                "--counts-json", str(self._counts), *self.flags]  # fmt: skip
        return argv + (["--faults", str(self.faults)] if self.faults is not None else [])

    def start(self) -> FaultProxyProcess:
        env = child_env()
        with self._out.open("wb") as out, self._err.open("wb") as err:
            self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        self.port = wait_for_port(self.process, self.stdout, self.startup_timeout)
        if self.port is None:
            self.stop()
            raise FaultProxyError(f"fault proxy did not start (exit {self.returncode}):\n{self.stderr().strip()}")
        return self

    def stdout(self) -> str:
        """What the proxy printed so far: its listening line, and its counts table once stopped."""
        return _read(self._out) if self._kept is None else self._kept[0]

    def stderr(self) -> str:
        """Its errors, plan and stage changes."""
        return _read(self._err) if self._kept is None else self._kept[1]

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (the proxy prints and writes its counts), wait, kill if it will not go."""
        process, self.process = self.process, None
        if process is not None:
            stop_child(process, timeout)
            self.returncode = process.returncode
        if self._counts.exists():
            self.counts = json.loads(self._counts.read_text())
        self.port = None

    def __enter__(self) -> FaultProxyProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._kept = (self.stdout(), self.stderr())
        self._dir.cleanup()


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""
