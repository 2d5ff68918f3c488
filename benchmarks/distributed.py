"""Distributed cost: a worker's report size on the wire and the master's time to merge it.

Eight recorders (eight workers) are each fed one report interval's worth of requests (Locust's
worker report interval, 3 s, at a given request rate per worker) drawn from the profile's real
payload stream: kinds and variants as PayloadFactory makes them (4096 per worker, cycled), outcomes as a strict server
would answer (malformed rejected, the biggest oversized bodies refused with 413), predictions
and latencies from a seeded generator. Each recorder's delta is encoded with Locust's own rpc
Message (msgpack) as a worker sends it, decoded as the master receives it, and absorbed by one
QualityMonitor; the figures are bytes per report and milliseconds per absorb.
"""

from __future__ import annotations

import random
import statistics
import time

from locust.rpc.protocol import Message

from locust_mlstress.domain.outcomes import Outcome
from locust_mlstress.domain.schema import Profile
from locust_mlstress.payloads import PayloadFactory
from locust_mlstress.plugin.distributed import REPORT_KEY
from locust_mlstress.quality import QualityMonitor, QualityRecorder
from locust_mlstress.users.events import MLResult

REPORT_INTERVAL = 3.0  # locust.runners.WORKER_REPORT_INTERVAL
WINDOW_S = 10.0


def _prediction(output, rng: random.Random) -> object:
    if output.type == "binary":
        return rng.random()
    if output.type == "multiclass":
        raw = [rng.random() for _ in output.classes]
        total = sum(raw)
        return [x / total for x in raw]
    return rng.lognormvariate(3, 1)


def _result(payload, output, rng: random.Random) -> MLResult:
    latency = rng.lognormvariate(1.5, 0.5)
    if payload.kind == "malformed":
        return MLResult(Outcome.REJECTED, 400, None, latency, None)
    if payload.kind == "oversized" and len(payload.body) > 1 << 20:
        return MLResult(Outcome.REJECTED, 413, None, latency, None)
    return MLResult(Outcome.OK, 200, [_prediction(output, rng) for _ in range(payload.n)], latency, None)


def measure(profile: Profile, workers: int = 8, rate: float = 2000.0, intervals: int = 10) -> dict:
    """Per report: msgpack bytes (median, max) and master absorb ms (median, max), over
    `intervals` report rounds of `workers` workers at `rate` requests per second each."""
    clock = [0.0]
    recorders = [QualityRecorder(profile.output, WINDOW_S, lambda: clock[0]) for _ in range(workers)]
    streams = []  # each worker's own payload stream; cycled, so the figure is the recording's cost
    for w in range(workers):
        factory = PayloadFactory(profile, w, lambda: 1000.0)
        streams.append([factory.next() for _ in range(4096)])
    rngs = [random.Random(w) for w in range(workers)]
    monitor = QualityMonitor(profile, window_s=WINDOW_S)
    per_interval = int(rate * REPORT_INTERVAL)
    sizes, absorb_ms, items = [], [], []
    for interval in range(intervals):
        start = interval * REPORT_INTERVAL
        for w in range(workers):
            rec, stream, rng = recorders[w], streams[w], rngs[w]
            for i in range(per_interval):
                clock[0] = start + REPORT_INTERVAL * i / per_interval
                payload = stream[(interval * per_interval + i) % len(stream)]
                rec.record(payload=payload, result=_result(payload, profile.output, rng))
        for w in range(workers):
            delta = recorders[w].take_delta()
            wire = Message("stats", {REPORT_KEY: delta}, f"worker-{w}").serialize()
            sizes.append(len(wire))
            items.append(len(delta))
            received = Message.unserialize(wire).data[REPORT_KEY]
            t0 = time.process_time()
            monitor.absorb(received, source=f"worker-{w}")
            absorb_ms.append((time.process_time() - t0) * 1000)
    t0 = time.process_time()
    monitor.summary()
    summary_ms = (time.process_time() - t0) * 1000
    return {
        "workers": workers,
        "requests_per_report": per_interval,
        "report_bytes_median": int(statistics.median(sizes)),
        "report_bytes_max": max(sizes),
        "wire_items_median": statistics.median(items),
        "absorb_ms_median": round(statistics.median(absorb_ms), 3),
        "absorb_ms_max": round(max(absorb_ms), 3),
        "summary_ms": round(summary_ms, 1),
        "master_ms_per_second": round(sum(absorb_ms) / (intervals * REPORT_INTERVAL), 2),
    }
