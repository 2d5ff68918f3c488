"""The end-of-run summary on the console: per payload kind, outcomes, shift, calibration, accuracy,
latency and a verdict, in lines of at most `WIDTH` characters.

Two tables, not one: the figures a reader acts on (the main table), then the counts and bounds
behind them (the detail table), so neither runs past 120 columns. Every cell is fitted to its
column (numbers lose decimals, then go to exponent form; names are cut with "…"), and columns
are separated by at least one space, so no value can run into the next one whatever the figures.
Notes under the tables are wrapped to the same width. The web UI's ML tab shows the same cells
(`kind_cells`). Newer summary keys (`accuracy`, `calibration_reason`, `fixed_batch`, the
baseline's `too_small`) are read with .get(): an older summary prints without them.

With a challenger, `format_comparison` prints a third table the same way: the paired figures per
kind (`pair_cells`), the verdict and its reasons, and the notes behind them.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from locust_mlstress.domain.outcomes import OUTCOMES, SUCCESSES
from locust_mlstress.domain.summary import Comparison, KindFigures, LiveSummary, PairFigures, RunSummary, VersionFigures
from locust_mlstress.metrics.paired import worse

WIDTH = 120  # the widest line format_summary prints
NOISE_PSI = 0.1  # PSI from this up reads as a shift; "stable (noise)" says it is within the noise


@dataclass(frozen=True)
class Column:
    name: str
    width: int
    left: bool = False  # text columns read left-aligned, numbers right-aligned
    gap: int = 1  # spaces before the column


MAIN = (
    Column("kind", 12, left=True), Column("requests", 8), Column("ok", 6), Column("rejected", 8), Column("failed", 6),
    Column("PSI", 6), Column("KS", 6), Column("ECE", 7), Column("Brier", 6), Column("accuracy", 8),
    Column("p50 ms", 8), Column("p99 ms", 8), Column("verdict", 14, left=True, gap=2),
)  # fmt: skip
DETAIL = (
    Column("kind", 12, left=True), Column("n(shift)", 8), Column("n(ref)", 8), Column("JS", 6),
    Column("KS range", 11), Column("MCE", 6), Column("n(cal)", 8), Column("accuracy 95%", 12), Column("p95 ms", 8),
)  # fmt: skip
WIDTHS = {c.name: c.width for c in (*MAIN, *DETAIL)}


def _fit_number(x: float | None, width: int, decimals: int = 3, *, sign: bool = False) -> str:
    """`x` with as many of `decimals` as fit in `width`, else in exponent form; "-" for None.
    `sign` writes "+" before a positive value, for differences."""
    if x is None:
        return "-"
    plus = "+" if sign else ""
    for d in range(decimals, -1, -1):
        text = f"{x:{plus}.{d}f}"
        if len(text) <= width:
            return text
    return f"{x:{plus}.0e}"  # "1e+09": 5 characters, whatever the size (6 with a sign)


def _count(n: int | None, width: int) -> str:
    if n is None:
        return "-"
    text = str(n)
    return text if len(text) <= width else f"{n:.0e}"


def _pct(part: int, whole: int) -> str:
    return "-" if whole == 0 else f"{100 * part / whole:.1f}%"


def _cut(text: str, width: int) -> str:
    """`text` cut to `width` characters, the cut marked with "…"."""
    return text if len(text) <= width else text[: width - 1] + "…"


def figure(k: KindFigures, key: Literal["shift", "calibration", "accuracy", "latency_ms"]) -> Mapping[str, Any]:
    """One of a kind's figures, empty where it is None (not computed), to read cell by cell with
    `.get`: a table shows "-" for what is missing rather than failing on it."""
    found = k.get(key)
    return found if found is not None else {}


def _verdict(k: KindFigures) -> str:
    """The shift verdict; "(noise)" added when the PSI alone would read as a shift but is within
    the noise of its counts; "fixed batch" for figures of one batch resent."""
    if k.get("fixed_batch"):
        return "fixed batch"
    shift = figure(k, "shift")
    verdict = shift.get("verdict") or "-"
    psi = shift.get("psi")
    if verdict == "stable" and psi is not None and psi >= NOISE_PSI and not shift.get("significant"):
        verdict += " (noise)"
    return verdict


def _ece(k: KindFigures) -> str:
    """ECE, starred when above the noise of a calibrated model; "labels" (or "mixed") when the
    answers were class labels and calibration was left out (the notes say why)."""
    cal = k.get("calibration")
    if cal is None and k.get("calibration_reason"):
        return "mixed" if k.get("answers") == "mixed" else "labels"
    found = figure(k, "calibration")
    return _fit_number(found.get("ece"), WIDTHS["ECE"] - 1) + ("*" if found.get("significant") else "")


def _range(lo: float | None, hi: float | None, width: int) -> str:
    if lo is None:
        return "-"
    if hi is None:
        return "≥" + _fit_number(lo, width - 1)
    half = (width - 1) // 2
    return f"{_fit_number(lo, half)}–{_fit_number(hi, half)}"


def _latency_cell(latency: Mapping[str, Any], q: str, width: int) -> str:
    """A percentile; '!' after it when the load generator was saturated (the notes say how)."""
    if latency.get("unreliable") and latency.get(q) is not None:
        return _fit_number(latency[q], width - 1, 1) + "!"
    return _fit_number(latency.get(q), width, 1)


def kind_cells(kind: str, k: KindFigures) -> dict[str, str]:
    """One kind's figures as text, keyed by column name (both tables' columns, and `note`, the web
    UI's): the console tables and the web UI's ML tab show the same numbers the same way."""
    outcomes, n = k.get("outcomes") or {}, k.get("requests", 0)
    failed = sum(c for o, c in outcomes.items() if o not in SUCCESSES)
    shift, cal, lat = figure(k, "shift"), figure(k, "calibration"), figure(k, "latency_ms")
    accuracy = figure(k, "accuracy")
    interval: tuple[float | None, float | None] = tuple(accuracy.get("interval") or (None, None))
    ks = shift.get("ks")
    w = WIDTHS
    return {
        "kind": kind,
        "requests": _count(n, w["requests"]),
        "ok": _pct(outcomes.get("ok", 0), n),
        "rejected": _pct(outcomes.get("rejected", 0), n),
        "failed": _pct(failed, n),
        "PSI": _fit_number(shift.get("psi"), w["PSI"]),
        "KS": "-" if ks is None else "≥" + _fit_number(ks, w["KS"] - 1),
        "ECE": _ece(k),
        "Brier": _fit_number(cal.get("brier"), w["Brier"]),
        "accuracy": _fit_number(accuracy.get("accuracy"), w["accuracy"]),
        "p50 ms": _latency_cell(lat, "p50", w["p50 ms"]),
        "p99 ms": _latency_cell(lat, "p99", w["p99 ms"]),
        "verdict": _verdict(k),
        "n(shift)": _count(shift.get("n"), w["n(shift)"]),
        "n(ref)": _count(shift.get("n_reference"), w["n(ref)"]),
        "JS": _fit_number(shift.get("js"), w["JS"]),
        "KS range": _range(ks, shift.get("ks_upper"), w["KS range"]),
        "MCE": _fit_number(cal.get("mce"), w["MCE"]),
        "n(cal)": _count(cal.get("n"), w["n(cal)"]),
        "accuracy 95%": _range(*interval, w["accuracy 95%"]) if interval[0] is not None else "-",
        "p95 ms": _latency_cell(lat, "p95", w["p95 ms"]),
        "note": kind_note(kind, k),
    }


def kind_note(kind: str, k: KindFigures) -> str:
    """What one kind's row needs said beside it, in one line (the web UI's `note` column; the
    console says the same in its notes): calibration left out for label answers, with the fix; a
    fixed batch; a shift too underpowered to judge, with the baseline size that would do."""
    notes = []
    if k.get("calibration") is None and (reason := k.get("calibration_reason")):
        why, _, fix = reason.partition(" — ")
        notes.append(f"ECE not computed: {why}" + (f". Fix: {fix}" if fix else ""))
    shift = figure(k, "shift")
    if k.get("fixed_batch"):
        notes.append("one fixed batch per variant, resent: no significance, no verdict")
    elif shift.get("underpowered"):
        need = shift.get("min_n_reference")
        if kind == "clean" and need:
            notes.append(f"baseline too small to call it stable: it needs {need} predictions (e.g. --ml-warmup={need})")
        else:
            notes.append("too few predictions to tell a moderate shift from noise: run longer")
    return "; ".join(notes)


def _row(columns: tuple[Column, ...], cells: dict[str, str]) -> str:
    parts = []
    for i, c in enumerate(columns):
        text = _cut(cells[c.name], c.width)
        parts.append((" " * c.gap if i else "") + (f"{text:<{c.width}}" if c.left else f"{text:>{c.width}}"))
    return "".join(parts).rstrip()


def _table(title: str, columns: tuple[Column, ...], kinds: dict[str, KindFigures]) -> list[str]:
    return _grid(title, columns, [kind_cells(kind, k) for kind, k in kinds.items()])


def _grid(title: str, columns: tuple[Column, ...], rows: list[dict[str, str]]) -> list[str]:
    """A titled table: the header, a rule as long as it, then one line per row of cells."""
    header = _row(columns, {c.name: c.name for c in columns})
    return [title, header, "-" * len(header)] + [_row(columns, cells) for cells in rows]


def _wrap(text: str, indent: str = "  ") -> list[str]:
    """One note as lines of at most WIDTH characters, continuation lines indented."""
    return textwrap.wrap(text, WIDTH, subsequent_indent=indent, break_on_hyphens=False) or [""]


def format_summary(summary: RunSummary) -> str:
    """The whole console summary: main table, detail table, notes, variant outcome counts."""
    kinds = summary["kinds"]
    lines = _table("ML quality per payload kind", MAIN, kinds)
    lines += [""] + _table("detail: counts, KS bounds, accuracy interval", DETAIL, kinds)
    notes = [note for note in table_notes(summary) if note] + console_notes(summary)
    lines.append("")
    for note in notes:
        lines += _wrap(note)
    for kind in ("malformed", "oversized"):
        variants = kinds[kind]["variants"] if kind in kinds else None
        if variants:
            lines += ["", f"{kind} variants: outcome counts"]
            for variant, counts in variants.items():
                lines += _variant_lines(variant, counts)
    return "\n".join(lines)


VARIANT_NAME = 26  # the variant name column of the outcome counts


def _variant_lines(variant: str, counts: dict) -> list[str]:
    """'  name                      ok 3, rejected 4': a name longer than its column gets a line of
    its own (cut at WIDTH), the counts go under it; long counts wrap under themselves."""
    detail = ", ".join(f"{o} {counts[o]}" for o in OUTCOMES if counts.get(o)) or "-"
    pad = " " * (2 + VARIANT_NAME)
    if len(variant) < VARIANT_NAME:
        first = f"  {variant:<{VARIANT_NAME}}"
        return textwrap.wrap(detail, WIDTH, initial_indent=first, subsequent_indent=pad) or [first.rstrip()]
    return [_cut("  " + variant, WIDTH)] + textwrap.wrap(detail, WIDTH, initial_indent=pad, subsequent_indent=pad)


def table_notes(summary: RunSummary) -> list[str]:
    """The notes under the table, shared with the HTML report: what the shift figures compare
    with, and how to read them. One string per note, unwrapped (each display wraps its own)."""
    notes = []
    b = summary["baseline"]
    if b["mode"] == "file":
        notes.append(f"shift baseline: saved file {b.get('path', '')} ({b['n']} clean predictions)")
    else:
        w = b["warmup"]
        span = f"first {w['seconds']:g} s" if w["seconds"] is not None else f"first {w['predictions']} predictions"
        notes.append(
            f"shift baseline: clean traffic of this run (n={b['clean_n']}); clean itself against its "
            f"warm-up, the {span} (n={w['n']})"
        )
    notes.append(
        "PSI verdict: stable < 0.1 <= moderate < 0.25 <= major, and 'stable' whenever PSI is within the noise "
        "expected for its sample counts ('stable (noise)' when that PSI is 0.1 or more), 'insufficient' when the "
        "counts are too few to tell even a moderate shift from noise; ECE* is above the noise of a calibrated "
        "model at its count (docs/metrics.md)"
    )
    probe = summary["kinds"]["probe"]["consistency"] if "probe" in summary["kinds"] else None
    if probe:
        notes.append(
            f"consistency: {probe['probes']} resent payloads, flip rate {_fit_number(probe['flip_rate'], 8, 4)}, "
            f"largest score change {'-' if probe['max_abs_diff'] is None else format(probe['max_abs_diff'], '.4g')}"
        )
    workers = summary.get("workers")
    if workers and workers.get("missing"):
        notes.append(
            "workers missing at the end (their data after their last report is lost): " + ", ".join(workers["missing"])
        )
    notes += generator_notes(summary)
    return [""] + notes


def generator_notes(summary: LiveSummary) -> list[str]:
    """Whether the load generator, not the server, set the pace (quality/generator.py)."""
    generator = summary.get("generator")
    if generator is None:
        return []
    if generator["bottleneck"]:
        return [
            f"latency marked ! is unreliable: {generator['reason']}; latency gates are inconclusive. Spread the "
            "users over more workers, or fewer users per worker (docs/distributed.md)"
        ]
    limits = generator["thresholds"]
    least = lambda p: max(limits["min_saturated_s"], limits["min_saturated_share"] * p["seconds"])  # noqa: E731
    processes = generator["processes"].items()
    busy = [f"{source} {p['cpu_bound_s']} s" for source, p in processes if p["cpu_bound_s"] >= least(p)]
    if busy:
        return [
            f"load generator at {limits['cpu_bound']:.0%} or more of a core ({', '.join(busy)}): its event loop kept "
            "up, so latency stands, but the request rate may be the generator's limit, not the server's"
        ]
    return []


def console_notes(summary: RunSummary) -> list[str]:
    """The console's own notes (the HTML report words these its own way): a baseline too small,
    KS as a bound, a fixed batch, and calibration left out for label answers, with the fix."""
    kinds = summary["kinds"]
    baseline = summary["baseline"]
    notes = []
    if baseline.get("too_small"):
        n = baseline["warmup"]["n"] if "warmup" in baseline else baseline.get("n")
        need = baseline.get("min_n")
        if need is None:
            fix = "clean traffic after it is too short as well: run longer"
        elif baseline.get("mode") == "file":
            fix = f"save a baseline of at least {need} clean predictions (--ml-save-baseline on a longer run)"
        else:
            fix = f"warm up on at least {need} predictions (--ml-warmup={need}), ramp up faster (-r) or run longer"
        notes.append(
            f"baseline too small: clean's baseline holds {n} predictions, too few to call clean traffic stable (a "
            f"moderate PSI of 0.1 would still sit inside the noise), so its verdict is 'insufficient'; {fix}"
        )
    if any((shift := k.get("shift")) is not None and shift["ks"] is not None for k in kinds.values()):
        notes.append(
            "KS≥: KS from binned predictions is a lower bound; the detail's KS range runs up to the most the "
            "counts allow"
        )
    by_reason: dict[str, list[str]] = {}
    for kind, k in kinds.items():
        if k.get("calibration") is None and (reason := k.get("calibration_reason")):
            by_reason.setdefault(reason, []).append(kind)
    for reason, names in by_reason.items():
        why, _, fix = reason.partition(" — ")
        accuracy = [f"{kind} {_fit_number(a['accuracy'], 5)}" for kind in names if (a := kinds[kind]["accuracy"])]
        notes.append(
            f"{', '.join(names)}: ECE and Brier not computed: {why}"
            + (f"; accuracy instead: {', '.join(accuracy)}" if accuracy else "")
            + (f". Fix: {fix}" if fix else "")
        )
    fixed = [kind for kind, k in kinds.items() if k.get("fixed_batch")]
    if fixed:
        notes.append(
            f"{', '.join(fixed)}: one fixed batch per variant, sent again and again: its shift, calibration and "
            "accuracy describe those rows, so they carry no significance and no verdict"
        )
    return notes


COMPARE = (
    Column("kind", 12, left=True), Column("pairs", 8), Column("compared", 8), Column("disagreement 95%", 20),
    Column("mean |Δ|", 8), Column("regressions", 11), Column("Δp50 ms", 8), Column("Δp99 ms", 8),
    Column("Δaccuracy", 9), Column("McNemar p", 9),
)  # fmt: skip
COMPARE_WIDTHS = {c.name: c.width for c in COMPARE}
ROLES = ("champion", "challenger")


def share_interval(value: float | None, ci: list[float] | None, width: int) -> str:
    """'3.0% [2.7–3.4]': a share and its interval in percent. One decimal, two while the interval
    stays under 1% (a disagreement of 0.04% would read 0.0%), fewer when they do not fit; "-" for None."""
    if value is None:
        return "-"
    most = 2 if max([value, *(ci or [])]) < 0.01 else 1
    for d in range(most, -1, -1):
        text = f"{100 * value:.{d}f}%" + (f" [{100 * ci[0]:.{d}f}–{100 * ci[1]:.{d}f}]" if ci else "")
        if len(text) <= width or d == 0:
            return text
    raise AssertionError("unreachable")  # the loop returns at d == 0


def _p_value(p: float | None, width: int) -> str:
    """McNemar's p: three decimals, and exponent form below 0.001, where decimals would read 0."""
    if p is None:
        return "-"
    return _fit_number(p, width) if p >= 0.001 else f"{p:.0e}"


