"""Locust's web UI, ML-aware: an "ML quality" tab with live trend charts (and "ML comparison" with
a challenger), two CSV downloads, checked form fields, and Locust's Reset reaching our figures.

- The tab: Locust's React UI (2.47) adds a tab per `template_args["extended_tabs"]` entry and fills
  its table (`extended_tables`: the columns) with the rows under the tab's key in
  `extended_stats` of the `/stats/requests` JSON, which it polls every 2 s while a test runs; an
  `after_request` hook adds them.
- The trend charts: Locust's UI has no place for charts in an extra tab, so the index page gets
  three tags (`with_trend_charts`): uPlot, vendored in static/ (no CDN: the page works offline),
  and static/mltrends.js, which keeps an element of its own after the tab's panel and draws what
  `/ml/trends.json` gives every 2 s. Everything is computed here (`trend_charts`: each chart's x,
  series, colours), from the monitor's cheap per-window rows (`QualityMonitor.trend_rows`), not
  the full summary; the script only draws.
- Reset: Locust's Reset button fires `reset_stats` where the web UI runs; `reset_figures` has
  `lifecycle.reset` count the figures afresh and forgets what `LiveFigures` kept, as
  `_after_spawning` does after a `--reset-stats` reset.
- The figures are the run's live summary (`lifecycle.live_summary`: a local runner hands over its
  open window; a master has what the workers reported). A summary computes Monte Carlo ECE
  thresholds and every window's shift: the tab takes only the per-kind figures, and each is
  computed at most once per `REFRESH_S` per process, however many browsers poll.
- The comparison tab, when a challenger runs: one row per payload kind of the summary's
  `comparison` (the console's comparison table, same text) and a "verdict so far" row, the
  run's gates judged on the figures so far as at the end (`comparison_verdict`). The UI reads
  its tabs from `template_args` at page load: the tab is added once `--ml-challenger` (command
  line or start form) or the profile's `[challenger]` table names one, so a challenger named at
  start-up has it on the first page, one typed in the form on the next load. Both tabs then read
  one `gate_summary` (the per-kind figures plus the comparison), computed at most once per
  `REFRESH_S`: no figure twice per poll.
- Downloads (the Download Data tab, `extended_csv_files`): the per-window rows (report/formats.py's
  writer, the columns of `--ml-csv`) and the gate verdicts judged on the live figures.
- The form's file fields (`--ml-profile`, `--ml-baseline`) name files only in the working directory
  or the locustfile's folder (anyone who reaches the page can type a path, and without
  `--web-login` anyone may): any other path is refused with the same words whether it exists
  or not, before anything opens it. Reading itself goes through `readfile.py` (a FIFO or device
  is refused without blocking the process).
- The form: Locust's `/swarm` copies form fields into `parsed_options` unchecked, so a bad
  `--ml-profile` would start a run whose users send nothing. A `before_request` hook on that
  endpoint (Locust's view itself is left alone) first judges the ML fields with
  `checks.check_run` (the same checks as at start-up) on a copy of the options, and a bad value
  answers `{"success": false, "message": ...}`, which the UI shows in red under the form, leaving
  it usable. `--ml-gate` is one text field there: several gates are separated by `;` (or `,`,
  which Locust itself splits list options on, or newlines).

Every route of ours is behind Locust's `--web-login` when that is on.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NamedTuple, TypedDict, TypeVar, cast

from flask import Blueprint, Response, g, jsonify, make_response, request, send_from_directory
from locust.env import Environment
from locust.runners import WorkerRunner

from locust_mlstress.domain.summary import (
    Figures,
    KindFigures,
    LiveSummary,
    PairFigures,
    PairWindowRow,
    no_figures,
)
from locust_mlstress.errors import ProfileError
from locust_mlstress.gates import GateSpec, comparison_verdict
from locust_mlstress.plugin.checks import check_run
from locust_mlstress.plugin.gates import judge_spec
from locust_mlstress.plugin.lifecycle import current_monitor, gate_summary, live_summary, reset, run_profile
from locust_mlstress.plugin.options import OPTIONS
from locust_mlstress.plugin.state import state_of
from locust_mlstress.profile.fields import printable
from locust_mlstress.quality.generator import mark_latency
from locust_mlstress.quality.monitor import TrendRow
from locust_mlstress.report.console import kind_cells, pair_cells
from locust_mlstress.report.formats import WINDOW_COLUMNS, write_rows, write_window_csv
from locust_mlstress.report.plots import KIND_COLOURS, OTHER_COLOURS, OUTCOME_COLOURS
from locust_mlstress.users.challenger import challenger_settings
from locust_mlstress.users.context import option

logger = logging.getLogger("locust_mlstress")
T = TypeVar("T")
SWARM_ENDPOINT = "locust.swarm"  # Locust's view that starts a run from the form
INDEX_ENDPOINT = "locust.index"  # the page, rendered from `template_args` at each load

TAB_KEY = "ml-quality"
REFRESH_S = 2.0  # the UI polls /stats/requests every 2 s
# (console column, JSON key): keys without underscores or digits after one, because the UI
# camel-cases both the table's keys and the polled rows' keys
TABLE = (
    ("kind", "kind"), ("requests", "requests"), ("ok", "ok"), ("rejected", "rejected"), ("failed", "failed"),
    ("PSI", "psi"), ("JS", "js"), ("KS", "ks"), ("ECE", "ece"), ("accuracy", "accuracy"), ("p95 ms", "p95"),
    ("p99 ms", "p99"), ("verdict", "verdict"), ("note", "note"),
)  # fmt: skip
COMPARE_TAB_KEY = "ml-comparison"
# (console column of report.console.COMPARE, JSON key), then the verdict row's two cells
COMPARE_TABLE = (
    ("kind", "kind"), ("pairs", "pairs"), ("compared", "compared"), ("disagreement 95%", "disagreement"),
    ("mean |Δ|", "meandiff"), ("regressions", "regressions"), ("Δp50 ms", "deltap50"), ("Δp99 ms", "deltap99"),
    ("Δaccuracy", "deltaaccuracy"), ("McNemar p", "mcnemar"), ("verdict", "verdict"), ("note", "note"),
)  # fmt: skip
VERDICT_ROW = "verdict so far"
TITLES = {"ok": "ok %", "rejected": "rejected %", "failed": "failure %", "KS": "KS (lower bound)",
          "ECE": "ECE (* above noise)"}  # fmt: skip
GATE_COLUMNS = ("gate", "metric", "kind", "op", "threshold", "value", "n", "status", "counts_as", "detail", "message")
FORM_FIELDS = tuple(flag[2:].replace("-", "_") for flag, kwargs in OPTIONS if kwargs.get("include_in_web_ui"))
# form fields that name a file the Locust process reads
FILE_FIELDS = ("ml_profile", "ml_baseline")
OUTSIDE = (
    "the form reads files only in the working directory and the locustfile's folder (docs/webui.md); "
    "put the file there, or pass it on the command line"
)
_SEPARATORS = re.compile(r"[;,\n]")
STATIC = Path(__file__).parent / "static"
# what the index page loads of ours: uPlot (MIT, vendored: no CDN, the page works offline) and the
# script that draws the trend charts into the ML quality tab
STATIC_FILES = frozenset({"uPlot.iife.min.js", "uPlot.min.css", "uPlot.LICENSE", "mltrends.js"})
PAGE_TAGS = (
    '<link rel="stylesheet" href="./ml/static/uPlot.min.css">'
    '<script defer src="./ml/static/uPlot.iife.min.js"></script>'
    '<script defer src="./ml/static/mltrends.js"></script>'
)
LOG_SPAN = 30.0
PSI_LINES = (0.1, 0.25)  # moderate and major shift (docs/metrics.md)
RELIABILITY_KINDS = ("clean", "drifted")
TREND_OUTCOMES = ("ok", "rejected", "accepted_malformed")  # and "errors": every other outcome


class LiveComparison(NamedTuple):
    """The comparison so far: each kind's champion/challenger figures, and what the run's gates,
    judged on the figures so far, would decide (`gates.comparison_verdict`) and why."""

    kinds: dict[str, PairFigures]
    verdict: str
    reasons: list[str]


def live_comparison(spec: GateSpec | None, figures: Figures | None) -> LiveComparison | None:
    """The figures' `comparison` with the verdict the run's gates give on them; None before the
    first pair. Judged as at the end of the run: the same gates (with a challenger and no
    comparison gate, the default ones), the same intervals and minimum samples, so too few pairs
    read `hold`, never `rollback`."""
    if figures is None or "comparison" not in figures:
        return None
    verdict, reasons = comparison_verdict(judge_spec(spec, figures) if spec is not None else [])
    return LiveComparison(figures["comparison"]["kinds"], verdict, reasons)


class Series(TypedDict):
    """One line of a trend chart: a value per point of the chart's `x` (None: no value there)."""

    label: str
    values: list[float | None]
    colour: str
    dash: bool


