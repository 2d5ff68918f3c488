"""HTTP/1.1 message boundaries, for the fault proxy and the ML user's client (`client`).

Both need only what tells where one message ends on a keep-alive connection: the head (up to
the blank line), then a body framed by Content-Length, chunked transfer coding, or (responses
only) the connection's close. The proxy forwards the bytes unchanged (`Reader.body`); the
client wants the body itself (`Reader.content`). Not handled: pipelined requests (a request
is read only after the previous answer came back, which is what keep-alive clients do),
protocol upgrades, HTTP/2.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

MAX_HEAD = 64 * 1024  # bytes of a request or response head
MAX_LINE = 8 * 1024  # bytes of a chunk-size or trailer line
BLOCK = 64 * 1024

_DIGITS = re.compile(r"[0-9]{1,19}")  # str.isdigit() would take "²"
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_STATUS = re.compile(r"[0-9]{3}")

Framing = tuple[Literal["none", "length", "chunked", "close"], int]

SHOWN = 32  # characters of server text a message quotes
_UNSHOWABLE = re.compile(r"[^\x20-\x7e]|['\"`\\]")


def shown(value: object, limit: int = SHOWN) -> str:
    """Server text for a message, quoted: at most `limit` characters, anything but printable
    ASCII (and quotes, which would end the quoting) as '?'. A server chooses these texts (a
    Content-Encoding of 64 KB, an output name as long as the body, control characters): quoted
    whole they made every failure text distinct and unbounded (issue 13), and could write
    escape sequences to a terminal. `outcomes.failure_message` folds the quoted text away for
    Locust's error table; the shortened text stays in the reason the `ml_request` hook sees."""
    if isinstance(value, bytes | bytearray):
        text = bytes(value[: limit + 1]).decode("latin-1")
    elif isinstance(value, str):
        text = value
    else:  # a JSON value where a name was expected: its type, not its (unbounded) text
        text = type(value).__name__
    cut = len(text) > limit
    text = _UNSHOWABLE.sub("?", text[:limit])
    return f"'{text}...'" if cut else f"'{text}'"


class HttpError(ValueError):
    """A message the proxy cannot frame: it answers 400 (request) or 502 (response) and closes."""


class TooLarge(HttpError):
    """A request body over the proxy's limit: answered 413."""


class ConnectionClosed(ConnectionError):
    """The peer closed the connection in the middle of a message."""


@dataclass(frozen=True)
class Head:
    raw: bytes  # as received, blank line included: forwarded unchanged
    start: tuple[str, str, str]  # request: method, target, version; response: version, status, reason
    headers: dict[str, str]  # names lower-cased; a repeated header's values joined with ", "
    version: str  # "HTTP/1.1" or "HTTP/1.0"

    @property
    def status(self) -> int:
        return int(self.start[1])

    def keep_alive(self) -> bool:
        """HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 only when asked to keep it."""
        tokens = {t.strip().lower() for t in self.headers.get("connection", "").split(",")}
        if "close" in tokens:
            return False
        return self.version == "HTTP/1.1" or "keep-alive" in tokens


