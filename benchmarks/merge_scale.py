"""What the workers' ML reports cost a real Locust master with many workers.

For each worker count N (16, 64, 128), twice:

- `ml`: a real master (`locustfiles/any_profile.py --ml-profile profiles/quickstart.toml`, web UI
  on 127.0.0.1, `--autostart --expect-workers N`), and N simulated workers (merge_sim.py, one
  process) reporting every WORKER_REPORT_INTERVAL (3 s) what a real worker with 125 quickstart
  users (~250 requests/s) would: Locust's stats and ours, built by the code real workers run;
- `plain`: a master without the package (merge_plain_locustfile.py), the same workers sending
  Locust's part only.

Each master, once every worker runs its users and a warm-up has passed, is measured from outside
(psutil, /proc): its CPU share of one core over a steady window with nothing else asking it
anything, its resident memory before any worker connected, at the window's start and at the
end; then `gets` timed GETs of `/stats/requests` (what the web UI polls; with the plugin, its
ML tab's figures ride on it, computed at most once per 2 s). Our share is `ml` CPU less `plain`
CPU; per report, that over the reports the master received in the window.

In this process, on the same kind of reports: the time to decode a report (Locust's rpc
Message, msgpack) with and without our part, the plugin's `receive_report` (QualityMonitor.absorb
and the rest) and Locust's own `worker_report` merge, per report; and a worker's report size
after 1 minute against after 10 (200 reports of 3 s each): it must not grow with the run.

    .venv/bin/python -m benchmarks --only merge             # about 5 minutes
    .venv/bin/python -m benchmarks.merge_scale --workers 16 --seconds 6 --gets 5   # a first look
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psutil
from locust.env import Environment
from locust.event import Events
from locust.rpc import Message
from locust.runners import WORKER_REPORT_INTERVAL
from locust.stats import RequestStats, setup_distributed_stats_event_listeners

from locust_mlstress.domain.schema import Profile
from locust_mlstress.plugin.distributed import receive_report
from locust_mlstress.plugin.state import MLRun, state_of
from locust_mlstress.profile import load_profile
from locust_mlstress.quality import QualityMonitor
from locust_mlstress.quality.generator import GeneratorHealth

from .merge_sim import STREAMS, WINDOW_S, SimWorker, ml_part, report_sizes, streams
from .overhead import _busy_cores, _free_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PROFILE = ROOT / "profiles" / "quickstart.toml"
ML_LOCUSTFILE = ROOT / "locustfiles" / "any_profile.py"
PLAIN_LOCUSTFILE = HERE / "merge_plain_locustfile.py"
WORKERS = (16, 64, 128)
USERS_PER_WORKER = 125  # the quickstart's users wait 0.25-0.75 s: ~2 requests a second each
RATE = 250.0  # requests per second per worker, what those users send
TARGET_PCT = 5.0  # our share of one core at 128 workers
MB = 1024 * 1024


def _get(url: str, timeout: float = 10.0) -> tuple[float, bytes]:
    """(milliseconds, body) of one GET."""
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body = response.read()
    return (time.perf_counter() - t0) * 1000, body


def _poll(what: str, check: Callable[[], bool], deadline_s: float, procs: list[subprocess.Popen]) -> None:
    """Until `check()` holds; SystemExit after `deadline_s` or when a process died."""
    end = time.monotonic() + deadline_s
    while not check():
        if time.monotonic() > end:
            raise SystemExit(f"merge: {what} within {deadline_s:g} s: no")
        if any(p.poll() is not None for p in procs):
            raise SystemExit(f"merge: a process exited while waiting until {what}")
        time.sleep(0.2)


def _stats(web: str) -> dict:
    try:
        return json.loads(_get(f"{web}/stats/requests")[1])
    except (OSError, ValueError):
        return {}


def _cpu_s(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def _stop(proc: subprocess.Popen, sig: int | None, timeout: float) -> None:
    if proc.poll() is None and sig is not None:
        proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def run_master(
    ml: bool, workers: int, *, rate: float = RATE, warmup: float = 2 * WORKER_REPORT_INTERVAL, seconds: float = 15.0,
    gets: int = 30, get_every: float = 0.5, profile: Path = PROFILE,
) -> dict:  # fmt: skip
    """One master and its simulated workers, measured from outside (see the module's doc)."""
    port, web_port = _free_port(), _free_port()
    web = f"http://127.0.0.1:{web_port}"
    users = workers * USERS_PER_WORKER
    locustfile = ML_LOCUSTFILE if ml else PLAIN_LOCUSTFILE
    with tempfile.TemporaryDirectory(prefix="mlstress-merge-") as tmp:
        log_path, sim_json = Path(tmp) / "master.log", Path(tmp) / "sim.json"
        cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--master", "--master-bind-host", "127.0.0.1",
               "--master-bind-port", str(port), "--web-host", "127.0.0.1", "--web-port", str(web_port),
               "--autostart", "--expect-workers", str(workers), "-u", str(users), "-r", str(users),
               "--host", "http://127.0.0.1:9"]  # fmt: skip
        if ml:
            cmd += ["--ml-profile", str(profile)]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
        with open(log_path, "w") as log:
            master = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
            sim: subprocess.Popen | None = None
            try:
                proc = psutil.Process(master.pid)
                _poll("the web UI answers", lambda: bool(_stats(web)), 60, [master])
                rss_idle = proc.memory_info().rss
                bound = warmup + seconds + gets * get_every + 120  # the simulator leaves by then anyway
                sim = subprocess.Popen(
                    [sys.executable, "-m", "benchmarks.merge_sim", "--port", str(port), "--workers", str(workers),
                     "--rate", str(rate), "--profile", str(profile), "--seconds", str(bound), "--json", str(sim_json),
                     *(() if ml else ("--no-ml",))],
                    cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log,
                )  # fmt: skip

                def running() -> bool:
                    s = _stats(web)
                    return (
                        s.get("state") == "running"
                        and s.get("user_count") == users
                        and all(w.get("state") == "running" for w in s.get("workers", []))
                    )

                _poll(f"{workers} workers run {users} users", running, 90, [master, sim])
                time.sleep(warmup)  # every worker has reported at least once since its users started
                rss_start, busy0 = proc.memory_info().rss, _busy_cores()
                c0, t0, w0 = _cpu_s(proc), time.perf_counter(), time.time()
                time.sleep(seconds)  # the steady window: nothing but the workers talks to the master
                c1, t1, w1 = _cpu_s(proc), time.perf_counter(), time.time()
                busy1 = _busy_cores()
                latencies, body = [], b"{}"
                for i in range(gets):
                    due = t1 + (i + 1) * get_every
                    time.sleep(max(0.0, due - time.perf_counter()))
                    ms, body = _get(f"{web}/stats/requests")
                    latencies.append(ms)
                running_at_end = sum(w.get("state") == "running" for w in json.loads(body).get("workers", []))
                c2, t2 = _cpu_s(proc), time.perf_counter()
                rss_end = proc.memory_info().rss
                if master.poll() is not None or sim.poll() is not None:
                    raise SystemExit("merge: the master or the simulator exited during the measurement")
            finally:
                _stop(master, signal.SIGTERM, 30)  # a master told to quit tells its workers
                if sim is not None:
                    _stop(sim, None, 30)
                    _stop(sim, signal.SIGTERM, 10)
        if not sim_json.exists():
            raise SystemExit(f"merge: the simulator wrote nothing; master log:\n{log_path.read_text()[-3000:]}")
        reports = json.loads(sim_json.read_text())["reports"]
        missing = log_path.read_text().count("failed to send heartbeat")  # Locust's words for a worker gone missing
    steady = [r for r in reports if w0 <= r[0] < w1 and r[4] > 0]
    lats = sorted(latencies)
    ncpu = os.cpu_count() or 1
    return {
        "cpu_pct": round((c1 - c0) / (t1 - t0) * 100, 2),
        "cpu_pct_while_polled": round((c2 - c1) / (t2 - t1) * 100, 2),
        "reports_per_s": round(len(steady) / (w1 - w0), 2),
        "report_bytes_median": int(statistics.median(r[1] for r in steady)) if steady else 0,
        "report_bytes_max": max((r[1] for r in steady), default=0),
        "ml_bytes_median": int(statistics.median(r[2] for r in steady)) if steady else 0,
        "ml_bytes_max": max((r[2] for r in steady), default=0),
        "requests_per_report": int(statistics.median(r[4] for r in steady)) if steady else 0,
        "sim_build_ms_median": statistics.median(r[5] for r in steady) if steady else None,
        "rss_idle_mb": round(rss_idle / MB, 1),
        "rss_start_mb": round(rss_start / MB, 1),
        "rss_end_mb": round(rss_end / MB, 1),
        "stats_ms_p50": round(statistics.median(lats), 1),
        "stats_ms_p99": round(lats[min(len(lats) - 1, int(0.99 * len(lats)))], 1),
        "stats_ms_max": round(lats[-1], 1),
        "machine_cores_busy": round((busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]) * ncpu, 2),
        "workers_running_at_end": running_at_end,
        "workers_gone_missing": missing,
    }


