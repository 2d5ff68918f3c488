"""Plots of the HTML report as inline SVG strings: the drawing conventions every plot shares.

matplotlib is imported here on first use only, so a run without `--ml-html` or `--ml-artifacts`
never imports it. Figures are built with `matplotlib.figure.Figure`, never pyplot: no global
figure registry, no GUI backend, nothing left open between reports (the Agg-style use the
matplotlib docs recommend for servers). Text stays text in the SVG (`svg.fonttype: none`), so the
browser draws it in a system font and the page stays small; element ids are prefixed and hashed
with the plot's id, so several SVGs on one page never share an id and a re-render is
byte-identical.

A plot whose data is not in the run raises `NoData(why)`; the page shows the reason instead.
"""

from __future__ import annotations

import io
import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any, Literal

from locust_mlstress.domain.summary import LiveSummary

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

logger = logging.getLogger("locust_mlstress")

KIND_COLOURS = {
    "clean": "#1f77b4",
    "drifted": "#d62728",
    "malformed": "#7f7f7f",
    "oversized": "#ff7f0e",
    "probe": "#2ca02c",
}
OTHER_COLOURS = ("#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
OUTCOME_COLOURS = {
    "ok": "#2ca02c",
    "rejected": "#1f77b4",
    "accepted_malformed": "#d62728",
    "server_error": "#8b0000",
    "timeout": "#9467bd",
    "connection_error": "#8c564b",
    "undecodable": "#ff7f0e",
    "unexpected_status": "#e377c2",
}
PERCENTILE_STYLES: dict[Literal["p50", "p95", "p99"], str] = {"p50": "-", "p95": "--", "p99": ":"}
KIND_ORDER = ("clean", "drifted", "malformed", "oversized", "probe")

WIDTH_IN = 9.0  # about 860 px at the page's width: readable on a laptop without zooming
STYLE: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


class NoData(Exception):
    """This plot is not in the run; the message says why, in a few words."""


@dataclass(frozen=True)
class Plot:
    id: str
    title: str
    svg: str | None = None  # None: not in this run
    absent: str | None = None  # why not


def kind_colour(kind: str, kinds: list[str] | None = None) -> str:
    if kind in KIND_COLOURS:
        return KIND_COLOURS[kind]
    others = [k for k in (kinds or [kind]) if k not in KIND_COLOURS]
    return OTHER_COLOURS[others.index(kind) % len(OTHER_COLOURS)] if kind in others else OTHER_COLOURS[0]


def ordered_kinds(kinds: Any) -> list[str]:
    """Kinds in the report's usual order (clean, drifted, malformed, oversized, probe), others after."""
    names = list(kinds)
    return [k for k in KIND_ORDER if k in names] + sorted(k for k in names if k not in KIND_ORDER)


def new_figure(height_in: float, width_in: float = WIDTH_IN):
    from matplotlib.figure import Figure  # matplotlib only when a report is drawn (module docstring)

    return Figure(figsize=(width_in, height_in), layout="constrained")


def panel_grid(panels: int, panel_height_in: float, **subplots: Any):
    """A figure of `panels` panels in two columns (one for a single panel), `panel_height_in`
    per row; the cells left over are hidden. (figure, flat array of every cell's axes)"""
    cols = 1 if panels == 1 else 2
    rows = math.ceil(panels / cols)
    fig = new_figure(0.6 + panel_height_in * rows)
    axes = fig.subplots(rows, cols, squeeze=False, **subplots).ravel()
    for ax in axes[panels:]:
        ax.set_visible(False)
    return fig, axes


_ID = re.compile(r'(\sid="|url\(#|href="#)([^")]+)')


def to_svg(fig, title: str, prefix: str) -> str:
    """The figure as an inline `<svg>` element with a `<title>` (the tooltip and accessible name).
    Element ids (matplotlib numbers them per figure: `axes_1`, `line2d_3`) and the references to
    them get the plot's id as a prefix, so the page's SVGs never share an id."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, count=1, flags=re.DOTALL)
    text = _ID.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", text)
    end = text.index(">") + 1
    return f"{text[:end]}\n<title>{escape(title)}</title>{text[end:]}"


def render(plot_id: str, title: str, draw: Callable[..., Any], *args: Any) -> Plot:
    """Draw one plot; a missing input gives a "not in this run" note, and so does a drawing bug
    (logged with its traceback): one bad plot must not cost the run its report."""
    from matplotlib import rc_context  # matplotlib only when a report is drawn (module docstring)

    try:
        with rc_context(STYLE | {"svg.hashsalt": plot_id}):
            fig = draw(*args)
            return Plot(plot_id, title, svg=to_svg(fig, title, plot_id))
    except NoData as exc:
        return Plot(plot_id, title, absent=str(exc))
    except Exception as exc:  # reported on the page and in the log
        logger.exception("HTML report: the plot %r could not be drawn", plot_id)
        return Plot(plot_id, title, absent=f"could not be drawn ({type(exc).__name__}: {exc})")


def seconds_axis(ax) -> None:
    ax.set_xlabel("time since start (s)")
    ax.set_xlim(left=0)


def plain_log(axis, label: Callable[[float], str] = lambda v: f"{v:g}", *, span: float = 1e9) -> None:
    """A log axis labelled in plain numbers (12, 100, 1 kB rather than 10^2), without minor
    ticks (each tick is several artists: a log axis's minor ticks cost a second a plot); over
    two decades or less (`span`, the ratio of the largest value to the smallest), 1-2-5 steps,
    so a short axis still has several labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator  # as above: only when drawn

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if span <= 100 else (1.0,)))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: label(v)))
    axis.set_minor_locator(NullLocator())


