"""The reference server's WSGI application: routing, body limits, knobs, and error answers.

A plain WSGI callable (no framework) keeps the per-request path short enough that, at a few
dozen Locust users, the load generator and not the target is the bottleneck; and it can be
exercised in-process by tests by handing it an environ dict.
"""

from __future__ import annotations

import json
import re
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any

import gevent
import numpy as np

from locust_mlstress.servers.reference.chaos import MODE_KEY, Chaos
from locust_mlstress.servers.reference.flip import flip_answers, flipped_rows
from locust_mlstress.servers.reference.knobs import ServerKnobs, output_problems
from locust_mlstress.servers.reference.model import Model
from locust_mlstress.servers.reference.oip import decode_v2, encode_v2, metadata
from locust_mlstress.servers.reference.protocols import (
    Decoded,
    decode_mlflow,
    decode_v1,
    encode_predictions,
    guess_instances,
)
from locust_mlstress.servers.reference.strictjson import decode_lax, decode_strict
from locust_mlstress.servers.reference.validation import InputError, Schema

READ_CHUNK = 64 * 1024
DISCARD_LIMIT = 64 * 1024 * 1024  # beyond this an oversized body is not drained: the connection closes
STATUS_TEXT = {
    200: "200 OK",
    400: "400 Bad Request",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    413: "413 Payload Too Large",
    415: "415 Unsupported Media Type",
    500: "500 Internal Server Error",
}

# (path pattern, endpoint, allowed method); the group, when present, is the model name
ROUTES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"/v1/models/([^/:]+)(?:/versions/[^/:]+)?:predict"), "v1", "POST"),
    (re.compile(r"/v1/models/([^/:]+)(?:/versions/[^/:]+)?"), "v1_status", "GET"),
    (re.compile(r"/v2/models/([^/]+)(?:/versions/[^/]+)?/infer"), "v2", "POST"),
    (re.compile(r"/v2/models/([^/]+)(?:/versions/[^/]+)?/ready"), "v2_model_ready", "GET"),
    (re.compile(r"/v2/models/([^/]+)(?:/versions/[^/]+)?"), "v2_metadata", "GET"),
    (re.compile(r"/v2/health/live"), "live", "GET"),
    (re.compile(r"/v2/health/ready"), "ready", "GET"),
    (re.compile(r"/v2/?"), "v2_server", "GET"),
    (re.compile(r"/invocations"), "mlflow", "POST"),
    (re.compile(r"/(?:ping|health)"), "ping", "GET"),
)

Codec = tuple[Callable[[object, Schema, Model], Decoded], Callable[[Model, str, np.ndarray, Decoded | None], dict]]
CODECS: dict[str, Codec] = {
    "v1": (decode_v1, encode_predictions),
    "v2": (decode_v2, encode_v2),
    "mlflow": (decode_mlflow, encode_predictions),
}

Answer = tuple[int, dict[str, Any], list[tuple[str, str]]]


def read_body(environ: dict[str, Any], limit: int) -> tuple[bytes, bool, bool]:
    """(body, too large, fully drained): an oversized body is read and dropped, not kept.

    Draining matters: a server that answers 413 without reading the body makes the client's
    send fail with a connection reset, and the stress run then records a network error instead
    of the 413 the server meant.
    """
    stream = environ.get("wsgi.input")
    if stream is None:
        return b"", False, True
    try:
        remaining = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        remaining = -1
    too_big = remaining > limit
    chunks: list[bytes] = []
    total = 0
    while remaining != 0:
        chunk = stream.read(READ_CHUNK if remaining < 0 else min(READ_CHUNK, remaining))
        if not chunk:
            break
        total += len(chunk)
        if remaining > 0:
            remaining -= len(chunk)
        if total > limit:
            too_big = True
            chunks.clear()
        elif not too_big:
            chunks.append(chunk)
        if total > max(DISCARD_LIMIT, 4 * limit):
            return b"", True, False
    return b"".join(chunks), too_big, True


def is_json(environ: dict[str, Any]) -> bool:
    return environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower() == "application/json"


