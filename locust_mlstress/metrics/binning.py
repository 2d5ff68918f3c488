"""Bin edges and right-closed histograms: the one binning convention behind every shift metric.

Convention. Bins are right-closed, ``(e_k, e_k+1]``, and the first bin is also closed on the left,
``[e_0, e_1]``: a value exactly on an interior edge belongs to the bin *below* it. This is
scikit-learn's ``calibration_curve`` convention (``np.searchsorted(inner_edges, x, side="left")``),
so prediction histograms and calibration bins share one rule. Note that it differs from
``np.histogram``, which is left-closed. A value outside ``[e_0, e_B]`` is an error rather than
silently dropped: use ``-inf``/``+inf`` outer edges to catch everything.

Fixed edges are what make histograms mergeable: counts from several workers or time windows
on the same edges add exactly, and every binned metric of the sum equals the pooled one.
"""

from __future__ import annotations

import numpy as np

from locust_mlstress.metrics import _checks


def quantile_edges(reference, *, bins: int = 10) -> np.ndarray:
    """Edges at the reference's ``k/bins`` quantiles (k = 1..bins-1) with ``-inf``/``+inf`` outside.

    Quantiles use numpy's default linear interpolation. Duplicate edges (ties in the
    reference) are dropped, so the result may have fewer than ``bins`` bins. Binning on the
    reference's deciles is the usual PSI practice: each bin then holds ~10% of the reference,
    so no expected share is tiny and the ``ln(a/e)`` terms stay well behaved.
    """
    ref = _checks.sample(reference, "reference", finite=True)
    bins = _checks.positive_int(bins, "bins")
    inner = np.quantile(ref, np.arange(1, bins) / bins)
    return np.unique(np.concatenate(([-np.inf], inner, [np.inf])))


def bin_index(values, edges) -> np.ndarray:
    """The bin of each value under the right-closed convention (bin 0 also holds ``e_0``).

    Returns an int64 array of indices in ``0..len(edges)-2``. Raises ``ValueError`` for NaN
    or for values outside ``[edges[0], edges[-1]]``.
    """
    x = _checks.sample(values, "values")
    e = _checks.edges(edges)
    outside = (x < e[0]) | (x > e[-1])
    if outside.any():
        raise ValueError(
            f"{int(outside.sum())} value(s) lie outside the bin edges [{e[0]}, {e[-1]}]; "
            "use -inf/+inf outer edges to catch every value"
        )
    return np.searchsorted(e[1:-1], x, side="left").astype(np.int64)


def bin_counts(values, edges) -> np.ndarray:
    """Right-closed histogram of ``values`` on ``edges``: an int64 array of ``len(edges)-1`` counts."""
    e = _checks.edges(edges)
    return np.bincount(bin_index(values, e), minlength=e.size - 1).astype(np.int64)


def coarse_edges(fine_edges, reference_counts, *, bins: int = 10) -> np.ndarray:
    """Pick, among the fine edges, those closest to the reference's ``k/bins`` quantiles.

    ``fine_edges`` (length F+1) and ``reference_counts`` (length F) are a fine right-closed
    histogram of the reference. For each ``k = 1..bins-1`` the interior fine edge whose
    cumulative reference share is closest to ``k/bins`` is chosen (ties go to the lower edge),
    duplicates are dropped and the outer edges become ``-inf``/``+inf``. Because every coarse
    interior edge is a fine edge, ``regroup`` turns any fine histogram into the coarse one
    exactly, and PSI over the coarse bins from streamed fine counts equals PSI on the raw data.
    The coarse bins hold the reference's deciles to within one fine bin.
    """
    fe = _checks.edges(fine_edges, "fine_edges")
    ref = _checks.counts(reference_counts, "reference_counts", size=fe.size - 1)
    bins = _checks.positive_int(bins, "bins")
    share = np.cumsum(ref) / ref.sum()  # cumulative share at fine edges 1..F
    interior = share[:-1]  # at the interior fine edges 1..F-1
    if interior.size == 0 or bins == 1:
        return np.array([-np.inf, np.inf])
    targets = np.arange(1, bins) / bins
    chosen = np.abs(interior[None, :] - targets[:, None]).argmin(axis=1)
    return np.unique(np.concatenate(([-np.inf], fe[1:-1][chosen], [np.inf])))


def regroup(fine_counts, fine_edges, coarse_edges) -> np.ndarray:
    """Sum fine bins into coarse bins whose interior edges are a subset of the fine interior edges.

    Coarse outer edges must be ``-inf``/``+inf`` or equal to the fine outer edges. Sums run
    bin by bin in order (``np.add.reduceat``), so integer counts regroup exactly; the dtype of
    ``fine_counts`` (int or float) is kept.
    """
    fe = _checks.edges(fine_edges, "fine_edges")
    ce = _checks.edges(coarse_edges, "coarse_edges")
    fc = np.asarray(fine_counts)
    if fc.ndim != 1 or fc.size != fe.size - 1:
        raise ValueError(f"fine_counts must have len(fine_edges) - 1 = {fe.size - 1} bins")
    _checks.counts(fc, "fine_counts", allow_empty=True)
    if not (ce[0] in (-np.inf, fe[0]) and ce[-1] in (np.inf, fe[-1])):
        raise ValueError("coarse outer edges must be -inf/+inf or equal to the fine outer edges")
    inner = ce[1:-1]
    pos = np.searchsorted(fe, inner)
    ok = (pos > 0) & (pos < fe.size - 1)
    ok[ok] = fe[pos[ok]] == inner[ok]
    if not ok.all():
        raise ValueError(
            f"coarse interior edges {inner[~ok].tolist()} are not interior fine edges; "
            "build the coarse edges with coarse_edges()"
        )
    return np.add.reduceat(fc, np.concatenate(([0], pos)))
