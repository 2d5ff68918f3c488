"""Calibration metrics: ECE, MCE and Brier score, from arrays or from per-bin sums.

Convention (binary, positive class): ``n_bins`` equal-width bins on [0, 1], right-closed
``(e_k, e_k+1]`` with p = 0 in the first bin: bin index ``np.searchsorted(inner_edges, p,
side="left")`` with ``inner_edges = np.linspace(0, 1, n_bins + 1)[1:-1]``, exactly as
scikit-learn's ``calibration_curve(strategy="uniform")`` assigns bins, so our reliability
diagram and sklearn's agree point for point.

Every figure is a function of four per-bin sums (count, Σp, Σy, Σ(p − y)²), which add exactly
across workers and windows. The array functions compute those sums and call
``calibration_from_bins``, so streaming and pooled figures share one formula.

Multiclass: use ``top_label`` to get (confidence, correct) and pass those as (y_prob, y_true):
that is the top-label (confidence) ECE of Guo et al. (2017). ``multiclass_brier_score`` is
``mean_i Σ_k (p_ik − y_ik)²`` (range [0, 2]; twice the binary Brier score for two classes).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from locust_mlstress.metrics import _checks


class CalibrationBins(NamedTuple):
    """Per-bin sums: everything ECE, MCE, Brier and the ECE noise level need."""

    count: np.ndarray  # type: ignore[assignment]  # a field may shadow tuple.count; mypy objects
    sum_p: np.ndarray
    sum_y: np.ndarray
    sum_sq_err: np.ndarray
    sum_p2: np.ndarray


class Calibration(NamedTuple):
    """ECE, MCE, Brier score and the number of predictions they rest on."""

    ece: float
    mce: float
    brier: float
    n: int


class TopLabel(NamedTuple):
    """Multiclass predictions reduced to a binary calibration problem."""

    confidence: np.ndarray
    correct: np.ndarray


def _probabilities(values, name: str = "y_prob") -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        raise ValueError(f"{name} is empty: a metric needs at least one prediction")
    nan = np.isnan(arr)
    if nan.any():
        raise ValueError(f"{name} contains {int(nan.sum())} NaN value(s); filter them out first")
    outside = (arr < 0) | (arr > 1)
    if outside.any():
        raise ValueError(
            f"{name} has {int(outside.sum())} value(s) outside [0, 1] "
            f"(min {arr.min()}, max {arr.max()}): pass probabilities, not scores or logits"
        )
    return arr


def _labels(y_true, size: int) -> np.ndarray:
    y = np.asarray(y_true, dtype=np.float64)
    if y.ndim != 1 or y.size != size:
        raise ValueError(f"y_true must be 1-D with one label per prediction ({size}), got shape {y.shape}")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y_true must hold binary labels 0/1 (the positive class is 1)")
    return y


def calibration_bin_index(p, *, n_bins: int = 10) -> np.ndarray:
    """Bin of each probability: ``searchsorted(linspace(0, 1, n_bins + 1)[1:-1], p, "left")``.

    Right-closed bins ``(e_k, e_k+1]``, p = 0 in bin 0, p = 1 in the last bin. Edges come from
    ``np.linspace`` as in scikit-learn, so a value such as 0.3 (whose edge is stored as
    0.30000000000000004) lands in the same bin as sklearn puts it.
    """
    n_bins = _checks.positive_int(n_bins, "n_bins")
    prob = _probabilities(p, "p")
    inner = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    return np.searchsorted(inner, prob, side="left").astype(np.int64)


def calibration_bins(y_true, y_prob, *, n_bins: int = 10) -> CalibrationBins:
    """Per-bin count, Σp, Σy, Σ(p − y)² and Σp² of binary predictions."""
    p = _probabilities(y_prob)
    if p.ndim != 1:
        raise ValueError(f"y_prob must be 1-D, got shape {p.shape}")
    y = _labels(y_true, p.size)
    idx = calibration_bin_index(p, n_bins=n_bins)

    def per_bin(weights):
        return np.bincount(idx, weights=weights, minlength=n_bins)

    return CalibrationBins(
        count=np.bincount(idx, minlength=n_bins).astype(np.int64),
        sum_p=per_bin(p),
        sum_y=per_bin(y),
        sum_sq_err=per_bin((p - y) ** 2),
        sum_p2=per_bin(p * p),
    )


def calibration_from_bins(count, sum_p, sum_y, sum_sq_err) -> Calibration:
    """ECE, MCE and Brier from per-bin sums (all arrays over the same bins).

    ``ECE = (1/N) Σ_b |Σy_b − Σp_b|`` (count-weighted mean gap between observed frequency and
    mean confidence), ``MCE = max_b |Σy_b − Σp_b| / n_b`` over non-empty bins,
    ``Brier = Σ_b Σ(p − y)²_b / N``. Empty bins are skipped. With N = 0 every figure is NaN
    (no predictions yet is a state, not an error).
    """
    c = _checks.counts(count, "count", allow_empty=True)
    arrays = [np.asarray(v, dtype=np.float64) for v in (sum_p, sum_y, sum_sq_err)]
    for name, arr in zip(("sum_p", "sum_y", "sum_sq_err"), arrays, strict=True):
        if arr.shape != c.shape:
            raise ValueError(f"{name} must have one entry per bin ({c.size}), got shape {arr.shape}")
    sp, sy, sq = arrays
    n = c.sum()
    if n == 0:
        return Calibration(float("nan"), float("nan"), float("nan"), 0)
    full = c > 0
    gap = np.abs(sy[full] - sp[full])
    return Calibration(
        ece=float(np.sum(gap) / n),
        mce=float(np.max(gap / c[full])),
        brier=float(np.sum(sq[full]) / n),
        n=int(n),
    )


def calibration(y_true, y_prob, *, n_bins: int = 10) -> Calibration:
    """ECE, MCE and Brier of binary predictions in one pass (see ``calibration_from_bins``)."""
    bins = calibration_bins(y_true, y_prob, n_bins=n_bins)
    return calibration_from_bins(bins.count, bins.sum_p, bins.sum_y, bins.sum_sq_err)


def expected_calibration_error(y_true, y_prob, *, n_bins: int = 10) -> float:
    """ECE of binary predictions (probability of the positive class) on equal-width bins."""
    return calibration(y_true, y_prob, n_bins=n_bins).ece


def max_calibration_error(y_true, y_prob, *, n_bins: int = 10) -> float:
    """MCE: the largest |mean y − mean p| over non-empty equal-width bins."""
    return calibration(y_true, y_prob, n_bins=n_bins).mce


def brier_score(y_true, y_prob) -> float:
    """Brier score ``mean((p − y)²)`` of binary predictions (= sklearn's ``brier_score_loss``)."""
    p = _probabilities(y_prob)
    if p.ndim != 1:
        raise ValueError(f"y_prob must be 1-D, got shape {p.shape}")
    y = _labels(y_true, p.size)
    return float(np.mean((p - y) ** 2))


def _multiclass(y_true, probs) -> tuple[np.ndarray, np.ndarray]:
    p = _probabilities(probs, "probs")
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"probs must be 2-D (n, classes >= 2), got shape {p.shape}")
    y = np.asarray(y_true)
    if y.shape != (p.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError("y_true must be 1-D integer class indices, one per row of probs")
    if ((y < 0) | (y >= p.shape[1])).any():
        raise ValueError(f"y_true must hold class indices in 0..{p.shape[1] - 1}")
    return y, p


def top_label(y_true, probs) -> TopLabel:
    """Top-label confidence (max probability) and whether the top label was right (1.0/0.0).

    ``expected_calibration_error(correct, confidence)`` is then Guo et al.'s confidence ECE.
    Ties go to the lowest class index (``np.argmax``).
    """
    y, p = _multiclass(y_true, probs)
    return TopLabel(confidence=p.max(axis=1), correct=(p.argmax(axis=1) == y).astype(np.float64))


def multiclass_brier_score(y_true, probs) -> float:
    """Multiclass Brier score ``mean_i Σ_k (p_ik − y_ik)²`` with one-hot ``y`` (range [0, 2])."""
    y, p = _multiclass(y_true, probs)
    err = p.copy()
    err[np.arange(y.size), y] -= 1.0
    return float(np.mean(np.sum(err * err, axis=1)))
