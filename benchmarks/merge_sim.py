"""Simulated Locust workers for the merge benchmark (merge_scale.py): N worker connections in one
process, each reporting to a real master as a real worker does.

What a simulated worker sends is built by the code a real worker runs, so its shape cannot drift
from theirs:

- Locust's part (`stats`, `stats_total`, `errors`) by Locust's own `report_to_master` listener
  (`setup_distributed_stats_event_listeners`) over a `RequestStats` the worker's requests were
  logged into, under the names MLUser gives them (`POST <path> [<kind>]`), each at its own time;
  `user_classes_count` and `user_count` as WorkerRunner adds them.
- Ours (`mlstress`, `mlstress_versions`, `mlstress_health`) by the plugin's own `send_report`
  over a real `QualityRecorder`, fed through the environment's `ml_request` hook with the
  profile's real payload stream (kinds and variants as PayloadFactory draws them, outcomes as a
  strict server answers: benchmarks/distributed.py) and one health row a second, as the probe
  writes them. `mlstress_traces` (only with --ml-artifacts) and `mlstress_arrivals` (only for
  MLArrivalUser) are not sent; an MLUser worker without --ml-artifacts sends neither.

Requests are recorded in one go just before each report, with the times they would have had
spread over the interval: the recorder and Locust's stats end up holding what a worker that
recorded them one by one would hold, and the simulator needs a fraction of a core for 128 workers.
Binary predictions are uniform on [0, 1], which fills more histogram bins than a real model's
answers: the reports are, if anything, larger than a real worker's.

Run by merge_scale.py as `python -m benchmarks.merge_sim --port P --workers N ...`; it speaks
Locust's worker protocol over `locust.rpc.rpc.Client` (ZeroMQ DEALER sockets): `client_ready`
until the master's `ack`, a heartbeat every second, `spawning` / `spawning_complete` on each
`spawn`, a `stats` message every WORKER_REPORT_INTERVAL (the workers' phases spread evenly over
the interval), and on `quit` a last report and its own `quit`, as WorkerRunner does.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import gevent
import gevent.event
import msgpack
from locust import __version__ as locust_version
from locust.env import Environment
from locust.event import Events
from locust.rpc import Message, rpc
from locust.runners import (
    HEARTBEAT_INTERVAL,
    STATE_INIT,
    STATE_RUNNING,
    STATE_SPAWNING,
    WORKER_REPORT_INTERVAL,
)
from locust.stats import RequestStats, StatsEntry, setup_distributed_stats_event_listeners

from locust_mlstress.domain.schema import Profile
from locust_mlstress.payloads import PayloadFactory
from locust_mlstress.plugin.distributed import REPORT_KEY, send_report
from locust_mlstress.plugin.health import HealthProbe
from locust_mlstress.plugin.state import MLRun, state_of
from locust_mlstress.profile import load_profile
from locust_mlstress.quality import QualityRecorder
from locust_mlstress.users.challenger import CHAMPION, request_names
from locust_mlstress.users.events import MLResult, ml_events

from .distributed import _result

ROOT = Path(__file__).resolve().parents[1]
WINDOW_S = 10.0  # --ml-window's default: the recorder's window
STREAMS = 8  # distinct payload streams shared by all simulated workers (each at its own offset)
STREAM_LEN = 4096
MODEL_VERSION = "1"  # what the reference server names in X-Model-Version: a worker reports it each time

Item = tuple[object, MLResult, str, int]  # payload, its result, Locust's request name, response bytes


def streams(profile: Profile, count: int = STREAMS, length: int = STREAM_LEN) -> list[list[Item]]:
    """Payloads and answers, drawn once: the profile's real stream (every drift in force), answered
    as a strict server answers (benchmarks/distributed.py)."""
    names = request_names(profile.target.path, CHAMPION)
    out = []
    for s in range(count):
        factory, rng = PayloadFactory(profile, s, lambda: 1000.0), random.Random(s)
        items: list[Item] = []
        for _ in range(length):
            payload = factory.next()
            result = _result(payload, profile.output, rng)
            answer = {"predictions": result.predictions} if result.predictions is not None else {"error": "rejected"}
            items.append((payload, result, names[payload.kind], len(json.dumps(answer))))
        out.append(items)
    return out


def _log_at(entry: StatsEntry, at: float, response_time: float, length: int) -> None:
    """StatsEntry.log with the request's own time instead of now: the requests of an interval are
    logged together, each at the second it would have been sent (Locust's per-second counts)."""
    entry.num_requests += 1
    entry._log_time_of_request(at)
    entry._log_response_time(response_time)  # type: ignore[arg-type]  # MLUser passes float ms too
    entry.total_content_length += length


class SimWorker:
    """One worker's recording and reports; `interval(t0, t1)` records the requests of run seconds
    [t0, t1) and returns the `stats` message's data, as the worker would send it at t1."""

    def __init__(self, profile: Profile, index: int, stream: list[Item], rate: float, users: int, with_ml: bool):
        self.rate, self.users, self.with_ml = rate, users, with_ml
        self.stream, self.cursor = stream, (index // STREAMS) * 509 % len(stream)
        self.now = 0.0  # run seconds: the recorder's clock
        self.wall0 = time.time()  # the epoch time of run second 0 (Locust's per-second counts)
        self.user_class = "Model"
        self.env = env = Environment(events=Events())
        self.stats = env.stats = RequestStats(use_response_times_cache=False)  # a worker's
        setup_distributed_stats_event_listeners(env.events, self.stats)
        env.events.report_to_master.add_listener(self._add_user_counts)
        self._hook = ml_events(env)
        self.probe: HealthProbe | None = None
        if with_ml:
            state = state_of(env)
            self.probe = HealthProbe(lambda: self.now, state.arrivals, None)
            recorder = QualityRecorder(profile.output, WINDOW_S, lambda: self.now)
            state.run = MLRun(profile=profile, recorder=recorder, probe=self.probe)
            state.model_versions["champion"] = MODEL_VERSION
            env.events.report_to_master.add_listener(lambda client_id, data, **_kw: send_report(env, data))
        self._carry = 0.0
        self._second = 0

    def _add_user_counts(self, client_id: str, data: dict, **_kw) -> None:
        data["user_classes_count"] = {self.user_class: self.users}  # as WorkerRunner's listener
        data["user_count"] = self.users

    def interval(self, t0: float, t1: float, client_id: str = "sim") -> dict:
        wanted = self.rate * max(0.0, t1 - t0) + self._carry
        n = int(wanted)
        self._carry = wanted - n
        stream, size = self.stream, len(self.stream)
        entries, total = self.stats.entries, self.stats.total
        for i in range(n):
            payload, result, name, length = stream[self.cursor]
            self.cursor = (self.cursor + 1) % size
            self.now = t0 + (t1 - t0) * i / n
            if self.with_ml:
                self._hook.fire(payload=payload, result=result, probe_of=None)
            at = self.wall0 + self.now
            _log_at(entries[(name, "POST")], at, result.response_time, length)
            _log_at(total, at, result.response_time, length)
        self.now = t1
        if self.probe is not None:
            while self._second + 1 <= t1:  # the probe's rows: [second, cpu, lag ms, scheduled, late, dropped, lag ms]
                self.probe.pending.append([self._second, round(0.55 + 0.1 * random.random(), 4), 1.2, 0, 0, 0, 0.0])
                self._second += 1
        data: dict = {}
        self.env.events.report_to_master.fire(client_id=client_id, data=data)
        return data


def ml_part(data: dict) -> dict:
    """Our keys of a report."""
    return {k: v for k, v in data.items() if k.startswith(REPORT_KEY)}


def report_sizes(data: dict, node_id: str) -> tuple[int, int]:
    """(bytes of the `stats` message as Locust sends it, bytes of our keys alone: msgpack, as Locust
    encodes them)."""
    ours = ml_part(data)
    return len(Message("stats", data, node_id).serialize()), len(msgpack.dumps(ours)) if ours else 0


class Connection:
    """One simulated worker's connection to the master, speaking Locust's worker protocol."""

    def __init__(self, host: str, port: int, index: int, worker: SimWorker, phase: float, log: list):
        self.id = f"sim-{index:03d}-{random.getrandbits(32):08x}"
        self.worker, self.phase, self.log = worker, phase, log
        self.client = rpc.Client(host, port, self.id)
        self.state = STATE_INIT
        self.acked = gevent.event.Event()
        self.quit = gevent.event.Event()
        self.started: float | None = None  # perf_counter at the first spawn: run second 0
        self.reported = 0.0  # run seconds reported so far

    def run(self, until: float) -> None:
        """Until `until` (perf_counter) or the master's quit."""
        greenlets = [gevent.spawn(self._receive)]
        while not self.acked.is_set() and time.perf_counter() < until:
            self.client.send(Message("client_ready", locust_version, self.id))
            self.acked.wait(timeout=2.0)
        greenlets += [gevent.spawn(self._heartbeat), gevent.spawn(self._report)]
        self.quit.wait(timeout=max(0.0, until - time.perf_counter()))
        gevent.killall(greenlets, block=False)

    def _receive(self) -> None:
        while not self.quit.is_set():
            msg = self.client.recv()
            if msg.type == "ack":
                self.acked.set()
            elif msg.type == "spawn":
                self.client.send(Message("spawning", None, self.id))
                self.state = STATE_SPAWNING
                counts = msg.data["user_classes_count"]
                self.worker.user_class = next(iter(counts), self.worker.user_class)
                self.worker.users = sum(counts.values())
                if self.started is None:
                    self.started, self.worker.wall0 = time.perf_counter(), time.time()
                self.client.send(Message("spawning_complete", {"user_classes_count": counts,
                                                               "user_count": self.worker.users}, self.id))  # fmt: skip
                self.state = STATE_RUNNING
            elif msg.type == "stop":
                self.client.send(Message("client_stopped", None, self.id))
                self.client.send(Message("client_ready", locust_version, self.id))
                self.state, self.started, self.reported = STATE_INIT, None, 0.0
            elif msg.type == "quit":
                self._send_stats()  # a last report, then leave, as WorkerRunner does on the master's quit
                self.client.send(Message("quit", None, self.id))
                self.quit.set()

    def _heartbeat(self) -> None:
        while True:
            self.client.send(Message("heartbeat", {"state": self.state, "current_cpu_usage": 55.0,
                                                   "current_memory_usage": 120_000_000}, self.id))  # fmt: skip
            gevent.sleep(HEARTBEAT_INTERVAL)

    def _report(self) -> None:
        """Every WORKER_REPORT_INTERVAL on the dot (a real worker sleeps the interval after each
        report, a little less often): the master gets at least a real worker's report rate."""
        due = time.perf_counter() + self.phase  # workers connect at different moments: reports interleave
        while True:
            gevent.sleep(max(0.0, due - time.perf_counter()))
            self._send_stats()
            due += WORKER_REPORT_INTERVAL

    def _send_stats(self) -> None:
        before = time.perf_counter()
        if self.started is not None and self.state == STATE_RUNNING:
            now = before - self.started
            data = self.worker.interval(self.reported, now, self.id)
            self.reported = now
        else:
            data = self.worker.interval(0.0, 0.0, self.id)  # before the spawn: Locust's empty report
        self.client.send(Message("stats", data, self.id))
        wire, ours = report_sizes(data, self.id)  # encoded again: the simulator's time, not the master's
        items = len(data.get(REPORT_KEY, []))
        self.log.append([time.time(), wire, ours, items, sum(e["num_requests"] for e in data["stats"]),
                         round((time.perf_counter() - before) * 1000, 2)])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True, help="the master's --master-bind-port")
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--rate", type=float, default=250.0, help="requests per second per worker")
    parser.add_argument("--profile", default=str(ROOT / "profiles" / "quickstart.toml"))
    parser.add_argument("--no-ml", action="store_true", help="Locust's part only (a master without the plugin)")
    parser.add_argument("--seconds", type=float, default=600.0, help="leave after this long at most")
    parser.add_argument("--json", required=True, help="where to write the reports' log at the end")
    args = parser.parse_args()
    profile = load_profile(Path(args.profile))
    pool = streams(profile)
    log: list = []
    until = time.perf_counter() + args.seconds
    connections = [
        Connection("127.0.0.1", args.port, i,
                   SimWorker(profile, i, pool[i % STREAMS], args.rate, 0, not args.no_ml),
                   WORKER_REPORT_INTERVAL * i / args.workers, log)
        for i in range(args.workers)
    ]  # fmt: skip
    print(f"simulator: {args.workers} workers connecting", flush=True)
    gevent.joinall([gevent.spawn(c.run, until) for c in connections])
    Path(args.json).write_text(json.dumps({"columns": ["time", "bytes", "ml_bytes", "ml_items", "requests", "build_ms"],
                                           "reports": log}))  # fmt: skip
    for c in connections:
        c.client.close(linger=0)


if __name__ == "__main__":
    main()
