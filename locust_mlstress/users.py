"""Locust users that send a profile's payload mix to a model and classify every answer.

A useful locustfile is::

    from locust_mlstress import MLUser

    class Model(MLUser):
        profile = "profiles/quickstart.toml"

`MLUser` is the one to use for load: its model requests go through `transport` (lean keep-alive
HTTP/1.1 on gevent sockets), and it is a FastHttpUser, so `self.client` is there for any other
task. `MLHttpUser` sends through HttpUser (requests), for targets that need requests' features
(client certificates, proxies, redirects).
"""

from __future__ import annotations

import os
import random
import time
from typing import TYPE_CHECKING, ClassVar, cast

import gevent.ssl
from locust import HttpUser
from locust.contrib.fasthttp import FastHttpUser, insecure_ssl_context_factory
from locust.exception import CatchResponseError, StopUser

from . import __version__, webui  # noqa: F401  (registers the web UI's ML tab, as monitoring registers its listeners)
from .bodies import MAX_RESPONSE_BYTES, read_requests
from .codecs import Codec
from .errors import ProfileError
from .events import MLResult, ml_events
from .monitoring import ml_run
from .outcomes import SUCCESSES, classify_answer, failure_message
from .payloads import Payload, PayloadFactory
from .profile.model import KINDS, Profile
from .runtime import clock_for, extra_headers, log_once, logger, next_user_id, option, origin_of, resolve_profile
from .shapes import mix_for, plan_for
from .transport import Pool, post, request_head

if TYPE_CHECKING:
    from locust.env import Environment


class _MLBehaviour:
    """The per-request path shared by both user classes: payload -> request -> outcome -> hook."""

    abstract = True
    profile: ClassVar[str | os.PathLike[str] | Profile | None] = None
    max_response_bytes: ClassVar[int] = MAX_RESPONSE_BYTES  # a longer body is `undecodable`, and not read
    environment: Environment  # from the User class this one is mixed into

    if TYPE_CHECKING:  # each user class's own request path

        def _send(
            self, payload: Payload, name: str, request_id: str, probe_of: list | None, due: float | None = None
        ) -> None: ...

    def _setup(self) -> None:
        try:
            profile = resolve_profile(type(self), self.environment)
        except ProfileError as exc:
            # Local runs and masters stop at init on a bad profile; this is a worker whose copy
            # of the file differs, or a web UI form: send nothing, say why once.
            log_once(str(exc))
            raise StopUser() from None
        user_id = next_user_id(self.environment, type(self))
        mix = mix_for(profile, plan_for(self.environment, profile))
        self._factory = PayloadFactory(profile, user_id, clock_for(self.environment), mix)
        self._codec: Codec = self._factory.kit.codec
        self._profile = profile
        self._path = profile.target.path
        self._names = {kind: f"POST {self._path} [{kind}]" for kind in (*KINDS, "probe")}
        # a loaded profile's header always has a value (profile/load.py reads it or fails)
        self._headers = {h.name: cast(str, h.value) for h in profile.target.headers} | extra_headers(self.environment)
        self._hook = ml_events(self.environment)
        share = option(self.environment, "ml_consistency")
        self._probe_share = float(share) if share is not None else profile.consistency
        self._probe_rng = random.Random((profile.seed << 24) ^ user_id)  # its own stream: payloads stay put
        self._last_ok: tuple[Payload, list] | None = None
        self._version_header = option(self.environment, "ml_version_header")
        self._expect = {(k, v): profile.expectation(k, v) for k in KINDS for v, _ in profile.variants(k)}

    def predict(self) -> None:
        """The users' one task (listed in `tasks`: Locust collects @task only from User classes)."""
        if self._probe_share and self._last_ok is not None and self._probe_rng.random() < self._probe_share:
            payload, before = self._last_ok
            self._send(payload, self._names["probe"], f"{payload.request_id}-probe", before)
        else:
            payload = self._factory.next()
            self._send(payload, self._names[payload.kind], payload.request_id, None)

    def _judge(
        self, payload: Payload, status: int, headers, body: bytes | None, error: BaseException | None,
        response_time: float, probe_of: list | None,
    ) -> str | None:  # fmt: skip
        """Classify the answer and fire `ml_request`; Locust's failure text, or None for a success."""
        expectation = self._expect[(payload.kind, payload.variant)]
        outcome, decoded, reason = classify_answer(
            payload.kind, expectation, status, error, body, self._codec, payload.n
        )
        if decoded is None:
            predictions, labels_only, version = None, False, None
        else:
            predictions, labels_only, version = decoded.predictions, decoded.labels_only, decoded.model_version
        if predictions is not None and probe_of is None and payload.kind == "clean":
            self._last_ok = (payload, predictions)
        if status and (version is not None or self._version_header):
            self._note_version(headers, version)
        result = MLResult(outcome, status, predictions, response_time, reason, labels_only, version)
        self._hook.fire(payload=payload, result=result, probe_of=probe_of)
        return None if outcome in SUCCESSES else failure_message(outcome, reason)

    def _note_version(self, headers, body_version: str | None) -> None:
        """The run's model version: the first one seen. The configured header wins where an answer
        carries it; else the version the body names (v2 `model_version`, KServe v1, MLflow)."""
        run = ml_run(self.environment)
        if run.model_version is None:
            found = headers.get(self._version_header.lower()) if self._version_header else None
            run.model_version = found if found is not None else body_version