class Chart(TypedDict):
    """One trend chart as static/mltrends.js draws it with uPlot: nothing is computed in the page."""

    id: str
    title: str
    xlabel: str
    ylabel: str
    x: list[float]
    series: list[Series]
    lines: list[float]  # horizontal reference lines (PSI's 0.1 and 0.25)
    ymin: float | None  # the y range always shown, widened by the values
    ymax: float | None
    span_gaps: bool  # join points across missing values (the reliability diagram's bins)
    log: bool  # a log y axis: latency spanning more than LOG_SPAN times (the HTML report's rule)


def kind_colour(kind: str, order: list[str]) -> str:
    """The HTML report's colour for a kind (report/plots.py), so both read alike."""
    return KIND_COLOURS.get(kind) or OTHER_COLOURS[order.index(kind) % len(OTHER_COLOURS)]


def _chart(id_: str, title: str, xlabel: str, ylabel: str, x: list[float], series: list[Series],
           lines: tuple[float, ...] = (), ymin: float | None = 0.0, ymax: float | None = None,
           span_gaps: bool = False, log: bool = False) -> Chart:  # fmt: skip
    return {"id": id_, "title": title, "xlabel": xlabel, "ylabel": ylabel, "x": x, "series": series,
            "lines": list(lines), "ymin": ymin, "ymax": ymax, "span_gaps": span_gaps, "log": log}  # fmt: skip