def in_process(profile: Profile, workers: int = 16, intervals: int = 20, rate: float = RATE) -> dict:
    """Per report, CPU-ms: decoding it whole and without our part, our `receive_report` and
    Locust's own `worker_report` merge, on a master's state built here (default options)."""
    pool = streams(profile)
    sims = [SimWorker(profile, w, pool[w % STREAMS], rate, USERS_PER_WORKER, True) for w in range(workers)]
    master = Environment(events=Events())
    state = state_of(master)
    state.run = MLRun(profile=profile, monitor=QualityMonitor(profile, window_s=WINDOW_S), health=GeneratorHealth())
    locust_stats, locust_events = RequestStats(), Events()
    setup_distributed_stats_event_listeners(locust_events, locust_stats)
    timings: dict[str, list[float]] = {"decode_all": [], "decode_locust": [], "receive_report": [], "locust_merge": []}
    clock = time.process_time
    for k in range(intervals):
        for w, sim in enumerate(sims):
            t0 = k * WORKER_REPORT_INTERVAL + WORKER_REPORT_INTERVAL * w / workers  # staggered, as live
            data = sim.interval(max(0.0, t0 - WORKER_REPORT_INTERVAL), t0, f"w{w}")
            whole = Message("stats", data, f"w{w}").serialize()
            locust_only = Message(
                "stats", {key: v for key, v in data.items() if key not in ml_part(data)}, f"w{w}"
            ).serialize()
            a = clock()
            msg = Message.unserialize(whole)
            b = clock()
            Message.unserialize(locust_only)
            c = clock()
            receive_report(master, msg.node_id, msg.data)
            d = clock()
            locust_events.worker_report.fire(client_id=msg.node_id, data=msg.data)
            e = clock()
            for name, (x, y) in zip(timings, ((a, b), (b, c), (c, d), (d, e)), strict=True):
                timings[name].append((y - x) * 1000)
    out = {f"{name}_ms": round(statistics.median(values), 3) for name, values in timings.items()}
    out |= {f"{name}_ms_mean": round(statistics.fmean(values), 3) for name, values in timings.items()}
    ours = [a - b + c for a, b, c in zip(timings["decode_all"], timings["decode_locust"], timings["receive_report"],
                                          strict=True)]  # fmt: skip
    out["ours_ms_mean"] = round(statistics.fmean(ours), 3)
    out["reports"] = len(ours)
    return out


