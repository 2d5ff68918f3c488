"""Client overhead: requests per CPU-second of one Locust process, ML user against plain user.

Every configuration is one headless Locust process with a fixed number of users and no wait
time, against the same canned nginx (benchmarks/nginx.py), so the client is the bottleneck.
The configurations alternate round by round, so a change in the machine's load hits them all
alike. Each process measures its own CPU time over a steady span (overhead_locustfile.py).

Configurations (per profile):

- ml-full: MLUser with the profile's mix (drifted, malformed, oversized included);
- ml-clean: MLUser with clean payloads only;
- plain: a FastHttpUser posting one fixed pre-encoded clean body;
- replay: a FastHttpUser posting the ML user's own bodies, pre-encoded, in turn;
- lean: the plain user's fixed body sent through MLUser's own transport, nothing judged;
- ml-paired (`--with-challenger`): ml-full with the same target as challenger, so every payload
  is sent twice and the two answers compared.
- ml-exported (`--with-export`): ml-full serving `--ml-prometheus-port`, scraped every second
  by this harness (15 times Prometheus's default rate), so the scrapes' cost lands in the
  measured process.

ml-clean / plain is what a user pays per request for choosing MLUser over a plain FastHttpUser;
ml-full / replay is the same under the full mix (same bytes on the wire); ml-full / plain adds
the cost of the mix's bigger bodies. ml-clean / lean is the ML work alone (payload, decoding,
judging, recording) on top of MLUser's transport, which is cheaper than FastHttpUser's: it says
how much of the margin the ML work uses. The 0.90 target is for the first two. ml-paired /
ml-full counts HTTP requests (two per pair): at 1.0 a pair costs exactly two single requests.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from locust_mlstress.domain.schema import Profile

from .nginx import CannedNginx, canned_answer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LOCUSTFILE = HERE / "overhead_locustfile.py"


@dataclass(frozen=True)
class Config:
    name: str
    user: str
    mix: str = "full"
    extra: tuple[str, ...] = ()  # more Locust options; "{host}" the canned target's URL, "{port}" a free port
    scrape: bool = False  # GET http://127.0.0.1:{port}/metrics every second while it runs


CONFIGS = (
    Config("ml-full", "MLFast"),
    Config("ml-clean", "MLFast", "clean"),
    Config("plain", "PlainFast"),
    Config("replay", "ReplayFast"),
    Config("lean", "PlainLean"),
)
IN_SITU = Config("ml-timed", "MLTimed")
REQUESTS_CONFIGS = (Config("ml-full-requests", "MLRequests"), Config("plain-requests", "PlainRequests"))
# the same target as champion and challenger: every ML request sent twice, compared (docs/compare.md)
PAIRED = Config("ml-paired", "MLFast", extra=("--ml-challenger", "{host}"))
# our figures for Prometheus, scraped every second (docs/observe.md)
EXPORTED = Config("ml-exported", "MLFast", extra=("--ml-prometheus-port", "{port}"), scrape=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _scrape_every_second(port: int, stop: threading.Event, scrapes: list[int]) -> None:
    """Scrapes until `stop`; each scrape's size in bytes is appended to `scrapes`."""
    while not stop.wait(1.0):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                scrapes.append(len(response.read()))
        except OSError:  # not listening yet, or gone
            pass


def _busy_cores() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def _cpu(processes) -> float:
    total = 0.0
    for p in processes:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except Exception:  # a worker gone between listing and reading
            pass
    return total


def run_once(
    config: Config, profile: Path, host: str, nginx: CannedNginx, users: int, seconds: float, warmup: float
) -> dict:
    """One Locust process; its own measurement plus nginx's and the machine's CPU over its run."""
    port = _free_port()
    stop, scrapes = threading.Event(), []
    scraper = threading.Thread(target=_scrape_every_second, args=(port, stop, scrapes), daemon=True)
    with tempfile.TemporaryDirectory(prefix="mlstress-bench-") as tmp:
        out = Path(tmp) / "measure.json"
        env = dict(os.environ)
        env.update(
            MLSTRESS_BENCH_PROFILE=str(profile),
            MLSTRESS_BENCH_MIX=config.mix,
            MLSTRESS_BENCH_SECONDS=str(seconds),
            MLSTRESS_BENCH_WARMUP=str(warmup),
            MLSTRESS_BENCH_OUT=str(out),
            PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p),
        )
        cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
               "-u", str(users), "-r", str(users), "-t", f"{int(seconds + warmup + 60)}s", "--host", host,
               "--ml-window", "5", "--ml-warmup", "1s", *(a.format(host=host, port=port) for a in config.extra),
               config.user]  # fmt: skip
        nginx_procs = nginx.processes()
        n0, m0, t0 = _cpu(nginx_procs), _busy_cores(), time.perf_counter()
        if config.scrape:
            scraper.start()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + warmup + 120)
        stop.set()
        n1, m1, t1 = _cpu(nginx_procs), _busy_cores(), time.perf_counter()
        if not out.exists():
            tail = proc.stderr[-3000:]
            raise SystemExit(f"{config.name}: locust wrote no measurement (exit {proc.returncode}):\n{tail}")
        m = json.loads(out.read_text())
    b, a = m["before"], m["after"]
    cpu = (a["user"] + a["system"]) - (b["user"] + b["system"])
    requests = a["requests"] - b["requests"]
    wall = a["wall"] - b["wall"]
    ncpu = os.cpu_count() or 1
    machine_busy = (m1[0] - m0[0]) / max(1, m1[1] - m0[1]) * ncpu  # cores busy, whole machine
    return {
        "config": config.name,
        "requests": requests,
        "failures": a["failures"] - b["failures"],
        "cpu_s": round(cpu, 3),
        "user_us_per_request": round((a["user"] - b["user"]) / max(1, requests) * 1e6, 1),
        "system_us_per_request": round((a["system"] - b["system"]) / max(1, requests) * 1e6, 1),
        "wall_s": round(wall, 3),
        "req_per_cpu_s": requests / cpu if cpu > 0 else float("nan"),
        "client_cores": cpu / wall,
        "nginx_cores": (n1 - n0) / (t1 - t0),
        "machine_cores": machine_busy,
        "outcomes": m.get("outcomes"),
        "steps_us": m.get("steps_us"),
        **({"scrapes": len(scrapes), "scrape_bytes": max(scrapes, default=0)} if config.scrape else {}),
        "gc_us_per_request": [
            round((x - y) / max(1, requests) * 1e6, 2) for x, y in zip(a["gc_s"], b["gc_s"], strict=True)
        ],
        "gc_collections": [x - y for x, y in zip(a["gc_n"], b["gc_n"], strict=True)],
    }


