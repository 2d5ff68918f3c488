"""Calling the reference WSGI app in-process, as a test would, without a socket.

Building a WSGI environ by hand is the cheapest faithful way to exercise the real app: the same
callable gevent runs, just without the network in between.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

JSON = "application/json"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error(self) -> str:
        """The `error` message of an error answer."""
        return self.json()["error"]


def call(
    app: Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]],
    method: str,
    path: str,
    body: object = None,
    content_type: str | None = JSON,
    content_length: bool = True,
) -> Reply:
    """Send one request to `app`; `body` is bytes as is, or anything else encoded as JSON."""
    if body is None:
        raw = b""
    elif isinstance(body, bytes):
        raw = body
    else:
        raw = json.dumps(body).encode()
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(raw),
    }
    if content_type is not None:
        environ["CONTENT_TYPE"] = content_type
    if content_length:
        environ["CONTENT_LENGTH"] = str(len(raw))
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"] = int(status.split(" ", 1)[0])
        seen["headers"] = dict(headers)

    content = b"".join(app(environ, start_response))
    return Reply(seen["status"], seen["headers"], content)
