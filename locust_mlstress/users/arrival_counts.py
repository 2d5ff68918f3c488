"""Open-model arrival counts (users/arrivals.py): per process, sent to the master as deltas."""

from __future__ import annotations

import time
from collections import Counter

from locust_mlstress.domain.summary import Arrivals


class ArrivalCounts:
    """Scheduled, sent, late and dropped arrivals; msgpack-safe deltas for worker reports."""

    FIELDS = ("scheduled", "sent", "late", "dropped")

    def __init__(self) -> None:
        self.total: Counter[str] = Counter()  # never goes down: the health probe reads its steps
        self.unsent: Counter[str] = Counter()
        self.base: Counter[str] = Counter()  # `total` at the last reset: figures count from it
        self.first: float | None = None  # wall time of the first and last send, across processes
        self.last: float | None = None
        self.reset_at: float | None = None  # wall time of the last reset
        self.lag_max_s = 0.0  # the latest send after its scheduled time, since `take_lag`

    def reset(self) -> None:
        """Count afresh (Locust's Reset button, `--reset-stats`), as the ML figures do. `total`
        goes on for the health probe; a worker's unsent counts are forgotten, as its recorder's
        are. A delta that arrives later still counts, and a worker's first send from before the
        reset does not stretch the achieved rate's span back past it."""
        self.base = Counter(self.total)
        self.unsent.clear()
        self.first = self.last = None
        self.reset_at = time.time()

    def lagged(self, lag_s: float) -> None:
        """A send `lag_s` after its time: the generator health probe reads the worst each second."""
        if lag_s > self.lag_max_s:
            self.lag_max_s = lag_s

    def take_lag(self) -> float:
        lag, self.lag_max_s = self.lag_max_s, 0.0
        return lag

    def count(self, field: str) -> None:
        self.total[field] += 1
        self.unsent[field] += 1
        if field == "sent":
            now = time.time()
            self.first = now if self.first is None else self.first
            self.last = now

    def take_delta(self) -> dict:
        delta: dict[str, float | None] = {k: int(v) for k, v in self.unsent.items()}
        self.unsent.clear()
        if self.first is not None:
            delta |= {"first": self.first, "last": self.last}
        return delta

    def add(self, delta: dict) -> None:
        delta = dict(delta)
        first, last = delta.pop("first", None), delta.pop("last", None)
        self.total.update(delta)
        if first is not None:
            self.first = first if self.first is None else min(self.first, first)
            self.last = last if self.last is None else max(self.last, last)

    def figures(self) -> Arrivals | None:
        """Counts, and the achieved rate: sends per second between the first and the last."""
        t = self.total - self.base
        if not t["scheduled"]:
            return None
        first = self.first if self.reset_at is None or self.first is None else max(self.first, self.reset_at)
        span = max(0.0, self.last - first) if first is not None and self.last is not None else 0.0
        return {
            "achieved_rate": (t["sent"] - 1) / span if span > 0 else None,
            "active_s": round(span, 3),
            "scheduled": int(t["scheduled"]),
            "sent": int(t["sent"]),
            "late": int(t["late"]),
            "dropped": int(t["dropped"]),
        }
