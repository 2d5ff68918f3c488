"""From accumulated counts to the figures people read: shift, calibration, latency, outcomes.

Pure functions of `KindStats`; every figure carries the sample count behind it and whether it
stands above what noise alone would give at that count (see docs/metrics.md, Significance).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from locust_mlstress import metrics
from locust_mlstress.domain.summary import (
    Accuracy,
    Calibration,
    Classes,
    Consistency,
    Histogram,
    KindFigures,
    Latency,
    PayloadSizes,
    Shift,
    WindowRow,
)
from locust_mlstress.quality.histograms import LinearHistogram, LogHistogram
from locust_mlstress.quality.kindstats import KindStats

SHIFT_BINS = 10
MIN_SHIFT_SAMPLES = 20  # below this on either side a shift figure is not computed at all
INSUFFICIENT = "insufficient"  # the shift verdict when the counts cannot tell a moderate shift from noise
FIXED_BATCH = "fixed batch"  # the verdict of figures that come from one batch repeated
# Kinds whose payloads are one fixed batch per variant, sent again and again (payloads/oversized.py
# builds each body once): their predictions are the same few rows counted many times, so counts
# overstate the evidence, and neither significance nor a verdict can be read from them.
FIXED_BATCH_KINDS = frozenset({"oversized"})

# What a user can change so the server answers probabilities, by codec (calibration_reason).
LABEL_FIXES = {
    "mlflow": 'serve a model logged with pyfunc_predict_fn="predict_proba" (MLflow\'s pyfunc predict answers labels)',
    "v2": 'ask for the probability output: [target] v2_outputs = ["predict_proba"] (MLServer\'s sklearn runtime '
    "answers its predict output, labels, unless asked)",
    "kserve_v1": "have the predictor return class probabilities (predict_proba) instead of labels, or target its v2 "
    'endpoint with [target] v2_outputs = ["predict_proba"]',
    "tfserving": "export a signature whose output is the class probabilities and name it in [target] signature_name",
    "json": "have the service return class probabilities and point [target] response_path/item_path at them",
}
GENERIC_LABEL_FIX = (
    'ask the server for probabilities (MLflow: pyfunc_predict_fn="predict_proba"; Open Inference v2: '
    '[target] v2_outputs = ["predict_proba"])'
)


def _finite(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _aligned(reference: KindStats, current: KindStats) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fine edges, reference counts, current counts) on one shared set of fine bins."""
    ref, cur = reference.predictions, current.predictions
    if isinstance(ref, LinearHistogram):
        return ref.edges, ref.counts, cur.counts
    assert isinstance(ref, LogHistogram) and isinstance(cur, LogHistogram)
    spans = [span for span in (ref.span(), cur.span()) if span is not None]
    lo, hi = min(lo for lo, _ in spans), max(hi for _, hi in spans)
    edges, ref_counts = ref.dense(lo, hi)
    _, cur_counts = cur.dense(lo, hi)
    return edges, ref_counts, cur_counts


def shift(reference: KindStats, current: KindStats, *, alpha: float = 0.01) -> Shift | None:
    """PSI and JS over the reference's deciles, KS and Wasserstein over the fine bins; None when
    `current` holds no predictions, figures of None when either side has too few to mean much."""
    n_ref, n_cur = reference.predictions.n, current.predictions.n
    if n_cur == 0:
        return None  # no predictions to compare (malformed traffic, or nothing decoded)
    if min(n_ref, n_cur) < MIN_SHIFT_SAMPLES:
        # the bins the verdict rule below would use on this reference (its deciles so far)
        if reference.n_classes:
            early_bins = reference.n_classes
        elif n_ref:
            fine_edges, fine_ref, _ = _aligned(reference, current)
            early_bins = len(metrics.coarse_edges(fine_edges, fine_ref, bins=SHIFT_BINS)) - 1
        else:
            early_bins = SHIFT_BINS
        least = metrics.psi_min_reference(n_cur, bins=max(early_bins, 2), alpha=alpha)
        return {"n": n_cur, "n_reference": n_ref, "psi": None, "js": None, "ks": None, "ks_upper": None,
                "wasserstein": None, "significant": False, "underpowered": True,
                "min_n_reference": None if least is None else max(least, MIN_SHIFT_SAMPLES),
                "verdict": INSUFFICIENT}  # fmt: skip
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
    noise_bins = max(bins, 2)  # a reference all in one bin (a constant model) still has a noise level
    threshold = metrics.psi_threshold(n_ref, n_cur, bins=noise_bins, alpha=alpha)
    ks = metrics.ks_from_counts(ref_counts, cur_counts)
    w = metrics.wasserstein_from_counts(edges, ref_counts, cur_counts)
    if _labels_only(reference) and _labels_only(current):
        ks, w = _exact_for_labels(ref_counts, cur_counts)
    significant = psi > threshold
    # Too few to say "stable": a moderate shift would still sit under the noise threshold. A
    # significant PSI stands whatever the counts (a shift seen is seen); see docs/metrics.md.
    underpowered = not significant and threshold > metrics.PSI_MODERATE
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
        "psi_noise": _finite(metrics.psi_noise(n_ref, n_cur, bins=noise_bins)),
        "psi_threshold": _finite(threshold),
        "ks_threshold": _finite(metrics.ks_threshold(n_ref, n_cur, alpha=alpha)),
        "significant": bool(significant),
        "underpowered": bool(underpowered),
        "min_n_reference": metrics.psi_min_reference(n_cur, bins=noise_bins, alpha=alpha),
        "verdict": INSUFFICIENT if underpowered else metrics.verdict(psi, significant=bool(significant)),
    }