def spans_widely(series: list[Series]) -> bool:
    """Whether the values span more than `LOG_SPAN` times (a first window's cold start beside
    steady millisecond answers), which a linear axis would flatten into a line at 0."""
    values = [v for s in series for v in s["values"] if v is not None and v > 0]
    return bool(values) and max(values) > LOG_SPAN * min(values)


def _by_window(rows: list[TrendRow], x: list[float], value: Callable[[TrendRow], float | None]) -> dict[str, list]:
    """Per kind, `value` of its row in each window of `x` (None where the kind had no row)."""
    at = {start: i for i, start in enumerate(x)}
    out: dict[str, list[float | None]] = {}
    for row in rows:
        out.setdefault(row["kind"], [None] * len(x))[at[row["start_s"]]] = value(row)
    return out


def trend_charts(
    rows: list[TrendRow], pair_rows: list[PairWindowRow], kinds: dict[str, KindFigures] | None
) -> list[Chart]:
    """The ML tab's trend charts from the monitor's per-window rows (`trend_rows`,
    `pair_window_rows`) and the run's per-kind figures (the reliability bins): shift per kind with
    the 0.1/0.25 lines, p50/p99 per kind, outcome shares over all kinds, the reliability diagram of
    clean and drifted traffic, and with a challenger the disagreement per kind. x is each window's
    start in seconds since the test started; none before the first window."""
    x = sorted({r["start_s"] for r in rows} | {r["start_s"] for r in pair_rows})
    if not x:
        return []
    order = sorted({r["kind"] for r in rows} | {r["kind"] for r in pair_rows})
    seconds = "seconds since the start (window start)"
    psi = _by_window(rows, x, lambda r: r["psi"])
    shift: list[Series] = [{"label": kind, "values": v, "colour": kind_colour(kind, order), "dash": False}
                           for kind, v in sorted(psi.items()) if any(p is not None for p in v)]  # fmt: skip
    charts = [_chart("ml-trend-psi", "Prediction shift (PSI) per kind", seconds, "PSI", x, shift, PSI_LINES, 0.0, 0.3)]
    latency: list[Series] = []
    for name, dash in (("p50", False), ("p99", True)):
        values = _by_window(rows, x, lambda r, name=name: r[name])  # type: ignore[misc]  # p50 or p99
        latency += [{"label": f"{kind} {name}", "values": v, "colour": kind_colour(kind, order), "dash": dash}
                    for kind, v in sorted(values.items())]  # fmt: skip
    title = "Latency p50 (solid) and p99 (dashed) per kind"
    charts.append(_chart("ml-trend-latency", title, seconds, "ms", x, latency, log=spans_widely(latency)))
    charts.append(_chart("ml-trend-outcomes", "Outcome shares, all kinds", seconds, "% of requests", x,
                         outcome_series(rows, x), ymax=100.0))  # fmt: skip
    if (reliability := reliability_chart(kinds or {}, order)) is not None:
        charts.append(reliability)
    if pair_rows:
        at = {start: i for i, start in enumerate(x)}
        shares: dict[str, list[float | None]] = {}
        for p in pair_rows:
            d = p["disagreement"]
            shares.setdefault(p["kind"], [None] * len(x))[at[p["start_s"]]] = None if d is None else 100 * d
        disagree: list[Series] = [{"label": kind, "values": v, "colour": kind_colour(kind, order), "dash": False}
                                  for kind, v in sorted(shares.items())]  # fmt: skip
        charts.append(_chart("ml-trend-disagreement", "Disagreement with the challenger per kind", seconds,
                             "% of compared instances", x, disagree))  # fmt: skip
    return charts


