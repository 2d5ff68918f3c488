"""Where requests go: a base URL read once into what every request needs (Host, credentials).

Apart from the client so that checking a URL (a profile's `[challenger] host`, `--ml-challenger`)
loads neither gevent nor sockets: `mlstress validate` stays light.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int
    netloc: str  # the Host header: host and port, without credentials
    base: str  # the host URL's own path, without a trailing slash: prefixed to every request path
    authorization: str | None = None  # Basic, from credentials in the URL (as FastHttpSession does)

    @classmethod
    def parse(cls, url: str | None) -> Origin:
        """ValueError says what is wrong with `url` (Locust's --host; None when none was given)."""
        parts = urlsplit(url or "")  # None reads as "", as urlsplit itself reads it
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"host {url!r} is not an http:// or https:// URL")
        port = parts.port or (443 if parts.scheme == "https" else 80)  # .port raises on a bad port
        auth = None
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode("latin-1")
            auth = "Basic " + base64.b64encode(pair).decode("ascii")
        netloc = parts.netloc.rpartition("@")[2]
        return cls(parts.scheme, parts.hostname, port, netloc, parts.path.rstrip("/"), auth)

    def url(self, path: str) -> str:
        """The URL of `path`, credentials left out: for Locust's request event and reports."""
        return f"{self.scheme}://{self.netloc}{self.base}{path}"


__all__ = ["Origin"]
