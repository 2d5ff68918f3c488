"""The HTML report (`--ml-html PATH`, `DIR/report.html`, `mlstress report DIR`): one page that
opens without network access.

Everything is inline: a small stylesheet, system fonts, the plots as SVG (report/plots*.py), no
script. The page is a pure function of the summary and the manifest, so `mlstress report DIR`
renders a saved run again, identically, from `DIR/ml_summary.json` and `DIR/manifest.json`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from html import escape
from pathlib import Path
from typing import Any, cast

from locust_mlstress.domain.outcomes import OUTCOMES, SUCCESSES
from locust_mlstress.domain.summary import SCHEMA_VERSION, Comparison, Interval, KindFigures, PairFigures, RunSummary
from locust_mlstress.metrics.paired import worse
from locust_mlstress.report.console import ROLES, comparison_legend, figure, split_transition, table_notes
from locust_mlstress.report.plots import ordered_kinds, render
from locust_mlstress.report.plots_compare import draw_disagreement, draw_latency_delta
from locust_mlstress.report.plots_load import draw_latency_over_time, draw_latency_vs_size, draw_stages, draw_variants
from locust_mlstress.report.plots_quality import draw_histograms, draw_psi_over_time, draw_reliability

PLOT_IDS = (
    "plot-reliability",
    "plot-histograms",
    "plot-psi",
    "plot-latency",
    "plot-latency-size",
    "plot-variants",
    "plot-stages",
)
COMPARISON_PLOT_IDS = ("plot-disagreement", "plot-latency-delta")  # drawn only when a challenger ran

CSS = """
:root { color-scheme: light; --fg: #1d1d1f; --muted: #5f6368; --line: #d9dce1; --pass: #1e7e34;
        --fail: #b3261e; --warn: #8a6100; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--fg); margin: 0 auto; padding: 1rem 1.5rem 3rem; max-width: 1180px; line-height: 1.4; }
h1 { font-size: 1.5rem; margin: 0.5rem 0 0.2rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 0.6rem; border-bottom: 1px solid var(--line); padding-bottom: 0.2rem; }
h3 { font-size: 1rem; margin: 0 0 0.4rem; }
nav { font-size: 0.9rem; color: var(--muted); }
nav a { margin-right: 0.8rem; }
.sub { color: var(--muted); margin: 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; font-size: 0.9rem; margin: 0.3rem 0; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: var(--pass); font-weight: 600; }
.fail { color: var(--fail); font-weight: 600; }
.inconclusive, .moderate { color: var(--warn); font-weight: 600; }
.major { color: var(--fail); font-weight: 600; }
figure { margin: 1.5rem 0; padding: 0.8rem; border: 1px solid var(--line); border-radius: 6px; }
figure svg { display: block; width: 100%; max-width: 900px; height: auto; }
p.absent { color: var(--muted); font-style: italic; margin: 0.2rem 0; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 0.85rem; }
pre { background: #f6f8fa; padding: 0.6rem; overflow-x: auto; }
.note { color: var(--muted); font-size: 0.9rem; }
.fixed, .reason { color: var(--muted); font-style: italic; }
.reason { display: inline-block; min-width: 16rem; font-size: 0.85rem; }
div.wide { overflow-x: auto; }
"""
COMPARISON_CSS = """
.promote { color: var(--pass); font-weight: 600; }
.hold { color: var(--warn); font-weight: 600; }
.rollback { color: var(--fail); font-weight: 600; }
p.verdict { font-size: 1.1rem; margin: 0.3rem 0; }
table.matrix th[scope="row"] { text-align: left; }
table.matrix td.same { color: var(--muted); }
table.matrix td.regression { background: #fde2e0; color: var(--fail); font-weight: 600; }
"""  # added to the page only with a comparison, so a run without a challenger renders as before


class SavedRunError(ValueError):
    """A saved run that cannot be rendered: the message names the file and what to do."""


def _num(x, fmt: str = ".3f") -> str:
    return "–" if x is None else format(x, fmt)


def _share(part: int, whole: int) -> str:
    return "–" if not whole else f"{100 * part / whole:.1f}%"


def _status(status: str | None) -> str:
    return "" if status is None else f'<span class="{escape(status)}">{escape(status)}</span>'


def _facts(rows: list[tuple[str, str]]) -> str:
    """A definition list; values are already HTML."""
    return '<dl class="facts">' + "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def _table(headers: list[str], rows: list[list[str]], numeric: AbstractSet[int] = frozenset()) -> str:
    """A table; cells are already HTML, `numeric` columns right-aligned."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )  # fmt: skip
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _latency(lat: Mapping[str, Any] | None) -> str:
    lat = lat or {}
    return " / ".join(_num(lat.get(p), ".1f") for p in ("p50", "p95", "p99")) + " ms"


def _summary_section(summary: RunSummary, manifest: dict | None) -> str:
    run = summary.get("run") or {}
    profile = run.get("profile") or {}
    everything = summary.get("all") or {}
    outcomes, n = everything.get("outcomes") or {}, everything.get("requests", 0)
    failed = sum(c for o, c in outcomes.items() if o not in SUCCESSES)
    rows = [
        ("profile", f"{escape(str(profile.get('name', '–')))} <code>{escape(str(profile.get('path', '')))}</code>"),
        ("host", escape(str(run.get("host") or (manifest or {}).get("host") or "–"))),
        ("model version", escape(str(run.get("model_version") or "–"))),
        ("duration", f"{_num(summary.get('duration_s'), '.1f')} s"),
        ("requests", f"{n} (ok {_share(outcomes.get('ok', 0), n)}, rejected {_share(outcomes.get('rejected', 0), n)},"
                     f" failed {_share(failed, n)})"),
        ("latency p50 / p95 / p99", _latency(everything.get("latency_ms"))),
    ]  # fmt: skip
    if manifest:
        rows[3:3] = [("started", escape(str(manifest.get("started")))), ("ended", escape(str(manifest.get("ended"))))]
    if workers := summary.get("workers"):
        missing = ", ".join(workers.get("missing") or []) or "none"
        rows.append(("workers", f"{len(workers.get('reported') or [])} reported; missing: {escape(missing)}"))
    if arrivals := summary.get("arrivals"):
        rows.append(("open-model arrivals", escape(", ".join(f"{k} {v}" for k, v in arrivals.items()))))
    if aborted := summary.get("aborted"):
        rows.append(("stopped early", f'<span class="fail">at {_num(aborted.get("at_s"), ".1f")} s: '
                                      f"{escape(str(aborted.get('gate')))}</span>"))  # fmt: skip
    if failure := summary.get("stage_failure"):
        rows.append(("stopped at stage", f'<span class="fail">{escape(str(failure.get("name")))}</span>'))
    return '<section id="summary"><h2>Run summary</h2>' + _facts(rows) + "</section>"


def _gates_section(summary: RunSummary) -> str:
    gates = summary.get("gates") or []
    if not gates:
        body = '<p class="note">No gates were set for this run (--ml-gate, the profile\'s [gates]).</p>'
    else:
        rows = [[escape(g["gate"]), _status(g["status"]), _num(g.get("value"), ".4g"), str(g.get("n", "–")),
                 escape(g.get("message", ""))] for g in gates]  # fmt: skip
        body = _table(["gate", "verdict", "value", "n", "message"], rows, numeric={2, 3})
    return f'<section id="gates"><h2>Gate verdicts</h2>{body}</section>'


KIND_COLUMNS = ("kind", "requests", "ok", "rejected", "failed", "PSI", "JS", "KS", "n(shift)", "ECE", "Brier",
                "n(cal)", "accuracy", "p50 ms", "p95 ms", "p99 ms", "verdict")  # fmt: skip
NUMERIC_COLUMNS = frozenset(range(1, len(KIND_COLUMNS) - 1)) - {KIND_COLUMNS.index("ECE")}
VERDICT_CLASSES = {"moderate": "moderate", "major": "major", "insufficient": "inconclusive"}


def ks_bound(shift: Mapping[str, Any] | None) -> str:
    """KS from binned counts is a lower bound (docs/metrics.md): shown as one, with the upper end."""
    shift = shift or {}
    if shift.get("ks") is None:
        return "–"
    upper = shift.get("ks_upper")
    if upper == shift["ks"]:
        return f"{upper:.3f}"  # the counts pin it down (label answers: every value at 0 or 1)
    return f"≥ {shift['ks']:.3f}" + ("" if upper is None else f" (≤ {upper:.3f})")


def accuracy_cell(accuracy: Mapping[str, Any] | None) -> str:
    """0.931 [0.915, 0.945]: the accuracy with its Wilson 95% interval (none for a fixed batch)."""
    if not accuracy or accuracy.get("accuracy") is None:
        return "–"
    interval = accuracy.get("interval")
    shown = f"{accuracy['accuracy']:.3f}"
    return shown if not interval else f"{shown} [{interval[0]:.3f}, {interval[1]:.3f}]"


def kind_verdict(k: KindFigures) -> str:
    """The shift verdict as the table shows it: "fixed batch" for one, "(noise)" when the PSI alone
    would have read as a shift."""
    if k.get("fixed_batch"):
        return "fixed batch"
    shift = figure(k, "shift")
    verdict = shift.get("verdict") or "–"
    if verdict == "stable" and shift.get("psi") is not None and shift["psi"] >= 0.1 and not shift.get("significant"):
        verdict += " (noise)"
    return verdict


def _kind_row(kind: str, k: KindFigures) -> list[str]:
    """One kind's cells, as HTML: this page's own formatting (not the console's, whose columns are
    fitted to 120 characters), reading only summary keys."""
    outcomes, n = k.get("outcomes") or {}, k.get("requests", 0)
    failed = sum(c for o, c in outcomes.items() if o not in SUCCESSES)
    shift, cal, lat = figure(k, "shift"), figure(k, "calibration"), figure(k, "latency_ms")
    if k.get("calibration") is None and (reason := k.get("calibration_reason")):
        ece = f'<span class="reason">not computed: {escape(reason)}</span>'
    else:
        ece = _num(cal.get("ece")) + ("*" if cal.get("significant") else "")
    verdict = kind_verdict(k)
    css = "fixed" if k.get("fixed_batch") else VERDICT_CLASSES.get(verdict.split(" ")[0], "")
    name = escape(kind) + (' <span class="fixed">(fixed batch)</span>' if k.get("fixed_batch") else "")
    return [
        name, str(n), _share(outcomes.get("ok", 0), n), _share(outcomes.get("rejected", 0), n), _share(failed, n),
        _num(shift.get("psi")), _num(shift.get("js")), escape(ks_bound(shift)), escape(str(shift.get("n", "–"))),
        ece, _num(cal.get("brier")), escape(str(cal.get("n", "–"))), escape(accuracy_cell(k.get("accuracy"))),
        _num(lat.get("p50"), ".1f"), _num(lat.get("p95"), ".1f"), _num(lat.get("p99"), ".1f"),
        f'<span class="{css}">{escape(verdict)}</span>' if css else escape(verdict),
    ]  # fmt: skip


def kind_notes(summary: RunSummary) -> list[str]:
    """What the quality figures of this run need said beside them: a baseline too small to call
    clean traffic stable, KS as a bound, a fixed batch, calibration left out for label answers."""
    kinds = summary.get("kinds") or {}
    baseline = summary["baseline"]
    notes = []
    if baseline.get("too_small"):
        n = baseline["warmup"]["n"] if "warmup" in baseline else baseline.get("n")
        need = baseline.get("min_n")
        notes.append(
            f"The clean baseline holds {n} predictions: too few to call clean traffic stable (a moderate PSI of 0.1 "
            "would still sit inside the noise); "
            + (
                "clean traffic after it is too short as well: run longer."
                if not need
                else f"it needs at least {need}: save a baseline from a longer run (--ml-save-baseline)."
                if baseline.get("mode") == "file"
                else f"it needs at least {need}: a longer warm-up (--ml-warmup {need}, a prediction count), a "
                "faster ramp (-r) or a saved baseline (--ml-baseline)."
            )
        )
    if any((shift := k.get("shift")) is not None and shift["ks"] is not None for k in kinds.values()):
        notes.append(
            "KS comes from binned predictions, so it is shown as bounds: ≥ what the counts prove (≤ the most "
            "they allow)."
        )
    for kind, k in kinds.items():
        if k.get("fixed_batch"):
            notes.append(
                f"{kind}: its payloads are one fixed batch per variant sent again and again, so its shift, calibration "
                "and accuracy are shown but carry no significance and no verdict."
            )
    return notes


def _kinds_section(summary: RunSummary) -> str:
    """The per-kind figures and the notes to read them by (the console's, then this page's own)."""

    rows = [_kind_row(kind, summary["kinds"][kind]) for kind in ordered_kinds(summary["kinds"])]
    table = f'<div class="wide">{_table(list(KIND_COLUMNS), rows, numeric=set(NUMERIC_COLUMNS))}</div>'
    lines = [line for line in table_notes(summary) if line] + kind_notes(summary)
    notes = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return f'<section id="kinds"><h2>Per payload kind</h2>{table}<ul class="note">{notes}</ul></section>'


def _interval(iv: Interval | None, fmt: str = "+.2f") -> str:
    """+0.10 [+0.05, +0.15]: a difference with its 95% interval; "–" when it has none."""
    if not iv or iv.get("value") is None:
        return "–"
    ci = iv.get("ci")
    shown = format(iv["value"], fmt)
    return shown if not ci else f"{shown} [{format(ci[0], fmt)}, {format(ci[1], fmt)}]"


def _disagreement(p: PairFigures) -> str:
    """3.00% [2.67%, 3.37%] of n compared; the reason when no payload was answered by both."""
    value, ci = p.get("disagreement"), p.get("disagreement_ci")
    if value is None:
        return '<span class="reason">not computed: no payload had a prediction from both versions</span>'
    shown = f"{100 * value:.2f}%"
    return escape(shown if not ci else f"{shown} [{100 * ci[0]:.2f}%, {100 * ci[1]:.2f}%]")


PAIR_COLUMNS = ("kind", "pairs", "compared", "disagreement [95%]", "mean |Δscore|", "regressions", "Δp50 ms [95%]",
                "Δp95 ms [95%]", "Δp99 ms [95%]", "labelled", "Δaccuracy [95%]", "McNemar p")  # fmt: skip


def _pair_row(kind: str, p: PairFigures) -> list[str]:
    """One kind's champion/challenger cells, as HTML: the console table's figures, with intervals."""
    delta = p["percentile_delta_ms"]  # what gates read; the per-request differences are plotted
    labelled = p.get("n_labelled", 0)
    regressions = p.get("regressions", 0)
    return [
        escape(kind), str(p.get("n_pairs", "–")), str(p.get("n_compared", "–")), _disagreement(p),
        _num(p.get("mean_abs_diff")),
        f'<span class="fail">{regressions}</span>' if regressions else str(regressions),
        _interval(delta.get("p50")), _interval(delta.get("p95")), _interval(delta.get("p99")), str(labelled),
        _interval(p.get("accuracy_delta"), "+.3f") if labelled else "–",
        _num(p.get("mcnemar_p"), ".2g") if labelled else "–",
    ]  # fmt: skip


def _version_rows(comparison: Comparison, kinds: list[str]) -> list[list[str]]:
    """Each version's own figures per kind: latency, accuracy, ECE against its noise, Brier, PSI
    (or why not), both over the same paired requests."""
    versions = comparison.get("model_versions") or {}
    rows = []
    for kind in kinds:
        by_role = comparison["kinds"][kind].get("versions") or {}
        for role in [r for r in ROLES if r in by_role] + sorted(set(by_role) - set(ROLES)):
            v = by_role[role]
            lat = v.get("latency_ms") or {}
            version = versions.get(role)
            psi = (
                _num(v.get("psi"))
                if v.get("psi") is not None or not v.get("shift_reason")
                else f'<span class="reason">not computed: {escape(str(v.get("shift_reason")))}</span>'
            )
            ece = _num(v.get("ece")) + ("" if v.get("ece_noise") is None else f" (noise {_num(v.get('ece_noise'))})")
            rows.append([
                escape(kind), escape(role + ("" if version is None else f" ({version})")), str(v.get("n", "–")),
                " / ".join(_num(lat[q]["value"] if q in lat else None, ".1f") for q in ("p50", "p95", "p99")),
                _num(v.get("accuracy")), ece, _num(v.get("brier")), str(v.get("n_calibration", "–")), psi,
            ])  # fmt: skip
    return rows


def _outcome_order(names: AbstractSet[str]) -> list[str]:
    return [o for o in OUTCOMES if o in names] + sorted(names - set(OUTCOMES))


def transition_matrix(transitions: Mapping[str, int]) -> str:
    """Champion outcome (rows) against challenger outcome (columns), counts of paired requests, over
    every outcome either version had; a cell worse for the challenger (metrics.paired.worse) with
    requests in it is marked as a regression."""
    pairs = {split_transition(key): n for key, n in transitions.items()}
    rows = columns = _outcome_order({o for pair in pairs for o in pair})  # square: the diagonal is "no change"
    head = '<th scope="col">champion ↓ · challenger →</th>' + "".join(
        f'<th scope="col">{escape(c)}</th>' for c in columns
    )
    body = []
    for a in rows:
        cells = []
        for b in columns:
            n = pairs.get((a, b), 0)
            if n and worse(a, b):
                cells.append(f'<td class="num regression" title="regression: {escape(a)} → {escape(b)}">{n}</td>')
            else:
                cells.append(f'<td class="num{" same" if a == b else ""}">{n}</td>')
        body.append(f'<tr><th scope="row">{escape(a)}</th>{"".join(cells)}</tr>')
    return f'<table class="matrix"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _comparison_section(comparison: Comparison, drawn: Mapping[str, Any]) -> str:
    """The verdict and its reasons, the per-kind paired figures, each version's own, the transition
    matrices and the comparison plots."""
    kinds = ordered_kinds(comparison["kinds"])
    verdict = comparison.get("verdict")
    parts = ['<section id="comparison"><h2>Champion and challenger</h2>']
    if verdict is not None:
        parts.append(f'<p class="verdict">Verdict: <span class="{escape(verdict)}">{escape(verdict)}</span></p>')
    if reasons := comparison.get("reasons"):
        parts.append("<ul>" + "".join(f"<li>{escape(r)}</li>" for r in reasons) + "</ul>")
    share = comparison.get("share")
    versions = comparison.get("model_versions") or {}
    parts.append(_facts([
        ("challenger", escape(str(comparison.get("challenger", "–")))),
        ("mirrored", "–" if share is None else f"{100 * share:g}% of ML requests"),
        ("model versions", escape(", ".join(f"{role} {versions.get(role) or '–'}" for role in ROLES))),
    ]))  # fmt: skip
    rows = [_pair_row(kind, comparison["kinds"][kind]) for kind in kinds]
    numeric = set(range(1, len(PAIR_COLUMNS))) - {PAIR_COLUMNS.index("disagreement [95%]")}
    parts.append(f'<div class="wide">{_table(list(PAIR_COLUMNS), rows, numeric=numeric)}</div>')
    parts.append("<h3>Each version over the same requests</h3>")
    version_columns = ["kind", "version", "n", "p50 / p95 / p99 ms", "accuracy", "ECE", "Brier", "n(cal)", "PSI"]
    parts.append(f'<div class="wide">{_table(version_columns, _version_rows(comparison, kinds), {2, 4, 6, 7})}</div>')
    parts.append(f'<p class="note">{escape(comparison_legend(comparison))}.</p>')
    parts.append("<h3>Outcome transitions: champion (rows) → challenger (columns)</h3>")
    parts.append(
        '<p class="note">Shaded cells are regressions: a success for the champion (ok, rejected) that is not one '
        "for the challenger.</p>"
    )
    for kind in kinds:
        p = comparison["kinds"][kind]
        by_variant = p.get("regressions_by_variant") or {}
        variants = ", ".join(f"{escape(v)} {n}" for v, n in by_variant.items())
        parts.append(
            f'<div class="wide"><h3>{escape(kind)}</h3>{transition_matrix(p.get("transitions") or {})}'
            + (f'<p class="note">Regressions by variant: {variants}</p>' if variants else "")
            + "</div>"
        )
    parts += [_figure(drawn[i]) for i in COMPARISON_PLOT_IDS]
    return "".join(parts) + "</section>"


def _stages_section(summary: RunSummary, stage_plot: str) -> str:
    parts = ['<section id="stages"><h2>Stages</h2>']
    stages = summary.get("stages") or []
    if stages:
        rows = [[escape(s["name"]), str(s.get("users", "–")), _status("pass" if s["passed"] else "fail"),
                 "<br>".join(escape(g["message"]) for g in s.get("gates", []))] for s in stages]  # fmt: skip
        parts.append(_table(["stage", "users", "verdict", "gates"], rows, numeric={1}))
    point = summary.get("breaking_point")
    if point:
        last, first = point.get("last_passing"), point.get("first_failing")
        text = (
            f"Breaking point: last passing step <strong>{escape(last['name']) if last else 'none'}</strong>; "
            f"first failing step <strong>{escape(first['name']) if first else 'none within the plan'}</strong>."
        )
        broke = "".join(f"<li>{escape(m)}</li>" for m in point.get("broken") or [])
        parts.append(f"<p>{text}</p>" + (f"<ul>{broke}</ul>" if broke else ""))
    parts.append(stage_plot)
    return "".join(parts) + "</section>"


def _manifest_section(manifest: dict | None) -> str:
    if not manifest:
        return (
            '<section id="manifest"><h2>Manifest</h2><p class="note">No manifest was given: '
            "--ml-artifacts DIR keeps one beside the summary.</p></section>"
        )
    versions = ", ".join(f"{k} {v}" for k, v in (manifest.get("versions") or {}).items())
    files = manifest.get("files") or {}
    rows = [
        ("seed", escape(str(manifest.get("seed")))),
        ("profile sha256", f"<code>{escape(str((manifest.get('profile') or {}).get('sha256')))}</code>"),
        ("versions", escape(versions)),
        ("command", f"<code>{escape(' '.join(manifest.get('command') or []))}</code>"),
        ("workers", escape(str(manifest.get("workers")))),
        ("files", escape(", ".join(f"{v} ({k})" for k, v in files.items())) or "–"),
    ]
    if traces := manifest.get("traces"):
        rows.append(("traces", escape(", ".join(f"{k} {v}" for k, v in traces.items()))))
    raw = escape(json.dumps(manifest, indent=2))
    return (
        f'<section id="manifest"><h2>Manifest</h2>{_facts(rows)}'
        f"<details><summary>manifest.json</summary><pre>{raw}</pre></details></section>"
    )


def _figure(plot) -> str:
    title = f"<figcaption><h3>{escape(plot.title)}</h3></figcaption>"
    body = plot.svg if plot.svg is not None else f'<p class="absent">Not in this run: {escape(plot.absent)}.</p>'
    return f'<figure id="{plot.id}">{title}{body}</figure>'


def plots(summary: RunSummary, manifest: dict | None) -> dict:
    """Every plot of the page, by id (matplotlib is imported by report/plots.py, on first use)."""

    drawn = [
        render("plot-reliability", "Reliability diagram: clean against drifted", draw_reliability, summary),
        render("plot-histograms", "Prediction histograms: baseline against current", draw_histograms, summary),
        render("plot-psi", "PSI over time, with users and requests per second", draw_psi_over_time, summary),
        render("plot-latency", "Latency percentiles over time", draw_latency_over_time, summary),
        render("plot-latency-size", "Latency against payload size (oversized)", draw_latency_vs_size, summary),
        render("plot-variants", "Outcomes per malformed and oversized variant", draw_variants, summary),
        render("plot-stages", "Stage timeline", draw_stages, summary, manifest),
    ]
    if "comparison" in summary:
        drawn += [
            render("plot-disagreement", "Disagreement per payload kind, with its 95% interval", draw_disagreement,
                   summary),
            render("plot-latency-delta", "Paired latency difference: challenger − champion", draw_latency_delta,
                   summary),
        ]  # fmt: skip
    return {p.id: p for p in drawn}


def render_html(summary: RunSummary, manifest: dict | None = None) -> str:
    """The whole page."""
    drawn = plots(summary, manifest)
    name = ((summary.get("run") or {}).get("profile") or {}).get("name", "run")
    when = (manifest or {}).get("started") or ""
    comparison = summary.get("comparison")
    anchors = [("summary", "Summary"), ("gates", "Gates"), ("kinds", "Kinds"), ("quality", "Quality"),
               ("load", "Load"), ("stages", "Stages"), ("manifest", "Manifest")]  # fmt: skip
    if comparison is not None:
        anchors.insert(3, ("comparison", "Comparison"))
    nav = "".join(f'<a href="#{a}">{t}</a>' for a, t in anchors)
    quality = "".join(_figure(drawn[i]) for i in ("plot-reliability", "plot-histograms", "plot-psi"))
    load = "".join(_figure(drawn[i]) for i in ("plot-latency", "plot-latency-size", "plot-variants"))
    css = CSS if comparison is None else CSS + COMPARISON_CSS
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>locust-mlstress report: {escape(name)}</title>",
        f"<style>{css}</style></head><body>",
        f"<header><h1>locust-mlstress report: {escape(name)}</h1>",
        f'<p class="sub">{escape(when)}</p><nav>{nav}</nav></header>',
        _summary_section(summary, manifest),
        _gates_section(summary),
        _kinds_section(summary),
        *([] if comparison is None else [_comparison_section(comparison, drawn)]),
        f'<section id="quality"><h2>Quality</h2>{quality}</section>',
        f'<section id="load"><h2>Load</h2>{load}</section>',
        _stages_section(summary, _figure(drawn["plot-stages"])),
        _manifest_section(manifest),
        "</body></html>",
        "",
    ])  # fmt: skip


def write_html(path: str | Path, summary: RunSummary, manifest: dict | None = None) -> Path:
    return write_page(path, render_html(summary, manifest))


def write_page(path: str | Path, text: str) -> Path:
    """A rendered page to `path`, creating its directory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SavedRunError(f"{path} is not valid JSON ({exc}); was the run interrupted while writing it?") from exc
    except OSError as exc:
        raise SavedRunError(f"cannot read {path}: {exc.strerror}") from exc
    if not isinstance(data, dict):
        raise SavedRunError(f"{path} holds a JSON {type(data).__name__}, not an object")
    return data


def rerender(directory: str | Path, output: str | Path | None = None) -> Path:
    """The report of a run saved by `--ml-artifacts DIR`, written again (to DIR/report.html by default)."""
    directory = Path(directory)
    summary_path = directory / "ml_summary.json"
    if not directory.is_dir():
        raise SavedRunError(f"{directory} is not a directory; give the DIR a run wrote with --ml-artifacts DIR")
    if not summary_path.is_file():
        raise SavedRunError(f"{directory} has no ml_summary.json; give the DIR a run wrote with --ml-artifacts DIR")
    summary = _read_json(summary_path)
    if not isinstance(summary.get("kinds"), dict):
        raise SavedRunError(f"{summary_path} is not an ML summary (it has no 'kinds' object)")
    version = summary.get("schema_version", 1)  # written before the field existed: version 1's fields
    if not isinstance(version, int) or isinstance(version, bool) or version > SCHEMA_VERSION:
        raise SavedRunError(
            f"{summary_path} has schema_version {version!r}, newer than the {SCHEMA_VERSION} this locust-mlstress "
            "reads; render it with the version that wrote it (its manifest.json names it), or upgrade"
        )
    manifest_path = directory / "manifest.json"
    manifest = _read_json(manifest_path) if manifest_path.is_file() else None
    try:
        text = render_html(cast(RunSummary, summary), manifest)  # trusted as it renders: a bad field is caught below
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:  # a field of the wrong type or missing
        raise SavedRunError(
            f"{summary_path} is not an ML summary this version can read ({type(exc).__name__}: {exc}); "
            "was it edited by hand or written by another version? Write it again with a run"
        ) from exc
    target = output if output is not None else directory / "report.html"
    try:
        return write_page(target, text)
    except OSError as exc:
        raise SavedRunError(f"cannot write {target}: {exc.strerror or exc}; give another path with -o") from exc


def report_command(directory: str, output: str | None) -> int:
    """`mlstress report DIR [-o PATH]`: 0 with the page written, 2 with a message naming the problem."""
    try:
        path = rerender(directory, output)
    except SavedRunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"HTML report written to {path}")
    return 0
