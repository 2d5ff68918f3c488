"""Shift metrics from binned counts: the streaming, mergeable counterparts of ``shift.py``.

A run accumulates right-closed histograms on fixed edges (see ``binning``); counts from workers
and windows add exactly, and these functions turn two count vectors into a figure. PSI and
Jensen–Shannon depend only on the bin shares, so they are *exact*: the array functions in
``shift.py`` call these after histogramming, so there is one formula. KS and Wasserstein
depend on where values sit inside a bin, so from counts they come with proven bounds.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import rel_entr

from locust_mlstress.metrics import _checks

PSI_FLOOR = 1e-4
"""A zero share is replaced by this in PSI (without renormalising), the usual industry practice."""


class Bounds(NamedTuple):
    """An interval known to contain the true value of a figure."""

    lower: float
    upper: float


class BoundedEstimate(NamedTuple):
    """A point estimate with an interval known to contain the true value."""

    estimate: float
    lower: float
    upper: float


def _shares(reference_counts, current_counts) -> tuple[np.ndarray, np.ndarray]:
    ref = _checks.counts(reference_counts, "reference_counts")
    cur = _checks.counts(current_counts, "current_counts", size=ref.size)
    return ref / ref.sum(), cur / cur.sum()


def psi_from_counts(reference_counts, current_counts) -> float:
    """Population stability index ``Σ (a − e)·ln(a/e)`` from two histograms on the same bins.

    ``e`` is the reference share and ``a`` the current share of each bin. A zero share on either
    side is replaced by ``PSI_FLOOR`` (1e-4) *without renormalising*, as Evidently and most
    monitoring tools do: the floor only keeps ``ln`` finite, and renormalising would move every
    other bin. A bin empty on both sides contributes exactly 0.
    """
    e, a = _shares(reference_counts, current_counts)
    e = np.where(e == 0, PSI_FLOOR, e)
    a = np.where(a == 0, PSI_FLOOR, a)
    return float(np.sum((a - e) * np.log(a / e)))


def js_from_counts(reference_counts, current_counts, *, base: float = 2) -> float:
    """Jensen–Shannon *distance* (square root of the divergence) between two histograms.

    Same computation as ``scipy.spatial.distance.jensenshannon(p, q, base=base)`` on the bin
    shares. No floor is needed: the mixture ``m = (p + q)/2`` is positive wherever either share
    is, and ``0·ln 0 = 0``. With base 2 the distance lies in [0, 1], which makes it comparable
    across features (unlike PSI, which is unbounded).
    """
    if not (base > 0 and base != 1):
        raise ValueError(f"base must be positive and different from 1, got {base!r}")
    p, q = _shares(reference_counts, current_counts)
    m = (p + q) / 2.0
    js = (np.sum(rel_entr(p, m)) + np.sum(rel_entr(q, m))) / np.log(base)
    return float(np.sqrt(max(js / 2.0, 0.0)))


def _cdf_gaps(reference_counts, current_counts):
    """Shares ``a``, ``b`` and ``d_k = A(e_k) − B(e_k)`` at the left edge of each bin (d_0 = 0)."""
    a, b = _shares(reference_counts, current_counts)
    d = np.concatenate(([0.0], np.cumsum(a - b)[:-1]))
    return a, b, d


def ks_from_counts(reference_counts, current_counts) -> Bounds:
    """Bounds on the two-sample KS statistic D from two histograms on the same bins.

    ``lower`` is the largest gap between the two CDFs at the bin edges: the true ECDFs take
    exactly these values there, so D >= lower. Inside bin k (shares ``a_k``, ``b_k``, CDF gap
    ``d_k`` at its left edge) the gap can reach ``d_k + a_k`` (reference mass to the left,
    current mass to the right) or ``−(d_k − b_k)``, and no further, so
    ``upper = max_k max(d_k + a_k, b_k − d_k)``: the largest D any raw data with these
    histograms could have. It never exceeds ``lower + max_k max(a_k, b_k)`` (the most one bin
    can hide), so fine bins give a tight interval.
    """
    a, b, d = _cdf_gaps(reference_counts, current_counts)
    lower = float(np.max(np.abs(d)))
    upper = float(min(1.0, max(lower, np.max(np.maximum(d + a, b - d)))))
    return Bounds(lower, upper)


def wasserstein_from_counts(edges, reference_counts, current_counts) -> BoundedEstimate:
    """First Wasserstein distance ``∫|F_a − F_b|`` from two histograms, with bounds.

    ``estimate`` treats the mass in each bin as spread uniformly over it (the CDFs are linear
    between edges, where they are exact). Proven bounds:

    * Inside bin k a CDF is monotone between its known edge values, and ``∫|F − F_linear|`` over
      the bin is at most ``w_k·share_k/2`` (all mass at one end), so
      ``|W − estimate| <= Σ_k w_k (a_k + b_k)/2 <= max finite bin width``.
    * The gap ``F_a − F_b`` inside bin k lies in ``[d_k − b_k, d_k + a_k]``, which gives a
      second per-bin lower bound (distance of that interval from 0) and upper bound (its
      largest absolute value).

    ``lower``/``upper`` sum the tighter of the two per bin (so ``lower >= 0``). Bins of infinite
    width (``-inf``/``+inf`` outer edges) must be empty on both sides, else ``ValueError``:
    the distance is not defined from counts when mass sits somewhere in an unbounded bin.
    """
    e = _checks.edges(edges)
    a, b, d = _cdf_gaps(reference_counts, current_counts)
    if a.size != e.size - 1:
        raise ValueError(f"counts have {a.size} bins but edges define {e.size - 1}")
    w = np.diff(e)
    infinite = ~np.isfinite(w)
    if ((a > 0) | (b > 0))[infinite].any():
        raise ValueError(
            "a bin of infinite width holds values: Wasserstein from counts needs all values in "
            "finite bins (use finite outer edges covering the data)"
        )
    keep = ~infinite
    w, a, b, d0 = w[keep], a[keep], b[keep], d[keep]
    d1 = d0 + a - b  # gap at each bin's right edge
    s = np.abs(d0) + np.abs(d1)
    crossing = d0 * d1 < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        per_bin = np.where(crossing, w * (d0**2 + d1**2) / (2 * s), w * s / 2)
    slack = w * (a + b) / 2
    lo, hi = d0 - b, d0 + a
    inside_lower = w * np.maximum(0.0, np.maximum(lo, -hi))
    inside_upper = w * np.maximum(np.abs(lo), np.abs(hi))
    estimate = float(np.sum(per_bin))
    lower = float(np.sum(np.maximum(per_bin - slack, inside_lower)))
    upper = float(np.sum(np.minimum(per_bin + slack, inside_upper)))
    return BoundedEstimate(estimate, max(lower, 0.0), upper)
