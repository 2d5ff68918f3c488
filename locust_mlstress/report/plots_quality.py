"""Quality plots of the HTML report: reliability, prediction histograms, PSI over time.

Each `draw_*` takes the summary (docs/reports.md), returns a matplotlib Figure, or raises
`NoData` saying why the run has nothing to draw.
"""

from __future__ import annotations

from locust_mlstress.domain.summary import Calibration, KindFigures, ReliabilityBin, RunSummary
from locust_mlstress.metrics.noise import PSI_MAJOR, PSI_MODERATE
from locust_mlstress.quality.calibration_bins import CALIBRATION_BINS
from locust_mlstress.report.plots import (
    NoData,
    draw_load,
    end_of,
    kind_colour,
    new_figure,
    ordered_kinds,
    panel_grid,
    seconds_axis,
    traffic_rows,
)


def draw_reliability(summary: RunSummary):
    """Observed frequency against mean predicted probability per bin, clean against drifted
    (other labelled kinds when those two have none), with each bin's count below."""
    kinds = summary["kinds"]
    labelled = [
        k for k in ordered_kinds(kinds) if k != "probe" and (c := kinds[k].get("calibration")) and c.get("reliability")
    ]
    if not labelled:
        reasons = [r for k in ordered_kinds(kinds) if (r := kinds[k].get("calibration_reason"))]
        if reasons:  # label answers: say why, and how to get probabilities
            raise NoData(f"calibration was not computed: {reasons[0]}")
        raise NoData("no kind has calibration figures: the payloads carry no labels, or the model is a regression")
    shown = [k for k in labelled if k in ("clean", "drifted")] or labelled
    fig = new_figure(5.6)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.3]})
    top.plot([0, 1], [0, 1], linestyle="--", color="#555", linewidth=1, label="perfect calibration")
    tables = {k: _reliability(kinds[k]) for k in shown}
    bins = max(CALIBRATION_BINS, 1 + max(r["bin"] for _cal, rows in tables.values() for r in rows))
    width = 1 / bins / (len(shown) + 0.5)
    for i, kind in enumerate(shown):
        cal, rows = tables[kind]
        colour = kind_colour(kind, list(kinds))
        ece = "-" if cal.get("ece") is None else f"{cal['ece']:.3f}"
        top.plot([r["mean_p"] for r in rows], [r["mean_y"] for r in rows], marker="o", color=colour,
                 label=f"{kind}: ECE {ece}, n={cal.get('n', sum(r['count'] for r in rows))}")  # fmt: skip
        offset = (i - (len(shown) - 1) / 2) * width
        bottom.bar([(r["bin"] + 0.5) / bins + offset for r in rows], [r["count"] for r in rows], width=width,
                   color=colour, alpha=0.75, label=kind)  # fmt: skip
    top.set_xlim(0, 1)
    top.set_ylim(-0.02, 1.02)
    multiclass = any(kinds[k].get("classes") is not None for k in shown)  # top-label calibration
    top.set_ylabel("top class correct (share)" if multiclass else "observed share of positives")
    top.set_title("Reliability: predicted probability against observed frequency, per bin")
    top.legend(loc="upper left")
    bottom.set_ylabel("predictions in bin")
    bottom.set_xlabel(("top-class probability" if multiclass else "predicted P(positive)") + " (mean in bin)")
    bottom.set_xticks([i / bins for i in range(bins + 1)])
    return fig


def _reliability(figures: KindFigures) -> tuple[Calibration, list[ReliabilityBin]]:
    """A kind's calibration and its reliability bins, for a kind `draw_reliability` has shown has them."""
    cal = figures["calibration"]
    assert cal is not None and "reliability" in cal
    return cal, cal["reliability"]


def _reference_label(summary: RunSummary, kind: str) -> str:
    baseline = summary.get("baseline")
    if baseline and baseline.get("mode") == "file":
        return "saved baseline"
    return "warm-up" if kind == "clean" else "clean traffic"


