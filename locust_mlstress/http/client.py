"""The ML user's HTTP/1.1 client: keep-alive connections to one origin, one POST at a time each.

Why its own: a plain FastHttpUser spends most of its CPU per request in layers the ML user does
not need — Locust's FastHttpSession (a request-metadata dict, URL building, a response wrapper),
geventhttpclient's UserAgent (redirect and retry bookkeeping, header objects) and HTTPClient —
and only a small part in the exchange itself (send, wait in gevent's loop, receive, frame,
Locust's request event). Leaving those layers out is what makes room for the ML work per request
within a plain user's CPU budget (figures: benchmarks/README.md, "What the figures say", and the
overhead benchmark's latest run in benchmarks/RESULTS.md). What the ML user does need is here:
the request's bytes come ready-made (users/mluser.py builds the head once per user with
`request_head`), the answer is framed by the same rules as the fault proxy's (`framing`), within
a size cap and one deadline for the whole exchange, and nothing it does raises: every failure
comes back in `Answer.error`.

A request is sent once. An idle connection the server has closed is noticed before it is reused
(a readable idle socket is either closed or out of step) and replaced; a request that reached the
server and got no answer is a failure, never silently retried.

Not followed or not supported (use MLHttpUser, on requests): redirects (a 3xx is the answer and
is judged like any status), proxies, client certificates, cookies.
"""

from __future__ import annotations

import select
import socket
import ssl
import time
from dataclasses import dataclass
from typing import cast

from gevent import socket as gsocket
from gevent.monkey import get_original

from locust_mlstress.http.bodies import BodyError, BodyTooLarge, decompressed, too_late
from locust_mlstress.http.framing import BLOCK, ConnectionClosed, Reader, TooLarge, parse_head, response_framing
from locust_mlstress.http.origin import Origin

# A zero-timeout look at an idle socket needs no trip through gevent's loop: the original poll,
# or select where there is none (Windows; select alone fails past file descriptor 1023).
_select = get_original("select", "select")
try:
    _poll = get_original("select", "poll")
except AttributeError:
    _poll = None
SEND_SLICE = 1 << 20  # a big body goes out in slices, with a look for an early answer between them


class ConnectTimeout(TimeoutError):
    """No connection within `target.connect_timeout`."""


def request_head(origin: Origin, path: str, headers: dict[str, str]) -> bytes:
    """What every POST of a user starts with: built once, at the user's start. `headers` may
    replace Host; names are sent as given, values as latin-1 (as Locust's clients do)."""
    given = {name.lower() for name in headers}
    fixed = {"Host": origin.netloc} if "host" not in given else {}
    if origin.authorization is not None and "authorization" not in given:
        fixed["Authorization"] = origin.authorization
    lines = "".join(f"{name}: {value}\r\n" for name, value in (fixed | headers).items())
    return f"POST {origin.base}{path} HTTP/1.1\r\n{lines}".encode("latin-1")


JOIN_BELOW = 64 * 1024  # a body this small goes out in one piece with its head: one send


def post(head: bytes, content_type: str, request_id: str, body: bytes) -> bytes | tuple[bytes, bytes]:
    """A whole request: the head from `request_head`, the headers that change per request, the
    body. A big body (an oversized payload: up to megabytes) is sent after its head instead of
    being copied into one buffer with it."""
    tail = f"Content-Type: {content_type}\r\nX-Request-ID: {request_id}\r\nContent-Length: {len(body)}\r\n\r\n"
    if len(body) < JOIN_BELOW:
        return b"".join((head, tail.encode(), body))
    return head + tail.encode(), body


@dataclass(slots=True)
class Answer:
    """What came back. Locust's `request` event passes it to listeners as `response`."""

    status: int  # 0: no response head came (connection error or timeout: see `error`)
    headers: dict[str, str]  # names lower-cased; a repeated header's values joined with ", "
    content: bytes | None  # the body, decompressed; None when it did not come whole
    error: BaseException | None  # what went wrong, before the head or within the body

    @property
    def status_code(self) -> int:
        return self.status

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace") if self.content else ""


