"""One kind's paired figures for a champion/challenger run (issue 15), mergeable across workers.

Like :mod:`locust_mlstress.quality.kindstats`, memory is bounded whatever the request count:
counters and log histograms only, never per-pair values; ``to_wire`` gives plain msgpack-safe
types so workers can ship it to the master, which merges.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from locust_mlstress.metrics.paired import disagreement, mcnemar, worse
from locust_mlstress.quality.histograms import LogHistogram

QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}


def _quantiles(h: LogHistogram) -> dict[str, Any]:
    n = h.n
    out: dict[str, Any] = {k: (h.quantile(q) if n else None) for k, q in QUANTILES.items()}
    out["n"] = n
    return out


def _label_of(pred: list, output: str) -> Any:
    if output == "regression":
        return float(pred[0]) if isinstance(pred, list) else float(pred)
    if output == "binary" or len(pred) == 1:
        return int(float(pred[-1] if isinstance(pred, list) else pred) >= 0.5)
    return max(range(len(pred)), key=lambda i: pred[i])


class PairStats:
    """Paired figures of one kind: disagreement, outcome transitions, regressions, latency
    differences and, with labels, McNemar's discordant counts."""

    def __init__(self) -> None:
        self.n_pairs = 0
        self.compared = 0
        self.disagree = 0
        self.abs_diff = 0.0
        self.transitions: Counter[tuple[str, str]] = Counter()
        self.regressions: Counter[str] = Counter()
        self.delta = LogHistogram()  # challenger − champion, ms: signed log bins
        self.latency = {"champion": LogHistogram(), "challenger": LogHistogram()}
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
        self.latency["champion"].add(champion_ms)
        self.latency["challenger"].add(challenger_ms)
        if champion_pred is None or challenger_pred is None:
            return
        for i, (a, b) in enumerate(zip(champion_pred, challenger_pred, strict=True)):
            self.compared += 1
            la, lb = _label_of(a, output), _label_of(b, output)
            if output == "regression":
                differ = abs(la - lb) > tolerance
                self.abs_diff += abs(la - lb)
            else:
                differ = la != lb
                sa = a[-1] if isinstance(a, list) and output == "binary" else (max(a) if isinstance(a, list) else a)
                sb = b[-1] if isinstance(b, list) and output == "binary" else (max(b) if isinstance(b, list) else b)
                self.abs_diff += abs(float(sa) - float(sb))
            self.disagree += differ
            if labels is not None and i < len(labels):
                y = labels[i]
                ok_a = abs(la - y) <= tolerance if output == "regression" else la == y
                ok_b = abs(lb - y) <= tolerance if output == "regression" else lb == y
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
        for k in self.latency:
            self.latency[k].merge(other.latency[k])
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
            "latency": {k: h.to_wire() for k, h in self.latency.items()},
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
        s.latency = {k: LogHistogram.from_wire(v) for k, v in w["latency"].items()}
        s.labelled = int(w["labelled"])
        s.correct = {k: int(v) for k, v in w["correct"].items()}
        s.b, s.c = int(w["b"]), int(w["c"])
        return s

    def figures(self) -> dict[str, Any]:
        d = disagreement(self.disagree, self.compared) if self.compared else None
        labelled = self.labelled
        return {
            "n_pairs": self.n_pairs,
            "n_compared": self.compared,
            "disagreement": d.value if d else None,
            "disagreement_ci": [d.low, d.high] if d else None,
            "mean_abs_diff": self.abs_diff / self.compared if self.compared else None,
            "transitions": {f"{a}->{b}": n for (a, b), n in sorted(self.transitions.items())},
            "regressions": sum(self.regressions.values()),
            "regressions_by_variant": dict(sorted(self.regressions.items())),
            "latency_delta_ms": _quantiles(self.delta),
            "latency_ms": {k: _quantiles(h) for k, h in self.latency.items()},
            "accuracy": {k: v / labelled for k, v in self.correct.items()} if labelled else None,
            "n_labelled": labelled,
            "mcnemar_p": mcnemar(self.b, self.c).p_value if labelled else None,
        }


__all__ = ["PairStats"]
