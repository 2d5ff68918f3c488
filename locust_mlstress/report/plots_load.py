"""Load plots of the HTML report: latency over time, latency against payload size, the outcomes
of each malformed variant, and the stage timeline with its breaking point.

Each `draw_*` takes the summary (and, for stages, the manifest), returns a matplotlib Figure, or
raises `NoData` saying why the run has nothing to draw.
"""

from __future__ import annotations

import math

from locust_mlstress.domain.outcomes import OUTCOMES
from locust_mlstress.domain.summary import RunSummary, WindowRow
from locust_mlstress.report.plots import (
    OUTCOME_COLOURS,
    PERCENTILE_STYLES,
    NoData,
    draw_load,
    end_of,
    kind_colour,
    new_figure,
    ordered_kinds,
    panel_grid,
    plain_log,
    seconds_axis,
    steps,
    traffic_rows,
)


def draw_latency_over_time(summary: RunSummary):
    """p50, p95 and p99 per window, one panel per kind on a shared (log, when wide) latency axis."""
    series: dict[str, list[WindowRow]] = {}
    for w in summary.get("windows", []):
        if (latency := w.get("latency_ms")) and latency.get("n"):
            series.setdefault(w["kind"], []).append(w)
    if not series:
        raise NoData("no window recorded a response")
    shown = ordered_kinds(series)
    fig, axes = panel_grid(len(shown), 2.5, sharey=True)
    end = max(end_of(w, summary) for ws in series.values() for w in ws)
    values = [v for ws in series.values() for w in ws for p in PERCENTILE_STYLES if (v := w["latency_ms"][p])]
    span = max(values) / min(values) if values else 1.0
    log = span > 30
    kinds = list(summary["kinds"])
    for ax, kind in zip(axes, shown, strict=False):
        ws = sorted(series[kind], key=lambda w: w["start_s"])
        mids = [(w["start_s"] + end_of(w, summary)) / 2 for w in ws]
        for p, style in PERCENTILE_STYLES.items():
            ys = [w["latency_ms"][p] if w["latency_ms"].get(p) is not None else math.nan for w in ws]
            ax.plot(mids, ys, linestyle=style, marker=".", color=kind_colour(kind, kinds))
        ax.set_title(kind)
        ax.set_ylabel("latency (ms)")
        if log:
            ax.set_yscale("log")
            plain_log(ax.yaxis, span=span)
    for p, style in PERCENTILE_STYLES.items():  # one key for every panel, below them: none hides a line
        axes[0].plot([], [], linestyle=style, marker=".", color="#444", label=p)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=3)
    for ax in axes[: len(shown)]:
        seconds_axis(ax)
        ax.set_xlim(0, end)
    fig.suptitle("Latency percentiles per time window (at the window's middle) and payload kind")
    return fig


def draw_latency_vs_size(summary: RunSummary):
    """Each oversized variant at its mean body size: p50 (dot), p95 (bar end), p99 (cross); the
    clean kind beside them as the reference."""
    kinds = summary["kinds"]
    if "oversized" not in kinds:
        raise NoData("no oversized payloads were sent")
    payloads = kinds["oversized"].get("payloads")
    if payloads is None:
        raise NoData("the summary holds no payload sizes (written by an older version)")
    points = [
        (variant, size, latency, row["requests"])
        for variant, row in payloads.items()
        if (size := row.get("mean_bytes")) and (latency := row.get("latency_ms")) and latency.get("p50") is not None
    ]
    if not points:
        raise NoData("no oversized request recorded both its size and its latency")
    clean = kinds.get("clean")
    clean_rows = [r for r in (clean["payloads"] if clean else {}).values() if r.get("mean_bytes")]
    if clean is not None and clean_rows and clean["latency_ms"].get("p50") is not None:
        n = sum(r["requests"] for r in clean_rows)
        size = sum((r["mean_bytes"] or 0.0) * r["requests"] for r in clean_rows) / n
        points.append(("clean (reference)", size, clean["latency_ms"], n))
    fig = new_figure(4.6)
    ax = fig.subplots()
    for i, (variant, size, lat, n) in enumerate(sorted(points, key=lambda p: p[1])):
        colour = kind_colour("clean" if variant.startswith("clean") else "oversized")
        p95 = lat.get("p95") or lat["p50"]
        ax.plot([size, size], [lat["p50"], p95], color=colour, linewidth=2, alpha=0.6)
        ax.plot(size, lat["p50"], "o", color=colour, markersize=7)
        if lat.get("p99") is not None:
            ax.plot(size, lat["p99"], "x", color=colour, markersize=7)
        # Neighbours in size alternate their label below and above the p50, so they rarely collide.
        ax.annotate(f"{variant} (n={n})", (size, lat["p50"]), xytext=(6, -12 if i % 2 else 3),
                    textcoords="offset points", fontsize=9)  # fmt: skip
    ax.plot([], [], "o", color="#555", label="p50")
    ax.plot([], [], "-", color="#555", linewidth=2, alpha=0.6, label="p50 to p95")
    ax.plot([], [], "x", color="#555", label="p99")
    ax.set_xscale("log")
    plain_log(ax.xaxis, _bytes)
    latencies = [v for _, _, lat, _ in points for v in (lat["p50"], lat.get("p99")) if v]
    if (span := max(latencies) / min(latencies)) > 8:  # one slow tail would flatten the rest
        ax.set_yscale("log")
        plain_log(ax.yaxis, span=span)
    else:
        ax.set_ylim(0, max(latencies) * 1.15)
    ax.margins(x=0.2, y=0.12)
    ax.set_xlabel("mean request body size (log scale)")
    ax.set_ylabel("latency (ms)")
    ax.set_title("Latency against payload size: oversized variants and clean traffic")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig


