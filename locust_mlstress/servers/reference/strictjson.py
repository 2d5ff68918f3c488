"""Strict JSON decoding of request bodies.

Python's json module happily accepts things that are not JSON or not safe to act on (`NaN`,
`Infinity`, `1e400` silently becoming inf, duplicate keys where the last one wins). A strict
server must refuse each of them with a 400 that says why, so a stress run can check that a
malformed payload was rejected rather than guessed at.
"""

from __future__ import annotations

import json
import math

from locust_mlstress.servers.reference.validation import InputError


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON (non-finite numbers are not allowed)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range for a float")
    return value


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r} in an object")
            seen.add(key)
    return result


def decode_strict(body: bytes) -> object:
    """Decode a request body, raising `InputError` (400) for anything that is not clean JSON."""
    if not body:
        raise InputError(400, "empty request body")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(400, f"request body is not valid UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            object_pairs_hook=_unique_keys,
        )
    except RecursionError:
        raise InputError(400, "invalid JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, our hooks, and int() over the digit limit
        raise InputError(400, f"invalid JSON: {exc}") from None


def decode_lax(body: bytes) -> object | None:
    """Best-effort decoding for the lax "accept" mode: None when there is nothing to salvage."""
    try:
        return json.loads(body.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return None
