"""Test locustfile: ML users with no wait; each process writes what it counted at quitting.

MLSTRESS_TEST_USER=http picks MLHttpUser instead of MLUser. MLSTRESS_TEST_OUT names a directory;
each process writes <pid>.json there with its outcome counts (the master's include the
workers') and the user ids in the request ids it sent.
"""

import json
import os
from pathlib import Path

from locust import constant, events

from locust_mlstress import MLHttpUser, MLUser, ml_events

OUT = os.environ.get("MLSTRESS_TEST_OUT")
BASE = MLHttpUser if os.environ.get("MLSTRESS_TEST_USER") == "http" else MLUser
user_ids: set[int] = set()


class Model(BASE):
    wait_time = constant(0)


@events.init.add_listener
def _track(environment, **_kwargs):
    def seen(payload, result, **_kw):
        user_ids.add(int(payload.request_id.split("-")[1], 16))

    ml_events(environment).add_listener(seen)


@events.quitting.add_listener
def _dump(environment, **_kwargs):
    if not OUT:
        return
    counts = environment.mlstress_outcomes.total
    record = {
        "role": type(environment.runner).__name__,
        "outcomes": [[k, v, o, n] for (k, v, o), n in counts.items()],
        "user_ids": sorted(user_ids),
        "locust_requests": environment.runner.stats.total.num_requests,
        "locust_failures": environment.runner.stats.total.num_failures,
        "by_name": {
            name: [entry.num_requests, entry.num_failures]
            for (name, _method), entry in environment.runner.stats.entries.items()
        },
    }
    Path(OUT, f"{os.getpid()}.json").write_text(json.dumps(record))
