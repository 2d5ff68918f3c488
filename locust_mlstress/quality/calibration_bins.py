"""Calibration bins that merge exactly: per bin, count, Σp, Σy, Σ(p−y)² and Σp².

Sums of probabilities are kept as integers in fixed point (units of 2^-32), so adding workers'
bins in any order gives bit-identical totals: a distributed run's ECE, MCE and Brier score equal
those of one process that saw the same predictions (float sums would differ in the last bits
with the order of addition). Σp² is kept for the noise estimate: Var(Σy) = Σp − Σp² under
perfect calibration.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from locust_mlstress.quality.histograms import unit_bin

SCALE = 1 << 32
CALIBRATION_BINS = 10
FIELDS = 5  # count, Σp, Σy, Σ(p−y)², Σp²


def fixed(x: float) -> int:
    return int(round(x * SCALE))


class CalibrationBins:
    """For binary models p is P(positive) and y the label; for multiclass, p is the top-class
    confidence and y whether that class was right (top-label calibration, Guo et al. 2017)."""

    __slots__ = ("bins", "rows")

    def __init__(self, bins: int = CALIBRATION_BINS):
        self.bins = bins
        self.rows = [[0] * FIELDS for _ in range(bins)]

    def add(self, p: float, y: int, sq_err: float) -> None:
        """`sq_err` is the instance's Brier term: (p−y)² binary, Σ_k (p_k−y_k)² multiclass."""
        row = self.rows[unit_bin(p, self.bins)]
        row[0] += 1
        row[1] += fixed(p)
        row[2] += y
        row[3] += fixed(sq_err)
        row[4] += fixed(p * p)

    def merge(self, other: CalibrationBins) -> None:
        for mine, theirs in zip(self.rows, other.rows, strict=True):
            for j in range(FIELDS):
                mine[j] += theirs[j]

    @property
    def n(self) -> int:
        return sum(row[0] for row in self.rows)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(count, Σp, Σy, Σ(p−y)², Σp²) per bin as floats, for the metric functions."""
        a = np.array(self.rows, dtype=object)
        count = a[:, 0].astype(np.float64)
        return (
            count,
            np.array([v / SCALE for v in a[:, 1]]),
            a[:, 2].astype(np.float64),
            np.array([v / SCALE for v in a[:, 3]]),
            np.array([v / SCALE for v in a[:, 4]]),
        )

    def to_wire(self) -> list[list[int]]:
        return [[i, *row] for i, row in enumerate(self.rows) if row[0]]

    @classmethod
    def from_wire(cls, rows: Iterable[list[int]], bins: int = CALIBRATION_BINS) -> CalibrationBins:
        c = cls(bins)
        for i, *values in rows:
            for j, v in enumerate(values):
                c.rows[i][j] += v
        return c