def end_of(row: Mapping[str, Any], summary: LiveSummary) -> float:
    """A window's end, or the run's end for the window still open when the run stopped."""
    duration = summary.get("duration_s")
    return min(row["end_s"], duration) if duration and duration > row["start_s"] else row["end_s"]


def traffic_rows(summary: LiveSummary) -> list[dict[str, Any]]:
    """Per window, in time order: users and requests per second (from the windows' requests when
    the summary has no `traffic` rows; users are then unknown), ends clipped to the run's end."""
    rows: list[Mapping[str, Any]] = list(summary.get("traffic") or [])
    if not rows:
        per: dict[tuple[float, float], int] = {}
        for w in summary.get("windows", []):
            per[(w["start_s"], w["end_s"])] = per.get((w["start_s"], w["end_s"]), 0) + w["requests"]
        rows = [{"start_s": s, "end_s": e, "users": None, "requests": n} for (s, e), n in per.items()]
    out = []
    for row in sorted(rows, key=lambda r: r["start_s"]):
        end = end_of(row, summary)
        rps = row.get("rps")
        if rps is None and end > row["start_s"]:
            rps = row["requests"] / (end - row["start_s"])
        out.append({**row, "end_s": end, "rps": rps})
    return out


def draw_load(users_ax, rps_ax, rows: list[dict]) -> None:
    """Users and requests per second per window, as steps over each window (what they are: the
    most users seen in the window, and its mean rate)."""
    if any(r.get("users") is not None for r in rows):
        users_ax.plot(*steps(rows, "users"), color="#6a3d9a", linewidth=1.6, label="users (most in window)")
        users_ax.set_ylim(bottom=0)
    else:
        users_ax.text(0.5, 0.5, "users not recorded in this summary", transform=users_ax.transAxes,
                      ha="center", va="center", color="#666")  # fmt: skip
    users_ax.set_ylabel("users")
    rps_ax.plot(*steps(rows, "rps"), color="#333", linewidth=1.4)
    rps_ax.set_ylabel("requests/s")
    rps_ax.set_ylim(bottom=0)


def steps(rows: list[dict], key: str) -> tuple[list[float], list[float]]:
    """A flat segment per row over [start_s, end_s], broken where rows are not contiguous."""
    xs: list[float] = []
    ys: list[float] = []
    for row in rows:
        value = row.get(key)
        if xs and row["start_s"] != xs[-1]:
            xs.append(xs[-1])
            ys.append(math.nan)
        xs += [row["start_s"], row["end_s"]]
        ys += [math.nan if value is None else value] * 2
    return xs, ys
