"""From accumulated counts to the figures people read: shift, calibration, latency, outcomes.

Pure functions of `KindStats`; every figure carries the sample count behind it and whether it
stands above what noise alone would give at that count (see docs/metrics.md, Significance).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from .. import metrics
from .histograms import LinearHistogram, LogHistogram
from .kindstats import KindStats

SHIFT_BINS = 10
MIN_SHIFT_SAMPLES = 20  # below this on either side a shift figure is not computed at all


def _finite(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _aligned(reference: KindStats, current: KindStats) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fine edges, reference counts, current counts) on one shared set of fine bins."""
    ref, cur = reference.predictions, current.predictions
    if isinstance(ref, LinearHistogram):
        return ref.edges, ref.counts, cur.counts  # type: ignore[union-attr]
    assert isinstance(ref, LogHistogram) and isinstance(cur, LogHistogram)
    spans = [span for span in (ref.span(), cur.span()) if span is not None]
    lo, hi = min(lo for lo, _ in spans), max(hi for _, hi in spans)
    edges, ref_counts = ref.dense(lo, hi)
    _, cur_counts = cur.dense(lo, hi)
    return edges, ref_counts, cur_counts


def shift(reference: KindStats, current: KindStats, *, alpha: float = 0.01) -> dict | None:
    """PSI and JS over the reference's deciles, KS and Wasserstein over the fine bins; None when
    `current` holds no predictions, figures of None when either side has too few to mean much."""
    n_ref, n_cur = reference.predictions.n, current.predictions.n
    if n_cur == 0:
        return None  # no predictions to compare (malformed traffic, or nothing decoded)
    if min(n_ref, n_cur) < MIN_SHIFT_SAMPLES:
        return {"n": n_cur, "n_reference": n_ref, "psi": None, "js": None, "ks": None, "wasserstein": None,
                "significant": False, "verdict": "insufficient"}  # fmt: skip
    edges, ref_counts, cur_counts = _aligned(reference, current)
    if reference.n_classes:  # multiclass: PSI and JS over the predicted-class distribution
        ref_coarse, cur_coarse = np.asarray(reference.classes), np.asarray(current.classes)
        bins = reference.n_classes
    else:
        coarse = metrics.coarse_edges(edges, ref_counts, bins=SHIFT_BINS)
        ref_coarse = metrics.regroup(ref_counts, edges, coarse)
        cur_coarse = metrics.regroup(cur_counts, edges, coarse)
        bins = len(coarse) - 1
    psi = metrics.psi_from_counts(ref_coarse, cur_coarse)
    threshold = metrics.psi_threshold(n_ref, n_cur, bins=bins, alpha=alpha)
    ks = metrics.ks_from_counts(ref_counts, cur_counts)
    w = metrics.wasserstein_from_counts(edges, ref_counts, cur_counts)
    significant = psi > threshold
    return {
        "psi": _finite(psi),
        "js": _finite(metrics.js_from_counts(ref_coarse, cur_coarse)),
        "ks": _finite(ks.lower),
        "ks_upper": _finite(ks.upper),
        "wasserstein": _finite(w.estimate),
        "wasserstein_bounds": [_finite(w.lower), _finite(w.upper)],
        "n": n_cur,
        "n_reference": n_ref,
        "bins": bins,
        "psi_noise": _finite(metrics.psi_noise(n_ref, n_cur, bins=bins)),
        "psi_threshold": _finite(threshold),
        "ks_threshold": _finite(metrics.ks_threshold(n_ref, n_cur, alpha=alpha)),
        "significant": bool(significant),
        "verdict": metrics.verdict(psi, significant=bool(significant)),
    }


def calibration(stats: KindStats, *, alpha: float = 0.01, detail: bool = True) -> dict | None:
    """ECE, MCE, Brier; with `detail`, the Monte Carlo significance test and the reliability bins
    (left out for per-window rows, where hundreds of Monte Carlo runs would cost seconds)."""
    if stats.calibration is None or stats.calibration.n == 0:
        return None
    count, sum_p, sum_y, sum_sq, sum_p2 = stats.calibration.arrays()
    c = metrics.calibration_from_bins(count, sum_p, sum_y, sum_sq)
    brief = {
        "ece": _finite(c.ece),
        "mce": _finite(c.mce),
        "brier": _finite(c.brier),
        "n": int(c.n),
        "ece_noise": _finite(metrics.ece_noise(count, sum_p, sum_p2)),
    }
    if not detail:
        return brief
    threshold = metrics.ece_threshold(count, sum_p, sum_p2, alpha=alpha)
    return brief | {
        "ece_threshold": _finite(threshold),
        "significant": bool(c.ece > threshold),
        "reliability": [
            {
                "bin": i,
                "count": int(count[i]),
                "mean_p": float(sum_p[i] / count[i]),
                "mean_y": float(sum_y[i] / count[i]),
            }
            for i in range(len(count))
            if count[i]
        ],
    }