def _bytes(x: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if x >= size:
            return f"{x / size:g} {unit}"
    return f"{x:g} B"


def draw_variants(summary: RunSummary):
    """Share of each outcome per variant of the malformed (and oversized) kinds."""
    kinds = summary["kinds"]
    shown = [k for k in ("malformed", "oversized") if k in kinds and kinds[k].get("variants")]
    if not shown:
        raise NoData("no malformed or oversized payloads were sent")
    sizes = [len(kinds[k]["variants"]) for k in shown]
    fig = new_figure(1.2 + 0.3 * sum(sizes) + 0.6 * len(shown))
    axes = fig.subplots(len(shown), 1, squeeze=False, gridspec_kw={"height_ratios": sizes}).ravel()
    seen: dict[str, object] = {}
    for ax, kind in zip(axes, shown, strict=True):
        variants = kinds[kind]["variants"]
        names = sorted(variants, reverse=True)  # top to bottom in alphabetical order
        totals = [sum(variants[v].values()) for v in names]
        left = [0.0] * len(names)
        present = [o for o in OUTCOMES if any(variants[v].get(o) for v in names)]
        present += sorted({o for v in names for o in variants[v]} - set(OUTCOMES))
        for outcome in present:
            shares = [variants[v].get(outcome, 0) / t if t else 0 for v, t in zip(names, totals, strict=True)]
            bars = ax.barh(names, shares, left=left, color=OUTCOME_COLOURS.get(outcome, "#bbb"), label=outcome)
            seen.setdefault(outcome, bars)
            left = [a + b for a, b in zip(left, shares, strict=True)]
        for y, total in enumerate(totals):
            ax.text(1.01, y, f"n={total}", va="center", fontsize=8)
        ax.set_xlim(0, 1.1)
        ax.set_xticks([0, 0.25, 0.5, 0.75, 1], ["0%", "25%", "50%", "75%", "100%"])
        ax.set_title(f"{kind} variants")
        ax.grid(axis="y", visible=False)
    axes[-1].set_xlabel("share of the variant's requests")
    fig.legend(list(seen.values()), list(seen), loc="outside lower center", ncols=min(len(seen), 5))
    fig.suptitle("Outcome of each malformed and oversized variant")
    return fig


def stage_spans(summary: RunSummary, manifest: dict | None) -> list[dict]:
    """Stages as they began (the manifest's timeline), each with its end and its verdict."""
    timeline = list((manifest or {}).get("stages") or [])
    verdicts = {v["index"]: v for v in summary.get("stages") or []}
    end_of_run = summary.get("duration_s") or (manifest or {}).get("duration_s")
    spans = []
    for i, stage in enumerate(timeline):
        end = timeline[i + 1]["started_s"] if i + 1 < len(timeline) else end_of_run
        if end is None:
            end = stage["started_s"]
        verdict = verdicts.get(stage.get("index", i))
        spans.append(stage | {"end_s": end, "passed": None if verdict is None else verdict["passed"]})
    return spans


SPAN_COLOURS = {True: "#2ca02c", False: "#d62728", None: "#999999"}


def draw_stages(summary: RunSummary, manifest: dict | None):
    """Planned users per stage, shaded by verdict, with the users and requests per second
    measured below; the breaking point of a step-to-failure run marked."""
    spans = stage_spans(summary, manifest)
    if not spans:
        if summary.get("stages"):
            raise NoData("the stage timeline is in the run's manifest, which was not given (the table has verdicts)")
        raise NoData("the run had no load plan with stages")
    fig = new_figure(5.2)
    ax, rps = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.3]})
    for axis in (ax, rps):
        for span in spans:
            axis.axvspan(span["started_s"], span["end_s"], color=SPAN_COLOURS[span["passed"]], alpha=0.12, lw=0)
    planned = [{"start_s": s["started_s"], "end_s": s["end_s"], "users": s["users"]} for s in spans]
    ax.plot(*steps(planned, "users"), color="black", linewidth=1.2, linestyle="--", label="planned users")
    draw_load(ax, rps, traffic_rows(summary))
    top = max(s["users"] for s in spans) or 1
    if len(spans) <= 12:
        for span in spans:
            ax.text((span["started_s"] + span["end_s"]) / 2, top * 1.04, span["name"], ha="center", va="bottom",
                    fontsize=8, rotation=0 if len(spans) <= 6 else 30)  # fmt: skip
    failing = point["first_failing"] if (point := summary.get("breaking_point")) else None
    if failing is not None:
        start = next((s["started_s"] for s in spans if s.get("index") == failing.get("index")), None)
        if start is not None:
            for axis in (ax, rps):
                axis.axvline(start, color="#d62728", linewidth=2)
            ax.annotate(f"breaking point: {failing['users']} users", (start, 0), xytext=(4, 6),
                        textcoords="offset points", color="#d62728", fontsize=9, fontweight="bold")  # fmt: skip
    for passed, label in ((True, "stage passed"), (False, "stage failed"), (None, "not judged")):
        ax.fill_between([], [], color=SPAN_COLOURS[passed], alpha=0.3, label=label)
    ax.set_ylim(0, top * 1.3 + 1)
    ax.set_ylabel("users")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    seconds_axis(rps)
    fig.suptitle("Stage timeline: users planned and measured, verdict per stage")
    return fig
