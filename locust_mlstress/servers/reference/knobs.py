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
# Chaos modes: ways to answer a valid prediction request badly (servers/reference/chaos.py, docs/server.md)
CHAOS_MODES: tuple[str, ...] = (
    "not_json", "truncated", "wrong_shape", "nan", "inf", "out_of_range", "empty",
    "content_type", "huge", "drip", "reset", "hang",
)  # fmt: skip


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
    chaos: tuple[str, ...] = ()  # chaos modes; a valid prediction request gets one of them (seeded)
    chaos_share: float = 1.0  # share of valid prediction requests answered in a chaos mode
    chaos_stall_s: float = 30.0  # how long `hang` waits and `drip` trickles its body
    chaos_huge_bytes: int = 32 << 20  # size of the `huge` body
    flip_share: float = 0.0  # share of inputs (chosen by content, seeded) answered with another class

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
    if not (isinstance(knobs.flip_share, (int, float)) and 0.0 <= knobs.flip_share <= 1.0):
        problems.append(f"flip_share must be between 0 and 1, got {knobs.flip_share!r}")
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
    return problems + chaos_problems(knobs)


def output_problems(knobs: ServerKnobs, output_type: str) -> list[str]:
    """The knobs that make no sense for the model's output type, found once the model is known
    (the knobs alone cannot tell): a regression model has no other class to answer."""
    if knobs.flip_share > 0 and output_type == "regression":
        return [f"flip_share applies to classification models, and this model's output is {output_type}"]
    return []


def chaos_problems(knobs: ServerKnobs) -> list[str]:
    problems: list[str] = []
    if not isinstance(knobs.chaos, tuple):
        problems.append(f"chaos must be a tuple of mode names, got {knobs.chaos!r}")
    else:
        for mode in knobs.chaos:
            if mode not in CHAOS_MODES:
                problems.append(f"chaos mode {mode!r} is not one of {', '.join(CHAOS_MODES)} (or all)")
        if len(set(knobs.chaos)) != len(knobs.chaos):
            problems.append(f"chaos names a mode twice: {','.join(knobs.chaos)}")
    if not (0.0 <= knobs.chaos_share <= 1.0):
        problems.append(f"chaos_share must be between 0 and 1, got {knobs.chaos_share!r}")
    if not (math.isfinite(knobs.chaos_stall_s) and knobs.chaos_stall_s > 0):
        problems.append(f"chaos_stall_s must be a finite number > 0, got {knobs.chaos_stall_s!r}")
    huge = knobs.chaos_huge_bytes
    if isinstance(huge, bool) or not isinstance(huge, int) or huge < 1:
        problems.append(f"chaos_huge_bytes must be an integer >= 1, got {huge!r}")
    return problems
