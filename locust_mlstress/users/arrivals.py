"""Open-model arrivals: requests at a target rate, whatever the server's response times.

Locust's users are a closed loop: each waits for its answer before sending again, so an
overloaded server is sent less, and its queue never shows in the latency (coordinated
omission). An `MLArrivalUser` is a dispatcher instead: it schedules arrivals (constant spacing
or Poisson) at `--ml-arrival-rate` per second (or the load-plan stage's `rate`), sends each in
its own greenlet at its scheduled time, and measures latency from that *intended* time. An
arrival that finds `max_in_flight` requests outstanding is dropped; one sent more than
`LATE_S` after its time is counted late. Both are reported.

    from locust_mlstress import MLArrivalUser

    class Model(MLArrivalUser):
        profile = "profiles/quickstart.toml"

    locust -f that.py --headless -u 1 --ml-arrival-rate 200 -t 60s   # one dispatcher per user
"""

from __future__ import annotations

import random
import time
from typing import cast

import gevent
from gevent.pool import Group

from locust_mlstress.users.context import context_of, option
from locust_mlstress.users.mluser import MLUser

LATE_S = 0.010  # sent more than 10 ms after its scheduled time


class MLArrivalUser(MLUser):
    """A dispatcher of open-model arrivals (see the module docstring)."""

    abstract = True
    max_in_flight = 200  # the transport opens one connection per request in flight
    rate: float | None = None  # arrivals per second; --ml-arrival-rate or a stage's rate override it
    process = "constant"  # or "poisson"; --ml-arrival-process overrides it
    _group: Group | None = None

    def on_start(self) -> None:
        super().on_start()
        self._group = Group()
        self._counts = context_of(self.environment).arrivals
        self._rng = random.Random(self._profile.seed * 7919 + self._factory.user_id)  # its own stream
        self._process = option(self.environment, "ml_arrival_process", self.process)

    def on_stop(self) -> None:
        if self._group is not None:  # None when on_start stopped the user
            self._group.kill(block=False)
        super().on_stop()

    def rate_at(self, t: float) -> float:
        plan = self._profile.load
        if plan is not None:
            found = plan.stage_at(t)
            if found is not None and found[1].rate is not None:
                return found[1].rate
        value = option(self.environment, "ml_arrival_rate", self.rate)
        return float(value) if value is not None else 0.0

    def dispatch(self) -> None:
        """Schedule and send arrivals until the user is stopped."""
        clock = time.perf_counter
        since_start = self._factory.clock  # the user's test clock (users/context.py)
        due = clock()
        group = cast(Group, self._group)  # set by on_start, before the task runs
        while True:
            rate = self.rate_at(since_start())
            if rate <= 0:
                gevent.sleep(0.1)
                due = clock()
                continue
            due += self._rng.expovariate(rate) if self._process == "poisson" else 1.0 / rate
            wait = due - clock()
            if wait > 0:
                gevent.sleep(wait)
            self._counts.count("scheduled")
            if len(group) >= self.max_in_flight:
                self._counts.count("dropped")
                continue
            lag = clock() - due
            self._counts.lagged(lag)
            if lag > LATE_S:
                self._counts.count("late")
            self._counts.count("sent")
            group.spawn(self._arrive, self._factory.next(), due)

    tasks = [dispatch]

    def _arrive(self, payload, due: float) -> None:
        self._dispatch(payload, due)