def parse_head(raw: bytes, response: bool) -> Head:
    """Split a head into its start line and headers; HttpError says what is wrong with it."""
    try:
        text = raw.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        raise HttpError("head is not latin-1") from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or (len(parts) == 2 and not response):
        raise HttpError(f"bad start line {shown(lines[0])}")
    start = (parts[0], parts[1], parts[2] if len(parts) > 2 else "")
    version = start[0] if response else start[2]
    if not version.startswith("HTTP/1."):
        raise HttpError(f"not HTTP/1.x: {shown(lines[0])}")
    if response and not _STATUS.fullmatch(start[1]):  # str.isdigit() would take "²²²", int() not
        raise HttpError(f"bad status in {shown(lines[0])}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HttpError(f"bad header line {shown(line)}")
        key = name.lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    return Head(raw, start, headers, version)


def _length(head: Head) -> int | None:
    value = head.headers.get("content-length")
    if value is None:
        return None
    values = {v.strip() for v in value.split(",")}
    if len(values) != 1 or not _DIGITS.fullmatch(next(iter(values))):
        raise HttpError(f"bad Content-Length {shown(value)}")
    return int(values.pop())


def _chunked(head: Head) -> bool:
    coding = head.headers.get("transfer-encoding")
    if coding is None:
        return False
    if coding.split(",")[-1].strip().lower() != "chunked":
        raise HttpError(f"unsupported Transfer-Encoding {shown(coding)}")
    return True


def request_framing(head: Head) -> Framing:
    """A request's body: chunked, Content-Length, or none (a request never ends by closing)."""
    if _chunked(head):
        return ("chunked", 0)
    length = _length(head)
    return ("length", length) if length else ("none", 0)


def response_framing(head: Head, method: str) -> Framing:
    """A response's body, per RFC 9112 section 6.3: none after HEAD and for 1xx/204/304."""
    status = head.status
    if method == "HEAD" or 100 <= status < 200 or status in (204, 304):
        return ("none", 0)
    if _chunked(head):
        return ("chunked", 0)
    length = _length(head)
    return ("length", length) if length is not None else ("close", 0)


def _chunk_size(line: bytes) -> int:
    size = line.split(b";")[0].strip()
    if not _HEX.fullmatch(size):  # int(x, 16) alone would take "0x5", "+5", "-2" or "0_0"
        raise HttpError(f"bad chunk size line {shown(line)}")
    return int(size, 16)


class Reader:
    """Buffered reads from a socket (anything with `recv`): heads, lines, framed bodies."""

    def __init__(self, sock) -> None:
        self.sock = sock
        # A bytearray: taking bytes off its front is O(1) in CPython, so a body of many small
        # chunks costs linear time, not a copy of the rest of the buffer per chunk.
        self.buffer = bytearray()

    def _fill(self) -> bool:
        data = self.sock.recv(BLOCK)
        self.buffer += data
        return bool(data)

    def _until(self, marker: bytes, limit: int, what: str) -> bytes | None:
        """The bytes up to and including `marker`; None when the peer closed with nothing pending."""
        while True:
            end = self.buffer.find(marker)
            if end >= 0:
                return self._take(end + len(marker))
            if len(self.buffer) > limit:
                raise HttpError(f"{what} longer than {limit} bytes")
            if not self._fill():
                if self.buffer.strip():
                    raise ConnectionClosed(f"closed in the middle of a {what}")
                return None

    def _take(self, n: int) -> bytes:
        """The first n bytes of the buffer (or all of it, if fewer), off the buffer."""
        piece = bytes(self.buffer[:n])
        del self.buffer[:n]
        return piece

    def head(self) -> bytes | None:
        """The next head, blank line included; None when the peer closed before sending a byte."""
        return self._until(b"\r\n\r\n", MAX_HEAD, "head")

    def line(self) -> bytes:
        raw = self._until(b"\r\n", MAX_LINE, "line")
        if raw is None:
            raise ConnectionClosed("closed in the middle of a body")
        return raw

    def exactly(self, n: int) -> Iterator[bytes]:
        """n bytes, as pieces of at most BLOCK bytes."""
        while n > 0:
            if not self.buffer and not self._fill():
                raise ConnectionClosed(f"closed with {n} bytes of the body still to come")
            piece = self._take(n)
            n -= len(piece)
            yield piece

    def body(self, framing: Framing, limit: int | None = None) -> Iterator[bytes]:
        """The body's bytes as they are on the wire (chunk framing included), in pieces;
        HttpError when it is longer than `limit`."""
        kind, length = framing
        if kind == "length":
            if limit is not None and length > limit:
                raise TooLarge(f"body of {length} bytes is over the proxy's limit of {limit}")
            yield from self.exactly(length)
        elif kind == "chunked":
            total = 0
            while True:
                size_line = self.line()
                size = _chunk_size(size_line)
                total += size
                if limit is not None and total > limit:
                    raise TooLarge(f"chunked body over the proxy's limit of {limit} bytes")
                yield size_line
                if size == 0:
                    break
                yield from self.exactly(size + 2)  # the chunk and its CRLF
            while True:  # trailers, up to the blank line
                trailer = self.line()
                yield trailer
                if trailer == b"\r\n":
                    break
        elif kind == "close":
            yield from self._to_close()

    def _to_close(self) -> Iterator[bytes]:
        if self.buffer:
            yield self._take(len(self.buffer))
        while self._fill():
            yield self._take(len(self.buffer))

    def content(self, framing: Framing, limit: int) -> bytes:
        """The body without its transfer coding (chunk sizes, trailers); TooLarge past `limit`
        bytes, before reading them where the length is announced."""
        kind, length = framing
        if kind == "none":
            return b""
        if kind == "length":
            if length > limit:
                raise TooLarge(f"body of {length} bytes is over the limit of {limit}")
            if len(self.buffer) >= length:  # the common case: it came with the head
                return self._take(length)
            return b"".join(self.exactly(length))
        pieces: list[bytes] = []
        total = 0
        for piece in self._chunks() if kind == "chunked" else self._to_close():
            total += len(piece)
            if total > limit:
                raise TooLarge(f"body over the limit of {limit} bytes")
            pieces.append(piece)
        return b"".join(pieces)

    def _chunks(self) -> Iterator[bytes]:
        while True:
            size = _chunk_size(self.line())
            if size == 0:
                break
            yield from self.exactly(size)
            if self.line() != b"\r\n":
                raise HttpError("chunk not followed by CRLF")
        while self.line() != b"\r\n":  # trailers, up to the blank line
            pass
