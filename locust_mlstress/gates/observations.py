"""Where each gate metric comes from in the ML summary (docs/reports.md), and how many samples
stand behind it.

The sample count travels with the value because a figure from too few samples (a p99 of 40
latencies, a PSI of 30 predictions) says little, and the verdict must be able to say so. Missing
data is `value=None, n=0`, never an exception: a gate over a kind the run did not send is
inconclusive, not a crash at the end of a long run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from locust_mlstress.domain.gates import (
    ACCURACY_METRICS,
    CALIBRATION_METRICS,
    COMPARISON_METRICS,
    LATENCY_METRICS,
    SHIFT_METRICS,
    TRAFFIC_KINDS,
)
from locust_mlstress.domain.summary import Figures

SUCCESS_OUTCOMES = frozenset({"ok", "rejected"})  # as locust_mlstress.users.outcomes.SUCCESSES
FIXED_BATCH_WHY = (
    "fixed batch: one batch per variant sent again and again, so its figures are not evidence (docs/metrics.md)"
)


@dataclass(frozen=True)
class Observation:
    """A figure, the samples behind it, the kind it was read from, and why it is missing if so."""

    value: float | None
    n: int
    kind: str | None = None
    why: str = ""
    interval: tuple[float, float] | None = None  # a comparison figure's 95% interval: what it is judged on
    unreliable: str = ""  # why the value is not evidence (a saturated load generator's latency)


def lookup(summary: Figures, metric: str, kind: str | None) -> Observation:
    """The value of `metric` for `kind` (None: the metric's default scope) in `summary`. Read
    defensively, as a plain mapping: a summary read back from a file may lack what it claims."""
    return _lookup(summary, metric, kind)


def _lookup(summary: Mapping[str, Any], metric: str, kind: str | None) -> Observation:
    if metric in LATENCY_METRICS:
        return _latency(summary, metric, kind or "all")
    if metric in SHIFT_METRICS:
        return _quality(summary, "shift", metric, kind)
    if metric in CALIBRATION_METRICS:
        return _quality(summary, "calibration", metric, kind or "clean")
    if metric in ACCURACY_METRICS:
        return _quality(summary, "accuracy", metric, kind or "clean")
    if metric == "flip_rate":
        return _flip_rate(summary)
    if metric in COMPARISON_METRICS:
        return _comparison(summary, metric, kind)
    return _traffic(summary, metric, kind or "all")


def _scope(summary: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    """`summary["all"]` for `all`, else the kind's entry; None when absent or not a table."""
    entry = summary.get("all") if kind == "all" else (summary.get("kinds") or {}).get(kind)
    return entry if isinstance(entry, dict) else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _count(value: Any) -> int:
    number = _number(value)
    return int(number) if number is not None and number >= 0 else 0


def _absent(kind: str) -> Observation:
    why = "no 'all' entry in the summary" if kind == "all" else f"no {kind!r} traffic"
    return Observation(None, 0, kind, why)


def _latency(summary: Mapping[str, Any], metric: str, kind: str) -> Observation:
    entry = _scope(summary, kind)
    if entry is None:
        return _absent(kind)
    latency = entry.get("latency_ms") or {}
    value = _number(latency.get(metric.removesuffix("_ms")))
    if value is None:
        return Observation(None, 0, kind, "no latency recorded")
    why = latency.get("unreliable")
    return Observation(value, _count(latency.get("n")), kind, unreliable=why if isinstance(why, str) else "")


def _traffic(summary: Mapping[str, Any], metric: str, kind: str) -> Observation:
    """requests, rps, error_rate, accepted_malformed: counts from `requests` and `outcomes`."""
    entry = _scope(summary, kind)
    if entry is None:
        return _absent(kind)
    requests = _count(entry.get("requests"))
    outcomes = entry.get("outcomes") or {}
    if metric == "requests":
        return Observation(float(requests), requests, kind)
    if metric == "accepted_malformed":
        return Observation(float(_count(outcomes.get("accepted_malformed"))), requests, kind)
    if metric == "rps":
        duration = _number(summary.get("duration_s"))
        if duration is None or duration <= 0:
            return Observation(None, 0, kind, "no duration_s in the summary")
        return Observation(requests / duration, requests, kind)
    # error_rate: every outcome that is not a Locust success
    if requests == 0:
        return Observation(None, 0, kind, "no requests")
    failed = sum(_count(n) for outcome, n in outcomes.items() if outcome not in SUCCESS_OUTCOMES)
    return Observation(failed / requests, requests, kind)


def _quality(summary: Mapping[str, Any], section: str, metric: str, kind: str | None) -> Observation:
    """A shift, calibration or accuracy figure of one kind; for no kind (shift) or `all`, the
    worst over the traffic kinds that have one: the largest, as these are lower-is-better, but
    the smallest accuracy. A fixed batch's figures (oversized) are never read."""
    if kind is not None and kind != "all":
        return _kind_quality(summary, section, metric, kind)
    found = [_kind_quality(summary, section, metric, k) for k in TRAFFIC_KINDS]
    found = [o for o in found if o.value is not None]
    if not found:
        return Observation(None, 0, None, f"no kind has a {metric} figure")
    if metric in ACCURACY_METRICS:
        return min(found, key=lambda o: o.value or 0.0)  # ties go to the first kind in TRAFFIC_KINDS
    return max(found, key=lambda o: o.value or 0.0)


def _kind_quality(summary: Mapping[str, Any], section: str, metric: str, kind: str) -> Observation:
    entry = _scope(summary, kind)
    if entry is None:
        return _absent(kind)
    if entry.get("fixed_batch"):
        return Observation(None, 0, kind, FIXED_BATCH_WHY)
    figures = entry.get(section)
    if not isinstance(figures, dict):
        why = "no predictions to compare" if section == "shift" else "no labels or no predictions"
        if section == "calibration" and isinstance(entry.get("calibration_reason"), str):
            why = entry["calibration_reason"]  # label answers: why, and how to get probabilities
        return Observation(None, 0, kind, why)
    value = _number(figures.get(metric))
    if value is None:
        return Observation(None, 0, kind, "too few predictions")
    n = _count(figures.get("n"))
    if section == "shift":
        n = min(n, _count(figures.get("n_reference")))
        if metric in ("psi", "js") and figures.get("underpowered") is True:
            return Observation(None, n, kind, _underpowered_why(figures))
    return Observation(value, n, kind)


def _underpowered_why(shift: Mapping[str, Any]) -> str:
    """Why a PSI or JS the console calls "insufficient" judges no gate: at these counts noise
    alone can cross the bound, so a pass or a fail would be a coin toss (docs/gates.md)."""
    n_ref, n_cur, need = shift.get("n_reference"), shift.get("n"), _count(shift.get("min_n_reference"))
    why = f"too few predictions to tell a shift from noise (baseline n={n_ref}, this kind n={n_cur})"
    if need:
        return f"{why}: the baseline needs min_n_reference={need} predictions (e.g. --ml-warmup={need})"
    return f"{why}: run longer with a larger baseline (--ml-warmup)"


def _flip_rate(summary: Mapping[str, Any]) -> Observation:
    entry = _scope(summary, "probe")
    if entry is None:
        return _absent("probe")
    consistency = entry.get("consistency")
    if not isinstance(consistency, dict):
        return Observation(None, 0, "probe", "no consistency probes")
    value = _number(consistency.get("flip_rate"))
    if value is None:
        return Observation(None, 0, "probe", "no resent instances")
    return Observation(value, _count(consistency.get("instances")), "probe")


def _comparison(summary: Mapping[str, Any], metric: str, kind: str | None) -> Observation:
    """A champion/challenger figure (docs/compare.md) with its interval; `regressions` without a
    kind (or `all`) is the total over every kind."""
    block = summary.get("comparison")
    if not isinstance(block, dict):
        return Observation(None, 0, kind, "no challenger in this run (--ml-challenger)")
    found = block.get("kinds")
    kinds: Mapping[str, Any] = found if isinstance(found, dict) else {}
    if metric == "regressions" and kind in (None, "all"):
        entries = [e for e in kinds.values() if isinstance(e, dict)]
        pairs = sum(_count(e.get("n_pairs")) for e in entries)
        if not pairs:
            return Observation(None, 0, kind, "no pairs")
        return Observation(float(sum(_count(e.get("regressions")) for e in entries)), pairs, kind)
    kind = kind or "clean"
    entry = kinds.get(kind)
    if not isinstance(entry, dict):
        return Observation(None, 0, kind, f"no {kind!r} pairs")
    if metric == "regressions":
        return Observation(float(_count(entry.get("regressions"))), _count(entry.get("n_pairs")), kind)
    if metric == "disagreement":
        return _with_interval(entry.get("disagreement"), entry.get("disagreement_ci"), entry.get("n_compared"),
                              kind, "no instance answered by both versions")  # fmt: skip
    if metric == "accuracy_delta":
        delta = entry.get("accuracy_delta") or {}
        return _with_interval(delta.get("value"), delta.get("ci"), entry.get("n_labelled"), kind,
                              "no labelled instance answered by both versions")  # fmt: skip
    if metric == "ece_delta":
        return _ece_delta(entry, kind)
    delta = (entry.get("percentile_delta_ms") or {}).get(metric.removesuffix("_delta_ms")) or {}
    missing = "no latency of both versions"
    return _with_interval(delta.get("value"), delta.get("ci"), entry.get("n_pairs"), kind, missing)


def _with_interval(value: Any, ci: Any, n: Any, kind: str, missing: str) -> Observation:
    number = _number(value)
    if number is None:
        return Observation(None, _count(n), kind, missing)
    bounds = [_number(x) for x in ci] if isinstance(ci, list) and len(ci) == 2 else []
    if len(bounds) != 2 or bounds[0] is None or bounds[1] is None:
        return Observation(number, _count(n), kind, "too few pairs for a 95% interval")
    return Observation(number, _count(n), kind, interval=(bounds[0], bounds[1]))


def _ece_delta(entry: Mapping[str, Any], kind: str) -> Observation:
    """Challenger's ECE minus the champion's, ± the two noise floors (the ECE a perfectly
    calibrated model shows at these counts): a difference inside them is noise."""
    versions = entry.get("versions") or {}
    a, b = versions.get("champion") or {}, versions.get("challenger") or {}
    ea, eb = _number(a.get("ece")), _number(b.get("ece"))
    n = min(_count(a.get("n_calibration")), _count(b.get("n_calibration")))
    if ea is None or eb is None:
        return Observation(None, n, kind, "no calibration figure for both versions (labels and probabilities needed)")
    noise = (_number(a.get("ece_noise")) or 0.0) + (_number(b.get("ece_noise")) or 0.0)
    return Observation(eb - ea, n, kind, interval=(eb - ea - noise, eb - ea + noise))
