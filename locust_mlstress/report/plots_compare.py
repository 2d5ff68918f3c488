"""Champion/challenger plots of the HTML report: disagreement per kind with its interval, and the
distribution of the paired latency difference.

Each `draw_*` takes the summary (docs/reports.md), returns a matplotlib Figure, or raises
`NoData` saying why the run has nothing to draw. They read `summary["comparison"]`, present only
when a challenger ran; the report draws them only then.
"""

from __future__ import annotations

import math
from typing import Literal

from locust_mlstress.domain.summary import Comparison, RunSummary
from locust_mlstress.report.console import share_interval
from locust_mlstress.report.plots import PERCENTILE_STYLES, NoData, kind_colour, new_figure, ordered_kinds, panel_grid

BINS_PER_DECADE = 8  # display bins of the latency difference per decade, each side of 0
LINEAR_BINS = 17  # display bins over the linear middle of the axis, about as wide as the others there
LOG_DECADES = 3  # the most decades each side of the latency-difference axis spans in log form
DELTA_LINES: tuple[Literal["p50", "p99"], ...] = (
    "p50",
    "p99",
)  # the percentiles marked on the latency-difference distribution


def _comparison(summary: RunSummary) -> Comparison:
    comparison = summary.get("comparison")
    if comparison is None:
        raise NoData("no challenger ran (--ml-challenger)")
    return comparison


def draw_disagreement(summary: RunSummary):
    """Per kind, the share of payloads on which the versions' predictions differ, as a point with
    its 95% interval; a kind without one (nothing answered by both) says so on its row."""
    comparison = _comparison(summary)
    kinds = comparison["kinds"]
    names = ordered_kinds(kinds)
    if not any(kinds[k].get("disagreement") is not None for k in names):
        raise NoData("no payload had a prediction from both versions")
    fig = new_figure(1.3 + 0.45 * len(names))
    ax = fig.subplots()
    rows = list(reversed(names))  # the first kind on top
    everything = list(summary.get("kinds") or kinds)
    top = 0.0
    for y, kind in enumerate(rows):
        p = kinds[kind]
        value = p.get("disagreement")
        if value is None:
            ax.text(0, y, f"  not computed: no prediction from both (n={p.get('n_pairs', 0)} pairs)", va="center",
                    color="#666", fontsize=9)  # fmt: skip
            continue
        colour = kind_colour(kind, everything)
        ci = p.get("disagreement_ci")
        low, high = (ci[0], ci[1]) if ci else (value, value)
        ax.errorbar([100 * value], [y], xerr=[[100 * (value - low)], [100 * (high - value)]], fmt="o", color=colour,
                    capsize=4, markersize=6)  # fmt: skip
        ax.annotate(f"{share_interval(value, ci, 24)}, n={p.get('n_compared', 0)}",
                    (100 * high, y), xytext=(6, 0), textcoords="offset points", va="center", fontsize=9)  # fmt: skip
        top = max(top, 100 * high)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlim(0, max(top, 0.1) * 1.6)  # room for the labels right of the bars
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("disagreement: payloads whose predictions differ (% of those answered by both, 95% interval)")
    ax.set_title("Disagreement between champion and challenger, per payload kind")
    return fig


def coarse_bins(histogram: list[list[float]], linthresh: float) -> tuple[list[float], list[float]]:
    """(edges, counts) of the [low, high, count] bins regrouped for display, as wide as each other
    on a symlog axis: LINEAR_BINS equal steps over [-linthresh, linthresh] (odd, so 0 sits in the
    middle of one), then BINS_PER_DECADE steps a decade each side, every step between the lowest
    and highest filled one present (empty ones as 0), so the step plot is contiguous. The
    recorder's bins are 1% wide: thousands of slivers of a few pairs each. A bin goes to the step
    holding its middle, so the counts add up to the same total."""
    by_step: dict[int, float] = {}
    for low, high, count in histogram:
        middle = (low + high) / 2
        if abs(middle) < linthresh:  # steps 0 .. LINEAR_BINS - 1
            step = min(LINEAR_BINS - 1, math.floor((middle + linthresh) / (2 * linthresh) * LINEAR_BINS))
        else:  # steps -1, -2, ... below; LINEAR_BINS, LINEAR_BINS + 1, ... above
            k = math.floor(math.log10(abs(middle) / linthresh) * BINS_PER_DECADE)
            step = LINEAR_BINS + k if middle > 0 else -1 - k
        by_step[step] = by_step.get(step, 0.0) + count
    if not by_step:
        return [], []

    def edge(i: int) -> float:  # the lower edge of step i (the upper of step i - 1)
        if i <= 0:
            return -linthresh * 10 ** (-i / BINS_PER_DECADE)
        if i >= LINEAR_BINS:
            return linthresh * 10 ** ((i - LINEAR_BINS) / BINS_PER_DECADE)
        return linthresh * (2 * i / LINEAR_BINS - 1)

    steps = range(min(by_step), max(by_step) + 2)
    return [edge(i) for i in steps], [by_step.get(i, 0.0) for i in steps[:-1]]


