"""Was the load generator the bottleneck? Per-second health rows from each process with users,
merged into spans of saturation, and the judgement that marks latency from those spans unreliable.

A latency is measured by the generator: when its event loop is late to read an answer, the
delay is added to the server's. Locust warns at 90% CPU in a log line; a verdict needs more
than that. A second is *saturated* when the process's gevent loop woke `LAG_MS` or more late
(every latency taken then may carry that much of the generator's own delay), or when an
open-model dispatcher sent `LATE_SHARE` or more of its arrivals late (`users/arrivals.py`): the
offered load was not the planned one. CPU near a whole core is reported (`cpu_bound_s`: the
throughput may be the generator's limit) but does not by itself mark latency: a busy loop that
still wakes on time adds little to a latency.

A span (the whole run, a stage, a window) had the generator as its bottleneck when at least
`MIN_SATURATED_S` of its seconds, and at least `MIN_SATURATED_SHARE` of them, were saturated on
some process. Its latency figures are then marked `unreliable` with the reason, and a gate on
them is inconclusive (gates/observations.py) instead of blaming the server.

A row is a plain list, msgpack-safe for worker reports: `[second, cpu, lag_ms, scheduled, late,
dropped, dispatch_lag_ms]`, `second` counted from the process's test start. The master keeps per
process a few running figures and one byte per second of the run: its memory grows with the run's
length, not with requests, workers or reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from locust_mlstress.domain.summary import Figures, Generator, GeneratorProcess, Latency, LiveSummary

LAG_MS = 50.0  # a second whose event loop woke this late is saturated (--ml-generator-lag-ms)
LATE_SHARE = 0.05  # ... or whose open-model arrivals went out late this often
MIN_LATE_SCHEDULED = 10  # arrivals in a second below which the late share says nothing
CPU_BOUND = 0.90  # of one core: Locust's own warning level; reported, not a saturation on its own
MIN_SATURATED_S = 2  # a span's saturated seconds that make it a bottleneck: at least this many...
MIN_SATURATED_SHARE = 0.05  # ...and at least this share of the span's seconds
MAX_SPANS = 20  # saturated spans listed in the summary, longest first
ROW_FIELDS = ("second", "cpu", "lag_ms", "scheduled", "late", "dropped", "dispatch_lag_ms")


def saturation(row: Sequence[float], lag_ms: float = LAG_MS) -> str | None:
    """Why one health row's second was saturated, or None."""
    _second, _cpu, lag, scheduled, late, _dropped, _dispatch = row
    if lag >= lag_ms:
        return f"event-loop lag {lag:.0f} ms"
    if scheduled >= MIN_LATE_SCHEDULED and late / scheduled >= LATE_SHARE:
        return f"{late / scheduled:.0%} of arrivals sent late"
    return None


@dataclass
class _Process:
    """One process's running figures: O(1) per row."""

    seconds: int = 0
    saturated_s: int = 0
    cpu_bound_s: int = 0
    cpu_sum: float = 0.0
    cpu_max: float = 0.0
    lag_ms_max: float = 0.0
    scheduled: int = 0
    late: int = 0
    dropped: int = 0
    dispatch_lag_ms_max: float = 0.0
    worst: str = ""  # the reason of its worst saturated second

    def figures(self) -> GeneratorProcess:
        return {
            "seconds": self.seconds,
            "saturated_s": self.saturated_s,
            "cpu_bound_s": self.cpu_bound_s,
            "cpu_mean": round(self.cpu_sum / self.seconds, 3) if self.seconds else None,
            "cpu_max": round(self.cpu_max, 3),
            "loop_lag_ms_max": round(self.lag_ms_max, 1),
            "late_share": round(self.late / self.scheduled, 4) if self.scheduled else None,
            "dropped_share": round(self.dropped / self.scheduled, 4) if self.scheduled else None,
            "dispatch_lag_ms_max": round(self.dispatch_lag_ms_max, 1) if self.scheduled else None,
        }


