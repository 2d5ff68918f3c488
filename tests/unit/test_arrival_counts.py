"""Open-model arrival counts across a reset (Locust's Reset button, `--reset-stats`): the figures
count afresh, the health probe's running total never goes back, and a worker's delta that
arrives after the reset counts without stretching the achieved rate back past it."""

from __future__ import annotations

import time

from locust_mlstress.users.arrival_counts import ArrivalCounts


def _send(counts: ArrivalCounts, n: int, late: int = 0) -> None:
    for i in range(n):
        counts.count("scheduled")
        counts.count("sent")
        if i < late:
            counts.count("late")


def test_a_reset_counts_afresh_and_keeps_the_running_total():
    counts = ArrivalCounts()
    _send(counts, 10, late=3)
    counts.reset()
    assert counts.figures() is None and not counts.unsent  # a worker forgets what it has not sent
    _send(counts, 4, late=1)
    figures = counts.figures()
    assert figures is not None
    assert (figures["scheduled"], figures["sent"], figures["late"]) == (4, 4, 1)
    assert counts.total["scheduled"] == 14  # what the health probe steps through


def test_a_late_delta_counts_but_its_old_first_send_does_not_stretch_the_rate():
    worker = ArrivalCounts()
    _send(worker, 5)
    worker.first = time.time() - 100  # this worker began sending long before the reset
    master = ArrivalCounts()
    master.reset()
    master.add(worker.take_delta())
    figures = master.figures()
    assert figures is not None and figures["sent"] == 5
    assert figures["active_s"] < 5, figures  # from the reset on, not from 100 s before it