def outcome_series(rows: list[TrendRow], x: list[float]) -> list[Series]:
    """Per window, each outcome's share of all requests (probes left out, as in `all`): ok,
    rejected, accepted_malformed, and errors for every other outcome (5xx, timeouts, ...)."""
    counts = {name: [0] * len(x) for name in (*TREND_OUTCOMES, "errors")}
    totals = [0] * len(x)
    at = {start: i for i, start in enumerate(x)}
    for row in rows:
        i = at[row["start_s"]]
        for outcome, n in row["outcomes"].items():
            counts[outcome if outcome in TREND_OUTCOMES else "errors"][i] += n
            totals[i] += n
    colours = {**OUTCOME_COLOURS, "errors": OUTCOME_COLOURS["server_error"]}
    return [
        {"label": name.replace("_", " "), "colour": colours[name], "dash": False,
         "values": [100 * c / t if t else None for c, t in zip(values, totals, strict=True)]}
        for name, values in counts.items()
    ]  # fmt: skip


def reliability_chart(kinds: dict[str, KindFigures], order: list[str]) -> Chart | None:
    """The reliability diagram of the run so far: per bin of predicted probability, the mean
    prediction (x) against the share of positive labels (y), for clean and drifted traffic, with
    the diagonal a calibrated model follows; None while neither has calibration figures."""
    bins = {}
    for kind in RELIABILITY_KINDS:
        calibration = kinds[kind]["calibration"] if kind in kinds else None
        if calibration and calibration.get("reliability"):
            bins[kind] = {round(b["mean_p"], 6): b["mean_y"] for b in calibration["reliability"]}
    if not bins:
        return None
    x = sorted({0.0, 1.0} | {p for points in bins.values() for p in points})
    series: list[Series] = [{"label": "calibrated", "values": list(x), "colour": "#999999", "dash": True}]
    series += [{"label": kind, "values": [points.get(p) for p in x], "colour": kind_colour(kind, order), "dash": False}
               for kind, points in bins.items()]  # fmt: skip
    return _chart("ml-trend-reliability", "Reliability: clean and drifted (run so far)", "mean predicted probability",
                  "share of positive labels", x, series, ymin=0.0, ymax=1.0, span_gaps=True)  # fmt: skip


