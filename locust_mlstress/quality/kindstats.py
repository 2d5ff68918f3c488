"""Everything recorded about one payload kind in one time window, mergeable and wire-safe.

One `KindStats` per (window, kind). Recording is O(instances) with small constants; memory is
bounded by bins, never by requests. `to_wire()` gives plain ints, floats, strings and lists
(msgpack-safe: numpy scalars would silently kill a worker's report greenlet); `from_wire()`
and `merge()` rebuild and add them exactly. Keys added later (`answers`, `accuracy`, `hard`) are left out
of the wire while empty and read as zero when absent, so a baseline file or a worker of an
earlier version still loads.
"""

from __future__ import annotations

from collections import Counter
from typing import cast

import numpy as np

from locust_mlstress.quality.calibration_bins import CalibrationBins, fixed
from locust_mlstress.quality.histograms import LinearHistogram, LogHistogram


class Consistency:
    """Resent payloads: how often the predicted class flipped and how far scores moved."""

    __slots__ = ("probes", "instances", "flips", "max_diff", "sum_diff")

    def __init__(self) -> None:
        self.probes = self.instances = self.flips = self.sum_diff = 0
        self.max_diff = 0.0

    def add(self, instances: int, flips: int, diffs: list[float]) -> None:
        self.probes += 1
        self.instances += instances
        self.flips += flips
        self.max_diff = max(self.max_diff, *diffs) if diffs else self.max_diff
        self.sum_diff += sum(fixed(d) for d in diffs)

    def merge(self, other: Consistency) -> None:
        self.probes += other.probes
        self.instances += other.instances
        self.flips += other.flips
        self.max_diff = max(self.max_diff, other.max_diff)
        self.sum_diff += other.sum_diff

    def to_wire(self) -> list:
        return [self.probes, self.instances, self.flips, float(self.max_diff), self.sum_diff]

    @classmethod
    def from_wire(cls, row: list) -> Consistency:
        c = cls()
        c.probes, c.instances, c.flips, c.max_diff, c.sum_diff = row
        return c


