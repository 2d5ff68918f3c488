"""What measuring the load generator's health costs (plugin/health.py, quality/generator.py).

The probe's cost does not depend on the request rate: it wakes 100 times a second. Measured here
as the CPU a gevent hub with only the probe spends per second, against the same hub idle, in
alternating rounds; then the per-arrival cost of noting a dispatch lag, and the master's merge of
one health row. Divide the first by a worker's requests per second for a per-request figure.

    .venv/bin/python -m benchmarks.health [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
import timeit

import gevent
from locust.runners import STATE_RUNNING

from locust_mlstress.plugin.health import HealthProbe
from locust_mlstress.quality.generator import GeneratorHealth
from locust_mlstress.users.arrival_counts import ArrivalCounts


class _Runner:
    state = STATE_RUNNING


class _Environment:
    runner = _Runner()


def _hub_cpu_per_s(seconds: float, probe: bool) -> tuple[float, int]:
    """CPU-µs per wall second of a hub that sleeps, with or without the probe; rows written."""
    rows: list = []
    t0 = time.monotonic()
    greenlet = None
    if probe:
        health = HealthProbe(lambda: time.monotonic() - t0, ArrivalCounts(), rows.append)
        greenlet = gevent.spawn(health.run, _Environment())
    cpu, wall = time.process_time(), time.perf_counter()
    gevent.sleep(seconds)
    used = (time.process_time() - cpu) / (time.perf_counter() - wall)
    if greenlet is not None:
        greenlet.kill()
    return used * 1e6, len(rows)


def measure(seconds: float = 5.0, rounds: int = 3) -> dict:
    probe_cost = []
    for _ in range(rounds):
        idle, _ = _hub_cpu_per_s(seconds, probe=False)
        busy, rows = _hub_cpu_per_s(seconds, probe=True)
        probe_cost.append(busy - idle)
        print(f"  round: idle hub {idle:7.0f} CPU-µs/s, with probe {busy:7.0f} CPU-µs/s, {rows} rows", flush=True)
    counts, n = ArrivalCounts(), 1_000_000
    lagged = (timeit.timeit(lambda: counts.lagged(0.001), number=n) - timeit.timeit(lambda: None, number=n)) / n
    health, row = GeneratorHealth(), [[0, 0.5, 3.0, 100, 1, 0, 2.0]]
    merged = timeit.timeit(lambda: health.add("w1", row), number=100_000) / 100_000
    figures = {
        "probe_cpu_us_per_s": round(statistics.median(probe_cost)),
        "probe_core_share": round(statistics.median(probe_cost) / 1e6, 4),
        "lagged_ns_per_arrival": round(lagged * 1e9),
        "merge_us_per_row": round(merged * 1e6, 2),
    }
    for rate in (1000, 8600):
        figures[f"probe_us_per_request_at_{rate}_rps"] = round(statistics.median(probe_cost) / rate, 3)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for key, value in measure(args.seconds, args.rounds).items():
        print(f"  {key:36} {value}")


if __name__ == "__main__":
    main()
