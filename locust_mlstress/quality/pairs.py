"""One kind's paired figures for a champion/challenger run (issue 15), mergeable across workers.

Like :mod:`locust_mlstress.quality.kindstats`, memory is bounded whatever the request count:
counters and log histograms only, never per-pair values; ``to_wire`` gives plain msgpack-safe
types so workers can ship it to the master, which merges.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from locust_mlstress.domain.summary import Interval, PairFigures, VersionFigures
from locust_mlstress.metrics.paired import accuracy_delta, disagreement, mcnemar, quantile_ranks, worse
from locust_mlstress.quality import figures
from locust_mlstress.quality.histograms import LogHistogram, key_bounds
from locust_mlstress.quality.kindstats import KindStats

QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
NO_INTERVAL: Interval = {"value": None, "ci": None}


def interval_of(h: LogHistogram, q: float) -> Interval:
    """The `q` quantile of a histogram's values with its distribution-free 95% interval (None
    when there are too few values for one: then no gate can be judged on it)."""
    n = h.n
    if n == 0:
        return dict(NO_INTERVAL)  # type: ignore[return-value]  # a copy of the TypedDict
    ranks = quantile_ranks(n, q)
    return {"value": h.quantile(q), "ci": [h.at_rank(ranks[0]), h.at_rank(ranks[1])] if ranks else None}


def latency_intervals(h: LogHistogram) -> dict[str, Interval]:
    return {name: interval_of(h, q) for name, q in QUANTILES.items()}


def percentile_delta(champion: dict[str, Interval], challenger: dict[str, Interval]) -> dict[str, Interval]:
    """Challenger's percentile minus the champion's, the interval from both intervals at their
    far ends (conservative: each holds with 95%, so the difference holds with at least 90%, and
    the two samples are paired, which only tightens it)."""
    out: dict[str, Interval] = {}
    for name in QUANTILES:
        a, b = champion[name], challenger[name]
        if a["value"] is None or b["value"] is None:
            out[name] = dict(NO_INTERVAL)  # type: ignore[assignment]
            continue
        ci = [b["ci"][0] - a["ci"][1], b["ci"][1] - a["ci"][0]] if a["ci"] and b["ci"] else None
        out[name] = {"value": b["value"] - a["value"], "ci": ci}
    return out


def version_figures(stats: KindStats, reference: KindStats | None, shift_reason: str | None) -> VersionFigures:
    """One version's figures over the paired requests of a kind; `reference` the run's baseline
    for the kind, None with `shift_reason` saying why no shift is given."""
    cal = figures.calibration(stats, detail=False)
    acc = figures.accuracy(stats)
    psi = None
    if reference is not None:
        shift = figures.shift(reference, stats)
        psi = shift["psi"] if shift is not None else None
        if shift is None:
            shift_reason = "no predictions"
        elif psi is None:
            shift_reason = "too few predictions for a shift figure"
        elif shift["underpowered"]:
            psi, shift_reason = None, "too few predictions to tell a shift from noise"
    return {
        "latency_ms": latency_intervals(stats.latency),
        "n": stats.requests,
        "accuracy": acc["accuracy"] if acc else None,
        "ece": cal["ece"] if cal else None,
        "ece_noise": cal["ece_noise"] if cal else None,
        "brier": cal["brier"] if cal else None,
        "n_calibration": cal["n"] if cal else 0,
        "psi": psi,
        "shift_reason": None if psi is not None else shift_reason,
    }


def predicted_class(output: str, p: Any) -> int:
    """The class an answer to one instance picks: binary P(positive) >= 0.5, multiclass the argmax."""
    if output == "binary":
        return int(p >= 0.5)
    return max(range(len(p)), key=p.__getitem__)


def answer_gap(output: str, a: Any, b: Any) -> tuple[bool, float]:
    """Two answers to one instance: (whether they pick different classes, how far apart they are).
    Binary: P(positive) on either side of 0.5, and |Δp|; multiclass: the argmax, and the largest
    change of any class's probability (a rolled vector moves its class but not its top value);
    regression: no class, |Δvalue|. Consistency probes and challenger pairs both read it."""
    if output == "regression":
        return False, abs(a - b)
    if output == "binary":
        return (a >= 0.5) != (b >= 0.5), abs(a - b)
    gap = max(abs(x - y) for x, y in zip(a, b, strict=False))
    return predicted_class(output, a) != predicted_class(output, b), gap


class PairStats:
    """Paired figures of one kind: disagreement, outcome transitions, regressions, latency
    differences and, with labels, McNemar's discordant counts. Each version's own figures come
    from its KindStats over the same pairs (`version_figures`)."""

    def __init__(self) -> None:
        self.n_pairs = 0
        self.compared = 0
        self.disagree = 0
        self.abs_diff = 0.0
        self.transitions: Counter[tuple[str, str]] = Counter()
        self.regressions: Counter[str] = Counter()
        self.delta = LogHistogram()  # challenger − champion, ms: signed log bins
        self.labelled = 0
        self.correct = {"champion": 0, "challenger": 0}
        self.b = 0
        self.c = 0

    def record(
        self,
        variant: str,
        champion_outcome: str,
        challenger_outcome: str,
        champion_pred: list | None,
        challenger_pred: list | None,
        champion_ms: float,
        challenger_ms: float,
        labels: list | None,
        output: str,
        tolerance: float,
    ) -> None:
        self.n_pairs += 1
        self.transitions[(str(champion_outcome), str(challenger_outcome))] += 1
        if worse(champion_outcome, challenger_outcome):
            self.regressions[variant] += 1
        self.delta.add(challenger_ms - champion_ms)
        if champion_pred is None or challenger_pred is None:
            return
        for i, (a, b) in enumerate(zip(champion_pred, challenger_pred, strict=True)):
            self.compared += 1
            flipped, gap = answer_gap(output, a, b)
            self.abs_diff += gap
            self.disagree += gap > tolerance if output == "regression" else flipped
            # a regression value is never exactly right: accuracy and McNemar are for classes
            if labels is not None and output != "regression" and i < len(labels):
                y = labels[i]
                ok_a, ok_b = predicted_class(output, a) == y, predicted_class(output, b) == y
                self.labelled += 1
                self.correct["champion"] += ok_a
                self.correct["challenger"] += ok_b
                self.b += ok_a and not ok_b
                self.c += ok_b and not ok_a

    def merge(self, other: PairStats) -> None:
        self.n_pairs += other.n_pairs
        self.compared += other.compared
        self.disagree += other.disagree
        self.abs_diff += other.abs_diff
        self.transitions.update(other.transitions)
        self.regressions.update(other.regressions)
        self.delta.merge(other.delta)
        for k in self.correct:
            self.correct[k] += other.correct[k]
        self.labelled += other.labelled
        self.b += other.b
        self.c += other.c

    def to_wire(self) -> dict[str, Any]:
        return {
            "n_pairs": self.n_pairs,
            "compared": self.compared,
            "disagree": self.disagree,
            "abs_diff": self.abs_diff,
            "transitions": [[a, b, n] for (a, b), n in sorted(self.transitions.items())],
            "regressions": dict(sorted(self.regressions.items())),
            "delta": self.delta.to_wire(),
            "labelled": self.labelled,
            "correct": dict(self.correct),
            "b": self.b,
            "c": self.c,
        }

    @classmethod
    def from_wire(cls, w: dict[str, Any]) -> PairStats:
        s = cls()
        s.n_pairs, s.compared, s.disagree = int(w["n_pairs"]), int(w["compared"]), int(w["disagree"])
        s.abs_diff = float(w["abs_diff"])
        s.transitions = Counter({(a, b): int(n) for a, b, n in w["transitions"]})
        s.regressions = Counter({k: int(v) for k, v in w["regressions"].items()})
        s.delta = LogHistogram.from_wire(w["delta"])
        s.labelled = int(w["labelled"])
        s.correct = {k: int(v) for k, v in w["correct"].items()}
        s.b, s.c = int(w["b"]), int(w["c"])
        return s

    def figures(self, versions: dict[str, VersionFigures]) -> PairFigures:
        """The kind's paired figures, beside each version's own (`version_figures`)."""
        d = disagreement(self.disagree, self.compared) if self.compared else None
        delta = accuracy_delta(self.b, self.c, self.labelled) if self.labelled else None
        return {
            "n_pairs": self.n_pairs,
            "n_compared": self.compared,
            "disagreement": d.value if d else None,
            "disagreement_ci": [d.low, d.high] if d else None,
            "mean_abs_diff": self.abs_diff / self.compared if self.compared else None,
            "transitions": {f"{a}->{b}": n for (a, b), n in sorted(self.transitions.items())},
            "regressions": sum(self.regressions.values()),
            "regressions_by_variant": dict(sorted(self.regressions.items())),
            "latency_delta_ms": {
                **latency_intervals(self.delta),  # type: ignore[typeddict-item]
                "n": self.delta.n,
                "histogram": [[*key_bounds(key), float(n)] for key, n in self.delta.items()],
            },
            "percentile_delta_ms": percentile_delta(
                versions["champion"]["latency_ms"], versions["challenger"]["latency_ms"]
            ),
            "n_labelled": self.labelled,
            "accuracy_delta": {"value": delta.value, "ci": [delta.low, delta.high]} if delta else dict(NO_INTERVAL),  # type: ignore[typeddict-item]
            "mcnemar_p": mcnemar(self.b, self.c).p_value if self.labelled else None,
            "versions": versions,
            "fixed_batch": False,
        }


class PairCounts:
    """One kind's pairs in one time window, for disagreement over time: the few counters a trend
    needs, not a whole `PairStats` (no latency histogram, no per-variant or transition counts), so
    the monitor's pair windows cost four integers per window and kind. Sums of counts: merging
    workers' windows is exact, and so is merging neighbouring windows when the monitor coarsens."""

    __slots__ = ("compared", "disagree", "n_pairs", "regressions")

    def __init__(self) -> None:
        self.n_pairs = 0
        self.compared = 0
        self.disagree = 0
        self.regressions = 0

    def add(self, stats: PairStats) -> None:
        """Count a recorder delta's pairs (a worker's report, or a local recorder's window)."""
        self.n_pairs += stats.n_pairs
        self.compared += stats.compared
        self.disagree += stats.disagree
        self.regressions += sum(stats.regressions.values())

    def merge(self, other: PairCounts) -> None:
        self.n_pairs += other.n_pairs
        self.compared += other.compared
        self.disagree += other.disagree
        self.regressions += other.regressions

    def figures(self) -> tuple[float | None, list[float] | None]:
        """The window's disagreement and its Wilson 95% interval (as the run's `disagreement`);
        None when no instance had an answer from both versions."""
        if not self.compared:
            return None, None
        d = disagreement(self.disagree, self.compared)
        return d.value, [d.low, d.high]


__all__ = ["PairCounts", "PairStats", "interval_of", "latency_intervals", "percentile_delta", "version_figures"]
