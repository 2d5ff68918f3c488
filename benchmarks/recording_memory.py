"""Resident memory while a million predictions are recorded: it must stay flat.

    .venv/bin/python benchmarks/recording_memory.py [--predictions 1000000]

Feeds the real recorder -> monitor path (the local runner's: deltas on the wire form) with
seeded binary predictions and labels, a fake clock running 100 requests per second, so windows
roll over and get coarsened as in a long soak. Prints RSS as it goes and the time per request.
Not a test: it prints figures (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from locust_mlstress.events import MLResult
from locust_mlstress.outcomes import Outcome
from locust_mlstress.payloads import Payload
from locust_mlstress.profile import load_profile
from locust_mlstress.quality import QualityMonitor, QualityRecorder

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--predictions", type=int, default=1_000_000)
    args = parser.parse_args()
    profile = load_profile(ROOT / "profiles" / "quickstart.toml")
    monitor = QualityMonitor(profile, window_s=10.0)
    clock = [0.0]
    recorder = QualityRecorder(profile.output, 10.0, lambda: clock[0], sink=monitor.absorb)
    rng = random.Random(1)
    kinds = ["clean"] * 6 + ["drifted"] * 2 + ["malformed", "oversized"]
    payloads = {k: Payload(k, k, b"", "application/json", "r", 1, [0], None) for k in kinds}
    labelled = {k: [Payload(k, k, b"", "application/json", "r", 1, [y], None) for y in (0, 1)] for k in kinds}
    step = args.predictions // 10
    start_rss, t0 = rss_mb(), time.perf_counter()
    print(f"{'predictions':>12} {'rss MB':>8} {'windows':>8} {'window s':>9}")
    print(f"{0:>12} {start_rss:>8.1f} {len(monitor.windows):>8} {monitor.window_s * monitor.factor:>9g}")
    for i in range(1, args.predictions + 1):
        clock[0] = i / 100.0
        kind = kinds[i % len(kinds)]
        p = rng.random()
        payload = labelled[kind][rng.random() < p] if kind != "malformed" else payloads[kind]
        outcome = Outcome.REJECTED if kind == "malformed" else Outcome.OK
        result = MLResult(outcome, 200, [p] if outcome is Outcome.OK else None, rng.expovariate(0.2), None)
        recorder.record(payload=payload, result=result)
        if i % step == 0:
            print(f"{i:>12} {rss_mb():>8.1f} {len(monitor.windows):>8} {monitor.window_s * monitor.factor:>9g}")
    elapsed = time.perf_counter() - t0
    recorder.flush()
    t1 = time.perf_counter()
    summary = monitor.summary()
    print(f"\nrecorded {args.predictions} requests in {elapsed:.1f} s: {elapsed / args.predictions * 1e6:.2f} us each")
    print(f"summary of {len(summary['windows'])} window rows in {time.perf_counter() - t1:.2f} s")
    print(f"RSS growth over the run: {rss_mb() - start_rss:+.1f} MB")


if __name__ == "__main__":
    main()
