"""Resident memory while a million predictions are recorded: it must stay flat.

    .venv/bin/python -m benchmarks.recording_memory [--predictions 1000000]

(`python -m benchmarks` runs it with the others.)
Feeds the real recorder -> monitor path (the local runner's: deltas on the wire form) with
seeded binary predictions and labels, a fake clock running 100 requests per second, so windows
roll over and get coarsened as in a long soak. Prints RSS as it goes and the CPU time per request.
Not a test: it prints figures (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from locust_mlstress.domain.outcomes import Outcome
from locust_mlstress.payloads import Payload
from locust_mlstress.profile import load_profile
from locust_mlstress.quality import QualityMonitor, QualityRecorder
from locust_mlstress.users.events import MLResult

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(predictions: int = 1_000_000, log=print) -> dict:
    """RSS before, half way and at the end, CPU-µs per recorded request, summary time."""
    profile = load_profile(ROOT / "profiles" / "quickstart.toml")
    monitor = QualityMonitor(profile, window_s=10.0)
    clock = [0.0]
    recorder = QualityRecorder(profile.output, 10.0, lambda: clock[0], sink=monitor.absorb)
    rng = random.Random(1)
    kinds = ["clean"] * 6 + ["drifted"] * 2 + ["malformed", "oversized"]
    malformed = Payload("malformed", "malformed", b"", "application/json", "r", 1, [0], None)
    labelled = {k: [Payload(k, k, b"", "application/json", "r", 1, [y], None) for y in (0, 1)] for k in kinds}
    step = predictions // 10
    start_rss, t0 = rss_mb(), time.process_time()
    half_rss = start_rss
    log(f"{'predictions':>12} {'rss MB':>8} {'windows':>8} {'window s':>9}")
    log(f"{0:>12} {start_rss:>8.1f} {len(monitor.windows):>8} {monitor.window_s * monitor.factor:>9g}")
    for i in range(1, predictions + 1):
        clock[0] = i / 100.0
        kind = kinds[i % len(kinds)]
        p = rng.random()
        payload = labelled[kind][rng.random() < p] if kind != "malformed" else malformed
        outcome = Outcome.REJECTED if kind == "malformed" else Outcome.OK
        result = MLResult(outcome, 200, [p] if outcome is Outcome.OK else None, rng.expovariate(0.2), None)
        recorder.record(payload=payload, result=result)
        if i % step == 0:
            rss = rss_mb()
            if i == step * 5:
                half_rss = rss
            log(f"{i:>12} {rss:>8.1f} {len(monitor.windows):>8} {monitor.window_s * monitor.factor:>9g}")
    elapsed = time.process_time() - t0
    recorder.flush()
    t1 = time.process_time()
    summary = monitor.summary()
    summary_s = time.process_time() - t1
    end_rss = rss_mb()
    return {
        "predictions": predictions,
        "rss_start_mb": round(start_rss, 1),
        "rss_half_mb": round(half_rss, 1),
        "rss_end_mb": round(end_rss, 1),
        "growth_mb": round(end_rss - start_rss, 1),
        "growth_second_half_mb": round(end_rss - half_rss, 1),
        "us_per_request": round(elapsed / predictions * 1e6, 2),
        "summary_rows": len(summary["windows"]),
        "summary_s": round(summary_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--predictions", type=int, default=1_000_000)
    parser.add_argument("--json", type=Path, help="also write the figures to this file as JSON")
    args = parser.parse_args()
    m = measure(args.predictions)
    if args.json:
        args.json.write_text(json.dumps(m))
    print(f"\nrecorded {m['predictions']} requests: {m['us_per_request']:.2f} CPU-µs each")
    print(f"summary of {m['summary_rows']} window rows in {m['summary_s']:.2f} s")
    growth, late = m["growth_mb"], m["growth_second_half_mb"]
    print(f"RSS growth over the run: {growth:+.1f} MB ({late:+.1f} MB in the second half)")


if __name__ == "__main__":
    main()
