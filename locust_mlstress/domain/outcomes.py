"""What one request came to, as a closed set of names every layer counts by.

Judged by users/outcomes.py; counted by quality/, gated by gates/ and shown by report/.
"""

from __future__ import annotations

from enum import StrEnum


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
