"""MLHttpUser: the ML user on Locust's HttpUser (requests), for targets that need requests'
features (client certificates, proxies, redirects); slower per request than MLUser."""

from __future__ import annotations

import time

from locust import HttpUser

from locust_mlstress.http.bodies import read_requests
from locust_mlstress.payloads import Payload
from locust_mlstress.users.behaviour import _MLBehaviour
from locust_mlstress.users.challenger import Side
from locust_mlstress.users.events import MLResult


class MLHttpUser(_MLBehaviour, HttpUser):
    """An ML user on HttpUser (requests): slower per request, with requests' full feature set."""

    abstract = True

    tasks = [_MLBehaviour.predict]

    def on_start(self) -> None:
        self._setup()
        connect = self._profile.target.connect_timeout
        # the challenger's requests go to an absolute URL (requests leaves those as they are)
        self._urls = {s.version: s.path if s.host is None else s.host.rstrip("/") + s.path for s in self._sides}
        self._options = {s.version: {"timeout": (connect, s.timeout)} for s in self._sides}

    def _send(
        self, payload: Payload, side: Side, request_id: str, probe_of: list | None, due: float | None = None
    ) -> MLResult:
        """One request, as MLUser's. `stream=True`: the body is read by `bodies`, within
        `max_response_bytes` and what is left of `target.timeout`, and its reading time is added
        to Locust's time to the headers."""
        headers = {**side.headers, "Content-Type": payload.content_type, "X-Request-ID": request_id}
        name = side.names[payload.kind if probe_of is None else "probe"]
        sent = time.perf_counter()
        with self.client.request(
            "POST", self._urls[side.version], data=payload.body, headers=headers, name=name, catch_response=True,
            stream=True, **self._options[side.version],
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
            failure, result = self._judge(
                payload, side, status, resp.headers, body, error, meta["response_time"], probe_of
            )
            if failure is None:
                resp.success()
            else:
                resp.failure(failure)
        return result

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