class ReferenceApp:
    """The WSGI callable serving one model under one name, misbehaving as the knobs say."""

    def __init__(self, model: Model, knobs: ServerKnobs | None = None, model_name: str = "model") -> None:
        self.model = model
        self.knobs = knobs or ServerKnobs()
        if problems := output_problems(self.knobs, model.output.type):
            raise ValueError("; ".join(problems))
        self.model_name = model_name
        self.schema = Schema(
            model.features, self.knobs.max_instances, self.knobs.max_fields, strict=self.knobs.lax != "accept"
        )
        self.rng = np.random.default_rng(self.knobs.seed)
        self.in_flight = 0
        self.chaos = Chaos(self.knobs, model.output.type == "regression") if self.knobs.chaos else None
        self._version = ("X-Model-Version", self.knobs.model_version)  # on every answer, chaos or not

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.in_flight += 1
        try:
            status, payload, headers = self.answer(environ)
            mode = environ.get(MODE_KEY)
            if mode is not None:  # a valid prediction, to be answered badly (chaos.py)
                extra = [self._version, *headers]
                return self.chaos.respond(mode, payload, extra, environ, start_response)  # type: ignore[union-attr]
            body = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
        except Exception:  # a bug, not bad input: answer it like a server would, and say so on stderr
            traceback.print_exc(file=sys.stderr)
            status, headers = 500, []
            body = b'{"error":"internal server error"}'
        finally:
            self.in_flight -= 1
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            self._version,
            *headers,
        ]
        start_response(STATUS_TEXT.get(status, f"{status} Error"), headers)
        return [body]

    def answer(self, environ: dict[str, Any]) -> Answer:
        body, too_big, drained = read_body(environ, self.knobs.max_body_bytes)
        closing = [] if drained else [("Connection", "close")]
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        for pattern, endpoint, allowed in ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if method != allowed:
                return (
                    405,
                    {"error": f"method {method} not allowed on {path} (use {allowed})"},
                    [("Allow", allowed), *closing],
                )
            name = match.group(1) if match.groups() else None
            if name is not None and name != self.model_name:
                return (
                    404,
                    {"error": f"model {name!r} not found (this server serves {self.model_name!r})"},
                    closing,
                )
            if endpoint in CODECS:
                status, payload = self.predict(endpoint, environ, body, too_big)
                if status == 200 and self.chaos is not None:
                    environ[MODE_KEY] = self.chaos.pick(environ)
                return status, payload, closing
            return 200, self.describe(endpoint), closing
        return 404, {"error": f"no such endpoint: {path}"}, closing

    def describe(self, endpoint: str) -> dict[str, Any]:
        if endpoint == "v2_metadata":
            return metadata(self.model, self.model_name, self.knobs.model_version)
        if endpoint == "v1_status":
            state = {
                "version": self.knobs.model_version,
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
            return {"name": self.model_name, "ready": True, "model_version_status": [state]}
        if endpoint == "v2_server":
            return {"name": "locust-mlstress-reference", "version": "1", "extensions": []}
        if endpoint == "v2_model_ready":
            return {"name": self.model_name, "ready": True}
        return {"live": True} if endpoint == "live" else {"ready": True} if endpoint == "ready" else {}

    def misbehave(self) -> bool:
        """Sleep as the latency knobs say; True when this request must fail at random."""
        knobs = self.knobs
        delay = knobs.latency_ms + knobs.concurrency_latency_ms * self.in_flight
        if knobs.jitter_ms > 0:
            delay += self.rng.exponential(knobs.jitter_ms)
        if delay > 0:
            gevent.sleep(delay / 1000.0)
        return knobs.error_rate > 0 and self.rng.random() < knobs.error_rate

    def predict(self, endpoint: str, environ: dict[str, Any], body: bytes, too_big: bool) -> tuple[int, dict]:
        if self.misbehave():
            return 500, {"error": "injected failure (error_rate knob)"}
        decode, encode = CODECS[endpoint]
        lax = self.knobs.lax
        payload: object = None
        try:
            if lax == "accept":
                payload = None if too_big else decode_lax(body)
                if payload is None:
                    raise InputError(400, "nothing to salvage in the request body")
                decoded = decode(payload, self.schema, self.model)
            else:
                if not is_json(environ):
                    content_type = environ.get("CONTENT_TYPE") or "none"
                    raise InputError(415, f"Content-Type must be application/json, got {content_type}")
                if too_big:
                    raise InputError(413, f"request body exceeds the limit of {self.knobs.max_body_bytes} bytes")
                decoded = decode(decode_strict(body), self.schema, self.model)
        except InputError as error:
            if lax == "crash":
                return 500, {"error": f"internal server error while handling invalid input: {error.message}"}
            if lax != "accept":
                return error.status, {"error": error.message}
            n = min(max(guess_instances(payload), 1), self.knobs.max_instances)
            return 200, encode(self.model, self.model_name, self.model.neutral(n), None)
        x, drifted = self.model.encode(decoded.columns, decoded.n)
        knobs = self.knobs
        noise = knobs.load_noise * max(0, self.in_flight - 1)
        predictions = self.model.predict_design(x, drifted, knobs.temperature, knobs.drift_degradation, self.rng, noise)
        if knobs.flip_share > 0:  # after every other knob: the answer itself changes class, per row
            mask = flipped_rows(x, knobs.flip_share, knobs.seed)
            predictions = flip_answers(predictions, mask, self.model.output.type)
        answer = encode(self.model, self.model_name, predictions, decoded)
        if endpoint == "v2":  # the Open Inference Protocol's answer names the version that gave it
            answer["model_version"] = knobs.model_version
        return 200, answer
