"""The summary as files: JSON for machines (`--ml-json`), one CSV row per window and kind
(`--ml-csv PREFIX`, beside Locust's own `PREFIX_stats.csv`). KS from binned counts is a lower
bound, so the CSV carries its upper bound beside it (`ks`, `ks_upper`)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from locust_mlstress.domain.outcomes import SUCCESSES
from locust_mlstress.domain.summary import LiveSummary, RunSummary

WINDOW_COLUMNS = (
    "window", "start_s", "end_s", "kind", "requests", "ok", "rejected", "failed", "psi", "js", "ks", "ks_upper",
    "shift_n", "shift_significant", "ece", "mce", "brier", "calibration_n", "p50_ms", "p95_ms", "p99_ms",
)  # fmt: skip


def write_json(path: str | Path, summary: RunSummary) -> None:
    Path(path).write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")


def window_rows(summary: LiveSummary) -> list[dict]:
    rows = []
    for w in summary["windows"]:
        outcomes, lat = w["outcomes"], w["latency_ms"]
        shift: Mapping[str, Any] = w["shift"] or {}
        cal: Mapping[str, Any] = w["calibration"] or {}
        rows.append(
            {
                "window": w["window"], "start_s": w["start_s"], "end_s": w["end_s"], "kind": w["kind"],
                "requests": w["requests"], "ok": outcomes.get("ok", 0), "rejected": outcomes.get("rejected", 0),
                "failed": sum(n for o, n in outcomes.items() if o not in SUCCESSES),
                "psi": shift.get("psi"), "js": shift.get("js"), "ks": shift.get("ks"),
                "ks_upper": shift.get("ks_upper"), "shift_n": shift.get("n"),
                "shift_significant": shift.get("significant"), "ece": cal.get("ece"), "mce": cal.get("mce"),
                "brier": cal.get("brier"), "calibration_n": cal.get("n"), "p50_ms": lat.get("p50"),
                "p95_ms": lat.get("p95"), "p99_ms": lat.get("p99"),
            }
        )  # fmt: skip
    return rows


def write_rows(stream: IO[str], columns: Sequence[str], rows: Iterable[dict]) -> None:
    """Rows as CSV onto an open text stream, under a header of `columns`; None as an empty cell."""
    writer = csv.DictWriter(stream, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})


def write_window_csv(stream: IO[str], summary: LiveSummary) -> None:
    """The window rows as CSV onto an open text stream: a file here, a download in the web UI."""
    write_rows(stream, WINDOW_COLUMNS, window_rows(summary))


def write_csv(path: str | Path, summary: LiveSummary) -> Path:
    """The window rows as a CSV file at `path`."""
    path = Path(path)
    with path.open("w", newline="") as f:
        write_window_csv(f, summary)
    return path
