"""Where the figures go: benchmarks/results.json keeps every run, RESULTS.md shows the latest
against the one before it (same mode: quick runs compare with quick runs)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS_JSON = HERE / "results.json"
RESULTS_MD = HERE / "RESULTS.md"
TARGET_RATIO = 0.90  # MLUser's requests per CPU-second against the plain user's


def machine() -> dict:
    """What the figures came from: cores, CPU model, RAM, versions, commit, load at the start."""
    import locust

    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "")
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem_kb = next((int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal")), 0)

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=HERE, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", "locust_mlstress"))
    return {
        "nproc": os.cpu_count(),
        "cpu": model or platform.processor(),
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "locust": locust.__version__,
        "commit": git("rev-parse", "--short", "HEAD") + (" (library files modified)" if dirty else ""),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def load() -> list[dict]:
    return json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else []


def previous(history: list[dict], mode: str) -> dict | None:
    return next((r for r in reversed(history) if r.get("mode") == mode), None)


def save(entry: dict) -> None:
    history = load()
    history.append(entry)
    RESULTS_JSON.write_text(json.dumps(history, indent=1) + "\n")
    RESULTS_MD.write_text(render(history))


def headline(entry: dict) -> dict[str, float]:
    """The figures worth comparing from run to run, flat: name -> value."""
    out: dict[str, float] = {}
    for profile, o in entry.get("overhead", {}).items():
        for name, c in o["configs"].items():
            out[f"overhead {profile} {name} req/CPU-s"] = c["req_per_cpu_s"]
        for name, r in o["ratios"].items():
            out[f"overhead {profile} {name}"] = r["ratio"]
    for profile, steps in entry.get("hotpath", {}).items():
        for mix, s in steps.items():
            out[f"hot path {profile} {mix} µs"] = s["total"]
    for profile, kinds in entry.get("generation", {}).items():
        for kind, g in kinds.items():
            out[f"generation {profile} {kind} /s"] = g["per_s"]
    if m := entry.get("memory"):
        out["memory growth MB (1M requests)"] = m["growth_mb"]
        out["memory growth MB (second half)"] = m["growth_second_half_mb"]
        out["recording µs/request"] = m["us_per_request"]
    for profile, d in entry.get("distributed", {}).items():
        out[f"distributed {profile} report bytes"] = d["report_bytes_median"]
        out[f"distributed {profile} absorb ms"] = d["absorb_ms_median"]
    if m := entry.get("merge"):
        for n, pair in m["runs"].items():
            out[f"merge {n} workers: our share of a master core %"] = pair["ours_pct"]
        out["merge report bytes (ours)"] = next(iter(m["runs"].values()))["ml"]["ml_bytes_median"]
        out["merge receive_report ms"] = m["in_process"]["receive_report_ms"]
    return out


def comparison(entry: dict, before: dict | None) -> list[tuple[str, float, float | None]]:
    now, then = headline(entry), headline(before) if before else {}
    return [(k, v, then.get(k)) for k, v in now.items()]


def _fmt(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def comparison_table(entry: dict, before: dict | None) -> str:
    rows = ["| figure | now | previous | change |", "|---|---:|---:|---:|"]
    for k, v, old in comparison(entry, before):
        change = f"{(v - old) / old * 100:+.1f}%" if old else "–"
        rows.append(f"| {k} | {_fmt(v)} | {_fmt(old)} | {change} |")
    return "\n".join(rows)


def render(history: list[dict]) -> str:
    """The latest run of the other parts, then the latest merge run: a run of the merge part alone
    (`--only merge`, minutes of its own) leaves the other figures shown."""
    at = next((i for i in range(len(history) - 1, -1, -1) if set(history[i]) - MERGE_ONLY_KEYS), len(history) - 1)
    latest = history[at]
    before = previous(history[:at], latest["mode"])
    m = latest["machine"]
    lines = [
        "# Benchmark results",
        "",
        "Written by `python -m benchmarks` (see README.md); every run is kept in results.json. The",
        "figures below are the latest run, compared with the previous run of the same mode.",
        "",
        f"## Latest: {latest['date']} ({latest['mode']})",
        "",
        f"Machine: {m['nproc']} cores, {m['cpu']}, {m['ram_gb']} GB RAM; Python {m['python']}, "
        f"Locust {m['locust']}; commit {m['commit']}.",
        f"Load: load average {m['loadavg_at_start']} at the start; {latest.get('load_note', '')}",
        "",
    ]
    for profile, o in latest.get("overhead", {}).items():
        lines += [
            f"### Client overhead, {profile}",
            "",
            "| configuration | req/CPU-s (median) | min–max | CPU-µs/request (user + system) | client cores "
            "| nginx cores (max) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name, c in o["configs"].items():
            lines.append(
                f"| {name} | {c['req_per_cpu_s']:,.0f} | {c['spread'][0]:,.0f}–{c['spread'][1]:,.0f} | "
                f"{c['us_per_request']} ({c['user_us']:.0f} + {c['system_us']:.0f}) | {c['client_cores']} | "
                f"{c['nginx_cores_max']} |"
            )
        if steps := o["configs"].get("ml-timed", {}).get("steps_us"):
            lines += ["", "ML steps timed inside the Locust process (ml-timed), CPU-µs per request: "
                      + ", ".join(f"{k} {v}" for k, v in steps.items()) + "."]  # fmt: skip
        lines += ["", "| ratio | value | extra CPU-µs/request | target |", "|---|---:|---:|---|"]
        for name, r in o["ratios"].items():
            met = "met" if r["ratio"] >= TARGET_RATIO else "not met"
            target = f"≥ {TARGET_RATIO}: {met}" if r.get("target", True) else "—"
            lines.append(f"| {name} | {r['ratio']} | {r['extra_us']} | {target} |")
        lines.append("")
    if latest.get("hotpath"):
        lines += ["### ML work per request without the network (CPU-µs)", "",
                  "| profile | mix | payload | request bytes | classify | event+record | total |",
                  "|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
        for profile, steps in latest["hotpath"].items():
            for mix, s in steps.items():
                lines.append(
                    f"| {profile} | {mix} | {s['payload']} | {s.get('request', s.get('headers'))} | {s['classify']} | "
                    f"{s['event+record']} | {s['total']} |"
                )
        lines.append("")
    for profile, kinds in latest.get("generation", {}).items():
        lines += [f"### Generation, {profile} (payloads per CPU-second, one core)", ""]
        lines += ["| kind | payloads/s | variants |", "|---|---:|---|"]
        for kind, g in kinds.items():
            variants = ", ".join(f"{v} {n:,}" for v, n in g.get("variants", {}).items())
            if "first_build_ms" in g:
                variants += "; first build ms: " + ", ".join(f"{v} {t}" for v, t in g["first_build_ms"].items())
            lines.append(f"| {kind} | {g['per_s']:,} | {variants} |")
        lines.append("")
    if mem := latest.get("memory"):
        lines += [
            "### Memory",
            "",
            f"{mem['predictions']:,} recorded requests: RSS {mem['rss_start_mb']} → {mem['rss_half_mb']} → "
            f"{mem['rss_end_mb']} MB ({mem['growth_mb']:+} MB in all, {mem['growth_second_half_mb']:+} MB over the "
            f"second half; target < 20 MB: {'met' if mem['growth_mb'] < 20 else 'not met'}); "
            f"{mem['us_per_request']} CPU-µs per recorded request; summary of {mem['summary_rows']} window rows "
            f"in {mem['summary_s']} s.",
            "",
        ]
    if dist := latest.get("distributed"):
        lines += ["### Distributed", "",
                  "| profile | workers | requests/report | report bytes (median, max) | absorb ms (median, max) "
                  "| master ms per second | summary ms |",
                  "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
        for profile, d in dist.items():
            lines.append(
                f"| {profile} | {d['workers']} | {d['requests_per_report']:,} | {d['report_bytes_median']:,}, "
                f"{d['report_bytes_max']:,} | {d['absorb_ms_median']}, {d['absorb_ms_max']} | "
                f"{d['master_ms_per_second']} | {d['summary_ms']} |"
            )
        lines.append("")
    lines += [f"### Against the previous {latest['mode']} run ({before['date'] if before else 'none'})", "",
              comparison_table(latest, before), ""]  # fmt: skip
    if merged := next((r for r in reversed(history) if "merge" in r), None):
        lines += merge_section(merged)
    lines += ["## History", "", "| date | mode | commit | machine | headline |", "|---|---|---|---|---|"]
    for r in history:
        h = headline(r)
        ratios = "; ".join(f"{k.removeprefix('overhead ')} {v}" for k, v in h.items() if "/" in k and "req" not in k)
        if m := r.get("merge"):
            shares = ", ".join(f"{n} workers {pair['ours_pct']}%" for n, pair in m["runs"].items())
            ratios = "; ".join(part for part in (ratios, f"merge, our share of a master core: {shares}") if part)
        lines.append(
            f"| {r['date']} | {r['mode']} | {r['machine']['commit']} | {r['machine']['nproc']} cores, "
            f"load {r['machine']['loadavg_at_start'][0]} | {ratios} |"
        )
    return "\n".join(lines) + "\n" + NOTES


MERGE_ONLY_KEYS = {"date", "mode", "machine", "merge", "elapsed_s"}


def merge_section(entry: dict) -> list[str]:
    """benchmarks/merge_scale.py's figures: what the workers' ML reports cost a real master."""
    # imported here: rendering the other sections needs neither Locust nor the package
    from .merge_scale import table

    m, machine = entry["merge"], entry["machine"]
    ours = m["runs"].get("128", {}).get("ours_pct")
    verdict = "" if ours is None else f" At 128 workers: {ours}% ({'met' if ours < m['target_pct'] else 'not met'})."
    return [
        f"## Master merge at scale: {entry['date']} ({entry['mode']})",
        "",
        f"`{m.get('command', 'python -m benchmarks --only merge')}`; machine: {machine['nproc']} cores, "
        f"{machine['cpu']}, {machine['ram_gb']} GB RAM; Python {machine['python']}, Locust {machine['locust']}; "
        f"commit {machine['commit']}; load average {machine['loadavg_at_start']} at the start.",
        "",
        f"A real master (web UI on) and N simulated workers, each sending every {m['report_interval_s']:g} s what "
        f"a worker with {m['users_per_worker']} {m['profile']} users (~{m['rate_per_worker']:g} requests/s) "
        "sends; `ml` is the master with the plugin, `plain` without it (Locust's part of the reports only). CPU "
        f"over a {m['window_s']:g} s steady window; /stats/requests over {m['gets']} GETs after it. Target: our "
        f"share (ml less plain) under {m['target_pct']:g}% of one core at 128 workers.{verdict}",
        "",
        table(m),
        "",
    ]


NOTES = """
## How to read these figures

- **Client overhead** is requests per CPU-second of the Locust process (user + system time,
  measured in-process over a steady span after every user started), so it holds up fairly well
  when other processes share the machine, though not perfectly: cache and scheduler effects
  still move it by some percent, hence several alternating rounds and the median.
- nginx answers every POST to the profile's path with the same canned prediction (v1
  `{"predictions": [...]}` or v2 `{"outputs": [...]}`) for one instance, whatever the body:
  malformed payloads then come back 200 and count as `accepted_malformed`, and batches of more
  than one instance as `undecodable`. That changes what the run reports, not what the client
  does per request, which is what this measures. Bodies over 1 MiB get nginx's own 413, as a
  server with a body limit answers; a wrong Content-Type gets a canned 415, an empty body a 400.
- `ml-clean/plain` is the library's own cost per request; `ml-full/replay` the same under the full
  mix (both send the same bytes); `ml-full/plain` adds the cost of sending the mix's bigger bodies
  (the 2 MiB oversized body alone is 1% of requests) against a fixed small body.
"""
