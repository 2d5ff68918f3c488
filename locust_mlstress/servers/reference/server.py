"""Running the reference app on gevent's WSGI server, bound to loopback only."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from typing import Any

from gevent.pywsgi import WSGIServer

from locust_mlstress.domain.schema import Profile
from locust_mlstress.servers.children import LISTENING, LOOPBACK
from locust_mlstress.servers.reference.app import ReferenceApp
from locust_mlstress.servers.reference.chaos import SocketHandler
from locust_mlstress.servers.reference.knobs import ServerKnobs
from locust_mlstress.servers.reference.model import Model
from locust_mlstress.servers.reference.training import TRAIN_SAMPLES, model_for_profile


class NoDelayWSGIServer(WSGIServer):
    """pywsgi writes a response's headers and body in two sends; with Nagle's algorithm on, the
    body then waits for the client's delayed ACK, adding ~40 ms to every keep-alive request."""

    def handle(self, sock: Any, address: Any) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle(sock, address)


def start_server(app: ReferenceApp, host: str = "127.0.0.1", port: int = 0) -> WSGIServer:
    """Bind and start serving in the background of the current gevent hub; returns the bound server.

    The reference server is a test target and must never be reachable from outside the machine.
    """
    if host not in LOOPBACK:
        raise ValueError(f"the reference server binds to loopback only (127.0.0.1), not {host!r}")
    handler = {"handler_class": SocketHandler} if app.chaos is not None else {}  # `reset` needs the socket
    server = NoDelayWSGIServer((host, port), app, log=None, error_log=sys.stderr, **handler)
    server.start()
    return server


def serve(
    profile: Profile,
    knobs: ServerKnobs | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    ready: Callable[[int], None] | None = None,
    model: Model | None = None,
    train_samples: int = TRAIN_SAMPLES,
) -> None:
    """Fit the profile's model and serve it forever; `ready` gets the bound port (useful with port 0)."""
    if model is None:
        model = model_for_profile(profile, train_samples)
    app = ReferenceApp(model, knobs, profile.target.model_name)
    server = start_server(app, host, port)
    bound = server.server_port
    shown = f"[{host}]" if ":" in host else host
    print(f"{LISTENING}http://{shown}:{bound}", flush=True)
    if ready is not None:
        ready(bound)
    server.serve_forever()
