"""Drifted inputs: clean rows moved the way production data moves.

Each transform is a pure function of numpy columns, applied to a whole block of rows at once.
The schedule does not change the transform's size: it sets the share of drifted-kind payloads
that carry the drift at time t (the others go out clean). This is how the drift literature
defines sudden, gradual and recurring drift (a mixture of the old and new concept whose weight
moves with time), and it keeps the random draws independent of timing, so payload bytes stay
reproducible for a given seed whatever the run's speed.
"""

from __future__ import annotations

import math

import numpy as np

from locust_mlstress.domain.schema import DriftVariant, Feature, Schedule
from locust_mlstress.payloads.clean import CleanBatch, CleanSampler, clip_to_domain, draw_labels, label_probabilities


def strength(schedule: Schedule, t: float) -> float:
    """The share of this variant's payloads that carry the drift, t seconds into the test."""
    s = schedule.strength
    if schedule.type == "constant":
        return s
    if schedule.type == "sudden":
        return s if t >= schedule.at else 0.0
    if schedule.type == "gradual":
        return s * min(1.0, max(0.0, (t - schedule.at) / schedule.duration))
    return s * 0.5 * (1.0 - math.cos(2.0 * math.pi * t / schedule.period))


def apply_drift(
    variant: DriftVariant, batch: CleanBatch, sampler: CleanSampler, rng: np.random.Generator
) -> CleanBatch:
    """A drifted copy of `batch`; labels are kept or recomputed as the variant says."""
    n = len(next(iter(batch.columns.values())))
    if variant.type == "prior_shift":
        return _prior_shift(variant, batch, sampler, rng, n)
    columns = dict(batch.columns)
    features = {f.name: f for f in sampler.features}
    for name in variant.features:
        f = features[name]
        columns[name] = _TRANSFORMS[variant.type](variant, f, columns[name], sampler, rng, n)
    if variant.labels == "keep" or sampler.label_model is None or batch.draws is None:
        return CleanBatch(columns, batch.labels, batch.label_probs, batch.draws)
    probs = label_probabilities(sampler.label_model, columns, n)
    return CleanBatch(columns, draw_labels(sampler.label_model, probs, batch.draws), probs, batch.draws)


def _numeric(f: Feature, values: np.ndarray, clip: bool = True) -> np.ndarray:
    if f.type == "int":
        values = np.rint(values).astype(np.int64)
    return clip_to_domain(f, values) if clip else values


def _mean_shift(v: DriftVariant, f: Feature, col, sampler: CleanSampler, rng, n) -> np.ndarray:
    return _numeric(f, col + v.shift * sampler.stats[f.name].std)


def _scale(v: DriftVariant, f: Feature, col, sampler: CleanSampler, rng, n) -> np.ndarray:
    mean = sampler.stats[f.name].mean
    return _numeric(f, mean + v.factor * (col - mean))


def _unit_change(v: DriftVariant, f: Feature, col, sampler, rng, n) -> np.ndarray:
    # not clipped: a unit change that leaves the domain is exactly what a server should notice
    return _numeric(f, col * v.factor, clip=False)


def _outliers(v: DriftVariant, f: Feature, col, sampler: CleanSampler, rng, n) -> np.ndarray:
    hit = rng.random(n) < v.rate
    noise = rng.standard_cauchy(n) * v.tail_scale * sampler.stats[f.name].std
    return _numeric(f, np.where(hit, col + noise, col))


def _missing(v: DriftVariant, f: Feature, col: np.ndarray, sampler, rng, n) -> np.ndarray:
    hit = rng.random(n) < v.rate
    out = col.astype(object if f.type not in ("float",) else np.float64)
    out[hit] = None if out.dtype == object else np.nan
    return out


def _reweight(v: DriftVariant, f: Feature, col, sampler, rng, n) -> np.ndarray:
    p = np.asarray(v.weights) / np.sum(v.weights)
    return np.asarray(f.categories, dtype=object)[rng.choice(len(f.categories), size=n, p=p)]


def _unseen(v: DriftVariant, f: Feature, col, sampler, rng, n) -> np.ndarray:
    hit = rng.random(n) < v.rate
    new = np.array([f"{f.name}_unseen_{k}" for k in range(3)], dtype=object)[rng.integers(0, 3, n)]
    return np.where(hit, new, col)


_TRANSFORMS = {
    "mean_shift": _mean_shift,
    "scale": _scale,
    "unit_change": _unit_change,
    "outliers": _outliers,
    "missing_values": _missing,
    "category_reweight": _reweight,
    "unseen_category": _unseen,
}


def _prior_shift(v: DriftVariant, batch: CleanBatch, sampler: CleanSampler, rng, n: int) -> CleanBatch:
    """Rows resampled so that `target_class` makes up `positive_rate` of them; P(x|y) is unchanged."""
    pool = sampler.draw(rng, 4 * n)
    assert pool.labels is not None  # the loader requires labels for prior_shift
    target = sampler.profile.output.classes.index(v.target_class)
    hits = np.flatnonzero(pool.labels == target)
    misses = np.flatnonzero(pool.labels != target)
    want = rng.random(n) < v.positive_rate
    if len(hits) == 0 or len(misses) == 0:  # a pool without one side cannot honour the rate
        chosen = rng.integers(0, 4 * n, n)
    else:
        chosen = np.where(want, hits[rng.integers(0, len(hits), n)], misses[rng.integers(0, len(misses), n)])
    columns = {k: c[chosen] for k, c in pool.columns.items()}
    probs = None if pool.label_probs is None else pool.label_probs[chosen]
    draws = None if pool.draws is None else pool.draws[chosen]
    return CleanBatch(columns, pool.labels[chosen], probs, draws)