def pair_cells(kind: str, p: PairFigures) -> dict[str, str]:
    """One kind's champion/challenger figures as text, keyed by the comparison table's column names.
    Read with .get like `kind_cells`: a figure still missing (a live summary) shows "-"."""
    w = COMPARE_WIDTHS
    delta: Mapping[str, Any] = p.get("percentile_delta_ms") or {}  # what the p50/p99_delta_ms gates read
    accuracy = p.get("accuracy_delta") or {}
    labelled = bool(p.get("n_labelled"))
    return {
        "kind": kind,
        "pairs": _count(p.get("n_pairs"), w["pairs"]),
        "compared": _count(p.get("n_compared"), w["compared"]),
        "disagreement 95%": share_interval(p.get("disagreement"), p.get("disagreement_ci"), w["disagreement 95%"]),
        "mean |Δ|": _fit_number(p.get("mean_abs_diff"), w["mean |Δ|"]),
        "regressions": _count(p.get("regressions"), w["regressions"]),
        "Δp50 ms": _fit_number((delta.get("p50") or {}).get("value"), w["Δp50 ms"], 2, sign=True),
        "Δp99 ms": _fit_number((delta.get("p99") or {}).get("value"), w["Δp99 ms"], 2, sign=True),
        "Δaccuracy": _fit_number(accuracy.get("value") if labelled else None, w["Δaccuracy"], sign=True),
        "McNemar p": _p_value(p.get("mcnemar_p") if labelled else None, w["McNemar p"]),
    }


