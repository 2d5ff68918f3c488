"""The per-request path both ML user classes share: payload -> request -> outcome -> `ml_request`.

Each class (users/mluser.py, users/httpuser.py) brings its own `_send`; this holds what comes
before a request (the profile, the payload stream, the headers) and after it (`_judge`).
"""

from __future__ import annotations

import os
import random
import time
from typing import TYPE_CHECKING, ClassVar, cast

from locust.exception import StopUser

from locust_mlstress.codecs import Codec
from locust_mlstress.domain.outcomes import SUCCESSES
from locust_mlstress.domain.schema import KINDS, Profile
from locust_mlstress.errors import ProfileError
from locust_mlstress.http.bodies import MAX_RESPONSE_BYTES
from locust_mlstress.payloads import Payload, PayloadFactory
from locust_mlstress.payloads.factory import mix_for
from locust_mlstress.users.challenger import CHAMPION, Side, challenger_settings, pair_draw, sides
from locust_mlstress.users.context import (
    RunContext,
    context_of,
    extra_headers,
    next_user_id,
    option,
    plan_for,
    resolve_profile,
)
from locust_mlstress.users.events import MLResult, ml_events, ml_pair_events
from locust_mlstress.users.outcomes import classify_answer, failure_message

if TYPE_CHECKING:
    from locust.env import Environment

UNREGISTERED = (
    "locust-mlstress is not registered: import the user classes from the package, "
    "`from locust_mlstress import MLUser` (a deep import such as locust_mlstress.users.mluser skips it), "
    "or call locust_mlstress.plugin.register(); without it no ML figures are recorded"
)


class _MLBehaviour:
    """The per-request path shared by both user classes: payload -> request -> outcome -> hook."""

    abstract = True
    profile: ClassVar[str | os.PathLike[str] | Profile | None] = None
    max_response_bytes: ClassVar[int] = MAX_RESPONSE_BYTES  # a longer body is `undecodable`, and not read
    environment: Environment  # from the User class this one is mixed into

    if TYPE_CHECKING:  # each user class's own request path

        def _send(
            self, payload: Payload, side: Side, request_id: str, probe_of: list | None, due: float | None = None
        ) -> MLResult: ...

    def _setup(self) -> None:
        context = context_of(self.environment)
        if type(context) is RunContext:  # the plugin's register() never ran: nothing would record
            context.log_once(UNREGISTERED)
        try:
            profile = resolve_profile(type(self), self.environment)
        except ProfileError as exc:
            # Local runs and masters stop at init on a bad profile; this is a worker whose copy
            # of the file differs, or a web UI form: send nothing, say why once.
            context.log_once(str(exc))
            raise StopUser() from None
        user_id = next_user_id(self.environment, type(self))
        mix = mix_for(profile, plan_for(self.environment, profile))
        self._factory = PayloadFactory(profile, user_id, context_of(self.environment).clock(), mix)
        self._codec: Codec = self._factory.kit.codec
        self._profile = profile
        self._path = profile.target.path
        # a loaded profile's header always has a value (profile/load.py reads it or fails)
        self._headers = {h.name: cast(str, h.value) for h in profile.target.headers} | extra_headers(self.environment)
        settings = challenger_settings(self.environment, profile)
        self._sides = sides(profile, self._codec, self._headers, settings.url if settings else None)
        self._champion = self._sides[0]
        self._names = self._champion.names
        self._pair_share = settings.share if settings is not None else 0.0
        self._hook = ml_events(self.environment)
        self._pair_hook = ml_pair_events(self.environment)
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
            self._send(payload, self._champion, f"{payload.request_id}-probe", before)
        else:
            self._dispatch(self._factory.next())

    def _dispatch(self, payload: Payload, due: float | None = None) -> None:
        """Send a new payload to the champion, and to the challenger when it is mirrored: the
        same bytes, one after the other, in an order drawn from the payload (challenger.py)."""
        mirrored = self._pair_share > 0  # without a challenger, no hashing on the request path
        draw, challenger_first = pair_draw(self._profile.seed, payload.request_id) if mirrored else (1.0, False)
        if draw >= self._pair_share:
            self._send(payload, self._champion, payload.request_id, None, due)
            return
        first, second = reversed(self._sides) if challenger_first else self._sides
        # open-model arrivals: the dispatch lag counts for both, the first's wait for neither
        lag = 0.0 if due is None else time.perf_counter() - due
        a = self._send(payload, first, payload.request_id + first.id_suffix, None, due)
        later = None if due is None else time.perf_counter() - lag
        b = self._send(payload, second, payload.request_id + second.id_suffix, None, later)
        champion, challenger = (b, a) if challenger_first else (a, b)
        self._pair_hook.fire(payload=payload, champion=champion, challenger=challenger)

    def _judge(
        self, payload: Payload, side: Side, status: int, headers, body: bytes | None, error: BaseException | None,
        response_time: float, probe_of: list | None,
    ) -> tuple[str | None, MLResult]:  # fmt: skip
        """Classify the answer (and for the champion fire `ml_request`): Locust's failure text,
        or None for a success, and the result."""
        expectation = self._expect[(payload.kind, payload.variant)]
        outcome, decoded, reason = classify_answer(
            payload.kind, expectation, status, error, body, side.codec, payload.n
        )
        if decoded is None:
            predictions, labels_only, version = None, False, None
        else:
            predictions, labels_only, version = decoded.predictions, decoded.labels_only, decoded.model_version
        result = MLResult(outcome, status, predictions, response_time, reason, labels_only, version)
        if status and (version is not None or self._version_header):
            self._note_version(side, headers, version)
        if side.version == CHAMPION:
            if predictions is not None and probe_of is None and payload.kind == "clean":
                self._last_ok = (payload, predictions)
            self._hook.fire(payload=payload, result=result, probe_of=probe_of)
        return (None if outcome in SUCCESSES else failure_message(outcome, reason)), result

    def _note_version(self, side: Side, headers, body_version: str | None) -> None:
        """Each version's model version: the first one seen. The configured header wins where an
        answer carries it; else the version the body names (v2 `model_version`, KServe v1, MLflow)."""
        seen = context_of(self.environment).model_versions
        if seen.get(side.version) is None:
            found = headers.get(self._version_header.lower()) if self._version_header else None
            seen[side.version] = found if found is not None else body_version


def ml_user_classes(environment: Environment) -> list[type]:
    """The run's user classes that send a profile's payloads."""
    return [cls for cls in environment.user_classes if issubclass(cls, _MLBehaviour)]
