"""`FaultProxy`: a gevent TCP/HTTP proxy on 127.0.0.1 that injects the faults of its plan.

Each client connection gets its own greenlet and its own upstream connection (keep-alive on
both sides). The proxy reads one whole request, decides its fate from the stage in force and a
seeded draw (faults.py), and then resets it, black-holes it, answers for a down target, or
forwards it and relays the answer: after the added latency, at the bandwidth limit. Faults act
per request, not per TCP chunk, so one reset is one failed request and the counts printed at
the end can be compared with what the load generator saw.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable

import gevent
from gevent import socket as gsocket
from gevent.server import StreamServer

from locust_mlstress.http.framing import (
    Head,
    HttpError,
    Reader,
    TooLarge,
    parse_head,
    request_framing,
    response_framing,
)
from locust_mlstress.servers.faultproxy.faults import Decision, FaultPlan, FaultSet, decide

EVENTS = ("requests", "forwarded", "delayed", "throttled", "reset", "blackhole", "blackhole_expired", "down",
          "upstream_error", "bad_request")  # fmt: skip
IDLE_S = 300.0  # a keep-alive client connection idle this long is closed
READ_S = 60.0  # the rest of a request once its first byte came, and an upstream answer
CONNECT_S = 5.0
MAX_PACED_S = 300.0  # a throttled message that would take longer is cut off (the connection closes)
MAX_BODY = 64 * 1024 * 1024  # a larger request is answered 413 by the proxy itself
DOWN_BODY = b"target down (injected by the fault proxy)\n"


class FaultProxy:
    """Start with `FaultProxy(("127.0.0.1", 8080), plan).start()`, in a gevent program (a
    locustfile, or `serve_forever`); `FaultProxyProcess` (process.py) runs one in a subprocess."""

    def __init__(
        self,
        upstream: tuple[str, int],
        plan: FaultPlan | None = None,
        listen: tuple[str, int] = ("127.0.0.1", 0),
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.upstream = upstream
        self.plan = plan or FaultPlan()
        self.listen = listen
        self.log = log or _stderr
        self.counts: dict[str, Counter[str]] = {}  # stage -> event -> n
        self._server: StreamServer | None = None
        self._origin: float | None = None
        self._n = 0
        self._stage: str | None = None

    @property
    def stage(self) -> str:
        """The stage of the latest request (the first stage's name before any)."""
        return self._stage or self.plan.at(0.0)[0]

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fault proxy is not running")
        return self._server.server_port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}" if self.listen[0] != "::1" else f"http://[::1]:{self.port}"

    def start(self) -> FaultProxy:
        self._server = StreamServer(self.listen, self._handle)
        self._server.start()
        if self.plan.clock == "listen":
            self._origin = time.monotonic()
        return self

    def serve_forever(self) -> None:
        assert self._server is not None, "start() first"
        self._server.serve_forever()

    def stop(self, timeout: float = 1.0) -> None:
        """Stop accepting and close every connection (held black holes too) within `timeout`."""
        if self._server is not None:
            self._server.stop(timeout=timeout)

    def totals(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for counts in self.counts.values():
            total.update(counts)
        return total

    def report(self) -> dict:
        """The counts as plain JSON: per stage in the order stages began, and in total."""
        return {"stages": {s: dict(c) for s, c in self.counts.items()}, "total": dict(self.totals())}

    def fate(self, key: str | None) -> tuple[str, FaultSet, Decision]:
        """The stage, its faults and this request's fate; counts the request and logs stage changes."""
        now = time.monotonic()
        if self._origin is None:
            self._origin = now
        t = now - self._origin
        self._n += 1
        stage, faults = self.plan.at(t)
        if stage != self._stage:
            self._stage = stage
            self.log(f"fault proxy: t={t:.2f}s stage {stage!r}: {faults.describe()}")
        decision = decide(faults, self.plan.seed, key or f"#{self._n}")
        self.count(stage, "requests")
        return stage, faults, decision

    def count(self, stage: str, event: str) -> None:
        self.counts.setdefault(stage, Counter())[event] += 1

    def _handle(self, client: gsocket.socket, _address) -> None:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link = _Link(self, client)
        try:
            link.run()
        except (OSError, HttpError, gevent.Timeout):
            pass  # the client or the target went away: nothing to answer any more
        finally:
            link.close()


class _Link:
    """One client connection, its upstream connection, and the request loop between them."""

    def __init__(self, proxy: FaultProxy, client: gsocket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.reader = Reader(client)
        self.upstream: gsocket.socket | None = None
        self.up_reader: Reader | None = None

    def run(self) -> None:
        while True:
            self.client.settimeout(IDLE_S)
            raw = self.reader.head()
            if raw is None:
                return
            self.client.settimeout(READ_S)
            try:
                head = parse_head(raw, response=False)
                body = b"".join(self.reader.body(request_framing(head), MAX_BODY))
            except HttpError as exc:
                self.proxy.count(self.proxy.stage, "bad_request")
                status = "413 Content Too Large" if isinstance(exc, TooLarge) else "400 Bad Request"
                self.client.sendall(_answer(status, f"fault proxy: {exc}\n".encode(), close=True))
                return
            stage, faults, decision = self.proxy.fate(head.headers.get("x-request-id"))
            self.proxy.count(stage, "forwarded" if decision.action == "forward" else decision.action)
            if decision.action == "down" and faults.down_status is not None:
                self.client.sendall(_answer(f"{faults.down_status} Target Down", DOWN_BODY, close=False))
                continue
            if decision.action in ("down", "reset"):
                self._reset()
                return
            if decision.action == "blackhole":
                self._hold(stage, faults.blackhole_hold_s)
                return
            if not self._forward(stage, head, body, faults, decision):
                return

    def _forward(self, stage: str, head: Head, body: bytes, faults: FaultSet, decision: Decision) -> bool:
        """Send the request upstream and relay the answer; False when the connection must close."""
        up_rate = faults.bandwidth if faults.bandwidth_on in ("both", "request") else None
        down_rate = faults.bandwidth if faults.bandwidth_on in ("both", "response") else None
        # counted with "forwarded", before any waiting, so that a run stopping mid-request
        # leaves the three counts equal
        if decision.delay_s > 0:
            self.proxy.count(stage, "delayed")
        if faults.bandwidth is not None:
            self.proxy.count(stage, "throttled")
        answer = self._exchange(head.raw + body, up_rate)
        if answer is None:
            self.proxy.count(stage, "upstream_error")
            self.client.sendall(_answer("502 Bad Gateway", b"fault proxy: the target did not answer\n", close=True))
            return False
        assert self.up_reader is not None
        while 100 <= answer.status < 200:  # interim answers (100 Continue) pass straight through
            self.client.sendall(answer.raw)
            answer = parse_head(self.up_reader.head() or b"", response=True)
        if decision.delay_s > 0:
            gevent.sleep(decision.delay_s)
        framing = response_framing(answer, head.start[0])
        size = len(answer.raw) + framing[1] if framing[0] in ("length", "none") else None
        _send(self.client, _chain(answer.raw, self.up_reader.body(framing)), down_rate, size)
        if framing[0] == "close" or not answer.keep_alive():
            self._drop_upstream()
            return False
        return head.keep_alive()

    def _exchange(self, request: bytes, rate: float | None) -> Head | None:
        """The answer's head; on a reused connection the target closed meanwhile, one resend on a
        fresh one. None when the target cannot be reached or closes without answering."""
        for _ in range(2):
            fresh = self.upstream is None
            if fresh:
                try:
                    self.upstream = gsocket.create_connection(self.proxy.upstream, timeout=CONNECT_S)
                except OSError:
                    return None
                self.upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.upstream.settimeout(READ_S)
                self.up_reader = Reader(self.upstream)
            assert self.upstream is not None and self.up_reader is not None
            with contextlib.suppress(OSError):  # the target may have answered early (413) and closed: read on
                _send(self.upstream, (request,), rate, len(request))
            try:
                raw = self.up_reader.head()
            except OSError:
                raw = None
            if raw is not None:
                return parse_head(raw, response=True)
            self._drop_upstream()
            if fresh:
                return None
        return None

    def _reset(self) -> None:
        """Close with RST instead of FIN (SO_LINGER 0): the client sees 'connection reset by peer'."""
        self.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close()

    def _hold(self, stage: str, hold_s: float) -> None:
        """No answer: wait for the client to give up and close, or `hold_s` at most, then close."""
        self.client.settimeout(None)
        try:
            with gevent.Timeout(hold_s):
                while self.client.recv(65536):
                    pass
        except gevent.Timeout:
            self.proxy.count(stage, "blackhole_expired")

    def _drop_upstream(self) -> None:
        if self.upstream is not None:
            self.upstream.close()
        self.upstream = self.up_reader = None

    def close(self) -> None:
        self._drop_upstream()
        self.client.close()


def _chain(first: bytes, rest: Iterable[bytes]) -> Iterable[bytes]:
    yield first
    yield from rest


def _send(sock: gsocket.socket, pieces: Iterable[bytes], rate: float | None, size: int | None = None) -> None:
    """Send pieces; with a rate (bytes/s), each slice leaves when the link would have carried it,
    so the last byte of n leaves n/rate seconds after the first (no burst, no trailing wait).
    A message that would take over MAX_PACED_S is cut off: at once when its `size` is known."""
    if rate is None:
        for piece in pieces:
            sock.sendall(piece)
        return
    if size is not None and size / rate > MAX_PACED_S:
        raise TimeoutError(f"{size} bytes at {rate:g} B/s would take over {MAX_PACED_S:g} s")
    step = max(512, int(rate / 50))  # about 50 slices a second
    start, sent = time.monotonic(), 0
    for piece in pieces:
        for offset in range(0, len(piece), step):
            part = piece[offset : offset + step]
            sent += len(part)
            if sent / rate > MAX_PACED_S:
                raise TimeoutError(f"{sent} bytes at {rate:g} B/s would take over {MAX_PACED_S:g} s")
            wait = start + sent / rate - time.monotonic()
            if wait > 0:
                gevent.sleep(wait)
            sock.sendall(part)


def _answer(status: str, body: bytes, close: bool) -> bytes:
    connection = "close" if close else "keep-alive"
    head = f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\nConnection: {connection}"
    return f"{head}\r\n\r\n".encode() + body


def format_counts(report: dict) -> str:
    """The counts as a table, one row per stage, for the log at exit."""
    shown = [e for e in EVENTS if report["total"].get(e)] or ["requests"]
    rows = [("stage", *shown)]
    for stage, counts in [*report["stages"].items(), ("total", report["total"])]:
        rows.append((stage, *(str(counts.get(e, 0)) for e in shown)))
    width = max(len(r[0]) for r in rows) + 2
    return "\n".join(r[0].ljust(width) + "".join(c.rjust(max(len(e) for e in shown) + 2) for c in r[1:]) for r in rows)


def write_counts(report: dict, path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