def split_transition(key: str) -> tuple[str, str]:
    """ "rejected->accepted_malformed" as (champion outcome, challenger outcome)."""
    champion, _, challenger = key.partition("->")
    return champion, challenger


def _version_name(comparison: Comparison, role: str) -> str:
    version = (comparison.get("model_versions") or {}).get(role)
    return role if version is None else f"{role} ({version})"


def _version_figures(v: VersionFigures, own_reason: bool) -> str:
    """One version's figures of a kind, those it has; its shift reason when it has one of its own."""
    ece, noise = v.get("ece"), v.get("ece_noise")
    latency = v.get("latency_ms") or {}
    named: list[tuple[str, float | None, str]] = [
        ("accuracy", v.get("accuracy"), ""),
        ("ECE", ece, "" if ece is None or noise is None else f" (noise {_fit_number(noise, 8)})"),
        ("Brier", v.get("brier"), ""),
        ("PSI", v.get("psi"), ""),
    ]
    parts = [f"{name} {_fit_number(value, 8)}{extra}" for name, value, extra in named if value is not None]
    for q in ("p50", "p99"):
        if (value := latency[q].get("value") if q in latency else None) is not None:
            parts.append(f"{q} {_fit_number(value, 10, 1)} ms")
    if own_reason and v.get("psi") is None and v.get("shift_reason"):
        parts.append(f"PSI not computed: {v['shift_reason']}")
    return ", ".join(parts) or "no figures"


