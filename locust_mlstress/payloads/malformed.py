"""Malformed inputs: each variant is one specific way a client can get a request wrong.

A builder takes the clean rows of the payload it replaces and returns (body, content type).
Most start from the codec's real body and damage it, so a server that rejects them is reacting
to exactly the named fault and not to some other difference. `aux` is a per-payload random
integer that picks which feature to damage, so the choice is seeded like everything else.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from locust_mlstress.payloads.kit import PayloadKit

JSON = "application/json"
Rows = list[dict[str, object]]
Built = tuple[bytes, str]
SENTINEL = "__mlstress_sentinel__"
_SENTINEL_JSON = json.dumps(SENTINEL).encode()
UNKNOWN_FEATURE = "mlstress_unknown_feature"
NEST_DEPTH = 5000


def _pick(kit: PayloadKit, aux: int, *types: str, required: bool | None = None, bounded: bool = False):
    candidates = kit.features_where(*types, required=required, bounded=bounded)
    return candidates[aux % len(candidates)]


def _with(rows: Rows, name: str, value: object) -> Rows:
    first = dict(rows[0])
    first[name] = value
    return [first, *rows[1:]]


def _splice(kit: PayloadKit, rows: Rows, aux: int, literal: bytes) -> bytes:
    """Put raw JSON text where a numeric value belongs: what json.dumps cannot write."""
    f = _pick(kit, aux, "float", "int")
    return kit.codec.encode(_with(rows, f.name, SENTINEL)).replace(_SENTINEL_JSON, literal, 1)


def invalid_json(kit: PayloadKit, rows: Rows, aux: int) -> Built:
    body = kit.codec.encode(rows)
    i = body.find(b":")
    return (body[:i] + body[i + 1 :] if i >= 0 else body + b"}"), JSON


def truncated_body(kit: PayloadKit, rows: Rows, aux: int) -> Built:
    body = kit.codec.encode(rows)
    return body[: max(1, len(body) // 2)], JSON


def empty_body(kit: PayloadKit, rows: Rows, aux: int) -> Built:
    return b"", JSON


def wrong_content_type(kit: PayloadKit, rows: Rows, aux: int) -> Built:
    return kit.codec.encode(rows), "text/plain"


def _structural(variant: str) -> Callable[[PayloadKit, Rows, int], Built]:
    def build(kit: PayloadKit, rows: Rows, aux: int) -> Built:
        doc = kit.codec.malform(variant, kit.codec.document(rows))
        return json.dumps(doc, separators=(",", ":")).encode(), JSON

    build.__name__ = variant
    return build


def missing_required_feature(kit: PayloadKit, rows: Rows, aux: int) -> Built:
    name = _pick(kit, aux, required=True).name
    first = {k: v for k, v in rows[0].items() if k != name}
    return kit.codec.encode([first, *rows[1:]]), JSON


def unknown_extra_feature(kit: PayloadKit, rows: Rows, aux: int) -> Built:
    return kit.codec.encode(_with(rows, UNKNOWN_FEATURE, 1.0)), JSON


def wrong_type(kit: PayloadKit, rows: Rows, aux: int) -> Built:
    if kit.numeric:
        return kit.codec.encode(_with(rows, _pick(kit, aux, "float", "int").name, "not-a-number")), JSON
    return kit.codec.encode(_with(rows, _pick(kit, aux, "category", "text", "bool").name, 12345)), JSON


def null_required(kit: PayloadKit, rows: Rows, aux: int) -> Built:
    return kit.codec.encode(_with(rows, _pick(kit, aux, required=True).name, None)), JSON


def nan_literal(kit: PayloadKit, rows: Rows, aux: int) -> Built:
    return _splice(kit, rows, aux, b"NaN"), JSON


def infinity_literal(kit: PayloadKit, rows: Rows, aux: int) -> Built:
    return _splice(kit, rows, aux, b"Infinity"), JSON


def huge_number(kit: PayloadKit, rows: Rows, aux: int) -> Built:
    return _splice(kit, rows, aux, b"1e400"), JSON


def out_of_domain(kit: PayloadKit, rows: Rows, aux: int) -> Built:
    f = _pick(kit, aux, "float", "int", bounded=True)
    value = f.min - max(1.0, abs(f.min)) if f.min is not None else f.max + max(1.0, abs(f.max))
    return kit.codec.encode(_with(rows, f.name, int(value) if f.type == "int" else value)), JSON


def deeply_nested(kit: PayloadKit, rows: Rows, aux: int) -> Built:
    name = kit.profile.features[aux % len(kit.profile.features)].name
    nested = b"[" * NEST_DEPTH + b"1" + b"]" * NEST_DEPTH
    return kit.codec.encode(_with(rows, name, SENTINEL)).replace(_SENTINEL_JSON, nested, 1), JSON


def invalid_utf8(kit: PayloadKit, rows: Rows, aux: int) -> Built:
    return kit.codec.encode(rows).replace(b'"', b'"\xff\xfe', 1), JSON


def duplicate_keys(kit: PayloadKit, rows: Rows, aux: int) -> Built:
    body = kit.codec.encode(rows)
    return b"{" + json.dumps(kit.codec.top_key).encode() + b":null," + body[1:], JSON


def _needs(*types: str, required: bool | None = None, bounded: bool = False, what: str):
    def unavailable(kit: PayloadKit) -> str | None:
        return None if kit.features_where(*types, required=required, bounded=bounded) else what

    return unavailable


def _codec_supports(variant: str):
    def unavailable(kit: PayloadKit) -> str | None:
        return None if kit.codec.supports(variant) else f"the {kit.codec.name} codec has no {variant.replace('_', ' ')}"

    return unavailable


_NUMERIC = _needs("float", "int", what="no float or int feature to put it in")
_REQUIRED = _needs(required=True, what="no required feature")

# name -> (builder, why it cannot be built for a profile, or None when it always can)
MALFORMED = {
    "invalid_json": (invalid_json, None),
    "truncated_body": (truncated_body, None),
    "empty_body": (empty_body, None),
    "wrong_content_type": (wrong_content_type, None),
    "wrong_top_level_key": (_structural("wrong_top_level_key"), _codec_supports("wrong_top_level_key")),
    "missing_required_feature": (missing_required_feature, _REQUIRED),
    "unknown_extra_feature": (unknown_extra_feature, None),
    "wrong_type": (wrong_type, None),
    "null_required": (null_required, _REQUIRED),
    "nan_literal": (nan_literal, _NUMERIC),
    "infinity_literal": (infinity_literal, _NUMERIC),
    "out_of_domain": (
        out_of_domain,
        _needs("float", "int", bounded=True, what="no feature with a min or max"),
    ),
    "wrong_shape": (_structural("wrong_shape"), _codec_supports("wrong_shape")),
    "wrong_rank": (_structural("wrong_rank"), _codec_supports("wrong_rank")),
    "wrong_datatype": (_structural("wrong_datatype"), _codec_supports("wrong_datatype")),
    "deeply_nested": (deeply_nested, None),
    "invalid_utf8": (invalid_utf8, None),
    "huge_number": (huge_number, _NUMERIC),
    "duplicate_keys": (
        duplicate_keys,
        lambda kit: None if kit.codec.top_key else "the body is not a JSON object",
    ),
}
