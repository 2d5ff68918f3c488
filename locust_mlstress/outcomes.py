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


# Locust keeps one error row per distinct failure text, so a value that can take any number of
# values (a prediction, a count, a position in a body, an object address) must not reach it; a
# value from a small fixed set (a status code, the expected statuses, a configured limit, a
# datatype's name) is the most useful fact in the text and stays. One pass: at each position the
# first alternative that matches wins, so the kept contexts are tried before the bare numbers.
_FAILURE_TEXT = re.compile(
    r"(?P<keep>"
    r"(?:server error|accepted with|status) [1-5]\d\d(?!\d)"  # an HTTP status code
    r"|not in [0-9x/]+"  # the expectation's statuses: 'not in 4xx/413'
    r"|\[0, 1\]|\(0 or 1\)|\(0\.\.\d+\)"  # the ranges a prediction must be in
    r"|expected \d+(?: or \d+)?"  # what the profile asked for: instances, classes, values
    r"|limit of \d+|within(?: the)? \d+(?:\.\d+)? s|Errno \d+"  # configured limits, an errno
    r"|[A-Za-z_][A-Za-z0-9_]*"  # a word: INT64, FP32, UINT8 keep their digits
    r")"
    r"|(?P<address>0x[0-9a-fA-F]+)"
    r"|(?P<number>[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
)


def _fold(match: re.Match[str]) -> str:
    if match.group("keep") is not None:
        return match.group("keep")
    return "0xN" if match.group("address") is not None else "N"


def failure_message(outcome: str, reason: str | None) -> str:
    """Locust's failure text: status codes and other bounded values kept ('server error 503',
    'status 404 not in 4xx'), unbounded numbers folded to N ('prediction N is N, outside [0, 1]'),
    so Locust's error table stays small and still says what happened. The exact reason still
    reaches the `ml_request` hook."""
    return f"{outcome}: {_FAILURE_TEXT.sub(_fold, reason or '')}"


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