class LiveFigures:
    """The run's figures so far, each computed at most every `max_age_s`, and afresh for a new run.

    The tab needs only the per-kind figures (a few ms); the full summary adds every window's shift
    and calibration (tens of ms on a long run, on the event loop the users share), so only the
    per-window download asks for it; the gate verdicts need only the per-kind figures and `all`.
    With a challenger (`paired`) the per-kind figures are taken from the gate figures, which hold
    them beside the comparison: one computation serves both tabs. The trend charts read the
    monitor's cheap per-window rows and the per-kind figures the table reads; kept while the
    monitor has absorbed nothing new (a stopped test costs nothing per poll). `clear` forgets it
    all (Locust's Reset button).
    """

    def __init__(self, environment: Environment, max_age_s: float = REFRESH_S, paired: bool = False):
        self.environment = environment
        self.max_age_s = max_age_s
        self.paired = paired
        self._cache: dict[str, tuple[object, float, Any]] = {}
        self._judged: tuple[Figures | None, LiveComparison | None] | None = None
        self._trends: tuple[object, int, float, list[Chart]] | None = None  # run, revision, when, charts

    def clear(self) -> None:
        """Forget every figure computed (the run's figures were reset): the next poll computes afresh."""
        self._cache.clear()
        self._judged = None
        self._trends = None

    def _cached(self, name: str, compute: Callable[[], T | None]) -> T | None:
        run, now = state_of(self.environment).run, time.monotonic()
        hit = self._cache.get(name)
        if hit is None or hit[0] is not run or now - hit[1] >= self.max_age_s:
            hit = self._cache[name] = (run, now, compute())
        return hit[2]

    def trends(self) -> list[Chart]:
        """`trend_charts` of the figures so far: at most once per half `max_age_s`, and not again
        while the monitor has absorbed nothing (after a stop); none before any data."""
        run, now = state_of(self.environment).run, time.monotonic()
        monitor = current_monitor(self.environment)  # a local recorder hands over its open window
        if monitor is None or not monitor.totals:
            return []
        hit = self._trends
        # fresh for half the polling interval: a browser polling every 2 s gets new figures at each
        # poll (not every other one, as timer jitter would give), many browsers one computation a second
        if hit is not None and hit[0] is run and (hit[1] == monitor.revision or now - hit[2] < self.max_age_s / 2):
            return hit[3]
        refs = monitor.references()[0]
        charts = trend_charts(monitor.trend_rows(refs), monitor.pair_window_rows(), self.kinds())
        self._trends = (run, monitor.revision, now, charts)
        return charts

    def summary(self) -> LiveSummary | None:
        """`lifecycle.live_summary`: None before any data."""
        return self._cached("summary", lambda: live_summary(self.environment))

    def kinds(self) -> dict[str, KindFigures] | None:
        """The summary's `kinds` alone: the same figures, without the windows."""
        if self.paired:
            try:
                figures = self.gates()
            except Exception:  # noqa: BLE001 - the comparison failed: the comparison tab says so, this one goes on
                pass
            else:
                return None if figures is None else figures["kinds"]
        return self._cached("kinds", self._kinds)

    def comparison(self) -> LiveComparison | None:
        """`live_comparison` of `gates()`, judged once per set of figures, however many polls read it."""
        figures = self.gates()
        if self._judged is None or self._judged[0] is not figures:
            self._judged = (figures, live_comparison(state_of(self.environment).run.gates, figures))
        return self._judged[1]

    def gates(self) -> Figures | None:
        """`lifecycle.gate_summary`: what gates read of the summary, without the windows."""
        return self._cached("gates", lambda: gate_summary(self.environment))

    def _kinds(self) -> dict[str, KindFigures] | None:
        monitor = current_monitor(self.environment)
        if monitor is None:
            return None
        kinds = monitor.kinds()
        state = state_of(self.environment)
        if state.run.health is not None:  # a '!' beside latency the generator's saturation spoiled
            reason = state.run.health.unreliable(0.0, state.clock()())
            for figures in kinds.values():
                mark_latency(figures["latency_ms"], reason)
        return kinds


def table_rows(kinds: dict[str, KindFigures] | None) -> list[dict]:
    """One row per payload kind (a summary's `kinds`), the console table's text for the tab's
    columns; none without data."""
    rows = []
    for kind, figures in sorted((kinds or {}).items()):
        cells = kind_cells(kind, figures)
        row: dict[str, str | int] = {key: cells[name] for name, key in TABLE}
        row["requests"] = figures["requests"]  # a number, so the column sorts as one
        rows.append(row)
    return rows


def _pair_note(p: PairFigures) -> str:
    """What a kind's row needs said beside it (the console's notes say the same)."""
    if p.get("fixed_batch"):
        return "one fixed batch sent again and again: counts, no interval"
    if p.get("disagreement") is None:
        return "no payload had a prediction from both versions" if not p.get("n_compared") else "not computed"
    return ""


def comparison_rows(live: LiveComparison | None) -> list[dict]:
    """One row per payload kind (the console's comparison table, same text; pairs and compared as
    numbers, so they sort as such), then the verdict so far with its first reason; none before
    the first pair."""
    if live is None:
        return []
    rows = []
    for kind, p in sorted(live.kinds.items()):
        cells = pair_cells(kind, p) | {"verdict": "", "note": _pair_note(p)}
        row: dict[str, str | int] = {key: cells[name] for name, key in COMPARE_TABLE}
        row["pairs"], row["compared"] = p["n_pairs"], p["n_compared"]
        rows.append(row)
    verdict = {key: "" for _, key in COMPARE_TABLE}
    verdict |= {"kind": VERDICT_ROW, "verdict": live.verdict, "note": live.reasons[0] if live.reasons else ""}
    return [*rows, verdict]


