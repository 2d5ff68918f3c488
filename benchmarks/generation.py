"""Payload generation throughput: payloads per second on one core, per kind and per variant.

Each figure is a PayloadFactory whose mix is one kind (and, per variant, whose variant list is
that one variant), timed over `next()` calls: kind draw, rows, body encoding, request id, the
numpy block every 256 payloads. A factory always draws whole blocks (clean rows and every drift
variant's rows for every slot, so the stream never depends on timing); that cost is in every
kind's figure. Oversized bodies are built once per process and shared: their figure is the
per-request cost after the first build, whose time is given separately.
"""

from __future__ import annotations

import time
from dataclasses import replace

from locust_mlstress.domain.schema import KINDS, Profile
from locust_mlstress.payloads import PayloadFactory
from locust_mlstress.payloads.kit import PayloadKit
from locust_mlstress.payloads.oversized import build_oversized


def only(profile: Profile, kind: str, variant=None) -> Profile:
    """The profile with a mix of one kind (and, for malformed/oversized, one variant)."""
    weights = {k: float(k == kind) for k in KINDS}
    p = replace(profile, kind_weights=weights)
    if variant is not None and kind == "drifted":
        p = replace(p, drift=(variant,))
    elif variant is not None:
        p = replace(p, **{kind: (variant,)})
    return p


def rate(profile: Profile, seconds: float) -> float:
    """Payloads per CPU-second of one factory (user 1) over about `seconds` of CPU, best of three
    spans. CPU time, not wall time: other processes on the machine take turns on the core."""
    factory = PayloadFactory(profile, 1, lambda: 1000.0)
    factory.next()  # builds the kit (and any oversized body) outside the timing
    best = 0.0
    for _ in range(3):
        n, t0 = 0, time.process_time()
        deadline = t0 + seconds / 3
        while True:
            for _ in range(256):
                factory.next()
            n += 256
            t = time.process_time()
            if t >= deadline:
                break
        best = max(best, n / (t - t0))
    return best


def measure(profile: Profile, seconds: float = 1.0) -> dict:
    kinds: dict[str, dict] = {}
    for kind in KINDS:
        if kind != "clean" and not profile.variants(kind):
            continue
        entry: dict = {"per_s": round(rate(only(profile, kind), seconds))}
        if kind in ("malformed", "oversized"):
            entry["variants"] = {
                v.name: round(rate(only(profile, kind, v), seconds / 2)) for v in getattr(profile, kind)
            }
        if kind == "oversized":
            entry["first_build_ms"] = {}
            for v in profile.oversized:
                kit = PayloadKit.build(profile)
                t0 = time.process_time()
                build_oversized(kit, v)
                entry["first_build_ms"][v.name] = round((time.process_time() - t0) * 1000, 1)
        kinds[kind] = entry
    kinds["mix"] = {"per_s": round(rate(profile, seconds))}
    return kinds