def histogram(reference: KindStats | None, current: KindStats, *, bins: int = 20) -> dict | None:
    """Prediction counts of `current` and its `reference` on shared coarse bins, for plotting one
    over the other: equal-width on [0, 1] for probabilities, equal steps of log bins (one axis for
    any sign and size) for regression values. None when `current` holds no predictions."""
    if current.predictions.n == 0:
        return None
    ref = reference if reference is not None and reference.predictions.n else None
    edges, ref_counts, cur_counts = _aligned(ref or current, current)
    if ref is None:
        ref_counts = None
    step = max(1, math.ceil(len(cur_counts) / bins))
    starts = np.arange(0, len(cur_counts), step)
    coarse = [float(edges[i]) for i in starts] + [float(edges[-1])]

    def group(counts: np.ndarray | None) -> list[int] | None:
        return None if counts is None else [int(c) for c in np.add.reduceat(counts, starts)]

    scale = "linear" if isinstance(current.predictions, LinearHistogram) else "log"
    return {"scale": scale, "edges": coarse, "reference": group(ref_counts), "current": group(cur_counts)}


def latency(stats: KindStats) -> dict:
    return percentiles(stats.latency)


def percentiles(h: LogHistogram) -> dict:
    return {f"p{q}": _finite(h.quantile(q / 100)) for q in (50, 95, 99)} | {"n": h.n}


def payloads(stats: KindStats) -> dict[str, dict]:
    """Per variant: requests and body sizes (and latency, where recorded per variant)."""
    rows = {}
    for variant, (n, total, top) in sorted(stats.sizes.items()):
        row = {"requests": n, "mean_bytes": total / n if n else None, "max_bytes": top}
        if variant in stats.variant_latency:
            row["latency_ms"] = percentiles(stats.variant_latency[variant])
        rows[variant] = row
    return rows


def outcomes(stats: KindStats) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Per outcome, and per variant and outcome."""
    by_variant: dict[str, dict[str, int]] = {}
    for (variant, outcome), n in sorted(stats.outcomes.items()):
        by_variant.setdefault(variant, {})[outcome] = n
    return outcome_totals(stats.outcomes), by_variant


def outcome_totals(counts: Mapping[tuple[str, str], int]) -> dict[str, int]:
    """Requests per outcome, over the variants, from (variant, outcome) counts."""
    total: dict[str, int] = {}
    for (_variant, outcome), n in sorted(counts.items()):
        total[outcome] = total.get(outcome, 0) + n
    return total


def consistency(stats: KindStats) -> dict | None:
    c = stats.consistency
    if c.probes == 0:
        return None
    return {
        "probes": c.probes,
        "instances": c.instances,
        "flip_rate": c.flips / c.instances if c.instances else None,
        "max_abs_diff": c.max_diff,
        "mean_abs_diff": c.sum_diff / (1 << 32) / c.instances if c.instances else None,
    }


def classes(stats: KindStats, names: tuple[str, ...]) -> dict | None:
    """Multiclass: the predicted-class shares and the mean probability of each class."""
    n = sum(stats.classes)
    if not stats.n_classes or n == 0:
        return None
    return {
        "predicted_share": {c: k / n for c, k in zip(names, stats.classes, strict=True)},
        "mean_probability": {c: s / (1 << 32) / n for c, s in zip(names, stats.class_sums, strict=True)},
    }


def minus(total: KindStats, part: KindStats) -> KindStats:
    """The predictions in `total` but not in `part` (a later stretch of the same stream)."""
    rest = KindStats(total.output, total.n_classes)
    if isinstance(total.predictions, LinearHistogram):
        rest.predictions.counts = total.predictions.counts - part.predictions.counts  # type: ignore[union-attr]
    else:
        rest.predictions.merge(total.predictions)  # type: ignore[arg-type]
        for key, count in part.predictions.items():  # type: ignore[union-attr]
            rest.predictions.add_key(key, -count)  # type: ignore[union-attr]
    rest.classes = [a - b for a, b in zip(total.classes, part.classes, strict=True)]
    return rest
