"""The locustfile of the client-overhead benchmark (run by benchmarks/overhead.py, not by hand).

Users against the same canned target, all with wait_time constant(0) so the one Locust process
is the bottleneck:

- `MLFast` (MLUser: the profile's mix, decoding, classifying, recording; `MLSTRESS_BENCH_MIX=clean`
  makes it clean payloads only);
- `PlainFast`, a FastHttpUser posting one fixed pre-encoded clean body and checking nothing;
- `ReplayFast`, a FastHttpUser posting the mix's own pre-encoded bodies in turn: the same bytes
  on the wire as `MLFast`, none of the ML work;
- `PlainLean`, the plain user's fixed body through MLUser's own transport, nothing judged: what
  `MLFast` pays with the ML work taken out;
- `MLRequests` and `PlainRequests`, the ML and plain users on HttpUser (requests);
- `MLTimed`, MLFast with its per-request steps timed in place (`--in-situ`).

The process measures itself: once every user is running and a warm-up has passed, it notes its
own CPU time (user + system) and Locust's request count, again `MLSTRESS_BENCH_SECONDS` later,
writes both to `MLSTRESS_BENCH_OUT` as JSON and quits. Measuring in-process keeps start-up,
imports and ramp-up out of the figure.
"""

from __future__ import annotations

import cProfile
import gc
import itertools
import json
import os
import time
from pathlib import Path
from types import SimpleNamespace

import gevent
import psutil
from locust import HttpUser, constant, events, task
from locust.contrib.fasthttp import FastHttpUser

from benchmarks.generation import only
from locust_mlstress import MLHttpUser, MLUser
from locust_mlstress.http.bodies import MAX_RESPONSE_BYTES
from locust_mlstress.http.client import Origin, Pool, post, request_head
from locust_mlstress.payloads import PayloadFactory
from locust_mlstress.plugin.lifecycle import live_summary
from locust_mlstress.profile import load_profile
from locust_mlstress.users import behaviour

_classify = behaviour.classify_answer  # what MLUser's judge calls, timed in place by MLTimed

PROFILE = Path(os.environ.get("MLSTRESS_BENCH_PROFILE", Path(__file__).parents[1] / "profiles" / "quickstart.toml"))
SECONDS = float(os.environ.get("MLSTRESS_BENCH_SECONDS", "20"))
WARMUP = float(os.environ.get("MLSTRESS_BENCH_WARMUP", "3"))
OUT = os.environ.get("MLSTRESS_BENCH_OUT")
PROFILE_OUT = os.environ.get("MLSTRESS_BENCH_CPROFILE")  # a path: profile the measured span with cProfile

MIX = os.environ.get("MLSTRESS_BENCH_MIX", "full")  # "clean": the profile with only clean payloads

_profile = load_profile(PROFILE)
if MIX == "clean":
    _profile = only(_profile, "clean")
_stream = PayloadFactory(_profile, 0, lambda: 0.0)
REPLAY = [(p.body, p.content_type, p.kind) for p in (_stream.next() for _ in range(4096))]  # the mix's own bodies
BODY, CONTENT_TYPE, _ = next(r for r in REPLAY if r[2] == "clean")  # one clean payload, encoded once
HEADERS = {h.name: h.value for h in _profile.target.headers}
REPLAY_HEADERS = {ct: HEADERS | {"Content-Type": ct} for ct in {r[1] for r in REPLAY}}  # per content type
PATH = _profile.target.path


class MLFast(MLUser):
    profile = _profile
    wait_time = constant(0)


STEPS = {"payload": 0.0, "judge": 0.0, "classify": 0.0, "event+record": 0.0, "n": 0}


class MLTimed(MLFast):
    """MLFast with its steps timed in place (CPU time around each): what they cost inside a busy
    Locust process, to hold against benchmarks/hotpath.py's figures for the same steps alone.
    The timing itself adds about a microsecond per step."""

    def on_start(self) -> None:
        super().on_start()
        behaviour.classify_answer = _timed_classify
        real_next, real_fire = self._factory.next, self._hook.fire

        def next_payload():
            t = time.process_time()
            payload = real_next()
            STEPS["payload"] += time.process_time() - t
            STEPS["n"] += 1
            return payload

        def fire(**kwargs):
            t = time.process_time()
            real_fire(**kwargs)
            STEPS["event+record"] += time.process_time() - t

        self._factory.next = next_payload
        self._hook = SimpleNamespace(fire=fire)

    def _judge(self, *args, **kwargs):
        t = time.process_time()
        judged = super()._judge(*args, **kwargs)
        STEPS["judge"] += time.process_time() - t
        return judged


def _timed_classify(*args):
    t = time.process_time()
    out = _classify(*args)
    STEPS["classify"] += time.process_time() - t
    return out


