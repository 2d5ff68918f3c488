"""The load generator's health, measured in each process with users (quality/generator.py judges it).

A greenlet asks to wake every `PERIOD_S`; how late it wakes is the event loop's lag, the delay
every answer read at that moment also waited. Once a second it writes a row: the process's
CPU share of one core (process time over wall time), the worst lag of that second, and the
open-model dispatcher's scheduled / late / dropped counts and worst dispatch lag. A local runner
adds each row to the run's `GeneratorHealth` at once; a worker keeps them for its next report
(plugin/distributed.py), at most `MAX_PENDING` (a worker cut off from its master keeps the newest).

Its cost is one wake-up per `PERIOD_S` and one row per second, whatever the request rate.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import gevent
from locust.env import Environment
from locust.runners import STATE_RUNNING, STATE_SPAWNING

from locust_mlstress.users.arrival_counts import ArrivalCounts

PERIOD_S = 0.01  # how often the probe wakes: a block of the loop shows as its length less this
MAX_PENDING = 600  # rows a worker keeps for its next report (10 minutes without a master)

Row = list[float]


class HealthProbe:
    """One process's probe: `run` in a greenlet; rows to `sink`, or kept for `take`."""

    def __init__(self, clock: Callable[[], float], arrivals: ArrivalCounts, sink: Callable[[Row], None] | None):
        self.clock = clock
        self.arrivals = arrivals
        self.sink = sink
        self.pending: deque[Row] = deque(maxlen=MAX_PENDING)

    def take(self) -> list[Row]:
        """The rows since the last report (a worker's)."""
        rows = list(self.pending)
        self.pending.clear()
        return rows

    def run(self, environment: Environment) -> None:
        """Sample until killed (`MLRun.stop`); seconds when no test runs are not measured."""
        perf, cpu = time.perf_counter, time.process_time
        running = lambda: environment.runner is not None and environment.runner.state in (STATE_SPAWNING, STATE_RUNNING)  # noqa: E731
        started = None
        while True:
            if not running():
                started = None
                gevent.sleep(PERIOD_S)
                continue
            if started is None:
                started, cpu0, second, lag_max = perf(), cpu(), self.clock(), 0.0
                counts0 = self._counts()
                self.arrivals.take_lag()
            before = perf()
            gevent.sleep(PERIOD_S)
            now = perf()
            if not running():  # the stop itself (users killed, listeners run) is not the load's
                continue
            lag_max = max(lag_max, now - before - PERIOD_S)
            if now - started < 1.0:
                continue
            counts = self._counts()
            row: Row = [
                int(second),
                round((cpu() - cpu0) / (now - started), 4),
                round(lag_max * 1000, 2),
                *(b - a for a, b in zip(counts0, counts, strict=True)),
                round(self.arrivals.take_lag() * 1000, 2),
            ]
            self._emit(row)
            started, cpu0, second, lag_max, counts0 = now, cpu(), self.clock(), 0.0, counts

    def _counts(self) -> tuple[int, int, int]:
        total = self.arrivals.total
        return total["scheduled"], total["late"], total["dropped"]

    def _emit(self, row: Row) -> None:
        if self.sink is not None:
            self.sink(row)
        else:
            self.pending.append(row)