def growth(profile: Profile, minutes: int = 10, rate: float = RATE) -> dict:
    """One worker's report sizes over `minutes` of 3-second reports: the first minute's and the
    last minute's (median and max, whole message and our part)."""
    sim = SimWorker(profile, 0, streams(profile, count=1)[0], rate, USERS_PER_WORKER, True)
    per_minute = int(60 / WORKER_REPORT_INTERVAL)
    sizes = []
    for k in range(minutes * per_minute):
        data = sim.interval(k * WORKER_REPORT_INTERVAL, (k + 1) * WORKER_REPORT_INTERVAL)
        sizes.append(report_sizes(data, "w0"))
    first, last = sizes[:per_minute], sizes[-per_minute:]

    def figures(part: list[tuple[int, int]]) -> dict:
        whole, ours = [s for s, _ in part], [m for _, m in part]
        return {"bytes_median": int(statistics.median(whole)), "bytes_max": max(whole),
                "ml_bytes_median": int(statistics.median(ours)), "ml_bytes_max": max(ours)}  # fmt: skip

    return {"minute_1": figures(first), f"minute_{minutes}": figures(last), "report_1": sizes[0][0],
            f"report_{len(sizes)}": sizes[-1][0]}  # fmt: skip


def measure(
    workers: tuple[int, ...] = WORKERS, *, seconds: float = 15.0, gets: int = 30, rate: float = RATE,
    profile_path: Path = PROFILE, log: Callable[[str], None] = print,
) -> dict:  # fmt: skip
    """Every worker count, plain then ml; the in-process timings; the size growth."""
    profile = load_profile(profile_path)
    runs: dict[str, dict] = {}
    for n in workers:
        pair = {}
        for ml in (False, True):
            name = "ml" if ml else "plain"
            pair[name] = r = run_master(ml, n, rate=rate, seconds=seconds, gets=gets, profile=profile_path)
            log(
                f"  {n} workers, {name}: CPU {r['cpu_pct']}% of a core ({r['cpu_pct_while_polled']}% polled), "
                f"{r['reports_per_s']} reports/s, {r['report_bytes_median']:,} B/report, RSS {r['rss_idle_mb']} "
                f"→ {r['rss_end_mb']} MB, /stats/requests p50 {r['stats_ms_p50']}, p99 {r['stats_ms_p99']} ms"
            )
        ours = pair["ml"]["cpu_pct"] - pair["plain"]["cpu_pct"]
        per_s = pair["ml"]["reports_per_s"]
        pair["ours_pct"] = round(ours, 2)
        pair["ours_ms_per_report"] = round(ours * 10 / per_s, 3) if per_s else None  # % of a core = 10 ms/s
        runs[str(n)] = pair
    log("  in process: decoding and merging reports ...")
    timing = in_process(profile, rate=rate)
    sizes = growth(profile, rate=rate)
    return {"profile": profile_path.stem, "rate_per_worker": rate, "users_per_worker": USERS_PER_WORKER,
            "report_interval_s": WORKER_REPORT_INTERVAL, "window_s": seconds, "gets": gets, "target_pct": TARGET_PCT,
            "runs": runs, "in_process": timing, "growth": sizes}  # fmt: skip


