"""All benchmarks in one command: figures printed, kept in results.json, shown in RESULTS.md.

    .venv/bin/python -m benchmarks            # about 15 minutes
    .venv/bin/python -m benchmarks --quick    # about 3 minutes, for a first look
    .venv/bin/python -m benchmarks --only overhead,memory --no-save
    .venv/bin/python -m benchmarks --only overhead --in-situ --with-requests --rounds 1
    .venv/bin/python -m benchmarks --only merge      # about 5 minutes: a real master, 16-128 workers

Not part of the test suite: nothing here passes or fails a build (see README.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from locust_mlstress.profile import load_profile

from . import distributed, generation, hotpath, merge_scale, overhead, results

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("overhead", "hotpath", "generation", "memory", "distributed", "merge")
PROFILES = ("quickstart", "multiclass_router")  # KServe v1 binary, Open Inference Protocol v2 multiclass


def fresh_memory_run() -> dict:
    """recording_memory in its own process: this one's heap already holds the other parts' garbage,
    which would hide (or fake) growth."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "memory.json"
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.recording_memory", "--json", str(out)],
            cwd=ROOT, capture_output=True, text=True, timeout=1800,
        )  # fmt: skip
        for line in proc.stdout.splitlines():
            print("  " + line, flush=True)
        if proc.returncode != 0 or not out.exists():
            raise SystemExit(f"recording_memory failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one round of short runs, the first profile only")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    parser.add_argument("--rounds", type=int, help="alternating rounds of the overhead runs (default 3; quick 1)")
    parser.add_argument("--seconds", type=float, help="measured seconds per overhead run (default 15; quick 6)")
    parser.add_argument("--users", type=int, default=20, help="users per overhead run (default 20)")
    parser.add_argument("--in-situ", action="store_true", help="add a run timing the ML steps inside Locust")
    parser.add_argument("--with-requests", action="store_true", help="add MLHttpUser against a plain HttpUser")
    parser.add_argument("--with-challenger", action="store_true", help="add MLUser paired with a challenger")
    parser.add_argument("--with-export", action="store_true", help="add MLUser with --ml-prometheus-port scraped")
    parser.add_argument("--no-save", action="store_true", help="print only; leave results.json and RESULTS.md")
    args = parser.parse_args()
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"--only: unknown part(s) {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}")
    rounds = args.rounds or (1 if args.quick else 3)
    seconds = args.seconds or (6.0 if args.quick else 15.0)
    profiles = PROFILES[:1] if args.quick else PROFILES
    entry: dict = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": "quick" if args.quick else "full",
        "machine": results.machine(),
    }
    started = time.monotonic()
    print(f"machine: {entry['machine']}", flush=True)
    loaded = {name: load_profile(ROOT / "profiles" / f"{name}.toml") for name in profiles}

    if "overhead" in parts:
        configs = overhead.CONFIGS + ((overhead.IN_SITU,) if args.in_situ else ())
        configs += overhead.REQUESTS_CONFIGS if args.with_requests else ()
        configs += (overhead.PAIRED,) if args.with_challenger else ()
        configs += (overhead.EXPORTED,) if args.with_export else ()
        print(f"\n== client overhead: {rounds} round(s) x {len(configs)} configs x {seconds:g} s, "
              f"{args.users} users ==", flush=True)  # fmt: skip
        entry["overhead"] = {}
        others = []
        for name in profiles:
            o = overhead.measure_profile(
                loaded[name], rounds, seconds, 2.0 if args.quick else 3.0, args.users,
                configs, log=lambda line: print(line, flush=True),
            )  # fmt: skip
            entry["overhead"][name] = o
            others += [c["machine_cores"] - c["client_cores"] for c in o["configs"].values()]
            if steps := o["configs"].get("ml-timed", {}).get("steps_us"):
                print(f"  {name}: ML steps inside Locust, CPU-µs/request: {steps}", flush=True)
            for label, r in o["ratios"].items():
                print(f"  {name}: {label} = {r['ratio']} ({r['extra_us']:+} CPU-µs/request)", flush=True)
        entry["load_note"] = (
            f"during the overhead runs the whole machine was {statistics.median(others):.2f} cores busy (median) "
            "besides the measured Locust process (nginx included)."
        )
    if "hotpath" in parts:
        print("\n== ML work per request without the network (CPU-µs) ==", flush=True)
        entry["hotpath"] = {}
        for name in profiles:
            steps = hotpath.measure(loaded[name], 5_000 if args.quick else 20_000)
            entry["hotpath"][name] = steps
            for mix, s in steps.items():
                print(f"  {name} {mix}: " + ", ".join(f"{k} {v}" for k, v in s.items()), flush=True)
    if "generation" in parts:
        print("\n== generation: payloads per CPU-second, one core ==", flush=True)
        entry["generation"] = {}
        for name in profiles:
            g = generation.measure(loaded[name], 0.3 if args.quick else 1.0)
            entry["generation"][name] = g
            for kind, figures in g.items():
                print(f"  {name} {kind}: {figures['per_s']:,}/s", flush=True)
    if "memory" in parts:
        print("\n== memory: one million recorded requests (a fresh process) ==", flush=True)
        entry["memory"] = m = fresh_memory_run()
        print(f"  RSS growth {m['growth_mb']:+} MB ({m['growth_second_half_mb']:+} MB second half), "
              f"{m['us_per_request']} CPU-µs/request", flush=True)  # fmt: skip
    if "distributed" in parts:
        print("\n== distributed: 8 workers' reports, Locust rpc encoding, master absorb ==", flush=True)
        entry["distributed"] = {}
        for name in profiles:
            d = distributed.measure(loaded[name], intervals=3 if args.quick else 10)
            entry["distributed"][name] = d
            print(f"  {name}: {d}", flush=True)

    if "merge" in parts:
        counts = (128,) if args.quick else merge_scale.WORKERS
        print(f"\n== merge: a real master and {'/'.join(map(str, counts))} simulated workers' reports, "
              "with and without the plugin ==", flush=True)  # fmt: skip
        m = merge_scale.measure(counts, seconds=8.0 if args.quick else 15.0, gets=10 if args.quick else 30,
                                log=lambda line: print(line, flush=True))  # fmt: skip
        entry["merge"] = m | {"command": "python -m benchmarks " + " ".join(sys.argv[1:])}
        print(merge_scale.table(m), flush=True)

    entry["elapsed_s"] = round(time.monotonic() - started)
    before = results.previous(results.load(), entry["mode"])
    print(f"\n== against the previous {entry['mode']} run ({before['date'] if before else 'none'}) ==")
    print(results.comparison_table(entry, before))
    if not args.no_save:
        results.save(entry)
        print(f"\nsaved to {results.RESULTS_JSON.relative_to(ROOT)} and {results.RESULTS_MD.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
