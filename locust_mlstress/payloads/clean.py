"""Clean inputs: where the model's in-distribution traffic comes from.

Two sources share one output shape, a `CleanBatch` of numpy columns, so drift, malformation and
encoding never care whether rows were drawn from a distribution or resampled from a file.
Every draw is vectorised over the batch: one numpy call per feature per block, never per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from locust_mlstress.domain.schema import DatasetSource, Feature, LabelModel, Profile
from locust_mlstress.payloads.dataset import read_dataset

REFERENCE_ROWS = 4096


@dataclass
class CleanBatch:
    columns: dict[str, np.ndarray]
    labels: np.ndarray | None  # int64 class index, or float64 for regression
    label_probs: np.ndarray | None  # true P(y|x): [n] for binary, [n, K] for multiclass
    draws: np.ndarray | None  # the uniform (or normal) draws behind the labels, kept to recompute them


@dataclass(frozen=True)
class FeatureStats:
    mean: float
    std: float


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Overflow-free logistic function (the label model's, and the reference server's)."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def linear_scores(model: LabelModel, columns: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Raw scores [n, len(predictors)]; missing values (NaN, None) contribute nothing."""
    out = np.empty((n, len(model.predictors)))
    for j, predictor in enumerate(model.predictors):
        score = np.full(n, predictor.intercept)
        for term in predictor.terms:
            col = columns[term.feature]
            if term.category is not None:
                score += term.weight * (col == term.category)
            else:
                values = col.astype(np.float64) if col.dtype != object else _to_float(col)
                if not np.isfinite(values).all():  # nan_to_num costs ~20 µs a call even when idle
                    values = np.nan_to_num(values, nan=0.0)
                score += term.weight * values
        out[:, j] = score
    return out


def _to_float(col: np.ndarray) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in col], dtype=np.float64)


def label_probabilities(model: LabelModel, columns: dict[str, np.ndarray], n: int) -> np.ndarray:
    """The true P(y|x) (binary: P(y=1)), or the noiseless mean for a linear model."""
    scores = linear_scores(model, columns, n)
    if model.type == "logistic":
        return sigmoid(scores[:, 0])
    if model.type == "softmax":
        return softmax(scores)
    return scores[:, 0]


def draw_labels(model: LabelModel, probs: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Labels from the truth and fixed draws, so recomputing after drift reuses the same luck."""
    if model.type == "logistic":
        return (draws < probs).astype(np.int64)
    if model.type == "softmax":
        cum = np.cumsum(probs, axis=1)
        return np.minimum((cum < draws[:, None]).sum(axis=1), probs.shape[1] - 1).astype(np.int64)
    return probs + model.noise_std * draws


def _draw_feature(feature: Feature, rng: np.random.Generator, n: int) -> np.ndarray:
    d = feature.distribution
    assert d is not None  # the loader guarantees parametric features have one
    if d.kind == "normal":
        values = rng.normal(d.mean, d.std, n)
    elif d.kind == "lognormal":
        values = rng.lognormal(d.mean, d.std, n)
    elif d.kind == "uniform":
        values = rng.uniform(d.low, d.high, n)
    elif d.kind == "int_range":
        return rng.integers(int(d.low), int(d.high) + 1, n, dtype=np.int64)
    elif d.kind == "boolean":
        return rng.random(n) < d.p
    elif d.kind == "categorical":
        idx = rng.choice(len(d.categories), size=n, p=np.asarray(d.weights) / np.sum(d.weights))
        return np.asarray(d.categories, dtype=object)[idx]
    else:  # text
        lengths = rng.integers(d.min_words, d.max_words + 1, n)
        vocabulary = d.vocabulary
        words = [vocabulary[i] for i in rng.integers(0, len(vocabulary), lengths.sum()).tolist()]
        ends = np.cumsum(lengths).tolist()  # plain lists: slicing them is far cheaper than numpy's
        texts = np.empty(n, dtype=object)
        texts[:] = [" ".join(words[a:b]) for a, b in zip([0, *ends[:-1]], ends, strict=True)]
        return texts
    if feature.type == "int":
        values = np.rint(values).astype(np.int64)
    return clip_to_domain(feature, values)


def clip_to_domain(feature: Feature, values: np.ndarray) -> np.ndarray:
    if feature.min is None and feature.max is None:
        return values
    return np.clip(values, feature.min, feature.max).astype(values.dtype)


class CleanSampler:
    """Draws clean batches from a profile's source; holds the data set in memory if there is one."""

    def __init__(self, profile: Profile, data=None):
        self.profile = profile
        self.features = profile.features
        source = profile.source
        self._data: dict[str, np.ndarray] | None = None
        self._labels: np.ndarray | None = None
        self.label_model: LabelModel | None = None
        if isinstance(source, DatasetSource):
            self._data, self._labels = data if data is not None else read_dataset(profile)
        else:
            self.label_model = source.label_model
        self.stats = self._reference_stats()

    @property
    def has_labels(self) -> bool:
        return self._labels is not None or self.label_model is not None

    def draw(self, rng: np.random.Generator, n: int) -> CleanBatch:
        if self._data is not None:
            rows = rng.integers(0, len(next(iter(self._data.values()))), n)
            columns = {name: col[rows] for name, col in self._data.items()}
            labels = None if self._labels is None else self._labels[rows]
            return CleanBatch(columns, labels, None, None)
        columns = {f.name: _draw_feature(f, rng, n) for f in self.features}
        if self.label_model is None:
            return CleanBatch(columns, None, None, None)
        probs = label_probabilities(self.label_model, columns, n)
        draws = rng.standard_normal(n) if self.label_model.type == "linear" else rng.random(n)
        return CleanBatch(columns, draw_labels(self.label_model, probs, draws), probs, draws)

    def _reference_stats(self) -> dict[str, FeatureStats]:
        """Mean and spread per numeric feature, the unit of `mean_shift` and `outliers`."""
        if self._data is not None:
            columns = self._data
        else:
            columns = self.draw(np.random.default_rng([self.profile.seed, 0x5747]), REFERENCE_ROWS).columns
        stats = {}
        for f in self.features:
            if f.type in ("float", "int"):
                col = columns[f.name].astype(np.float64)
                std = float(np.nanstd(col))
                stats[f.name] = FeatureStats(float(np.nanmean(col)), std if std > 0 else 1.0)
        return stats