def comparison_legend(comparison: Comparison) -> str:
    """What the comparison compares and how to read its columns (shared with the HTML report)."""
    share = comparison.get("share")
    return (
        f"challenger {comparison.get('challenger', '-')} against the champion"
        + ("" if share is None else f", {100 * share:g}% of ML requests mirrored to both")
        + "; Δ = challenger − champion. disagreement: share of the payloads answered by both whose predictions "
        "differ (Wilson 95%); Δp50/Δp99: the challenger's latency percentile minus the champion's, over the same "
        "payloads (what p50_delta_ms/p99_delta_ms gates read; the per-request differences are in the HTML report "
        "and latency_delta_ms); Δaccuracy and McNemar p over labelled pairs"
    )


def comparison_notes(comparison: Comparison) -> list[str]:
    """The notes under the comparison table, one string per note, unwrapped: what is compared, then
    per kind why disagreement is missing, the transitions where the outcomes differ (regressions
    marked), regressions by variant, and each version's own figures."""
    notes = [comparison_legend(comparison)]
    for kind, p in comparison.get("kinds", {}).items():
        if p.get("disagreement") is None:
            why = "no payload had a prediction from both versions" if not p.get("n_compared") else "not computed"
            notes.append(f"{kind}: disagreement -: {why}")
        moved = [(key, n) for key, n in p.get("transitions", {}).items() if len(set(split_transition(key))) == 2]
        if moved:
            cells = [f"{key} {n}" + (" (regression)" if worse(*split_transition(key)) else "")
                     for key, n in sorted(moved, key=lambda item: -item[1])]  # fmt: skip
            notes.append(f"{kind} transitions, champion->challenger: " + ", ".join(cells))
        if by_variant := p.get("regressions_by_variant"):
            notes.append(f"{kind} regressions by variant: " + ", ".join(f"{v} {n}" for v, n in by_variant.items()))
        versions = p.get("versions") or {}
        reasons = {v.get("shift_reason") if v.get("psi") is None else None for v in versions.values()}
        shared = reasons.pop() if len(reasons) == 1 and len(versions) > 1 else None
        parts = [f"{_version_name(comparison, role)} {_version_figures(versions[role], shared is None)}"
                 for role in ROLES if role in versions]  # fmt: skip
        if parts:
            both = f"; PSI of both not computed: {shared}" if shared else ""
            notes.append(f"{kind} by version: " + "; ".join(parts) + both)
    return notes


def format_comparison(comparison: Comparison) -> str:
    """The console's champion/challenger table, printed after the ML table: one row per kind, the
    verdict with its reasons (present at the end of a run), then the notes, all within WIDTH."""
    kinds = comparison.get("kinds", {})
    lines = _grid("champion and challenger per payload kind", COMPARE, [pair_cells(k, p) for k, p in kinds.items()])
    if "verdict" in comparison or comparison.get("reasons"):
        lines += ["", f"verdict: {str(comparison.get('verdict', '-')).upper()}"]
        for reason in comparison.get("reasons", []):
            lines += _wrap(f"  - {reason}", indent="    ")
    lines.append("")
    for note in comparison_notes(comparison):
        lines += _wrap(note)
    return "\n".join(lines)