class GeneratorHealth:
    """The run's generator health, on the local runner or master: every process's rows merged.
    The same rows give the same figures in any order and split into any reports."""

    def __init__(self, lag_ms: float = LAG_MS) -> None:
        self.lag_ms = lag_ms
        self.processes: dict[str, _Process] = {}
        self._saturated = bytearray()  # per second of the run: 1 when some process was saturated
        self._measured = bytearray()  # per second: 1 when some process sent a row for it

    def add(self, source: str, rows: Iterable[Sequence[float]]) -> None:
        """Rows from one process (a worker's report, or the local probe's last seconds)."""
        p = self.processes.setdefault(source, _Process())
        for row in rows:
            second, cpu, lag, scheduled, late, dropped, dispatch = row
            if second < 0:
                continue
            p.seconds += 1
            p.cpu_sum += cpu
            p.cpu_max = max(p.cpu_max, cpu)
            p.cpu_bound_s += cpu >= CPU_BOUND
            p.lag_ms_max = max(p.lag_ms_max, lag)
            p.scheduled += int(scheduled)
            p.late += int(late)
            p.dropped += int(dropped)
            p.dispatch_lag_ms_max = max(p.dispatch_lag_ms_max, dispatch)
            _mark(self._measured, int(second))
            if (why := saturation(row, self.lag_ms)) is not None:
                p.saturated_s += 1
                if not p.worst or lag >= p.lag_ms_max:
                    p.worst = why
                _mark(self._saturated, int(second))

    def reset(self) -> None:
        """Locust's Reset: the figures after it are judged on the seconds after it."""
        self.processes.clear()
        self._saturated.clear()
        self._measured.clear()

    def saturated_seconds(self, start_s: float = 0.0, end_s: float | None = None) -> int:
        first, last = max(0, int(start_s)), len(self._saturated) if end_s is None else int(end_s + 0.999)
        return sum(self._saturated[first:last])

    def unreliable(self, start_s: float, end_s: float) -> str | None:
        """Why latency measured in [start_s, end_s) is not the server's alone; None when the
        generator kept up."""
        span = max(1, int(end_s + 0.999) - max(0, int(start_s)))
        saturated = self.saturated_seconds(start_s, end_s)
        if saturated < MIN_SATURATED_S or saturated < MIN_SATURATED_SHARE * span:
            return None
        return f"load generator saturated {saturated} of {span} s ({self._culprits()})"

    def _culprits(self) -> str:
        worst = sorted(
            ((p.saturated_s, source, p.worst) for source, p in self.processes.items() if p.saturated_s),
            reverse=True,
        )
        named = "; ".join(f"{source}: {why}" for _n, source, why in worst[:3])
        return named + (f"; +{len(worst) - 3} more" if len(worst) > 3 else "")

    def spans(self) -> list[list[int]]:
        """Saturated runs of seconds as [start_s, end_s), longest first, at most `MAX_SPANS`."""
        found, start = [], None
        for second, flag in enumerate([*self._saturated, 0]):
            if flag and start is None:
                start = second
            elif not flag and start is not None:
                found.append([start, second])
                start = None
        return sorted(found, key=lambda s: (s[0] - s[1], s[0]))[:MAX_SPANS]

    def figures(self, duration_s: float) -> Generator | None:
        """The summary's `generator` block; None before any row."""
        if not self.processes:
            return None
        reason = self.unreliable(0.0, duration_s)
        return {
            "bottleneck": reason is not None,
            "reason": reason,
            "measured_s": sum(self._measured),
            "saturated_s": sum(self._saturated),
            "spans": self.spans(),
            "processes": {source: p.figures() for source, p in sorted(self.processes.items())},
            "thresholds": {
                "loop_lag_ms": self.lag_ms,
                "late_share": LATE_SHARE,
                "cpu_bound": CPU_BOUND,
                "min_saturated_s": MIN_SATURATED_S,
                "min_saturated_share": MIN_SATURATED_SHARE,
            },
        }


def _mark(flags: bytearray, second: int) -> None:
    if second >= len(flags):
        flags.extend(bytes(second + 1 - len(flags)))
    flags[second] = 1


def mark_latency(latency: Latency, reason: str | None) -> None:
    """Say beside a latency why it is not the server's alone (or nothing: it is)."""
    if reason is not None:
        latency["unreliable"] = reason


def mark_figures(figures: Figures, reason: str | None) -> None:
    """Mark the latency of every kind and of `all` in a span's figures (the run's, a stage's)."""
    for latency in [figures["all"]["latency_ms"], *(k["latency_ms"] for k in figures["kinds"].values())]:
        mark_latency(latency, reason)


def mark_summary(summary: LiveSummary, health: GeneratorHealth) -> None:
    """The run's `generator` block, and every latency the generator's saturation spoiled: the
    whole run's (each kind and `all`) and each window's."""
    block = health.figures(summary["duration_s"])
    if block is None:
        return
    summary["generator"] = block
    mark_figures(summary, block["reason"])
    for row in summary["windows"]:
        mark_latency(row["latency_ms"], health.unreliable(row["start_s"], row["end_s"]))
