"""Locust users that send a profile's payload mix to a model and classify every answer.

A useful locustfile is::

    from locust_mlstress import MLUser

    class Model(MLUser):
        profile = "profiles/quickstart.toml"

`MLUser` is the one to use for load: its model requests go through `http/client.py` (lean keep-alive
HTTP/1.1 on gevent sockets), and it is a FastHttpUser, so `self.client` is there for any other
task. `MLHttpUser` sends through HttpUser (requests), for targets that need requests' features
(client certificates, proxies, redirects).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import gevent.ssl
from locust.contrib.fasthttp import FastHttpUser, insecure_ssl_context_factory
from locust.exception import CatchResponseError, StopUser

from locust_mlstress.errors import ProfileError
from locust_mlstress.http.client import Pool, post, request_head
from locust_mlstress.http.origin import Origin
from locust_mlstress.payloads import Payload
from locust_mlstress.users.behaviour import _MLBehaviour
from locust_mlstress.users.challenger import Side
from locust_mlstress.users.context import context_of, logger, origin_of, resolve_profile
from locust_mlstress.users.events import MLResult
from locust_mlstress.version import __version__


@dataclass(slots=True)
class _Wire:
    """A user's connections to one version, and what each request to it starts with."""

    pool: Pool
    head: bytes
    url: str
    timeout: float


class MLUser(_MLBehaviour, FastHttpUser):
    """An ML user whose model requests go through `transport`: the cheap client, for load."""

    abstract = True
    _wires: dict[str, _Wire] | None = None

    def __init__(self, environment):
        profile = resolve_profile(type(self), environment, quiet=True)
        if profile is not None:  # for `self.client`, whose timeouts are fixed when it is built
            self.network_timeout = profile.target.timeout
            self.connection_timeout = profile.target.connect_timeout
        super().__init__(environment)

    tasks = [_MLBehaviour.predict]

    def on_start(self) -> None:
        self._setup()
        _warn_ignored(type(self))
        try:
            origin = origin_of(self.host)
        except ProfileError as exc:  # a host given after init (a worker's, a class's own): say why once
            context_of(self.environment).log_once(str(exc))
            raise StopUser() from None
        self._request_event = self.environment.events.request
        # the challenger's URL was checked before traffic (plugin/options.py, profile/load.py)
        origins = [origin if s.host is None else Origin.parse(s.host) for s in self._sides]
        self._wires = {s.version: self._wire(s, o) for s, o in zip(self._sides, origins, strict=True)}

    def _wire(self, side: Side, origin: Origin) -> _Wire:
        tls = self._tls_context() if origin.scheme == "https" else None
        given = {name.lower() for name in side.headers}
        fixed = {"User-Agent": f"locust-mlstress/{__version__}", "Accept-Encoding": "gzip, deflate, br"}
        headers = {name: value for name, value in fixed.items() if name.lower() not in given} | {
            name: value for name, value in side.headers.items() if name.lower() not in _PER_REQUEST
        }
        pool = Pool(origin, self._profile.target.connect_timeout, tls)
        return _Wire(pool, request_head(origin, side.path, headers), origin.url(side.path), side.timeout)

    def _tls_context(self):
        """As FastHttpUser makes it: the class's `ssl_context_factory`, else certificates unchecked
        while `insecure` (load tests often meet self-signed staging endpoints)."""
        if self.ssl_context_factory is not None:
            return self.ssl_context_factory()
        return insecure_ssl_context_factory() if self.insecure else gevent.ssl.create_default_context()

    def on_stop(self) -> None:
        for wire in (self._wires or {}).values():  # none when on_start stopped the user (on_stop runs then too)
            wire.pool.close()

    def _send(
        self, payload: Payload, side: Side, request_id: str, probe_of: list | None, due: float | None = None
    ) -> MLResult:
        """One request. With `due` (a perf_counter time: open-model arrivals), latency counts
        from that intended send time instead of the actual one, in Locust's stats and ours."""
        wire = self._wires[side.version]  # type: ignore[index]  # set by on_start, before any task
        request = post(wire.head, payload.content_type, request_id, payload.body)
        started = time.time()
        sent = time.perf_counter()
        answer = wire.pool.exchange(request, wire.timeout, self.max_response_bytes)
        response_time = (time.perf_counter() - (sent if due is None else due)) * 1000.0
        content = answer.content
        failure, result = self._judge(
            payload, side, answer.status, answer.headers, content, answer.error, response_time, probe_of
        )
        self._request_event.fire(
            request_type="POST", name=side.names[payload.kind if probe_of is None else "probe"],
            response_time=response_time, response_length=len(content) if content is not None else 0,
            response=answer, context=self.context(), exception=None if failure is None else CatchResponseError(failure),
            start_time=started, url=wire.url,
        )  # fmt: skip
        return result


# FastHttpUser settings a class may set that the model requests (the transport) do not use, and
# what to use instead. They still apply to `self.client`, for other tasks.
_IGNORED = {
    "proxy_host": "MLHttpUser, whose requests honour proxies",
    "proxy_port": "MLHttpUser, whose requests honour proxies",
    "default_headers": "the profile's [target.headers] or --ml-header",
    "max_retries": "none: a model request is sent once, and a failure is counted, not retried",
    "client_pool": "none: each user keeps its own keep-alive connections",
}
_warned: set[type] = set()


def _warn_ignored(cls: type) -> None:
    """Once per class and process: a setting that silently did nothing (a proxy never used)
    would make a run measure something else than its author meant."""
    if cls in _warned:
        return
    _warned.add(cls)
    set_here = [name for name in _IGNORED if getattr(cls, name, None) != getattr(FastHttpUser, name, None)]
    if set_here:
        told = "; ".join(f"{name} (use {_IGNORED[name]})" for name in set_here)
        logger.warning("%s: MLUser's model requests ignore %s. These still apply to self.client.", cls.__name__, told)


_PER_REQUEST = frozenset({"content-type", "content-length", "x-request-id", "transfer-encoding", "connection"})
