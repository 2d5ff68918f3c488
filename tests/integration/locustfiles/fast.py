"""Test locustfile: ML users with no wait; each process writes what it saw at quitting.

MLSTRESS_TEST_USER=http picks MLHttpUser instead of MLUser; MLSTRESS_TEST_WAIT sets the users' wait
in seconds (default 0: no wait; the soak test paces its users with it). MLSTRESS_TEST_OUT names a directory;
each process writes <pid>.json there: the requests its own users sent, counted here by a
listener of our own (independent of the library's recorder), the user ids in their request
ids, Locust's counts, and on a local runner or master the library's ML summary. A worker also
writes report-<pid>.json at each report to the master: what it had sent up to that report.
Both list, per user id, the payloads sent and the highest request sequence number among them.
With MLSTRESS_TEST_DELTAS=1 a worker also writes report-<pid>-<n>.msgpack at its n-th report:
the library's part of that report (the recorder's delta), serialised as Locust sends it.
"""

import json
import os
from collections import Counter
from pathlib import Path

from locust import constant, events
from locust.rpc import Message

from locust_mlstress import MLHttpUser, MLUser, ml_events, ml_pair_events
from locust_mlstress.plugin import state_of

OUT = os.environ.get("MLSTRESS_TEST_OUT")
BASE = MLHttpUser if os.environ.get("MLSTRESS_TEST_USER") == "http" else MLUser
user_ids: set[int] = set()
sent: Counter = Counter()
pairs: Counter = Counter()  # (kind, champion outcome, challenger outcome) of payloads sent to both
per_user: Counter = Counter()  # user id -> payloads sent (probes, which resend one, left out)
last_seq: dict[int, int] = {}  # user id -> the highest sequence number in its request ids
DELTAS = os.environ.get("MLSTRESS_TEST_DELTAS") == "1"
reports = 0  # reports to the master so far (numbers the delta files)


class Model(BASE):
    wait_time = constant(float(os.environ.get("MLSTRESS_TEST_WAIT", "0")))


@events.init.add_listener
def _track(environment, **_kwargs):
    def seen(payload, result, probe_of=None, **_kw):
        kind = "probe" if probe_of is not None else payload.kind
        sent[(kind, payload.variant, result.outcome.value)] += 1
        user_ids.add(int(payload.request_id.split("-")[1], 16))
        if probe_of is None:
            _seed, user, seq = (int(part, 16) for part in payload.request_id.split("-")[:3])
            per_user[user] += 1
            last_seq[user] = max(seq, last_seq.get(user, 0))

    ml_events(environment).add_listener(seen)

    def paired(payload, champion, challenger, **_kw):
        pairs[(payload.kind, champion.outcome.value, challenger.outcome.value)] += 1

    ml_pair_events(environment).add_listener(paired)

    def reported(client_id, data, **_kw):
        # Runs in the same greenlet pass as the library's own report listener, so this snapshot
        # is exactly what the master has received from this worker once the message arrives.
        global reports
        if OUT:
            snapshot = {"client_id": client_id, "outcomes": [[k, v, o, n] for (k, v, o), n in sent.items()],
                        "user_requests": _user_requests()}  # fmt: skip
            Path(OUT, f"report-{os.getpid()}.json").write_text(json.dumps(snapshot))
            if DELTAS and "mlstress" in data:
                reports += 1
                wire = Message("mlstress", data["mlstress"], client_id).serialize()
                Path(OUT, f"report-{os.getpid()}-{reports}.msgpack").write_bytes(wire)

    environment.events.report_to_master.add_listener(reported)


@events.quitting.add_listener
def _dump(environment, **_kwargs):
    if not OUT:
        return
    run = state_of(environment).run
    record = {
        "role": type(environment.runner).__name__,
        "client_id": getattr(environment.runner, "client_id", None),
        "outcomes": [[k, v, o, n] for (k, v, o), n in sent.items()],
        "pairs": [[k, a, b, n] for (k, a, b), n in pairs.items()],
        "user_ids": sorted(user_ids),
        "user_requests": _user_requests(),
        "locust_requests": environment.runner.stats.total.num_requests,
        "locust_failures": environment.runner.stats.total.num_failures,
        "by_name": {
            name: [entry.num_requests, entry.num_failures]
            for (name, _method), entry in environment.runner.stats.entries.items()
        },
        "summary": run.summary,
    }
    Path(OUT, f"{os.getpid()}.json").write_text(json.dumps(record))


def _user_requests() -> list[list[int]]:
    """[user id, payloads sent, highest sequence number] per user id of this process."""
    return [[user, n, last_seq[user]] for user, n in sorted(per_user.items())]
