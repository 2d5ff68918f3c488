"""Input checks shared by the metric functions.

Every public function validates its inputs here so that the error messages are the same
everywhere and a caller learns *what* to fix (filter NaN, use infinite outer edges, ...).
"""

from __future__ import annotations

import numpy as np


def sample(values, name: str, *, finite: bool = False) -> np.ndarray:
    """A non-empty 1-D float64 array without NaN (and without ±inf when ``finite``)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: a metric needs at least one value")
    bad = np.isnan(arr)
    if bad.any():
        raise ValueError(f"{name} contains {int(bad.sum())} NaN value(s); filter them out before computing metrics")
    if finite and np.isinf(arr).any():
        raise ValueError(f"{name} contains infinite values; this metric needs finite values")
    return arr


def edges(values, name: str = "edges") -> np.ndarray:
    """A strictly increasing float64 edge array of length >= 2 (±inf allowed, NaN not)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size < 2:
        raise ValueError(f"{name} must be a 1-D array of at least 2 edges, got shape {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN")
    if not (np.diff(arr) > 0).all():
        raise ValueError(f"{name} must be strictly increasing")
    return arr


def counts(values, name: str, *, size: int | None = None, allow_empty: bool = False) -> np.ndarray:
    """A 1-D float64 array of finite, non-negative counts (with a positive total unless allowed)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of counts, got shape {arr.shape}")
    if size is not None and arr.size != size:
        raise ValueError(f"{name} has {arr.size} bins, expected {size}")
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise ValueError(f"{name} must hold finite, non-negative counts")
    if not allow_empty and arr.sum() <= 0:
        raise ValueError(f"{name} is empty (all counts are zero): a metric needs at least one value")
    return arr


def same_length(a: np.ndarray, b: np.ndarray, names: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{names} must have the same length, got {a.size} and {b.size}")


def positive_int(value, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def probability(value, name: str) -> float:
    value = float(value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value!r}")
    return value