def draw_histograms(summary: RunSummary):
    """Per kind: the share of predictions per bin, current (filled) over its shift reference (line)."""
    kinds = summary["kinds"]
    shown = [k for k in ordered_kinds(kinds) if (h := kinds[k].get("histogram")) and sum(h.get("current") or []) > 0]
    if not shown:
        if not any("histogram" in k for k in kinds.values()):
            raise NoData("the summary holds no prediction histograms (written by an older version)")
        raise NoData("no kind has decoded predictions")
    fig, axes = panel_grid(len(shown), 2.7)
    for ax, kind in zip(axes, shown, strict=False):
        _one_histogram(ax, summary, kind)
    fig.suptitle("Prediction histograms: this run against the reference its PSI uses")
    return fig


def _one_histogram(ax, summary: RunSummary, kind: str) -> None:
    figures = summary["kinds"][kind]
    h = figures["histogram"]
    assert h is not None  # draw_histograms shows only kinds with one
    current, reference = h["current"], h.get("reference")
    log = h.get("scale") == "log"
    # Signed log bins are equal steps on a log axis of any sign: drawn by position, labelled by value.
    edges = list(range(len(current) + 1)) if log else h["edges"]
    n_cur = sum(current)
    colour = kind_colour(kind, list(summary["kinds"]))
    ax.stairs([c / n_cur for c in current], edges, fill=True, alpha=0.45, color=colour, label=f"{kind} (n={n_cur})")
    if reference and sum(reference):
        n_ref = sum(reference)
        ax.stairs([c / n_ref for c in reference], edges, color="black", linewidth=1.4,
                  label=f"{_reference_label(summary, kind)} (n={n_ref})")  # fmt: skip
    psi = shift["psi"] if (shift := figures.get("shift")) else None
    ax.set_title(kind + ("" if psi is None else f"  (PSI {psi:.3f})"))
    ax.set_ylabel("share of predictions")
    if log:
        step = max(1, len(edges) // 5)
        ticks = list(range(0, len(edges), step))
        ax.set_xticks(ticks, [f"{h['edges'][i]:.3g}" for i in ticks])
        ax.set_xlabel("predicted value (signed log bins)")
    else:
        multiclass = figures.get("classes") is not None
        ax.set_xlabel("top-class probability" if multiclass else "P(positive)")
        ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(0, ax.get_ylim()[1] * 1.3)  # headroom for the legend
    ax.legend(loc="upper right")


def draw_psi_over_time(summary: RunSummary):
    """PSI per window and kind, above the users and requests per second of the same windows."""
    series: dict[str, list[tuple[float, float]]] = {}
    for w in summary.get("windows", []):
        psi = shift["psi"] if (shift := w.get("shift")) else None
        if psi is not None:
            series.setdefault(w["kind"], []).append(((w["start_s"] + end_of(w, summary)) / 2, psi))
    if not series:
        raise NoData("no window had enough predictions (20 a side) for a PSI")
    fig = new_figure(6.4)
    top, users, rps = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.3, 1.3]})
    kinds = list(summary["kinds"])
    for kind in ordered_kinds(series):
        points = sorted(series[kind])
        top.plot([t for t, _ in points], [p for _, p in points], marker="o", markersize=4,
                 color=kind_colour(kind, kinds), label=kind)  # fmt: skip
    top.axhline(PSI_MODERATE, color="#b8860b", linestyle="--", linewidth=1, label=f"moderate ({PSI_MODERATE:g})")
    top.axhline(PSI_MAJOR, color="#b22222", linestyle="--", linewidth=1, label=f"major ({PSI_MAJOR:g})")
    top.set_ylim(0, max(PSI_MAJOR, *(p for points in series.values() for _, p in points)) * 1.15)
    top.set_ylabel("PSI against reference")
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1), title="PSI per window")
    draw_load(users, rps, traffic_rows(summary))
    seconds_axis(rps)
    fig.suptitle("PSI per time window (at the window's middle), with the load that produced it")
    return fig