def names_challenger(environment: Environment) -> bool:
    """Whether the options name a challenger: `--ml-challenger` (on the command line or in the
    start form, which writes it into the options), or the ML users' profile's `[challenger]` table."""
    if option(environment, "ml_challenger"):
        return True
    profile = run_profile(environment)
    return profile is not None and challenger_settings(environment, profile) is not None


def show_comparison(environment: Environment, figures: LiveFigures) -> bool:
    """Add the comparison tab once the options name a challenger; whether it is there. Locust's UI
    reads its tabs from the template's arguments when the page loads, so a challenger named at
    start-up has the tab from the first page on, and one typed in the start form from the next
    page load on (the rows are in the polled statistics at once). Once added it stays: a later
    run without a challenger shows an empty table."""
    web_ui = environment.web_ui
    if figures.paired or web_ui is None or not names_challenger(environment):
        return figures.paired
    figures.paired = True
    web_ui.template_args["extended_tabs"].append({"title": "ML comparison", "key": COMPARE_TAB_KEY})
    web_ui.template_args["extended_tables"].append(
        {"key": COMPARE_TAB_KEY, "structure": [{"key": key, "title": name} for name, key in COMPARE_TABLE]}
    )
    return True


def gate_rows(spec: GateSpec | None, summary: Figures | None) -> list[dict]:
    """Each gate judged on the figures so far; with no figures yet, every gate is inconclusive."""
    if spec is None or not spec.checks:
        return []
    return [
        {
            "gate": r.gate.text,
            "metric": r.gate.metric,
            "kind": r.gate.kind,
            "op": r.gate.op,
            "threshold": r.gate.threshold,
            "value": r.value,
            "n": r.n,
            "status": r.status,
            "counts_as": "pass" if r.passed else "fail",
            "detail": r.reason,
            "message": r.message,
        }  # fmt: skip
        for r in judge_spec(spec, summary or no_figures(0.0))
    ]


def gates_csv(rows: list[dict]) -> str:
    stream = io.StringIO()
    write_rows(stream, GATE_COLUMNS, rows)
    return stream.getvalue()


def windows_csv(summary: LiveSummary | None) -> str:
    stream = io.StringIO()
    if summary is not None:
        write_window_csv(stream, summary)
    else:
        write_rows(stream, WINDOW_COLUMNS, [])
    return stream.getvalue()


def split_gates(value: str | list[str] | None) -> list[str]:
    """The `ml_gate` form field (text, or the list Locust made of it) as one gate per item."""
    items = [value] if isinstance(value, str) else value or []
    return [g.strip() for item in items for g in _SEPARATORS.split(item) if g.strip()]


def form_options(parsed: argparse.Namespace | None, form) -> argparse.Namespace:
    """The options a start from this form would run with (`parsed` itself is left alone)."""
    values = dict(vars(parsed)) if parsed is not None else {}
    for dest in FORM_FIELDS:
        if dest in form:
            values[dest] = split_gates(form.getlist(dest)) if dest == "ml_gate" else form[dest]
    return argparse.Namespace(**values)


def form_message(exc: ProfileError, options: argparse.Namespace) -> str:
    """One line for the form's error box (the UI collapses newlines, so a gate's caret line goes)
    that names the field: a profile's own errors name the file, not the option that chose it.
    Escaped: a form value may hold an ESC or a CR, and the line is also written to Locust's log."""
    line = str(exc).splitlines()[0] if str(exc) else ""
    profile = getattr(options, "ml_profile", None)
    if "--ml-" not in line and profile and exc.file == str(profile):
        line = f"--ml-profile: {line}"
    return printable(line)


def form_roots(parsed: argparse.Namespace | None) -> tuple[Path, ...]:
    """The folders a form's file fields may name files in: the working directory and each
    locustfile's folder (or the folder given as -f), resolved (symlinks followed)."""
    roots = [Path.cwd().resolve()]
    for entry in str(getattr(parsed, "locustfile", "") or "").split(","):
        if entry.strip():
            p = Path(entry.strip()).resolve()
            roots.append(p if p.is_dir() else p.parent)
    return tuple(dict.fromkeys(roots))


