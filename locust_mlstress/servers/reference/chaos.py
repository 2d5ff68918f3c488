"""Chaos modes: the reference server answering valid prediction requests badly, on purpose.

A stress tester must survive the servers it is pointed at. These modes are the ways real model
servers and the proxies in front of them break an answer: an HTML error page with status 200,
a body cut short, the wrong number of predictions, NaN, a probability of 1.7, nothing at all,
the wrong content type, a body of tens of megabytes, a body that trickles in, a connection reset
halfway, a server that never answers. Each one must end as a classified outcome on the client,
never as a traceback or a stuck user.

Only answers that would have been a 200 are touched: a malformed request is still rejected, so
a run's expectations for malformed traffic hold. Which mode a request gets depends only on the
seed and its `X-Request-ID` (a hash, as trace sampling does), so a rerun with the same seed gets
the same chaos, however many users or workers send it, and `mode_for` tells a test or a reader
of traces which mode each request id got. Every chaos answer that gets as far as headers names
its mode in an `X-Chaos` header.
"""

from __future__ import annotations

import hashlib
import json
import socket
import struct
from collections.abc import Callable, Iterable, Iterator
from itertools import count
from typing import Any

import gevent
from gevent.pywsgi import WSGIHandler

from locust_mlstress.servers.reference.knobs import ServerKnobs

HEADER = "X-Chaos"
MODE_KEY = "mlstress.chaos"  # environ key: the mode `ReferenceApp.answer` picked for this request
SOCKET_KEY = "mlstress.socket"  # environ key: the connection's socket (SocketHandler), for `reset`
DRIP_INTERVAL_S = 0.1  # `drip` sends a piece of its body this often
RESET_PAUSE_S = 0.05  # `reset` waits this long after half the body, so the client is mid-read
OUT_OF_RANGE = 1.7
HTML_PAGE = b"<html><head><title>Service Unavailable</title></head><body><h1>upstream error</h1></body></html>"
_PAD = b" " * (64 * 1024)  # JSON allows trailing whitespace: padding keeps a body valid
_SCALE = 1 << 64

StartResponse = Callable[..., Any]


def mode_for(request_id: str, modes: tuple[str, ...], share: float = 1.0, seed: int = 0) -> str | None:
    """The chaos mode a request with this id gets, or None for a normal answer.

    A keyed hash (blake2b, salted with the seed): stable across processes, and independent of
    the CRC that `--ml-trace-rate` samples request ids with, so traces see every mode."""
    if not modes:
        return None
    digest = hashlib.blake2b(request_id.encode(), digest_size=8, key=f"chaos-{seed}".encode()).digest()
    key = int.from_bytes(digest, "big")
    if key >= share * _SCALE:
        return None
    return modes[key % len(modes)]


class SocketHandler(WSGIHandler):
    """pywsgi's handler, putting the connection's socket in the environ: `reset` needs it to
    make the kernel send an RST. Only used when chaos is on."""

    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        environ[SOCKET_KEY] = self.socket
        return environ


def _first_values(payload: dict) -> list | None:
    """The list that holds the first prediction: v1/MLflow `predictions`, or the data of the
    first floating-point v2 output."""
    predictions = payload.get("predictions")
    if isinstance(predictions, list):
        return predictions
    for output in payload.get("outputs", ()):
        if str(output.get("datatype", "")).startswith("FP"):
            return output["data"]
    return None


def corrupted(payload: dict, value: object) -> dict:
    """A copy of an encoded answer whose first prediction (or first class probability) is `value`."""
    out = _copy(payload)
    values = _first_values(out)
    if values is None:
        return {"predictions": [value]}
    if not values:
        values.append(value)
    elif isinstance(values[0], list) and values[0]:
        values[0][0] = value
    else:
        values[0] = value
    return out


def wrong_shape(payload: dict) -> dict:
    """A copy with one prediction more than the instances sent: the first one repeated."""
    out = _copy(payload)
    if isinstance(out.get("predictions"), list):
        out["predictions"] = out["predictions"] + out["predictions"][:1]
        return out
    for output in out.get("outputs", ()):
        shape, data = output.get("shape") or [0], output.get("data") or []
        width = len(data) // shape[0] if shape[0] else 1
        output["shape"] = [shape[0] + 1, *shape[1:]]
        output["data"] = data + data[:width]
    return out


