"""The chaos modes that break the transport, through the users' real request path on real sockets.

An in-process gevent server (the reference app in chaos mode, on 127.0.0.1) and a real MLUser /
MLHttpUser whose `_send` is called directly: a huge body stops at the cap, a drip ends at the
profile's timeout, a reset is a connection error, a hang a timeout; no exception leaves `_send`,
and the next request on the same connection pool is answered normally.
"""

from __future__ import annotations

import dataclasses
import gzip
import re
import time

import pytest
from gevent.pywsgi import WSGIServer
from locust import constant
from locust.env import Environment

from locust_mlstress import MLHttpUser, MLUser, ml_events
from locust_mlstress.servers.reference import ReferenceApp, ServerKnobs, start_server
from locust_mlstress.servers.reference.chaos import mode_for
from locust_mlstress.servers.reference.training import model_for_profile

TIMEOUT = 0.5
CAP = 64 * 1024


@pytest.fixture(scope="module")
def profile(quickstart):
    return dataclasses.replace(quickstart, target=dataclasses.replace(quickstart.target, timeout=TIMEOUT))


@pytest.fixture(scope="module")
def model(quickstart):
    return model_for_profile(quickstart, 500)


def serve_chaos(model, mode: str, share: float = 1.0):
    knobs = ServerKnobs(chaos=(mode,), chaos_share=share, chaos_stall_s=3.0, chaos_huge_bytes=1 << 20)
    return start_server(ReferenceApp(model, knobs, "churn"))


def make_user(base, profile, url: str):
    user_class = type("Chaotic", (base,), {"profile": profile, "host": url, "wait_time": constant(0)})
    user_class.max_response_bytes = CAP
    environment = Environment(user_classes=[user_class], host=url)
    seen: list = []
    ml_events(environment).add_listener(lambda payload, result, **_kw: seen.append((payload, result)))
    failures: list = []
    environment.events.request.add_listener(lambda exception=None, **_kw: failures.append(exception))
    user = user_class(environment)
    user.on_start()
    return user, seen, failures


def send_clean(user, count: int) -> float:
    """Send `count` clean payloads; the longest single request in seconds."""
    longest = 0.0
    sent = 0
    while sent < count:
        payload = user._factory.next()
        if payload.kind != "clean":
            continue
        started = time.perf_counter()
        user._send(payload, user._champion, payload.request_id, None)
        longest = max(longest, time.perf_counter() - started)
        sent += 1
    return longest


EXPECTED = {
    "huge": ("undecodable", re.escape(f"body exceeds the limit of {CAP} bytes (max_response_bytes)")),
    # requests' urllib3 turns the deadline's TimeoutError into its own "Read timed out."
    "drip": ("timeout", "body not complete within the 0.5 s timeout|Read timed out"),
    "reset": ("connection_error", "reset by peer"),
    "hang": ("timeout", "timed out"),
}


@pytest.mark.parametrize("base", [MLUser, MLHttpUser], ids=["fast", "http"])
@pytest.mark.parametrize("mode", ["huge", "drip", "reset", "hang"])
def test_transport_chaos_is_classified_and_the_next_request_works(profile, model, base, mode):
    server = serve_chaos(model, mode, share=0.5)
    try:
        user, seen, failures = make_user(base, profile, f"http://127.0.0.1:{server.server_port}")
        longest = send_clean(user, 8)
    finally:
        server.stop(timeout=1)
    outcome, reason = EXPECTED[mode]
    modes = [mode_for(p.request_id, (mode,), 0.5) for p, _ in seen]
    assert mode in modes and None in modes, modes  # both kinds of answer, in one connection pool
    for (payload, result), got in zip(seen, modes, strict=True):
        if got is None:
            assert result.outcome == "ok" and result.status == 200, (payload.request_id, result)
        else:
            assert result.outcome == outcome, result
            assert re.search(reason, result.reason), result.reason
    assert len(failures) == len(seen)  # Locust saw each request once, as the ML hook did
    assert sum(f is not None for f in failures) == modes.count(mode)
    assert longest < TIMEOUT + 0.6  # the deadline holds: nothing waits for the 3 s stall


def _odd_server(body: bytes, headers: list[tuple[str, str]]):
    def app(environ, start_response):
        environ["wsgi.input"].read()
        start_response("200 OK", headers)
        return [body]

    server = WSGIServer(("127.0.0.1", 0), app, log=None)
    server.start()
    return server


BOMB = gzip.compress(b" " * (CAP * 50) + b'{"predictions": [0.5]}')


@pytest.mark.parametrize("base", [MLUser, MLHttpUser], ids=["fast", "http"])
@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        # a Content-Length beyond the cap: refused from the headers, the body is never read
        (b"{", [("Content-Length", str(10**9))], f"limit of {CAP} bytes"),
        # a small gzip body inflating past the cap
        (BOMB, [("Content-Length", str(len(BOMB))), ("Content-Encoding", "gzip")], f"limit of {CAP} bytes"),
    ],
    ids=["announced", "gzip-bomb"],
)
def test_oversized_bodies_are_not_read_past_the_cap(profile, base, body, headers, reason):
    server = _odd_server(body, [("Content-Type", "application/json"), *headers])
    try:
        user, seen, _ = make_user(base, profile, f"http://127.0.0.1:{server.server_port}")
        send_clean(user, 1)
    finally:
        server.stop(timeout=1)
    (_, result) = seen[0]
    assert result.outcome == "undecodable" and reason in result.reason, result


@pytest.mark.parametrize("base", [MLUser, MLHttpUser], ids=["fast", "http"])
def test_a_gzip_answer_within_the_cap_decodes(profile, base):
    body = gzip.compress(b'{"predictions": [0.25]}')
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Content-Encoding", "gzip")]
    server = _odd_server(body, headers)
    try:
        user, seen, _ = make_user(base, profile, f"http://127.0.0.1:{server.server_port}")
        send_clean(user, 2)
    finally:
        server.stop(timeout=1)
    assert [(r.outcome, r.predictions) for _, r in seen] == [("ok", [0.25])] * 2
