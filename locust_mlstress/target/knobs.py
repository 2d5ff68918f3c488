"""The reference server's misbehaviour knobs.

A stress tester is only as good as the failures it can see, so the reference server can be told
to misbehave in controlled, seeded ways: slow down, fail at random, lose calibration, get worse
under drift, or stop validating its input. Every knob is off by default, so an untouched server
is a well-behaved, strict, calibrated target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

LaxMode = Literal["off", "accept", "crash"]
LAX_MODES: tuple[str, ...] = ("off", "accept", "crash")


@dataclass(frozen=True)
class ServerKnobs:
    """How the server misbehaves (all off by default) and how much input it tolerates."""

    latency_ms: float = 0.0  # fixed latency added to every predict request
    jitter_ms: float = 0.0  # mean of an exponential extra latency, seeded
    error_rate: float = 0.0  # share of predict requests answered 500 at random, seeded
    temperature: float = 1.0  # logits are divided by this before sigmoid/softmax; 1.0 = calibrated
    drift_degradation: float = 0.0  # std of Gaussian noise added to the logit of drifted-looking rows
    concurrency_latency_ms: float = 0.0  # added latency per request in flight
    load_noise: float = 0.0  # std of logit noise per other request in flight: answers vary under load
    lax: LaxMode = "off"  # "accept": never reject input; "crash": answer 500 to invalid input
    max_body_bytes: int = 1 << 20
    max_instances: int = 1024
    max_fields: int = 1024
    seed: int = 0
    model_version: str = "1"  # sent as X-Model-Version on every answer

    def __post_init__(self) -> None:
        problems = knob_problems(self)
        if problems:
            raise ValueError("; ".join(problems))


def knob_problems(knobs: ServerKnobs) -> list[str]:
    """Every reason the knobs are unusable, so a CLI can report them all at once."""
    problems: list[str] = []
    for name in ("latency_ms", "jitter_ms", "drift_degradation", "concurrency_latency_ms", "load_noise"):
        value = getattr(knobs, name)
        if not (math.isfinite(value) and value >= 0):
            problems.append(f"{name} must be a finite number >= 0, got {value!r}")
    if not (0.0 <= knobs.error_rate <= 1.0):
        problems.append(f"error_rate must be between 0 and 1, got {knobs.error_rate!r}")
    if not (math.isfinite(knobs.temperature) and knobs.temperature > 0):
        problems.append(f"temperature must be a finite number > 0, got {knobs.temperature!r}")
    if knobs.lax not in LAX_MODES:
        problems.append(f"lax must be one of {', '.join(LAX_MODES)}, got {knobs.lax!r}")
    for name in ("max_body_bytes", "max_instances", "max_fields"):
        value = getattr(knobs, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(f"{name} must be an integer >= 1, got {value!r}")
    if isinstance(knobs.seed, bool) or not isinstance(knobs.seed, int):
        problems.append(f"seed must be an integer, got {knobs.seed!r}")
    return problems
