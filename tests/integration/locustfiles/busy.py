"""Test locustfile: the fast ML users of fast.py on a load generator that cannot keep up.

After each ML request the process burns MLSTRESS_TEST_BURN_MS (default 30) of CPU, once its test
clock has passed MLSTRESS_TEST_BURN_AFTER_S (default 0): the event loop wakes late, as it does on a
worker with too many users, while the server stays as fast as ever.
"""

import os
import time

from fast import *  # noqa: F403  (users and the recording listeners)
from locust import events

from locust_mlstress import ml_events
from locust_mlstress.plugin import state_of

BURN_S = float(os.environ.get("MLSTRESS_TEST_BURN_MS", "30")) / 1000
AFTER_S = float(os.environ.get("MLSTRESS_TEST_BURN_AFTER_S", "0"))


@events.init.add_listener
def _burn(environment, **_kwargs):
    clock = state_of(environment).clock()  # the test's clock, read at call time

    def burn(**_kw):
        if clock() >= AFTER_S:
            end = time.perf_counter() + BURN_S
            while time.perf_counter() < end:
                pass

    ml_events(environment).add_listener(burn)
