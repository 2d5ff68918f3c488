"""What happened to one request, judged against what its payload kind expects.

A pure function of the status, the transport error and the body, so the rules can be tested
without a server and read in one place. Only `ok` and `rejected` count as Locust successes.
"""

from __future__ import annotations

import re
import socket
from functools import cache

from locust_mlstress.codecs import Codec, Decoded, DecodeError
from locust_mlstress.domain.outcomes import Outcome
from locust_mlstress.domain.schema import Expectation
from locust_mlstress.http.bodies import BodyError


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
# values (a prediction, a count, a position in a body, an object address, text the server chose)
# must not reach it; a value from a small fixed set (a status code, the expected statuses, a
# configured limit, a datatype's name) is the most useful fact in the text and stays. One pass: at
# each position the first alternative that matches wins, so the kept contexts are tried before the
# bare numbers. Server text our own messages quote (`framing.shown`: a Content-Encoding, a v2
# output name, a bad status line or header) follows one of the `server` lead-ins and is folded.
_FAILURE_TEXT = re.compile(
    r"(?P<server>(?:Content-Encoding|output|bad start line|not HTTP/1\.x:|bad status in|bad header line"
    r"|bad Content-Length|Transfer-Encoding|bad chunk size line|unreadable response: \w+:) )'[^']*'"
    r"|(?P<keep>"
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
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
MAX_FAILURE_TEXT = 200  # characters of a failure text in Locust's table
MAX_REASON = 400  # characters of a transport error's text in the reason (`ml_request`, traces)
KEEP_QUOTED = 3  # distinct quoted texts kept per message shape, then folded (see `_bounded`)
_MAX_SHAPES = 256
_shapes: dict[str, set[str]] = {}


def _fold(match: re.Match[str]) -> str:
    if match.group("server") is not None:
        return f"{match.group('server')}'...'"
    if match.group("keep") is not None:
        return match.group("keep")
    return "0xN" if match.group("address") is not None else "N"


def _bounded(text: str) -> str:
    """The last guard on Locust's rows, for texts we did not write (requests', urllib3's, ssl's
    exceptions quote what the server sent: `BadStatusLine('...')`). Per shape (the text with its
    quoted parts removed) the first few distinct texts are kept as they are, and later ones get
    their quoted parts folded; past `_MAX_SHAPES` shapes every quoted part is folded. A bounded
    memory, touched only on failures that quote something."""
    if "'" not in text and '"' not in text:
        return text
    shape = _QUOTED.sub("'...'", text)
    if shape == text:
        return text
    seen = _shapes.get(shape)
    if seen is None:
        if len(_shapes) >= _MAX_SHAPES:
            return shape
        seen = _shapes[shape] = set()
    if text in seen:
        return text
    if len(seen) < KEEP_QUOTED:
        seen.add(text)
        return text
    return shape


def failure_message(outcome: str, reason: str | None) -> str:
    """Locust's failure text: status codes and other bounded values kept ('server error 503',
    'status 404 not in 4xx'), unbounded numbers folded to N ('prediction N is N, outside [0, 1]'),
    server text folded ("unsupported Content-Encoding '...'"), non-printable characters as '?',
    at most `MAX_FAILURE_TEXT` characters: Locust's error table stays at a few dozen rows whatever
    a server sends (issue 13 saw 4,216 rows in 25 s) and still says what happened. The exact (but
    shortened) reason still reaches the `ml_request` hook."""
    text = _FAILURE_TEXT.sub(_fold, reason or "")
    if len(text) > MAX_FAILURE_TEXT:
        text = text[:MAX_FAILURE_TEXT] + "..."
    if not text.isascii() or not text.isprintable():
        text = _UNPRINTABLE.sub("?", text)
    return f"{outcome}: {_bounded(text)}"


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
        return _transport(error, _described(error) if error is not None else "no response")
    expected = expectation.allows(status)
    if 200 <= status < 300:
        if kind == "malformed" and not expected:
            return Outcome.ACCEPTED_MALFORMED, None, f"malformed input accepted with {status}"
        if not expected:
            return Outcome.UNEXPECTED_STATUS, None, f"status {status} not in {'/'.join(expectation.statuses)}"
        if not expectation.decodable:
            return Outcome.OK, None, None
        if body is None:  # the status came, the whole body did not (locust_mlstress.http.bodies)
            if error is None or isinstance(error, BodyError):  # e.g. over the size cap (max_response_bytes)
                return Outcome.UNDECODABLE, None, error.reason if error is not None else "no body"
            return _transport(error, f"body could not be read: {_described(error)}")
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


def _described(error: BaseException) -> str:
    """An exception as a reason: its type and text, at most `MAX_REASON` characters (a client's
    exception may quote a whole header line)."""
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= MAX_REASON else text[:MAX_REASON] + "..."


def _transport(error: BaseException | None, reason: str) -> tuple[Outcome, None, str]:
    """No answer, or no whole body: a timeout or a connection error."""
    return (Outcome.TIMEOUT if is_timeout(error) else Outcome.CONNECTION_ERROR), None, reason
