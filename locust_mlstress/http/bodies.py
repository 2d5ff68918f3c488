"""Reading a response body within a size cap and a deadline.

Left to itself, requests reads the whole body before a user sees the response: a server
answering 2 GB costs 2 GB per user, and a server that sends a byte every 100 ms never trips the
client's timeout, which bounds each socket read, not the response. So MLHttpUser asks for
`stream=True` and reads the body here instead: at most `limit` bytes (before and after
decompression), and all of it within what is left of the profile's `target.timeout`. MLUser's
own client (`http/client.py`) keeps the same cap and deadline, and uses `decompressed` and
the errors from here.

Failures are exceptions the outcome rules (users/outcomes.py) know: `BodyError` and its
`BodyTooLarge` (the body came but cannot be read as sent: `undecodable`), `TimeoutError`
(`timeout`), and the clients' own transport errors (`connection_error`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import gevent
from urllib3.exceptions import DecodeError as Urllib3DecodeError

from locust_mlstress.http.framing import shown

MAX_RESPONSE_BYTES = 8 << 20  # the users' default cap (MLUser.max_response_bytes)
READ_CHUNK = 64 << 10


class BodyError(Exception):
    """A body that cannot be read as the server sent it (its encoding, its size); `reason` is short
    and human-readable. Not a codec's DecodeError: this package knows bytes, not predictions."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BodyTooLarge(BodyError):
    def __init__(self, limit: int, size: int | None = None) -> None:
        told = f" ({size} bytes announced)" if size is not None else ""
        super().__init__(f"body exceeds the limit of {limit} bytes{told} (max_response_bytes)")


def too_late(timeout: float) -> TimeoutError:
    return TimeoutError(f"body not complete within the {timeout:g} s timeout")


def _check_announced(value: object, limit: int) -> None:
    """Refuse a body whose Content-Length is over `limit` before reading any of it."""
    try:
        size = int(value) if value is not None else None  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return  # a broken Content-Length: the reading finds out
    if size is not None and size > limit:
        raise BodyTooLarge(limit, size)


def read_within(read: Callable[[int], bytes], limit: int, seconds: float, timeout: float) -> bytes:
    """Read chunks until the body ends, failing past `limit` bytes or after `seconds`.

    The deadline is a gevent timer raising `TimeoutError` inside the pending socket read; the
    clients release (close) a connection whose read was interrupted."""
    if seconds <= 0:
        raise too_late(timeout)
    chunks: list[bytes] = []
    total = 0
    timer = gevent.Timeout(seconds, too_late(timeout))
    timer.start()
    try:
        while chunk := read(READ_CHUNK):
            total += len(chunk)
            if total > limit:
                raise BodyTooLarge(limit)
            chunks.append(chunk)
    finally:
        timer.close()
    return b"".join(chunks)


ENCODINGS = frozenset({"", "identity", "gzip", "x-gzip", "deflate", "br"})
INFLATE_STEP = 256 << 10  # output per step while inflating: a bomb is refused past the cap, not after


def check_encoding(encoding: str | None) -> None:
    """BodyError for a Content-Encoding neither user class decodes. MLHttpUser's urllib3
    passes an unknown coding through untouched (its body then read as `ok` where MLUser said
    `undecodable`: issue 13); both now refuse the same codings with the same text."""
    if encoding is not None and encoding.strip().lower() not in ENCODINGS:
        raise BodyError(f"unsupported Content-Encoding {shown(encoding)}")


def decompressed(data: bytes, encoding: str, limit: int) -> bytes:
    """Undo a Content-Encoding, never producing more than `limit` bytes (a small gzip body can
    inflate to gigabytes)."""
    name = encoding.strip().lower()
    if name in ("", "identity"):
        return data
    if name in ("gzip", "x-gzip"):
        return _inflate(data, 16 + zlib.MAX_WBITS, name, limit)
    if name == "deflate":
        try:  # zlib-wrapped, as the RFC says; some servers send raw deflate
            return _inflate(data, zlib.MAX_WBITS, name, limit)
        except BodyTooLarge:
            raise
        except BodyError:
            return _inflate(data, -zlib.MAX_WBITS, name, limit)
    if name == "br":
        return _unbrotli(data, limit)
    raise BodyError(f"unsupported Content-Encoding {shown(encoding)}")


def _inflate(data: bytes, wbits: int, name: str, limit: int) -> bytes:
    """Inflate a step at a time: a bomb is refused once the output passes `limit`, holding at
    most the cap and a step (one call with `max_length=limit` held its output, a copy of the
    rest of the input and zlib's growing buffers at once: hundreds of MB across users)."""
    inflater = zlib.decompressobj(wbits)
    pieces: list[bytes] = []
    total = 0
    pending = data
    try:
        while True:
            piece = inflater.decompress(pending, INFLATE_STEP)
            pending = inflater.unconsumed_tail
            total += len(piece)
            if total > limit:
                break
            if not piece:
                break  # the end, or a truncated stream: what came is the body (as before)
            pieces.append(piece)
            if inflater.eof and not pending:
                break
    except zlib.error as exc:
        raise BodyError(f"body is not valid {name}: {exc}") from None
    if total > limit:
        pieces.clear()  # dropped before the exception, whose traceback would keep them alive
        raise BodyTooLarge(limit)
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def _unbrotli(data: bytes, limit: int) -> bytes:
    try:
        import brotli  # geventhttpclient's dependency, so normally present
    except ImportError:
        raise BodyError("unsupported Content-Encoding 'br' (the brotli module is not installed)") from None
    decompressor = brotli.Decompressor()
    pieces: list[bytes] = []
    total = 0
    try:
        piece = decompressor.process(data, output_buffer_limit=INFLATE_STEP)
        while True:
            total += len(piece)
            if total > limit:
                break
            pieces.append(piece)
            if decompressor.is_finished() or not piece:
                break
            piece = decompressor.process(b"", output_buffer_limit=INFLATE_STEP)
    except brotli.error as exc:
        raise BodyError(f"body is not valid br: {exc}") from None
    if total > limit:
        pieces.clear()
        raise BodyTooLarge(limit)
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def read_requests(resp, limit: int, seconds: float, timeout: float) -> bytes:
    """The body of an HttpUser (requests) response requested with `stream=True`; urllib3 undoes
    the Content-Encoding, a chunk at a time, so `limit` bounds the decoded size too."""
    try:
        _check_announced(resp.headers.get("content-length"), limit)
        check_encoding(resp.headers.get("content-encoding"))
        try:
            body = read_within(lambda n: resp.raw.read(n, decode_content=True), limit, seconds, timeout)
        except Urllib3DecodeError as exc:
            raise BodyError(f"body could not be decompressed: {exc}") from None
    except BaseException:
        resp.close()  # not consumed: closes the connection instead of returning it to the pool
        raise
    for response in (resp, resp.request_meta["response"]):
        response._content, response._content_consumed = body, True
    resp.close()  # consumed: returns the connection to the pool
    return body
