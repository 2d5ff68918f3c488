"""Oversized inputs: requests that are valid in form but large in one dimension.

Their point is size, not content, so each is a function of (seed, variant) alone: built once per
process and shared by every user, which keeps a 2 MiB body from being re-encoded per request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from locust_mlstress.domain.schema import Variant
from locust_mlstress.payloads.kit import PayloadKit
from locust_mlstress.payloads.rows import to_rows

JSON = "application/json"
BODY_SLACK = 0.001  # body_bytes: a body may pass its size by this share (or by one row)
FILLER = "lorem ipsum dolor sit amet consectetur adipiscing elit "


@dataclass(frozen=True)
class Oversized:
    body: bytes
    content_type: str
    n: int
    labels: list | None


def _draw(kit: PayloadKit, variant: Variant, n: int):
    index = list(v.name for v in kit.profile.oversized).index(variant.name)
    rng = np.random.default_rng([kit.profile.seed, 0x0505, index])
    batch = kit.sampler.draw(rng, n)
    labels = None if batch.labels is None else batch.labels.tolist()
    return to_rows(batch.columns, n), labels


def large_batch(kit: PayloadKit, variant: Variant) -> Oversized:
    rows, labels = _draw(kit, variant, variant.size)
    return Oversized(kit.codec.encode(rows), JSON, len(rows), labels)


def huge_string(kit: PayloadKit, variant: Variant) -> Oversized:
    rows, labels = _draw(kit, variant, 1)
    f = kit.features_where("text", "category")[0]
    text = (FILLER * (variant.size // len(FILLER) + 1))[: variant.size]
    rows[0][f.name] = text
    return Oversized(kit.codec.encode(rows), JSON, 1, labels)


def many_features(kit: PayloadKit, variant: Variant) -> Oversized:
    rows, labels = _draw(kit, variant, 1)
    rows[0].update({f"extra_{i}": 0.0 for i in range(variant.size)})
    return Oversized(kit.codec.encode(rows), JSON, 1, labels)


def body_bytes(kit: PayloadKit, variant: Variant) -> Oversized:
    """The fewest whole rows whose body passes `size` bytes, or a few more once within
    `BODY_SLACK` of it: over a server's limit by what was asked, not by some percent more, and
    valid in form. It passes by less than one row, so a `size` under one row gets one row.

    Rows vary in length, so a row count from an average overshoots or falls short; instead one
    draw is sure to pass (`_passing_draw`) and its prefixes are searched: a prefix's body only
    grows with its length, in every codec."""
    size = variant.size
    rows, labels, body = _passing_draw(kit, variant, size)
    encode = kit.codec.encode
    lo, lo_len = 0, 0  # the longest prefix known not to pass (0 rows: nothing sent)
    hi = len(rows)  # the shortest prefix known to pass, whose body is `body`
    for step in range(64):  # a bound for the reader; bisection alone ends within log2(rows) steps
        if hi - lo <= 1 or len(body) - size <= size * BODY_SLACK:
            break
        guess = lo + round((size - lo_len) * (hi - lo) / (len(body) - lo_len))  # bodies grow ~linearly
        if step >= 3 or not lo < guess < hi:  # interpolation lands in a few steps, or never: bisect
            guess = (lo + hi) // 2
        candidate = encode(rows[:guess])
        if len(candidate) > size:
            hi, body = guess, candidate
        else:
            lo, lo_len = guess, len(candidate)
    return Oversized(body, JSON, hi, None if labels is None else labels[:hi])


def _passing_draw(kit: PayloadKit, variant: Variant, size: int) -> tuple[list[dict], list | None, bytes]:
    """Rows of one draw whose whole body passes `size`, their labels and that body: a count
    estimated from a sample's bytes per row, 10% over, doubled in the rare case it is still short."""
    sample, _ = _draw(kit, variant, 64)
    first, per_row = len(kit.codec.encode(sample[:1])), 1.0
    if first <= size:
        per_row = max(1.0, (len(kit.codec.encode(sample)) - first) / (len(sample) - 1))
    n = 1 + math.ceil(max(0, size - first) / per_row * 1.1)
    while True:
        rows, labels = _draw(kit, variant, n)
        body = kit.codec.encode(rows)
        if len(body) > size:
            return rows, labels, body
        n *= 2


def build_oversized(kit: PayloadKit, variant: Variant) -> Oversized:
    cached = kit.oversized_cache.get(variant.name)
    if cached is None:
        cached = kit.oversized_cache[variant.name] = OVERSIZED[variant.name][0](kit, variant)
    return cached  # type: ignore[return-value]


def build_all(kit: PayloadKit) -> None:
    """Every oversized body the profile can send, built now: a 2 MiB body takes a few hundred
    ms, which inside a run would stall the first user that draws one (and the clock of `-t`).
    Built even when the profile's [mix] gives oversized no weight: a load-plan stage may."""
    for variant in kit.profile.oversized:
        if variant.weight > 0:
            build_oversized(kit, variant)


def _has_string(kit: PayloadKit) -> str | None:
    return None if kit.features_where("text", "category") else "no text or category feature to fill"


# name -> (builder, why it cannot be built, default size)
OVERSIZED = {
    "large_batch": (large_batch, None, 256),
    "huge_string": (huge_string, _has_string, 256 * 1024),
    "many_features": (many_features, None, 2000),
    "body_bytes": (body_bytes, None, 2 * 1024 * 1024),
}