class Chaos:
    """Picks a mode per valid prediction request and writes the bad answer."""

    def __init__(self, knobs: ServerKnobs, regression: bool) -> None:
        self.modes = knobs.chaos
        self.share = knobs.chaos_share
        self.seed = knobs.seed
        self.stall_s = knobs.chaos_stall_s
        self.huge_bytes = knobs.chaos_huge_bytes
        self.regression = regression  # no [0, 1] range to leave: out_of_range sends a string instead
        self._anonymous = count()

    def pick(self, environ: dict[str, Any]) -> str | None:
        request_id = environ.get("HTTP_X_REQUEST_ID") or f"#{next(self._anonymous)}"
        return mode_for(request_id, self.modes, self.share, self.seed)

    def respond(
        self, mode: str, payload: dict, headers: list[tuple[str, str]], environ: dict[str, Any], start: StartResponse
    ) -> Iterable[bytes]:
        """The WSGI answer of `mode` for the 200 answer `payload` (headers: the app's extra ones)."""
        body = _dump(payload)
        content_type = "application/json"
        if mode == "not_json":
            body, content_type = HTML_PAGE, "text/html; charset=utf-8"
        elif mode == "truncated":
            body = body[: max(1, len(body) // 2)]
        elif mode == "wrong_shape":
            body = _dump(wrong_shape(payload))
        elif mode in ("nan", "inf", "out_of_range"):
            value = {"nan": float("nan"), "inf": float("inf")}.get(mode, OUT_OF_RANGE)
            body = _dump(corrupted(payload, str(value) if mode == "out_of_range" and self.regression else value))
        elif mode == "empty":
            body = b""
        elif mode == "content_type":
            content_type = "text/plain; charset=utf-8"
        base = [("Content-Type", content_type), (HEADER, mode), *headers]
        if mode == "huge":  # no Content-Length (chunked): the client can only find out by reading
            start("200 OK", base)
            return _huge(body, self.huge_bytes)
        if mode == "drip":
            steps = round(self.stall_s / DRIP_INTERVAL_S)
            body = _padded(body, steps)
            start("200 OK", [*base, ("Content-Length", str(len(body)))])
            return _drip(body, steps)
        if mode == "reset":
            start("200 OK", [*base, ("Content-Length", str(len(body))), ("Connection", "close")])
            return _reset(body, environ.get(SOCKET_KEY))
        if mode == "hang":
            start("200 OK", [*base, ("Content-Length", str(len(body)))])
            return _late(body, self.stall_s)
        start("200 OK", [*base, ("Content-Length", str(len(body)))])
        return [body]


def _dump(document: dict) -> bytes:
    return json.dumps(document, separators=(",", ":"), allow_nan=True).encode()


def _copy(document: dict) -> dict:
    return json.loads(_dump(document))  # answers are small: a deep copy keeps the original intact


def _padded(body: bytes, size: int) -> bytes:
    return body + b" " * max(0, size - len(body))


def _huge(body: bytes, size: int) -> Iterator[bytes]:
    """The real answer followed by whitespace up to `size` bytes: valid JSON, just far too much of
    it. Written in 64 KiB pieces, so the server never holds more than one."""
    yield body
    left = size - len(body)
    while left > 0:
        piece = _PAD if left >= len(_PAD) else _PAD[:left]
        left -= len(piece)
        yield piece


def _drip(body: bytes, steps: int) -> Iterator[bytes]:
    """The body in `steps` pieces, one every DRIP_INTERVAL_S: each read gets data well within any
    socket timeout, so only a deadline on the whole response ends it. Stops as soon as a write
    fails, i.e. once the client has given up."""
    size = max(1, -(-len(body) // max(1, steps)))
    for i in range(0, len(body), size):
        if i:
            gevent.sleep(DRIP_INTERVAL_S)
        yield body[i : i + size]


def _reset(body: bytes, sock: socket.socket | None) -> Iterator[bytes]:
    """Half the promised body, a pause (the client is now reading the body), then an RST: with
    SO_LINGER on and a zero timeout, the close pywsgi does after `Connection: close` resets the
    connection instead of ending it cleanly."""
    yield body[: len(body) // 2]
    gevent.sleep(RESET_PAUSE_S)
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _late(body: bytes, stall_s: float) -> Iterator[bytes]:
    """Nothing (not even the headers, which pywsgi sends with the first piece) for `stall_s`."""
    gevent.sleep(stall_s)
    yield body