def symlog_ticks(low: float, high: float, linthresh: float) -> list[float]:
    """0 and, on each side, the 1-2-5 steps from `linthresh` out to the axis's end, or decades (every
    few, four at most) when that gives more than four a side: matplotlib's own symlog ticks crowd
    around 0."""
    steps = sorted((m * 10.0**k, m) for k in range(-6, 10) for m in (1, 2, 5))
    ticks = [0.0] if low <= 0 <= high else []
    for side, end in ((-1, -low), (1, high)):
        found = [v for v, m in steps if linthresh * (1 - 1e-9) <= v <= end]
        if len(found) > 4:
            found = [v for v, m in steps if m == 1 and linthresh * (1 - 1e-9) <= v <= end]
            found = found[::-1][:: math.ceil(len(found) / 4)][::-1]  # at most four, the largest kept
        ticks += [side * v for v in found]
    return sorted(ticks)


def draw_latency_delta(summary: RunSummary):
    """Per kind, the distribution of challenger − champion latency over the paired requests, on a
    symmetric log axis (the bins are log-spaced on both sides of 0), with its p50 and p99."""
    from matplotlib.ticker import FuncFormatter, NullLocator  # matplotlib only when drawn (report/plots.py)

    comparison = _comparison(summary)
    kinds = comparison["kinds"]
    shown = [k for k in ordered_kinds(kinds) if sum(c for *_, c in kinds[k]["latency_delta_ms"]["histogram"]) > 0]
    if not shown:
        raise NoData("no pair recorded a latency from both versions")
    fig, axes = panel_grid(len(shown), 2.6)
    everything = list(summary.get("kinds") or kinds)
    for ax, kind in zip(axes, shown, strict=False):
        delta = kinds[kind]["latency_delta_ms"]
        bounds = [abs(e) for low, high, _ in delta["histogram"] for e in (low, high) if e]
        # Linear within the innermost bins, but never over more than LOG_DECADES decades: the bin of
        # zeros at ±1e-6 ms must not spread the axis over ten decades of nothing.
        linthresh = max(min(bounds), max(bounds) / 10**LOG_DECADES) if bounds else 1.0
        edges, counts = coarse_bins(delta["histogram"], linthresh)
        n = sum(counts)
        ax.stairs([c / n for c in counts], edges, fill=True, alpha=0.5, color=kind_colour(kind, everything))
        ax.axvline(0, color="#333", linewidth=0.8)
        for q in DELTA_LINES:
            value = delta[q]["value"]
            if value is not None:
                ax.axvline(value, color="black", linestyle=PERCENTILE_STYLES[q], linewidth=1.4,
                           label=f"{q} {value:+.3g} ms")  # fmt: skip
        ax.set_xscale("symlog", linthresh=linthresh)
        low, high = ax.get_xlim()
        low, high = min(low, -linthresh), max(high, linthresh)  # the linear middle shown whole
        ax.set_xlim(low, high)
        ax.set_xticks(symlog_ticks(low, high, linthresh))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.xaxis.set_minor_locator(NullLocator())  # minor ticks cost time and say little (plots.plain_log)
        ax.set_title(f"{kind} (n={delta.get('n', int(n))})")
        ax.set_ylabel("share of pairs")
        ax.set_xlabel("challenger − champion latency (ms)")
        ax.set_ylim(0, ax.get_ylim()[1] * 1.3)  # headroom for the legend
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper right")
    fig.suptitle("Paired latency difference per request: challenger − champion, per payload kind")
    return fig
