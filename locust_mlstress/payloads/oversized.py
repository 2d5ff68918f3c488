"""Oversized inputs: requests that are valid in form but large in one dimension.

Their point is size, not content, so each is a function of (seed, variant) alone: built once per
process and shared by every user, which keeps a 2 MiB body from being re-encoded per request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..profile.model import Variant
from .kit import PayloadKit
from .rows import to_rows

JSON = "application/json"
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
    """Whole rows until the body passes `size` bytes: over a server's limit, yet valid JSON."""
    one, _ = _draw(kit, variant, 1)
    per_row = max(1, len(kit.codec.encode(one)))
    n = math.ceil(variant.size / per_row) + 1
    rows, labels = _draw(kit, variant, n)
    body = kit.codec.encode(rows)
    while len(body) <= variant.size:  # rows vary in length; top up until over the line
        n += max(1, n // 10)
        rows, labels = _draw(kit, variant, n)
        body = kit.codec.encode(rows)
    return Oversized(body, JSON, n, labels)


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
