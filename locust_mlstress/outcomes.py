"""What happened to one request, judged against what its payload kind expects.

A pure function of the status, the transport error and the body, so the rules can be tested
without a server and read in one place. Only `ok` and `rejected` count as Locust successes.
"""

from __future__ import annotations

import re
import socket
from enum import StrEnum
from functools import cache

from .codecs import Codec, Decoded, DecodeError
from .profile.model import Expectation


class Outcome(StrEnum):
    OK = "ok"  # the expected status, and a decodable prediction where one is expected
    REJECTED = "rejected"  # an expected refusal: 4xx on malformed input, 413 on an oversized one
    ACCEPTED_MALFORMED = "accepted_malformed"  # 2xx on malformed input: a robustness failure
    SERVER_ERROR = "server_error"  # 5xx that was not expected
    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection_error"
    UNDECODABLE = "undecodable"  # 2xx whose body is not a valid prediction
    UNEXPECTED_STATUS = "unexpected_status"  # any other status the expectation does not allow


SUCCESSES = frozenset({Outcome.OK, Outcome.REJECTED})
OUTCOMES: tuple[str, ...] = tuple(o.value for o in Outcome)


@cache
def _timeout_types() -> tuple[type[BaseException], ...]:
    # Imported on first use: importing requests before Locust (which monkey-patches ssl on
    # import) would break a locustfile that imports this module first.
    import gevent
    import requests

    return (TimeoutError, socket.timeout, gevent.Timeout, requests.Timeout)


def is_timeout(error: BaseException | None) -> bool:
    return isinstance(error, _timeout_types()) or (error is not None and "timed out" in str(error).lower())


_NUMBER = re.compile(r"[-+]?\d+(\.\d+)?(e[-+]?\d+)?")


def failure_message(outcome: str, reason: str | None) -> str:
    """Locust's failure text, with numbers folded to N: Locust keeps one row per distinct text,
    so raw values ('prediction 0 is 1.7') would grow its error table with every request. The
    exact reason still reaches the `ml_request` hook."""
    return f"{outcome}: {_NUMBER.sub('N', reason or '')}"


def classify_answer(
    kind: str,
    expectation: Expectation,
    status: int,
    error: BaseException | None,
    body: bytes | None,
    codec: Codec,
    n: int,
) -> tuple[Outcome, Decoded | None, str | None]:
    """(outcome, the decoded answer or None, failure reason or None)."""
    if status == 0:
        return _transport(error, f"{type(error).__name__}: {error}" if error is not None else "no response")
    expected = expectation.allows(status)
    if 200 <= status < 300:
        if kind == "malformed" and not expected:
            return Outcome.ACCEPTED_MALFORMED, None, f"malformed input accepted with {status}"
        if not expected:
            return Outcome.UNEXPECTED_STATUS, None, f"status {status} not in {'/'.join(expectation.statuses)}"
        if not expectation.decodable:
            return Outcome.OK, None, None
        if body is None:  # the status came, the whole body did not (locust_mlstress.bodies)
            if error is None or isinstance(error, DecodeError):  # e.g. over the size cap (max_response_bytes)
                return Outcome.UNDECODABLE, None, error.reason if error is not None else "no body"
            return _transport(error, f"body could not be read: {type(error).__name__}: {error}")
        try:
            return Outcome.OK, codec.decode_result(body, n), None
        except DecodeError as exc:
            return Outcome.UNDECODABLE, None, exc.reason
    if expected:
        return Outcome.REJECTED, None, None
    if status >= 500:
        return Outcome.SERVER_ERROR, None, f"server error {status}"
    return Outcome.UNEXPECTED_STATUS, None, f"status {status} not in {'/'.join(expectation.statuses)}"


def classify(
    kind: str,
    expectation: Expectation,
    status: int,
    error: BaseException | None,
    body: bytes | None,
    codec: Codec,
    n: int,
) -> tuple[Outcome, list | None, str | None]:
    """(outcome, decoded predictions or None, failure reason or None): `classify_answer` without
    the labels flag and the model version, for callers that only want the predictions."""
    outcome, decoded, reason = classify_answer(kind, expectation, status, error, body, codec, n)
    return outcome, (decoded.predictions if decoded is not None else None), reason


def _transport(error: BaseException | None, reason: str) -> tuple[Outcome, None, str]:
    """No answer, or no whole body: a timeout or a connection error."""
    return (Outcome.TIMEOUT if is_timeout(error) else Outcome.CONNECTION_ERROR), None, reason
