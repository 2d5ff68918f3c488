"""The end-of-run table: per payload kind, outcomes, shift, calibration, latency and a verdict."""

from __future__ import annotations

from ..outcomes import OUTCOMES, SUCCESSES


def _num(x: float | None, fmt: str = ".3f") -> str:
    return "-" if x is None else format(x, fmt)


def _pct(part: int, whole: int) -> str:
    return "-" if whole == 0 else f"{100 * part / whole:.1f}%"


COLUMNS = (
    ("kind", 10), ("requests", 9), ("ok", 7), ("rejected", 9), ("failed", 7), ("PSI", 7), ("JS", 7),
    ("KS", 7), ("n(shift)", 9), ("ECE", 7), ("MCE", 7), ("Brier", 7), ("n(cal)", 7),
    ("p50 ms", 8), ("p95 ms", 8), ("p99 ms", 8), ("verdict", 13),
)  # fmt: skip


def kind_cells(kind: str, k: dict) -> dict[str, str]:
    """One kind's figures as text, keyed by column name: the console table and the web UI's ML tab
    show the same numbers the same way."""
    outcomes, n = k["outcomes"], k["requests"]
    failed = sum(c for o, c in outcomes.items() if o not in SUCCESSES)
    shift, cal, lat = k["shift"] or {}, k["calibration"] or {}, k["latency_ms"]
    verdict = shift.get("verdict", "-")
    if shift.get("psi") is not None and not shift.get("significant"):
        verdict += " (noise)" if shift["psi"] >= 0.1 else ""
    cells = [
        kind, str(n), _pct(outcomes.get("ok", 0), n), _pct(outcomes.get("rejected", 0), n), _pct(failed, n),
        _num(shift.get("psi")), _num(shift.get("js")), _num(shift.get("ks")), str(shift.get("n", "-")),
        _num(cal.get("ece")) + ("*" if cal.get("significant") else ""), _num(cal.get("mce")),
        _num(cal.get("brier")), str(cal.get("n", "-")),
        _num(lat.get("p50"), ".1f"), _num(lat.get("p95"), ".1f"), _num(lat.get("p99"), ".1f"), verdict,
    ]  # fmt: skip
    return dict(zip((name for name, _ in COLUMNS), cells, strict=True))


def format_summary(summary: dict) -> str:
    header = "".join(f"{name:>{w}}" if i else f"{name:<{w}}" for i, (name, w) in enumerate(COLUMNS))
    lines = ["ML quality per payload kind", header, "-" * len(header)]
    for kind, k in summary["kinds"].items():
        cells = kind_cells(kind, k).values()
        lines.append(
            "".join(f"{c:>{w}}" if i else f"{c:<{w}}" for i, (c, (_, w)) in enumerate(zip(cells, COLUMNS, strict=True)))
        )
    lines += table_notes(summary)
    for kind in ("malformed", "oversized"):
        variants = summary["kinds"].get(kind, {}).get("variants")
        if variants:
            lines += ["", f"{kind} variants: outcome counts"]
            for variant, counts in variants.items():
                detail = ", ".join(f"{o} {counts[o]}" for o in OUTCOMES if counts.get(o))
                lines.append(f"  {variant:<26}{detail}")
    return "\n".join(lines)


def table_notes(summary: dict) -> list[str]:
    """The lines under the table: what the shift figures compare with, and how to read them."""
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
        "expected for its sample counts; ECE* is above the noise of a calibrated model at its count (docs/metrics.md)"
    )
    probe = summary["kinds"].get("probe", {}).get("consistency")
    if probe:
        notes.append(
            f"consistency: {probe['probes']} resent payloads, flip rate {_num(probe['flip_rate'], '.4f')}, "
            f"largest score change {_num(probe['max_abs_diff'], '.4g')}"
        )
    workers = summary.get("workers")
    if workers and workers.get("missing"):
        notes.append(
            "workers missing at the end (their data after their last report is lost): " + ", ".join(workers["missing"])
        )
    return [""] + notes