def _labels_only(stats: KindStats) -> bool:
    """Every answer a label or exactly 0/1 (hard): every value sits on a bin edge, exactly."""
    return (
        isinstance(stats.predictions, LinearHistogram)
        and stats.answers[1] + stats.hard[0] > 0
        and (stats.soft_answers == 0)
    )


MIN_HARD_INSTANCES = 20  # hard answers (all exactly 0 or 1) read as labels from this many instances on


def hard_labels(stats: KindStats) -> bool:
    """No certain label, but no answer held a fraction either, over at least MIN_HARD_INSTANCES
    instances: a probability model is not that sure that often, so these were class labels (an
    MLflow `predict` of 0/1, a v2 FP64 `predict`, sklearn trained on float y answering 1.0/0.0).
    Fewer instances (a confident model's few answers at batch 1) still count as probabilities."""
    return (
        stats.output == "binary"
        and not stats.label_answers
        and stats.answers[0] > 0
        and stats.soft_answers == 0
        and stats.hard[1] >= MIN_HARD_INSTANCES
    )


def _exact_for_labels(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[metrics.Bounds, metrics.BoundedEstimate]:
    """KS and Wasserstein when both sides hold label answers only: every value is exactly 0.0 (the
    first bin's closed left edge) or 1.0 (the last bin's right edge), so nothing hides inside a
    bin and both figures are the difference in the share of zeros, exactly. The bounds from
    counts would be [that, ~the share of ones] (0 to 1 for multiclass confidences, all 1.0)."""
    gap = abs(float(ref_counts[0]) / float(ref_counts.sum()) - float(cur_counts[0]) / float(cur_counts.sum()))
    return metrics.Bounds(gap, gap), metrics.BoundedEstimate(gap, gap, gap)


def calibration(stats: KindStats, *, alpha: float = 0.01, detail: bool = True) -> Calibration | None:
    """ECE, MCE, Brier; with `detail`, the Monte Carlo significance test and the reliability bins
    (left out for per-window rows, where hundreds of Monte Carlo runs would cost seconds). None
    when any answer was a class label (`calibration_reason` says why): the figures of the
    probability answers alone would describe a model the user is not running; None too when every
    answer was exactly 0 or 1 (`hard_labels`). Hard answers among others with fractions are
    probabilities, and count."""
    if stats.calibration is None or stats.calibration.n == 0 or stats.label_answers or hard_labels(stats):
        return None
    count, sum_p, sum_y, sum_sq, sum_p2 = stats.calibration.arrays()
    c = metrics.calibration_from_bins(count, sum_p, sum_y, sum_sq)
    brief: Calibration = {
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


def answers(stats: KindStats) -> str | None:
    """What the kind's answers held: "probabilities", "labels" or "mixed"; None for regression or
    without decoded answers. "labels" also when no answer held a fraction (`hard_labels`). Stats
    from before answers were counted (an older baseline file) read as probabilities, the only
    thing they could hold then."""
    if stats.output == "regression":
        return None
    probabilities, labels = stats.answers
    if labels:
        return "mixed" if probabilities else "labels"
    if hard_labels(stats):
        return "labels"
    return "probabilities" if probabilities or stats.predictions.n else None


def calibration_reason(stats: KindStats, codec: str | None = None) -> str | None:
    """Why calibration is null though predictions came back, and the fix: "<why> — <fix>"."""
    probabilities, labels = stats.answers
    fix = LABEL_FIXES.get(codec or "", GENERIC_LABEL_FIX)
    if not labels:
        if hard_labels(stats):
            return f"every prediction was exactly 0 or 1: class labels, not probabilities — {fix}"
        return None
    total = probabilities + labels
    share = "every answer was a class label" if not probabilities else f"{labels} of {total} answers were class labels"
    why = f"{share}, not probabilities: ECE and Brier of 0/1 answers equal the error rate and would look calibrated"
    return f"{why} — {fix}"


def accuracy(stats: KindStats, *, fixed_batch: bool = False) -> Accuracy | None:
    """Accuracy against the payloads' labels (binary: p >= 0.5 is the positive class; multiclass:
    the argmax), from probability and label answers alike, with a Wilson 95% interval; None
    without labels. A fixed batch's instances repeat, so no interval is given for it."""
    correct, n = stats.accuracy
    if not n:
        return None
    interval = None if fixed_batch else [float(x) for x in metrics.wilson_interval(correct, n)]
    return {"accuracy": correct / n, "error_rate": (n - correct) / n, "n": n, "interval": interval}


def mark_fixed_batch(figures: KindFigures | WindowRow) -> None:
    """Keep a fixed batch's figures out of significance and verdicts (FIXED_BATCH_KINDS)."""
    if (found := figures["shift"]) is not None:
        shifted = found.copy()
        shifted["significant"], shifted["verdict"] = False, FIXED_BATCH
        figures["shift"] = shifted
    if (measured := figures["calibration"]) is not None:
        calibrated = measured.copy()
        calibrated["significant"], calibrated["verdict"] = False, FIXED_BATCH
        figures["calibration"] = calibrated


def histogram(reference: KindStats | None, current: KindStats, *, bins: int = 20) -> Histogram | None:
    """Prediction counts of `current` and its `reference` on shared coarse bins, for plotting one
    over the other: equal-width on [0, 1] for probabilities, equal steps of log bins (one axis for
    any sign and size) for regression values. None when `current` holds no predictions."""
    if current.predictions.n == 0:
        return None
    ref = reference if reference is not None and reference.predictions.n else None
    edges, aligned_ref, cur_counts = _aligned(ref or current, current)
    ref_counts = None if ref is None else aligned_ref
    step = max(1, math.ceil(len(cur_counts) / bins))
    starts = np.arange(0, len(cur_counts), step)
    coarse = [float(edges[i]) for i in starts] + [float(edges[-1])]

    def group(counts: np.ndarray | None) -> list[int] | None:
        return None if counts is None else [int(c) for c in np.add.reduceat(counts, starts)]

    scale = "linear" if isinstance(current.predictions, LinearHistogram) else "log"
    counts = group(cur_counts)
    assert counts is not None  # cur_counts is an array
    return {"scale": scale, "edges": coarse, "reference": group(ref_counts), "current": counts}


def latency(stats: KindStats) -> Latency:
    return percentiles(stats.latency)


def percentiles(h: LogHistogram) -> Latency:
    return {
        "p50": _finite(h.quantile(0.5)),
        "p95": _finite(h.quantile(0.95)),
        "p99": _finite(h.quantile(0.99)),
        "n": h.n,
    }


def payloads(stats: KindStats) -> dict[str, PayloadSizes]:
    """Per variant: requests and body sizes (and latency, where recorded per variant)."""
    rows = {}
    for variant, (n, total, top) in sorted(stats.sizes.items()):
        row: PayloadSizes = {"requests": n, "mean_bytes": total / n if n else None, "max_bytes": top}
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


def consistency(stats: KindStats) -> Consistency | None:
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


def classes(stats: KindStats, names: tuple[str, ...]) -> Classes | None:
    """Multiclass: the predicted-class shares and the mean probability of each class."""
    n = sum(stats.classes)
    if not stats.n_classes or n == 0:
        return None
    mean = {c: s / (1 << 32) / n for c, s in zip(names, stats.class_sums, strict=True)}
    return {
        "predicted_share": {c: k / n for c, k in zip(names, stats.classes, strict=True)},
        "mean_probability": None if stats.label_answers else mean,  # labels carry no probability
    }


def minus(total: KindStats, part: KindStats) -> KindStats:
    """The predictions in `total` but not in `part` (a later stretch of the same stream)."""
    rest = KindStats(total.output, total.n_classes)
    if isinstance(total.predictions, LinearHistogram):
        rest.predictions.counts = total.predictions.counts - part.predictions.counts
    else:
        rest.predictions.merge(total.predictions)  # type: ignore[arg-type]
        for key, count in part.predictions.items():  # type: ignore[union-attr]
            rest.predictions.add_key(key, -count)  # type: ignore[union-attr]
    rest.classes = [a - b for a, b in zip(total.classes, part.classes, strict=True)]
    rest.answers = [a - b for a, b in zip(total.answers, part.answers, strict=True)]
    rest.hard = [a - b for a, b in zip(total.hard, part.hard, strict=True)]
    return rest
