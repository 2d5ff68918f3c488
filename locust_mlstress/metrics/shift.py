"""Distribution-shift metrics on raw samples: PSI, Jensen–Shannon, KS and Wasserstein.

PSI and JS bin both samples on the same edges (the reference's deciles unless ``edges`` is
given) and then call ``psi_from_counts``/``js_from_counts``, so the array and the streaming
figures are computed by one formula and agree bit for bit. KS and Wasserstein use every value
and match ``scipy.stats.ks_2samp(...).statistic`` and ``scipy.stats.wasserstein_distance``.
"""

from __future__ import annotations

import math

import numpy as np

from locust_mlstress.metrics import _checks
from locust_mlstress.metrics.binned import js_from_counts, psi_from_counts
from locust_mlstress.metrics.binning import bin_counts, quantile_edges


def _binned(reference, current, edges, bins) -> tuple[np.ndarray, np.ndarray]:
    ref = _checks.sample(reference, "reference")
    cur = _checks.sample(current, "current")
    e = quantile_edges(ref, bins=bins) if edges is None else _checks.edges(edges)
    return bin_counts(ref, e), bin_counts(cur, e)


def psi(reference, current, *, edges=None, bins: int = 10) -> float:
    """Population stability index of ``current`` against ``reference``.

    ``PSI = Σ (a − e)·ln(a/e)`` with ``e``/``a`` the reference/current share of each bin.
    Without ``edges`` the bins are the reference's ``k/bins`` quantiles with ``-inf``/``+inf``
    outer edges (duplicates dropped); ``edges`` (a full edge array, outer edges included) is
    used as given. Bins are right-closed ``(e_k, e_k+1]``: a value on an edge counts in the
    bin below. Zero shares become 1e-4 without renormalising (see ``psi_from_counts``).
    Rules of thumb: < 0.1 stable, 0.1–0.25 moderate, > 0.25 major — but check
    ``psi_threshold``: small samples alone produce PSI of ``(bins − 1)(1/n + 1/m)`` on average.
    """
    return psi_from_counts(*_binned(reference, current, edges, bins))


def jensen_shannon(reference, current, *, edges=None, bins: int = 10, base: float = 2) -> float:
    """Jensen–Shannon distance (base 2 by default, so in [0, 1]) over the same bins as ``psi``."""
    return js_from_counts(*_binned(reference, current, edges, bins), base=base)


def _sorted_pair(reference, current, *, finite: bool) -> tuple[np.ndarray, np.ndarray]:
    ref = np.sort(_checks.sample(reference, "reference", finite=finite))
    cur = np.sort(_checks.sample(current, "current", finite=finite))
    return ref, cur


def ks_statistic(reference, current) -> float:
    """Two-sample Kolmogorov–Smirnov statistic ``D = sup_x |F_ref(x) − F_cur(x)|``.

    Both empirical CDFs are evaluated at every pooled value, as scipy does, but in integer
    arithmetic: D is a multiple of ``1/lcm(n, m)`` and is returned correctly rounded (scipy's
    exact mode does the same, so the two agree bit for bit up to 10 000 values a side). D needs
    the raw values (or fine histograms, see ``ks_from_counts``); it is scale-free and
    insensitive to where in the range the shift happens.
    """
    ref, cur = _sorted_pair(reference, current, finite=False)
    pooled = np.concatenate((ref, cur))
    n, m = ref.size, cur.size
    # n·F_ref·m − m·F_cur·n at each pooled value, exactly, as int64
    gap = np.searchsorted(ref, pooled, side="right") * m - np.searchsorted(cur, pooled, side="right") * n
    g = math.gcd(n, m)
    return int(np.max(np.abs(gap))) // g / ((n // g) * m)


def wasserstein(reference, current) -> float:
    """First Wasserstein (earth mover's) distance ``∫|F_ref − F_cur| dx``, in the data's units.

    Unlike KS it grows with the size of a shift (a mean shift of ``δ`` gives ``|δ|``), which
    makes it the readable figure for a regression output. Values must be finite.
    """
    ref, cur = _sorted_pair(reference, current, finite=True)
    pooled = np.sort(np.concatenate((ref, cur)), kind="mergesort")
    ref_cdf = np.searchsorted(ref, pooled[:-1], side="right") / ref.size
    cur_cdf = np.searchsorted(cur, pooled[:-1], side="right") / cur.size
    return float(np.dot(np.abs(ref_cdf - cur_cdf), np.diff(pooled)))