class _Connection(Reader):
    """One socket, its unread bytes, and the deadline of the exchange it is in."""

    def __init__(self, sock) -> None:
        super().__init__(sock)
        self.deadline = 0.0
        self.sending = False  # for the wording of a timeout: still sending, or waiting for the answer
        self.cut = False  # the request was not sent whole: never reused
        self.tls = callable(getattr(sock, "pending", None))  # gevent's SSLSocket, or the standard one
        self.poller = _poll() if _poll is not None else None
        if self.poller is not None:
            self.poller.register(sock.fileno(), select.POLLIN)

    def left(self) -> float:
        """Seconds to the deadline; TimeoutError once it has passed."""
        left = self.deadline - time.perf_counter()
        if left <= 0:
            raise TimeoutError("timed out")
        return left

    def _fill(self) -> bool:
        self.sock.settimeout(self.left())
        return super()._fill()

    def readable(self) -> bool:
        """Whether the server has sent something, without waiting (a system call, no trip
        through gevent's loop)."""
        if self.poller is not None:
            return bool(self.poller.poll(0))
        return bool(_select([self.sock], [], [], 0)[0])

    def answered(self) -> bool:
        """Whether the server has sent answer bytes (or closed), without waiting. Over TLS a
        readable socket is not enough: a TLS 1.3 server sends its session tickets after the
        handshake, while the request is still going out, and those records are the TLS layer's,
        not an answer (issue 13: a 2 MiB body on a new connection read as a timeout 18 times
        in 30). So over TLS the records are read without blocking; only application bytes
        (kept in the buffer for the answer) or the server's close count."""
        if self.buffer:
            return True
        if not self.readable():
            return False
        if not self.tls:
            return True
        try:
            self.sock.settimeout(0.0)  # gevent's SSLSocket raises SSLWantReadError then
            data = self.sock.recv(BLOCK)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return False  # TLS records only (a session ticket): consumed, nothing for us
        except OSError:
            return True  # a reset or a TLS alert: the exchange's next read reports it
        self.buffer += data
        return True  # answer bytes, or b"": the server closed

    def stale(self) -> bool:
        """An idle socket with something to read has been closed by the server (or is out of
        step with it): not to be used again. Over TLS, records with no application data (a
        late session ticket) are consumed and the connection stays usable; a close_notify
        means closed."""
        return self.answered()

    def close(self) -> None:
        self.sock.close()