def table(m: dict) -> str:
    """The figures as a Markdown table, and the in-process and growth lines under it."""
    rows = [
        "| workers | master CPU % of a core: plain, ml | ours % (target < 5 at 128) | ours ms/report "
        "| reports/s | bytes/report: whole (median, max), ours (median) | requests/report "
        "| RSS MB plain: idle → end; ml: idle → end | /stats/requests ms p50, p99: plain; ml |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, pair in m["runs"].items():
        p, q = pair["plain"], pair["ml"]
        rows.append(
            f"| {n} | {p['cpu_pct']}, {q['cpu_pct']} | {pair['ours_pct']} | {pair['ours_ms_per_report']} "
            f"| {q['reports_per_s']} | {q['report_bytes_median']:,}, {q['report_bytes_max']:,}; "
            f"{q['ml_bytes_median']:,} | {q['requests_per_report']} "
            f"| {p['rss_idle_mb']} → {p['rss_end_mb']}; {q['rss_idle_mb']} → {q['rss_end_mb']} "
            f"| {p['stats_ms_p50']}, {p['stats_ms_p99']}; {q['stats_ms_p50']}, {q['stats_ms_p99']} |"
        )
    t, g = m["in_process"], m["growth"]
    last = next(k for k in g if k.startswith("minute_") and k != "minute_1")
    rows += [
        "",
        f"In process, per report (CPU-ms, median of {t['reports']}): decode whole {t['decode_all_ms']}, Locust's "
        f"part alone {t['decode_locust_ms']}; our receive_report {t['receive_report_ms']}; Locust's merge "
        f"{t['locust_merge_ms']}; ours in all (decode difference + receive_report, mean) {t['ours_ms_mean']}.",
        f"Report size, one worker: minute 1 {g['minute_1']['bytes_median']:,} B median, {g['minute_1']['bytes_max']:,} "
        f"max (ours {g['minute_1']['ml_bytes_median']:,}, {g['minute_1']['ml_bytes_max']:,}); {last.replace('_', ' ')} "
        f"{g[last]['bytes_median']:,} median, {g[last]['bytes_max']:,} max (ours {g[last]['ml_bytes_median']:,}, "
        f"{g[last]['ml_bytes_max']:,}).",
    ]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default=",".join(map(str, WORKERS)), help="comma-separated worker counts")
    parser.add_argument("--seconds", type=float, default=15.0, help="the steady CPU window per master")
    parser.add_argument("--gets", type=int, default=30, help="timed GETs of /stats/requests per master")
    parser.add_argument("--rate", type=float, default=RATE, help="requests per second per simulated worker")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    workers = tuple(int(w) for w in args.workers.split(",") if w.strip())
    m = measure(workers, seconds=args.seconds, gets=args.gets, rate=args.rate)
    print(table(m))
    if args.json:
        Path(args.json).write_text(json.dumps(m, indent=1) + "\n")


if __name__ == "__main__":
    main()