def measure_profile(
    profile: Profile, rounds: int, seconds: float, warmup: float, users: int, configs=CONFIGS, log=print
) -> dict:
    """All configurations, alternating, `rounds` times; then their medians and ratios."""
    runs: list[dict] = []
    nginx = CannedNginx({profile.target.path: canned_answer(profile)})
    with nginx as host:
        for r in range(rounds):
            for config in configs:
                run = run_once(config, profile.path, host, nginx, users, seconds, warmup)
                run["round"] = r + 1
                runs.append(run)
                log(
                    f"  {profile.name:<14} round {r + 1} {config.name:<16} {run['requests']:>7} req "
                    f"{run['cpu_s']:>6.2f} CPU-s {run['req_per_cpu_s']:>7.0f} req/CPU-s "
                    f"(user {run['user_us_per_request']:.0f} + sys {run['system_us_per_request']:.0f} µs) | "
                    f"client {run['client_cores']:.2f} cores, nginx {run['nginx_cores']:.2f}, "
                    f"whole machine {run['machine_cores']:.2f}"
                )
    return summarise(runs)


RATIOS = (  # label, numerator, denominator, whether the 0.90 target is for it
    ("ml-clean/plain", "ml-clean", "plain", True),
    ("ml-full/replay", "ml-full", "replay", True),
    ("ml-full/plain", "ml-full", "plain", False),
    ("ml-clean/lean", "ml-clean", "lean", False),
    ("ml-full-requests/plain-requests", "ml-full-requests", "plain-requests", False),
    ("ml-paired/ml-full", "ml-paired", "ml-full", False),  # HTTP requests, two per pair
    ("ml-exported/ml-full", "ml-exported", "ml-full", False),  # the Prometheus endpoint scraped every second
)


def summarise(runs: list[dict]) -> dict:
    """Median req/CPU-s per configuration over the rounds, per-request µs, and the ratios."""
    configs: dict[str, dict] = {}
    for name in dict.fromkeys(r["config"] for r in runs):
        mine = [r for r in runs if r["config"] == name]
        rate = statistics.median(r["req_per_cpu_s"] for r in mine)
        configs[name] = {
            "req_per_cpu_s": round(rate, 1),
            "us_per_request": round(1e6 / rate, 1),
            "spread": [
                round(min(r["req_per_cpu_s"] for r in mine), 1),
                round(max(r["req_per_cpu_s"] for r in mine), 1),
            ],
            "user_us": statistics.median(r["user_us_per_request"] for r in mine),
            "system_us": statistics.median(r["system_us_per_request"] for r in mine),
            "rounds": len(mine),
            "nginx_cores_max": round(max(r["nginx_cores"] for r in mine), 3),
            "client_cores": round(statistics.median(r["client_cores"] for r in mine), 3),
            "machine_cores": round(statistics.median(r["machine_cores"] for r in mine), 3),
            "outcomes": mine[-1]["outcomes"],
            **(
                {"scrapes": mine[-1]["scrapes"], "scrape_bytes": mine[-1]["scrape_bytes"]}
                if "scrapes" in mine[-1]
                else {}
            ),
            **({"steps_us": mine[-1]["steps_us"]} if mine[-1].get("steps_us") else {}),
        }
    ratios = {}
    for label, ml, plain, targeted in RATIOS:
        if ml in configs and plain in configs:
            ratios[label] = {
                "ratio": round(configs[ml]["req_per_cpu_s"] / configs[plain]["req_per_cpu_s"], 3),
                "extra_us": round(configs[ml]["us_per_request"] - configs[plain]["us_per_request"], 1),
                "target": targeted,
            }
    return {"configs": configs, "ratios": ratios}