def form_path_problem(dest: str, value: object, allowed: object, roots: tuple[Path, ...]) -> str | None:
    """Why the form may not read the file a field names, or None. The form is open to anyone who
    reaches the page (Locust has no login by default), so it reads only files in `roots` (or the
    value the command line gave, `allowed`). Every path outside them, existing or not, gets the
    same words, decided without opening it: an error must not tell whether a path exists, nor
    what its first line looks like. Inside the roots the usual errors follow (file not found, not
    TOML, ...), as on the command line."""
    if not isinstance(value, str) or not value.strip() or value == allowed:
        return None
    try:
        resolved = Path(value).resolve()  # symlinks followed: a link out of the roots is outside
    except (OSError, ValueError, RuntimeError):  # a NUL in it, a symlink loop
        resolved = None
    if resolved is None or not any(resolved.is_relative_to(root) for root in roots):
        return f"--{dest.replace('_', '-')}: {OUTSIDE}"
    return None


def _csv_response(text: str, name: str) -> Response:
    response = make_response(text)
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f"attachment; filename={name}"
    return response


def guard_start_form(environment: Environment) -> None:
    """Judge the start form's ML fields before Locust's `/swarm` view starts anything: Flask
    `before_request` and `after_request` hooks on that endpoint, so Locust's own view stays as it
    is. A refusal answers as the view does (`{"success": false, "message": ...}`)."""
    web_ui = environment.web_ui
    assert web_ui is not None and web_ui.app is not None  # called by extend, which runs only with a web UI
    startup = {dest: getattr(environment.parsed_options, dest, None) for dest in FILE_FIELDS}
    roots = form_roots(environment.parsed_options)

    def refusal() -> Response | None:
        for dest in FILE_FIELDS:
            if problem := form_path_problem(dest, request.form.get(dest), startup[dest], roots):
                logger.error("web UI start refused: %s", problem)
                return jsonify({"success": False, "message": problem, "host": environment.host})
        options = form_options(environment.parsed_options, request.form)
        candidate = SimpleNamespace(
            parsed_options=options, user_classes=environment.user_classes, shape_class=environment.shape_class,
            host=request.form.get("host", "").strip() or environment.host,
        )  # fmt: skip
        try:
            check_run(cast(Environment, candidate))  # it reads only these four attributes
        except ProfileError as exc:
            message = form_message(exc, options)
            logger.error("web UI start refused: %s", message)
            return jsonify({"success": False, "message": message, "host": environment.host})
        g.mlstress_options = options
        return None

    @web_ui.app.before_request
    def check_start_form() -> Response | None:
        if request.endpoint != SWARM_ENDPOINT:
            return None
        # Behind --web-login as the view is: an anonymous request gets the login answer, unjudged.
        return web_ui.auth_required_if_enabled(refusal)()

    @web_ui.app.after_request
    def keep_gates_a_list(response: Response) -> Response:
        # Locust stored the field as typed (a string, or split on ','): make it the list the
        # command line gives. No greenlet ran since the view spawned the run: it reads this list.
        options = g.pop("mlstress_options", None)
        if options is not None and "ml_gate" in request.form and environment.parsed_options is not None:
            environment.parsed_options.ml_gate = options.ml_gate
        return response