class Pool:
    """Connections to one origin: one per request in flight, kept alive between requests."""

    def __init__(self, origin: Origin, connect_timeout: float, tls=None, keep: int = 256) -> None:
        """`tls`: the SSLContext for an https origin (users.MLUser makes it as FastHttpUser does:
        `ssl_context_factory`, else certificates unchecked while `insecure`)."""
        if origin.scheme == "https" and tls is None:
            raise ValueError("an https origin needs an SSLContext")
        self.origin = origin
        self.connect_timeout = connect_timeout
        self.keep = keep  # idle connections kept at most
        self._idle: list[_Connection] = []
        self._tls = tls if origin.scheme == "https" else None

    def exchange(self, request: bytes | tuple[bytes, ...], timeout: float, limit: int) -> Answer:
        """Send `request` (a whole HTTP/1.1 message, or its pieces in order: `post`) and read its
        answer, all within `timeout` seconds; a body over `limit` bytes (before or after
        decompression) is not read."""
        deadline = time.perf_counter() + timeout
        conn = None
        try:
            conn = self._take(deadline)
            conn.deadline = deadline
            head = self._send(conn, request)
        except Exception as exc:
            if conn is not None:
                conn.close()
            return Answer(0, {}, None, _before_head(exc, timeout, conn is not None and conn.sending))
        except BaseException:  # the user is being stopped: the connection is mid-exchange
            if conn is not None:
                conn.close()
            raise
        framing = None
        try:
            framing = response_framing(head, "POST")
            content = conn.content(framing, limit)
        except BaseException as exc:
            conn.close()  # the rest of the body is still on the wire
            if not isinstance(exc, Exception):
                raise
            announced = framing[1] if framing is not None and framing[0] == "length" else None
            return Answer(head.status, head.headers, None, _within_body(exc, timeout, limit, announced))
        if framing[0] != "close" and head.keep_alive() and not conn.cut and len(self._idle) < self.keep:
            self._idle.append(conn)
        else:
            conn.close()
        encoding = head.headers.get("content-encoding")
        if encoding is not None:
            try:
                content = decompressed(content, encoding, limit)
            except BodyError as exc:
                return Answer(head.status, head.headers, None, exc)
        return Answer(head.status, head.headers, content, None)

    def _take(self, deadline: float) -> _Connection:
        while self._idle:
            conn = self._idle.pop()
            if not conn.stale():
                return conn
            conn.close()
        return self._connect(deadline)

    def _connect(self, deadline: float) -> _Connection:
        """A new connection (and TLS handshake) within `target.connect_timeout` and the deadline."""
        limit = min(self.connect_timeout, deadline - time.perf_counter())
        if limit <= 0:
            raise TimeoutError("timed out")
        ends = time.perf_counter() + limit
        try:
            sock = gsocket.create_connection((self.origin.host, self.origin.port), timeout=limit)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                sock.settimeout(max(ends - time.perf_counter(), 1e-3))
                sock = self._tls.wrap_socket(sock, server_hostname=self.origin.host)
        except TimeoutError:
            raise ConnectTimeout(f"timed out connecting within {limit:g} s (target.connect_timeout)") from None
        return _Connection(sock)

    def _send(self, conn: _Connection, request: bytes | tuple[bytes, ...]):
        """Send the request and read the answer's head. A server may answer before it has read
        the whole request (a 413 for a body it will not take), and close: a big body is sent in
        slices with a look for that answer between them, and then that answer is the answer."""
        conn.sending = True
        try:
            if type(request) is bytes:
                conn.sock.settimeout(conn.left())
                conn.sock.sendall(request)
            else:
                for piece in cast("tuple[bytes, ...]", request):  # mypy does not narrow on `type(x) is not`
                    if not _send_watching(conn, piece):
                        conn.cut = True  # an answer came: the rest of the request is not sent
                        break
        except OSError as exc:  # a reset or a close while sending: perhaps after an answer
            if isinstance(exc, TimeoutError):
                raise
            conn.cut = True
            conn.sending = False
            try:
                return self._head(conn)
            except Exception:
                raise exc from None
        conn.sending = False
        return self._head(conn)

    @staticmethod
    def _head(conn: _Connection):
        """The final response head (interim 1xx answers skipped)."""
        while True:
            raw = conn.head()
            if raw is None:
                raise ConnectionClosed("the server closed the connection without answering")
            head = parse_head(raw, response=True)
            if not 100 <= head.status < 200 or head.status == 101:
                return head

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


def _send_watching(conn: _Connection, data: bytes) -> bool:
    """Send `data` a slice at a time while the server has not answered; False when it has."""
    view = memoryview(data)
    sent = 0
    while sent < len(view):
        if conn.answered():
            return False
        conn.sock.settimeout(conn.left())
        sent += conn.sock.send(view[sent : sent + SEND_SLICE])
    return True


def _before_head(exc: Exception, timeout: float, sending: bool) -> BaseException:
    """Timeouts worded by what was late (the clients' own texts vary: 'timed out', 'The read
    operation timed out' over TLS); a connect timeout says so itself."""
    if isinstance(exc, TimeoutError) and not isinstance(exc, ConnectTimeout):
        late = "request not sent" if sending else "no answer"
        return TimeoutError(f"timed out: {late} within the {timeout:g} s timeout")
    return exc


def _within_body(exc: Exception, timeout: float, limit: int, announced: int | None) -> BaseException:
    if isinstance(exc, TooLarge):
        return BodyTooLarge(limit, announced)
    if isinstance(exc, TimeoutError):
        return too_late(timeout)
    return exc