class MLUser(_MLBehaviour, FastHttpUser):
    """An ML user whose model requests go through `transport`: the cheap client, for load."""

    abstract = True
    _pool: Pool | None = None

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
            log_once(str(exc))
            raise StopUser() from None
        target = self._profile.target
        self._pool = Pool(origin, target.connect_timeout, self._tls_context() if origin.scheme == "https" else None)
        self._url = origin.url(self._path)
        self._timeout = target.timeout
        self._request_event = self.environment.events.request
        given = {name.lower() for name in self._headers}
        fixed = {"User-Agent": f"locust-mlstress/{__version__}", "Accept-Encoding": "gzip, deflate, br"}
        headers = {name: value for name, value in fixed.items() if name.lower() not in given} | {
            name: value for name, value in self._headers.items() if name.lower() not in _PER_REQUEST
        }
        self._head = request_head(origin, self._path, headers)

    def _tls_context(self):
        """As FastHttpUser makes it: the class's `ssl_context_factory`, else certificates unchecked
        while `insecure` (load tests often meet self-signed staging endpoints)."""
        if self.ssl_context_factory is not None:
            return self.ssl_context_factory()
        return insecure_ssl_context_factory() if self.insecure else gevent.ssl.create_default_context()

    def on_stop(self) -> None:
        if self._pool is not None:  # None when on_start stopped the user (Locust calls on_stop then too)
            self._pool.close()

    def _send(
        self, payload: Payload, name: str, request_id: str, probe_of: list | None, due: float | None = None
    ) -> None:
        """One request. With `due` (a perf_counter time: open-model arrivals), latency counts
        from that intended send time instead of the actual one, in Locust's stats and ours."""
        request = post(self._head, payload.content_type, request_id, payload.body)
        started = time.time()
        sent = time.perf_counter()
        answer = cast(Pool, self._pool).exchange(request, self._timeout, self.max_response_bytes)  # set by on_start
        response_time = (time.perf_counter() - (sent if due is None else due)) * 1000.0
        content = answer.content
        failure = self._judge(payload, answer.status, answer.headers, content, answer.error, response_time, probe_of)
        self._request_event.fire(
            request_type="POST", name=name, response_time=response_time,
            response_length=len(content) if content is not None else 0, response=answer, context=self.context(),
            exception=None if failure is None else CatchResponseError(failure), start_time=started, url=self._url,
        )  # fmt: skip


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


class MLHttpUser(_MLBehaviour, HttpUser):
    """An ML user on HttpUser (requests): slower per request, with requests' full feature set."""

    abstract = True

    tasks = [_MLBehaviour.predict]

    def on_start(self) -> None:
        self._setup()
        target = self._profile.target
        self._options = {"timeout": (target.connect_timeout, target.timeout)}

    def _send(
        self, payload: Payload, name: str, request_id: str, probe_of: list | None, due: float | None = None
    ) -> None:
        """One request, as MLUser's. `stream=True`: the body is read by `bodies`, within
        `max_response_bytes` and what is left of `target.timeout`, and its reading time is added
        to Locust's time to the headers."""
        headers = {**self._headers, "Content-Type": payload.content_type, "X-Request-ID": request_id}
        sent = time.perf_counter()
        with self.client.request(
            "POST", self._path, data=payload.body, headers=headers, name=name, catch_response=True, stream=True,
            **self._options,
        ) as resp:  # fmt: skip
            meta = resp.request_meta
            headed = time.perf_counter()
            body, error = self._body(resp, sent)
            if body is not None:
                meta["response_length"] = len(body)
            if due is None:
                meta["response_time"] += (time.perf_counter() - headed) * 1000.0
            else:
                meta["response_time"] = (time.perf_counter() - due) * 1000.0
            status = resp.status_code or 0
            failure = self._judge(payload, status, resp.headers, body, error, meta["response_time"], probe_of)
            if failure is None:
                resp.success()
            else:
                resp.failure(failure)

    def _body(self, resp, sent: float) -> tuple[bytes | None, BaseException | None]:
        """(body, error): no exception from reading a body reaches the user."""
        error = getattr(resp, "error", None)
        if not resp.status_code:
            return None, error
        timeout = self._profile.target.timeout
        try:
            return read_requests(resp, self.max_response_bytes, timeout - (time.perf_counter() - sent), timeout), error
        except Exception as exc:  # a reset or a deadline mid-body: the status came, the answer did not
            return None, exc