def extend(environment: Environment) -> LiveFigures:
    """Add the tabs, the downloads, and the form checks to `environment.web_ui`."""
    web_ui = environment.web_ui
    # on_init calls this only where there is a web UI, and Locust's WebUI builds its app at once
    assert web_ui is not None and web_ui.app is not None
    figures = LiveFigures(environment)
    base = getattr(environment.parsed_options, "web_base_path", None) or None
    web_ui.template_args["extended_tabs"] = [{"title": "ML quality", "key": TAB_KEY}]
    web_ui.template_args["extended_tables"] = [
        {"key": TAB_KEY, "structure": [{"key": key, "title": TITLES.get(name, name)} for name, key in TABLE]}
    ]
    show_comparison(environment, figures)
    web_ui.template_args["extended_csv_files"] = [
        {"href": "./ml/windows.csv", "title": "Download ML quality per window CSV"},
        {"href": "./ml/gates.csv", "title": "Download ML gate verdicts CSV"},
    ]

    routes = Blueprint("mlstress", __name__, url_prefix=base)

    @routes.route("/ml/windows.csv")
    @web_ui.auth_required_if_enabled
    def ml_windows_csv() -> Response:
        return _csv_response(windows_csv(figures.summary()), "ml_windows.csv")

    @routes.route("/ml/gates.csv")
    @web_ui.auth_required_if_enabled
    def ml_gates_csv() -> Response:
        summary = figures.gates()
        return _csv_response(gates_csv(gate_rows(state_of(environment).run.gates, summary)), "ml_gates.csv")

    @routes.route("/ml/trends.json")
    @web_ui.auth_required_if_enabled
    def ml_trends() -> Response:
        try:
            charts = figures.trends()
        except Exception as exc:  # a chart must never take the page down: the charts say so, the table goes on
            state_of(environment).log_once(f"the web UI's ML trend charts could not be computed: {exc!r}")
            return jsonify({"charts": [], "error": "the trend charts could not be computed; see the log"})
        response = jsonify({"charts": charts})
        response.headers["Cache-Control"] = "no-store"
        return response

    @routes.route("/ml/static/<name>")
    @web_ui.auth_required_if_enabled
    def ml_static(name: str) -> Response:
        if name not in STATIC_FILES:
            return make_response("not found", 404)
        return send_from_directory(STATIC, name, max_age=0)

    web_ui.app.register_blueprint(routes)
    guard_start_form(environment)
    environment.events.reset_stats.add_listener(lambda **_kw: reset_figures(environment, figures))
    environment.events.spawning_complete.add_listener(lambda **_kw: _after_spawning(environment, figures))

    @web_ui.app.before_request
    def tabs_for_this_page() -> None:
        if request.endpoint == INDEX_ENDPOINT:
            try:
                show_comparison(environment, figures)
            except Exception as exc:  # the page must load whatever happens here
                state_of(environment).log_once(f"the web UI's ML comparison tab could not be added: {exc!r}")

    @web_ui.app.after_request
    def load_trend_charts(response: Response) -> Response:
        # the rendered page (a login redirect is left alone): uPlot and our chart script
        if request.endpoint == INDEX_ENDPOINT and response.status_code == 200 and response.mimetype == "text/html":
            response.set_data(with_trend_charts(response.get_data(as_text=True)))
        return response

    @web_ui.app.after_request
    def add_ml_table(response: Response) -> Response:
        if request.endpoint != "locust.request_stats" or response.status_code != 200 or not response.is_json:
            return response
        try:
            paired = show_comparison(environment, figures)
        except Exception as exc:  # nor Locust's own statistics
            state_of(environment).log_once(f"the web UI's ML comparison tab could not be added: {exc!r}")
            paired = figures.paired
        try:
            rows = table_rows(figures.kinds())
        except Exception as exc:  # the figures must never take Locust's own statistics down with them
            state_of(environment).log_once(f"the web UI's ML quality table could not be computed: {exc!r}")
            rows = []
        tables = [{"key": TAB_KEY, "data": rows}]
        if paired:
            try:
                pairs = comparison_rows(figures.comparison())
            except Exception as exc:  # nor the comparison: each tab fails alone
                state_of(environment).log_once(f"the web UI's ML comparison table could not be computed: {exc!r}")
                pairs = []
            tables.append({"key": COMPARE_TAB_KEY, "data": pairs})
        response.set_data(json.dumps(response.get_json() | {"extended_stats": tables}))
        return response

    return figures


def with_trend_charts(page: str) -> str:
    """Locust's index page with our stylesheet and scripts before `</head>`: uPlot and
    static/mltrends.js, which draws the trend charts under the ML quality tab's table. Deferred,
    so they run in order after the page is parsed, beside Locust's own module script. A page
    without a head (not Locust's) is left as it is."""
    if "</head>" not in page or "./ml/static/mltrends.js" in page:
        return page
    return page.replace("</head>", PAGE_TAGS + "</head>", 1)


def reset_figures(environment: Environment, figures: LiveFigures) -> None:
    """Locust's Reset button: the run's figures count afresh (`lifecycle.reset`) and the tab's
    table and charts with them (their cache is forgotten: the next poll shows the reset)."""
    try:
        reset(environment)
    except Exception as exc:  # Locust's own reset goes on whatever happens to ours
        logger.error("the ML figures could not be reset: %r", exc)
    figures.clear()


def _after_spawning(environment: Environment, figures: LiveFigures) -> None:
    """`--reset-stats` has reset the figures (plugin/__init__.py): the tab shows it at its next poll."""
    if environment.reset_stats:
        figures.clear()


def on_init(environment: Environment, **_kwargs) -> None:
    if environment.web_ui is not None and not isinstance(environment.runner, WorkerRunner):
        extend(environment)