class MLRequests(MLHttpUser):
    profile = _profile
    wait_time = constant(0)


class _Plain:
    """The plain user's one task, for FastHttpUser and HttpUser alike: one fixed pre-encoded clean
    body, nothing checked. `tasks` is given by hand: Locust collects @task methods only from the
    class itself and from its User bases' `tasks`."""

    wait_time = constant(0)
    headers = HEADERS | {"Content-Type": CONTENT_TYPE}

    def predict(self) -> None:
        self.client.post(PATH, data=BODY, headers=self.headers, name=f"POST {PATH}")

    tasks = [predict]


class PlainFast(_Plain, FastHttpUser):
    pass


# Every status counts as a response to geventhttpclient, as every status is one to MLUser's
# transport: outside its default 2xx/3xx set the agent raises, and first builds a debug text of
# the whole exchange with the request body decoded (milliseconds for the 2 MiB oversized body).
ANY_STATUS = frozenset(range(100, 600))


class ReplayFast(FastHttpUser):
    """The mix's bytes without the ML work: posts the bodies an ML user would send, in turn.
    Every status counts as a response (ANY_STATUS), so replay measures the bytes, not
    geventhttpclient's debug text for each 4xx."""

    wait_time = constant(0)
    _users = itertools.count()

    def __init__(self, environment) -> None:
        super().__init__(environment)
        self.client.client.valid_response_codes = ANY_STATUS

    def on_start(self) -> None:
        k = next(self._users) * 97 % len(REPLAY)  # users start at different places in the stream
        self._next = itertools.cycle(REPLAY[k:] + REPLAY[:k]).__next__

    @task
    def predict(self) -> None:
        body, ctype, kind = self._next()
        self.client.post(PATH, data=body, headers=REPLAY_HEADERS[ctype], name=f"POST {PATH} [{kind}]")


class PlainLean(FastHttpUser):
    """The fixed clean body through MLUser's transport, with Locust's request event as MLUser
    fires it; no payload stream, no judging, no recording."""

    wait_time = constant(0)

    def on_start(self) -> None:
        origin = Origin.parse(self.host)
        self._pool = Pool(origin, _profile.target.connect_timeout)
        self._request = post(request_head(origin, PATH, HEADERS), CONTENT_TYPE, "plain", BODY)
        self._url = self.host + PATH
        self._fire = self.environment.events.request.fire

    @task
    def predict(self) -> None:
        started, sent = time.time(), time.perf_counter()
        answer = self._pool.exchange(self._request, _profile.target.timeout, MAX_RESPONSE_BYTES)
        self._fire(
            request_type="POST", name=f"POST {PATH}", response_time=(time.perf_counter() - sent) * 1000,
            response_length=len(answer.content or b""), response=answer, context={}, exception=answer.error,
            start_time=started, url=self._url,
        )  # fmt: skip


class PlainRequests(_Plain, HttpUser):
    pass


class GCTimer:
    """Time spent in the cyclic garbage collector, per generation (gc.callbacks)."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.counts = [0, 0, 0]
        self._t = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._t = time.perf_counter()
        else:
            self.seconds[info["generation"]] += time.perf_counter() - self._t
            self.counts[info["generation"]] += 1


_gc = GCTimer()


def _snapshot(environment, me: psutil.Process) -> dict:
    cpu = me.cpu_times()
    total = environment.stats.total
    return {
        "wall": time.perf_counter(),
        "user": cpu.user,
        "system": cpu.system,
        "requests": total.num_requests,
        "failures": total.num_failures,
        "gc_s": list(_gc.seconds),
        "gc_n": list(_gc.counts),
    }


def _measure(environment) -> None:
    runner, me = environment.runner, psutil.Process()
    target = environment.parsed_options.num_users
    deadline = time.monotonic() + 60
    while runner.user_count < target and time.monotonic() < deadline:
        gevent.sleep(0.1)
    gevent.sleep(WARMUP)
    profiler = cProfile.Profile() if PROFILE_OUT else None
    before = _snapshot(environment, me)
    if profiler is not None:
        profiler.enable()
    gevent.sleep(SECONDS)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(PROFILE_OUT)
    after = _snapshot(environment, me)
    result = {"users": runner.user_count, "before": before, "after": after}
    summary = live_summary(environment)
    if STEPS["n"]:
        result["steps_us"] = {k: round(v / STEPS["n"] * 1e6, 1) for k, v in STEPS.items() if k != "n"}
    if summary is not None:
        result["outcomes"] = {kind: k.get("outcomes") for kind, k in summary.get("kinds", {}).items()}
    if OUT:
        Path(OUT).write_text(json.dumps(result))
    runner.quit()


@events.test_start.add_listener
def _start(environment, **_kwargs) -> None:
    gevent.spawn(_measure, environment)
