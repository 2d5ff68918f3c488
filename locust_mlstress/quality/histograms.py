"""Histograms that add exactly: the only way per-worker data can give the figures one process would.

Bins are fixed before any data arrives, so two histograms of the same kind always share bins and
merging is addition of integer counts, in any order, with no loss.

- `LinearHistogram`: equal-width bins on [0, 1] for probabilities, right-closed with p = 0 in the
  first bin (the calibration convention, so one rule holds everywhere).
- `LogHistogram`: log-spaced bins for values of any size and sign (latencies, regression outputs),
  in the HdrHistogram manner: a bin spans (g^(i-1), g^i] with g = 1.01, so any value's bin
  representative is within 0.5% of it.

On the wire (worker reports, baseline files) a histogram is its non-empty bins as one flat list of
plain ints, `[key, count, key, count, ...]` (`flat_wire`); the `[[key, count], ...]` rows of
earlier versions still load. A master decodes several histograms per worker report: as rows,
each bin was a list for msgpack to build and the garbage collector to visit, which took most of
the time of decoding a report (benchmarks/merge_scale.py).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable
from functools import cache

import numpy as np

PROBABILITY_BINS = 200
GROWTH = 1.01
_LOG_GROWTH = math.log(GROWTH)
TINY = 1e-6  # |x| at or below this counts as zero (a latency of a nanosecond is zero)


Wire = list[int]  # flat_wire's form; from_wire also takes the [[key, count], ...] rows of earlier versions


def flat_wire(keys: np.ndarray, counts: np.ndarray) -> Wire:
    """Non-empty bins as `[key, count, key, count, ...]`: plain ints."""
    out = np.empty(2 * len(keys), dtype=np.int64)
    out[0::2] = keys
    out[1::2] = counts
    return out.tolist()


def read_flat(wire: list) -> tuple[np.ndarray, np.ndarray]:
    """(keys, counts) of a `flat_wire` list; ValueError for anything but pairs of int64s."""
    a = np.array(wire)
    if a.ndim != 1 or a.dtype.kind != "i" or len(a) % 2:
        raise ValueError(f"histogram wire: expected [key, count, key, count, ...] of integers, got {wire[:6]!r}")
    return a[0::2], a[1::2]


def is_rows(wire: Iterable) -> bool:
    """Whether `wire` is in the [[key, count], ...] form of earlier versions."""
    return isinstance(wire, list) and bool(wire) and isinstance(wire[0], list | tuple)


@cache
def unit_edges(bins: int) -> tuple[list[float], np.ndarray]:
    """Interior edges of `bins` equal-width bins on [0, 1], as a list (for bisect) and an array.

    From np.linspace, as scikit-learn's calibration_curve and `metrics.calibration_bin_index`,
    so a probability on an edge (0.3 is stored as 0.30000000000000004) lands in the same bin
    whichever of the three computes it.
    """
    inner = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    return inner.tolist(), inner


def unit_bin(p: float, bins: int) -> int:
    """The right-closed bin of one probability (p = 0 in the first): binary search, in C."""
    return bisect_left(unit_edges(bins)[0], p)


class LinearHistogram:
    """Counts of probabilities in `bins` equal-width, right-closed bins on [0, 1]."""

    __slots__ = ("counts",)

    def __init__(self, bins: int = PROBABILITY_BINS):
        self.counts = np.zeros(bins, dtype=np.int64)

    @property
    def edges(self) -> np.ndarray:
        return np.linspace(0.0, 1.0, len(self.counts) + 1)

    def add(self, p: float) -> None:
        self.counts[unit_bin(p, len(self.counts))] += 1

    def add_many(self, p: np.ndarray) -> None:
        bins = len(self.counts)
        self.counts += np.bincount(np.searchsorted(unit_edges(bins)[1], p, side="left"), minlength=bins)

    def merge(self, other: LinearHistogram) -> None:
        self.counts += other.counts

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    def to_wire(self) -> Wire:
        """The non-empty bins (`flat_wire`): small deltas, msgpack-safe."""
        nz = np.flatnonzero(self.counts)
        return flat_wire(nz, self.counts[nz])

    @classmethod
    def from_wire(cls, wire: Iterable, bins: int = PROBABILITY_BINS) -> LinearHistogram:
        h = cls(bins)
        wire = wire if isinstance(wire, list) else list(wire)
        if is_rows(wire):
            for i, c in wire:
                h.counts[i] += c
        elif wire:
            keys, counts = read_flat(wire)
            np.add.at(h.counts, keys, counts)  # IndexError for a bin beyond the last, as row by row
        return h


def log_key(x: float) -> int:
    """The signed bin key of x: 0 for |x| <= TINY, +i for x in (g^(i-1), g^i]·TINY, -i mirrored."""
    a = abs(x)
    if a <= TINY:
        return 0
    i = max(1, math.ceil(math.log(a / TINY) / _LOG_GROWTH))
    return i if x > 0 else -i


def key_bounds(key: int) -> tuple[float, float]:
    """(lower, upper) of a key's bin, as numbers on the real line."""
    if key == 0:
        return -TINY, TINY
    i = abs(key)
    lo, hi = TINY * GROWTH ** (i - 1), TINY * GROWTH**i
    return (lo, hi) if key > 0 else (-hi, -lo)


