"""`FaultProxyProcess`: the fault proxy as a subprocess, for tests and Python callers.

A subprocess for the same reason as the reference server's (servers/reference/process.py): the
proxy's sleeps and relays then run on their own gevent loop and core, and never queue behind the
Locust process whose latency they are meant to change. Starting, waiting and stopping are
`ChildServer`'s; what is the proxy's own is its counts, written when it stops.
"""

from __future__ import annotations

import json
import os

from locust_mlstress.servers.children import ChildServer


class FaultProxyError(RuntimeError):
    """The proxy process did not come up (bad flags: exit 2); the message carries its stderr."""


class FaultProxyProcess(ChildServer):
    """`with FaultProxyProcess(server.url, "--latency-ms", "50") as proxy: ... proxy.url`; after
    the block, `proxy.counts` holds what it injected (`{"stages": {...}, "total": {...}}`)."""

    name = "fault proxy"
    module = "locust_mlstress.servers.faultproxy"
    error = FaultProxyError
    stop_timeout = 10.0  # on SIGTERM the proxy prints and writes its counts first

    def __init__(self, upstream: str, *flags: str, faults: str | os.PathLike[str] | None = None,
                 startup_timeout: float = 20.0) -> None:  # fmt: skip
        super().__init__(startup_timeout)
        self.upstream = upstream
        self.flags = flags
        self.faults = faults
        self.counts: dict | None = None

    def arguments(self) -> list[str]:
        argv = ["--upstream", self.upstream, "--counts-json", str(self.file("counts.json")), *self.flags]
        return argv + (["--faults", str(self.faults)] if self.faults is not None else [])

    def failure(self, status: int | None) -> str:
        return f"fault proxy did not start (exit {self.returncode}):\n{self.stderr().strip()}"

    def stopped(self) -> None:
        counts = self.file("counts.json")
        if counts.exists():
            self.counts = json.loads(counts.read_text())
