"""The reference server's model: a small seeded linear model fitted to a traffic profile.

The parametric profiles generate labels from a logistic, softmax or linear-Gaussian model of
the features, so a logistic / softmax / ridge fit on our encoding is well specified: on clean
inputs its probabilities are calibrated, and any miscalibration a stress run measures is the one
the `temperature` knob put there, not an artefact of the reference model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from locust_mlstress.domain.schema import Feature, Output
from locust_mlstress.payloads.clean import sigmoid, softmax
from locust_mlstress.servers.reference.features import (
    Columns,
    Encoder,
    Layout,
    design_matrix,
    fit_encoders,
    make_layout,
)

L2 = 1e-4  # per-sample ridge penalty: keeps Newton steps defined on separable or collinear data


@dataclass(frozen=True)
class Model:
    """A fitted model: feature encoders plus weights over the design matrix (column 0 = intercept)."""

    features: tuple[Feature, ...]  # the schema it serves, which request validation checks against
    encoders: tuple[Encoder, ...]
    output: Output
    weights: np.ndarray  # [D] for binary and regression, [D, K] for multiclass
    target_mean: float = 0.0  # regression: the neutral prediction
    target_std: float = 1.0  # regression: the unit in which drift noise is added
    layout: Layout = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layout", make_layout(self.encoders))

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.encoders)

    def encode(self, columns: Columns, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(design matrix, drifted-looking mask) for a batch of columns."""
        if n is None:
            n = _batch_length(columns)
        return design_matrix(self.layout, columns, n)

    def predict(
        self,
        columns: Columns,
        temperature: float = 1.0,
        drift_noise: float = 0.0,
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        """P(class 1) [n] for binary, probabilities [n, K] for multiclass, values [n] for regression."""
        x, drifted = self.encode(columns)
        return self.predict_design(x, drifted, temperature, drift_noise, rng)

    def predict_design(
        self,
        x: np.ndarray,
        drifted: np.ndarray,
        temperature: float = 1.0,
        drift_noise: float = 0.0,
        rng: np.random.Generator | None = None,
        noise: float = 0.0,
    ) -> np.ndarray:
        """Predict from an encoded batch, applying the miscalibration and noise knobs: `drift_noise`
        on rows that look drifted, `noise` on every row (both in logit units, or target stds)."""
        raw = x @ self.weights
        unit = self.target_std if self.output.type == "regression" else 1.0
        drift = drift_noise > 0 and drifted.any()
        if drift or noise > 0:
            rng = rng if rng is not None else np.random.default_rng()
            if drift:
                raw[drifted] += rng.normal(0.0, drift_noise * unit, size=raw[drifted].shape)
            if noise > 0:
                raw += rng.normal(0.0, noise * unit, size=raw.shape)
        if self.output.type == "regression":
            return raw
        if temperature != 1.0:
            raw = raw / temperature
        if self.output.type == "binary":
            return sigmoid(raw)
        return softmax(raw)

    def neutral(self, n: int) -> np.ndarray:
        """What a model that knows nothing answers: used by the lax "accept" mode for garbage input."""
        if self.output.type == "binary":
            return np.full(n, 0.5)
        if self.output.type == "multiclass":
            k = len(self.output.classes)
            return np.full((n, k), 1.0 / k)
        return np.full(n, self.target_mean)


def fit_model(
    features: Sequence[Feature],
    output: Output,
    columns: Columns,
    labels: np.ndarray | None,
    seed: int,
) -> Model:
    """Fit the model to training columns; without labels, invent a seeded linear ground truth.

    Labels are missing when a profile replays a dataset without a label column; the server still
    needs a deterministic, non-trivial model, so it learns a random linear rule of its own.
    """
    features = tuple(features)
    encoders = fit_encoders(features, columns)
    x, _ = design_matrix(make_layout(encoders), columns, _batch_length(columns))
    if labels is None:
        labels = synthetic_labels(x, output, seed)
    y = np.asarray(labels)
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"{y.shape[0]} labels for {x.shape[0]} rows")
    if output.type == "binary":
        return Model(features, encoders, output, fit_logistic(x, y.astype(float)))
    if output.type == "multiclass":
        return Model(features, encoders, output, fit_softmax(x, y.astype(np.int64), len(output.classes)))
    y = y.astype(float)
    return Model(features, encoders, output, fit_ridge(x, y), float(y.mean()), float(y.std()) or 1.0)


def _penalty(d: int, n: int) -> np.ndarray:
    """Ridge penalty on every weight but the intercept."""
    diagonal = np.full(d, L2 * n)
    diagonal[0] = 0.0
    return diagonal


def fit_logistic(x: np.ndarray, y: np.ndarray, max_iter: int = 50, tol: float = 1e-9) -> np.ndarray:
    """Logistic regression by Newton / IRLS: exact in a few steps, and calibrated at the optimum."""
    n, d = x.shape
    penalty = _penalty(d, n)
    w = np.zeros(d)
    for _ in range(max_iter):
        p = sigmoid(x @ w)
        gradient = x.T @ (p - y) + penalty * w
        hessian = (x.T * (p * (1.0 - p))) @ x + np.diag(penalty) + 1e-9 * np.eye(d)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.max(np.abs(step)) < tol:
            break
    return w


def fit_softmax(x: np.ndarray, y: np.ndarray, k: int, max_iter: int = 500) -> np.ndarray:
    """Softmax regression by L-BFGS: a full Newton Hessian is (D*K)^2, too big to be worth it."""
    from scipy.optimize import minimize  # half a second to import: only multiclass servers pay it

    n, d = x.shape
    if y.size and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"class index out of range 0..{k - 1}")
    onehot = np.zeros((n, k))
    onehot[np.arange(n), y] = 1.0
    penalty = _penalty(d, n)[:, None]

    def loss(flat: np.ndarray) -> tuple[float, np.ndarray]:
        w = flat.reshape(d, k)
        z = x @ w
        z -= z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1, keepdims=True))
        log_p = z - log_norm
        value = -(onehot * log_p).sum() + 0.5 * (penalty * w * w).sum()
        gradient = x.T @ (np.exp(log_p) - onehot) + penalty * w
        return float(value), gradient.ravel()

    result = minimize(loss, np.zeros(d * k), jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    return result.x.reshape(d, k)


def fit_ridge(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    n, d = x.shape
    gram = x.T @ x + np.diag(_penalty(d, n)) + 1e-9 * np.eye(d)
    return np.linalg.solve(gram, x.T @ y)


def synthetic_labels(x: np.ndarray, output: Output, seed: int) -> np.ndarray:
    """Labels from a seeded random linear rule over the design matrix."""
    rng = np.random.default_rng(seed)
    n, d = x.shape
    if output.type == "multiclass":
        w = rng.normal(0.0, 1.0 / np.sqrt(d), size=(d, len(output.classes)))
        p = softmax(x @ w)
        return (p.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1).clip(0, p.shape[1] - 1)
    z = x @ rng.normal(0.0, 1.0 / np.sqrt(d), size=d)
    if output.type == "binary":
        return (rng.random(n) < sigmoid(z)).astype(np.int64)
    return z + rng.normal(0.0, 0.5, size=n)


def _batch_length(columns: Columns) -> int:
    for column in columns.values():
        return len(column)
    raise ValueError("no columns to infer the batch length from")