def key_value(key: int) -> float:
    """A bin's representative: within (g-1)/(g+1) < 0.5% of every value in the bin."""
    if key == 0:
        return 0.0
    lo, hi = key_bounds(abs(key))
    value = 2 * lo * hi / (lo + hi)  # the harmonic mean: equal relative distance to both ends
    return value if key > 0 else -value


class LogHistogram:
    """Log-spaced counts over the span of keys seen: one int64 per bin between the lowest and
    highest key hit (latencies from 0.01 ms to 100 s span ~1,600 bins, 13 KB), never per value."""

    __slots__ = ("offset", "counts")

    def __init__(self) -> None:
        self.offset = 0
        self.counts = np.zeros(0, dtype=np.int64)

    def _slot(self, key: int) -> int:
        """The array index of `key`, growing the span to hold it."""
        i = key - self.offset
        size = len(self.counts)
        if size == 0:
            self.offset, self.counts = key, np.zeros(16, dtype=np.int64)
            return 0
        if i < 0:
            grow = max(-i, size // 2)
            self.counts = np.concatenate((np.zeros(grow, dtype=np.int64), self.counts))
            self.offset -= grow
            return i + grow
        if i >= size:
            self.counts = np.concatenate((self.counts, np.zeros(max(i - size + 1, size // 2), dtype=np.int64)))
        return i

    def add(self, x: float) -> None:
        key = log_key(x)
        i = key - self.offset
        if not 0 <= i < len(self.counts):
            i = self._slot(key)  # first, then index: growing replaces self.counts
        self.counts[i] += 1

    def add_key(self, key: int, count: int) -> None:
        i = self._slot(key)
        self.counts[i] += count

    def merge(self, other: LogHistogram) -> None:
        """Add `other`'s counts: the span grows once to hold its lowest and highest key, then one
        slice add."""
        counts = other.counts
        if len(counts) and counts[0] and counts[-1]:  # from the wire: the array is the span, no search
            lo, hi = other.offset, other.offset + len(counts) - 1
        elif (span := other.span()) is not None:
            lo, hi = span
        else:
            return
        first = lo - other.offset
        part = other.counts[first : first + hi - lo + 1]
        self._slot(lo)
        self._slot(hi)  # growing to the right leaves the offset, so lo's index stands
        start = lo - self.offset
        self.counts[start : start + hi - lo + 1] += part

    def span(self) -> tuple[int, int] | None:
        """(lowest, highest) key of a non-empty bin; None when every bin is empty."""
        nz = np.flatnonzero(self.counts)
        if len(nz) == 0:
            return None
        return int(nz[0]) + self.offset, int(nz[-1]) + self.offset

    def items(self) -> list[tuple[int, int]]:
        """(key, count) of every non-empty bin, in ascending order."""
        nz = np.flatnonzero(self.counts)
        offset = self.offset  # a Python int: keys are added in Python, never overflowing int64
        return [(i + offset, c) for i, c in zip(nz.tolist(), self.counts[nz].tolist(), strict=True)]

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    def quantile(self, q: float) -> float:
        """Nearest-rank quantile: the representative of the bin holding the ceil(q·n)-th value."""
        n = self.n
        if n == 0:
            return math.nan
        return self.at_rank(max(1, math.ceil(q * n)))

    def at_rank(self, rank: int) -> float:
        """The representative of the bin holding the `rank`-th smallest value (1-based)."""
        i = int(np.searchsorted(np.cumsum(self.counts), rank, side="left"))
        return key_value(i + self.offset)

    def dense(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """(edges, counts) over every bin from key `lo` to key `hi`."""
        edges = np.array([key_bounds(lo)[0]] + [key_bounds(k)[1] for k in range(lo, hi + 1)])
        counts = np.zeros(hi - lo + 1, dtype=np.int64)
        a, b = max(lo, self.offset), min(hi, self.offset + len(self.counts) - 1)
        if a <= b:
            counts[a - lo : b - lo + 1] = self.counts[a - self.offset : b - self.offset + 1]
        return edges, counts

    def to_wire(self) -> Wire:
        """The non-empty bins (`flat_wire`), each by its key: msgpack-safe."""
        nz = np.flatnonzero(self.counts)
        return flat_wire(nz + self.offset, self.counts[nz])

    @classmethod
    def from_wire(cls, wire: Iterable) -> LogHistogram:
        h = cls()
        wire = wire if isinstance(wire, list) else list(wire)
        if not wire:
            return h
        keys: np.ndarray | None
        counts: np.ndarray | None
        if not is_rows(wire):
            keys, counts = read_flat(wire)
        else:  # rows of an earlier version
            pairs = [(k, c) for k, c in wire]
            try:
                keys, counts = (np.array(column) for column in zip(*pairs, strict=True))
            except OverflowError:  # an int beyond int64
                keys = counts = None
            if keys is None or counts is None or keys.dtype.kind != "i" or counts.dtype.kind != "i":
                for k, c in sorted(pairs):  # not int64s (a damaged file): row by row, as ever
                    h.add_key(k, c)
                return h
        lo = int(keys.min())
        h.offset, h.counts = lo, np.zeros(int(keys.max()) - lo + 1, dtype=np.int64)
        np.add.at(h.counts, keys - lo, counts)  # once for all rows; a key may repeat
        return h