class KindStats:
    __slots__ = ("output", "n_classes", "outcomes", "predictions", "classes", "class_sums", "calibration",
                 "latency", "latency_us", "consistency", "sizes", "variant_latency", "answers", "accuracy",
                 "hard")  # fmt: skip

    def __init__(self, output: str, n_classes: int = 0):
        self.output = output
        self.n_classes = n_classes
        self.outcomes: Counter[tuple[str, str]] = Counter()  # (variant, outcome) -> requests
        self.predictions: LinearHistogram | LogHistogram = (
            LogHistogram() if output == "regression" else LinearHistogram()
        )
        self.classes = [0] * n_classes  # predicted-class counts (multiclass)
        self.class_sums = [0] * n_classes  # Σ P(class) in fixed point (multiclass)
        self.calibration = CalibrationBins() if output != "regression" else None
        self.latency = LogHistogram()
        # Σ latency in whole microseconds: an int, so it adds exactly across workers (a float sum
        # depends on the order of addition); the exports' histogram sum (observe/samples.py).
        self.latency_us = 0
        self.consistency = Consistency()
        self.sizes: dict[str, list[int]] = {}  # variant -> [requests, Σ body bytes, max body bytes]
        # Latency per variant only where the variants differ in size (oversized), to plot one
        # against the other; elsewhere it would multiply the histograms for little insight.
        self.variant_latency: dict[str, LogHistogram] = {}
        # Answers (decoded responses) by what they held: [probabilities, class labels]. A server
        # that answers labels (MLflow's default pyfunc `predict`, MLServer's `predict` output) gives
        # 0/1 or one-hot "probabilities"; their ECE and Brier would equal the error rate and look
        # calibrated, so label answers are counted here and kept out of the calibration bins.
        self.answers = [0, 0]
        # Binary probability answers whose every value was exactly 0 or 1: [answers, instances].
        # Such an answer may be labels (JSON 1, or 1.0 from a model trained on float y) or a
        # confident model's probabilities written without a fraction; one answer cannot tell, a
        # kind can: when no answer held a fraction (figures.answers), they were labels.
        self.hard = [0, 0]
        # [correct, instances] wherever labels are known, from either kind of answer: binary
        # p >= 0.5 is the positive class; multiclass the argmax (ties to the lowest class index).
        self.accuracy = [0, 0]

    @property
    def requests(self) -> int:
        return sum(self.outcomes.values())

    def record_outcome(
        self, variant: str, outcome: str, response_time: float, size: int = 0, by_variant: bool = False
    ) -> None:
        self.outcomes[(variant, outcome)] += 1
        self.latency.add(response_time)
        self.latency_us += round(response_time * 1000)
        row = self.sizes.get(variant)
        if row is None:
            row = self.sizes[variant] = [0, 0, 0]
        row[0] += 1
        row[1] += size
        if size > row[2]:
            row[2] = size
        if by_variant:
            hist = self.variant_latency.get(variant)
            if hist is None:
                hist = self.variant_latency[variant] = LogHistogram()
            hist.add(response_time)

    @property
    def label_answers(self) -> int:
        return self.answers[1]

    @property
    def soft_answers(self) -> int:
        """Probability answers with at least one value strictly between 0 and 1."""
        return self.answers[0] - self.hard[0]

    def record_predictions(self, predictions: list, labels: list | None, labels_only: bool = False) -> None:
        """One answer's predictions. `labels_only`: the server answered class labels, decoded as
        0.0/1.0 (binary) or one-hot (multiclass): they count towards the prediction histogram,
        the predicted-class shares and accuracy, never towards calibration."""
        if self.output == "regression":
            for value in predictions:
                self.predictions.add(value)
            return
        self.answers[1 if labels_only else 0] += 1
        if self.output == "binary":
            self._binary(predictions, labels, labels_only)
        else:
            self._multiclass(predictions, labels, labels_only)

    def _binary(self, predictions: list[float], labels: list | None, labels_only: bool) -> None:
        # a classifier's: probabilities on [0, 1], and calibration bins (__init__)
        hist, cal = cast(LinearHistogram, self.predictions), cast(CalibrationBins, self.calibration)
        if len(predictions) > 32:  # large batches: one numpy pass instead of a Python loop
            values = np.asarray(predictions, dtype=np.float64)
            hist.add_many(values)
            hard = not labels_only and bool(((values == 0.0) | (values == 1.0)).all())
        else:
            hard = not labels_only
            for p in predictions:
                hist.add(p)
                if hard and p != 0.0 and p != 1.0:
                    hard = False
        if hard and predictions:
            self.hard[0] += 1
            self.hard[1] += len(predictions)
        if labels is None:
            return
        correct = 0
        for p, y in zip(predictions, labels, strict=True):
            correct += (p >= 0.5) == (y == 1)
            if not labels_only:
                cal.add(p, y, (p - y) * (p - y))
        self.accuracy[0] += correct
        self.accuracy[1] += len(predictions)

    def _multiclass(self, predictions: list[list[float]], labels: list | None, labels_only: bool) -> None:
        for i, probs in enumerate(predictions):
            top = max(range(len(probs)), key=probs.__getitem__)
            self.predictions.add(probs[top])
            self.classes[top] += 1
            if not labels_only:
                for k, p in enumerate(probs):
                    self.class_sums[k] += fixed(p)
            if labels is not None:
                y = labels[i]
                self.accuracy[0] += top == y
                self.accuracy[1] += 1
                if not labels_only:
                    sq = sum((p - (k == y)) ** 2 for k, p in enumerate(probs))
                    cast(CalibrationBins, self.calibration).add(probs[top], int(top == y), sq)  # a classifier's

    def merge(self, other: KindStats) -> None:
        # A master merges each worker report's stats two or three times (run totals, its window,
        # the warm-up's): nothing below builds an object it does not keep, and empty calibration
        # bins (a kind without predictions) are not added.
        self.outcomes.update(other.outcomes)
        self.predictions.merge(other.predictions)  # type: ignore[arg-type]
        for k in range(self.n_classes):
            self.classes[k] += other.classes[k]
            self.class_sums[k] += other.class_sums[k]
        if self.calibration is not None and other.calibration is not None and other.calibration.n:
            self.calibration.merge(other.calibration)
        self.latency.merge(other.latency)
        self.latency_us += other.latency_us
        self.consistency.merge(other.consistency)
        for variant, (n, total, top) in other.sizes.items():
            row = self.sizes.get(variant)
            if row is None:
                self.sizes[variant] = [n, total, top]
                continue
            row[0] += n
            row[1] += total
            row[2] = max(row[2], top)
        for variant, hist in other.variant_latency.items():
            mine = self.variant_latency.get(variant)
            if mine is None:
                mine = self.variant_latency[variant] = LogHistogram()
            mine.merge(hist)
        for j in range(2):
            self.answers[j] += other.answers[j]
            self.accuracy[j] += other.accuracy[j]
            self.hard[j] += other.hard[j]

    def to_wire(self) -> dict:
        wire = {
            "outcomes": [[v, o, int(n)] for (v, o), n in self.outcomes.items()],
            "predictions": self.predictions.to_wire(),
            "latency": self.latency.to_wire(),
            "latency_us": int(self.latency_us),
            "consistency": self.consistency.to_wire(),
            "sizes": [[v, int(n), int(total), int(top)] for v, (n, total, top) in self.sizes.items()],
        }
        if self.variant_latency:
            wire["variant_latency"] = [[v, h.to_wire()] for v, h in self.variant_latency.items()]
        if self.calibration is not None:
            wire["calibration"] = self.calibration.to_wire()
        if self.n_classes:
            wire["classes"] = list(self.classes)
            wire["class_sums"] = list(self.class_sums)
        if any(self.answers):
            wire["answers"] = [int(n) for n in self.answers]
        if self.accuracy[1]:
            wire["accuracy"] = [int(n) for n in self.accuracy]
        if self.hard[0]:
            wire["hard"] = [int(n) for n in self.hard]
        return wire

    @classmethod
    def from_wire(cls, wire: dict, output: str, n_classes: int = 0) -> KindStats:
        s = cls(output, n_classes)
        s.outcomes.update({(v, o): n for v, o, n in wire["outcomes"]})
        s.predictions = (LogHistogram if output == "regression" else LinearHistogram).from_wire(wire["predictions"])
        s.latency = LogHistogram.from_wire(wire["latency"])
        s.latency_us = int(wire.get("latency_us", 0))
        s.consistency = Consistency.from_wire(wire["consistency"])
        s.sizes = {v: [n, total, top] for v, n, total, top in wire.get("sizes", [])}
        s.variant_latency = {v: LogHistogram.from_wire(rows) for v, rows in wire.get("variant_latency", [])}
        if "calibration" in wire:
            s.calibration = CalibrationBins.from_wire(wire["calibration"])
        if n_classes:
            s.classes = list(wire["classes"])
            s.class_sums = list(wire["class_sums"])
        s.answers = [int(n) for n in wire.get("answers", (0, 0))]
        s.accuracy = [int(n) for n in wire.get("accuracy", (0, 0))]
        s.hard = [int(n) for n in wire.get("hard", (0, 0))]
        return s
