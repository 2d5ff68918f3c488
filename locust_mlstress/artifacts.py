"""The files a run leaves behind: `--ml-json`, `--ml-csv`, `--ml-manifest`, `--ml-artifacts DIR`.

`--ml-artifacts DIR` gathers everything in one place:

    DIR/manifest.json        the run record (report/manifest.py)
    DIR/ml_summary.json      the ML summary (docs/reports.md)
    DIR/ml_windows.csv       one row per window and kind
    DIR/locust_stats.csv, locust_failures.csv, locust_exceptions.csv   Locust's own tables
    DIR/locust_report.html   Locust's HTML report (unless --html names another file)
    DIR/traces.jsonl         a sample of requests (--ml-trace-rate)
    DIR/report.html          the HTML report with plots (report/html.py), also written by --ml-html PATH
"""

from __future__ import annotations

import csv
import json
import logging
import time
from pathlib import Path

from locust.env import Environment
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

from .report.files import write_csv, write_json
from .report.manifest import build_manifest, current_argv
from .runtime import extra_headers, option

logger = logging.getLogger("locust_mlstress")


def prepare(environment: Environment) -> Path | None:
    """At init: create the directory and point Locust's HTML report into it (Locust writes the
    report before `quitting`, from the option's value at that time)."""
    directory = option(environment, "ml_artifacts")
    if not directory:
        return None
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    if environment.parsed_options is not None and not getattr(environment.parsed_options, "html_file", None):
        environment.parsed_options.html_file = str(path / "locust_report.html")
    return path


def _locust_csv(environment: Environment, directory: Path) -> dict[str, str]:
    stats_csv = StatsCSV(environment, PERCENTILES_TO_REPORT)
    files = {}
    for name, method in (("stats", stats_csv.requests_csv), ("failures", stats_csv.failures_csv),
                         ("exceptions", stats_csv.exceptions_csv)):  # fmt: skip
        path = directory / f"locust_{name}.csv"
        with path.open("w", newline="") as f:
            method(csv.writer(f))
        files[f"locust_{name}"] = path.name
    return files


def secrets_of(environment: Environment, profile) -> list[str]:
    values = [h.value for h in profile.target.headers if h.secret and h.value]
    return values + [v for v in extra_headers(environment).values() if v]


def write_outputs(environment: Environment, run, summary: dict, gates: list[dict]) -> None:
    """Every file the options ask for; the manifest names the files it sits beside."""
    if path := option(environment, "ml_json"):
        write_json(path, summary)
    if prefix := option(environment, "ml_csv"):
        write_csv(f"{prefix}_ml_windows.csv", summary)
    directory = option(environment, "ml_artifacts")
    files: dict[str, str] = {}
    if directory:
        directory = Path(directory)
        write_json(directory / "ml_summary.json", summary)
        files["ml_summary"] = "ml_summary.json"
        write_csv(directory / "ml_windows.csv", summary)
        files["ml_windows"] = "ml_windows.csv"
        files |= _locust_csv(environment, directory)
        html = getattr(environment.parsed_options, "html_file", None)
        if html and Path(html).exists():
            files["locust_html"] = str(html)
        if run.trace_file is not None:
            files["traces"] = run.trace_file.path.name
    html_paths = [Path(p) for p in (option(environment, "ml_html"), directory and directory / "report.html") if p]
    if html_paths:
        files["ml_html"] = "report.html" if directory else str(html_paths[0])
    manifest_path = option(environment, "ml_manifest") or (directory / "manifest.json" if directory else None)
    manifest = None
    if manifest_path or html_paths:  # the HTML report shows the manifest, even when none is written
        manifest = build_manifest(
            run.profile,
            argv=current_argv(),
            secrets=secrets_of(environment, run.profile),
            host=environment.host,
            started=getattr(environment, "mlstress_started", None),
            ended=time.time(),
            workers=len(summary.get("workers", {}).get("reported", [])),  # who sent data (0: local run)
            stages=list(getattr(environment.shape_class, "timeline", [])),
            gates=gates,
            model_version=run.model_version,
            files=files,
        )
        if run.trace_file is not None:
            manifest["traces"] = {"written": run.trace_file.written, "dropped": run.trace_file.dropped,
                                  "rate": float(option(environment, "ml_trace_rate", 0.01))}  # fmt: skip
    if html_paths:
        _write_html(html_paths, summary, manifest)
    if manifest_path:
        Path(manifest_path).write_text(json.dumps(manifest, indent=2) + "\n")


def _write_html(paths: list[Path], summary: dict, manifest: dict) -> None:
    """The HTML report (matplotlib is imported only here). A failure is logged, not raised: the
    run's other files are still written."""
    try:
        from .report.html import render_html, write_page

        text = render_html(summary, manifest)  # once, for every path
        for path in paths:
            write_page(path, text)
            logger.info("HTML report written to %s", path)
    except OSError as exc:  # a disk or permission problem: one line, not a traceback
        logger.error("could not write the HTML report: %s", exc)
    except Exception:
        logger.exception("could not write the HTML report to %s", ", ".join(map(str, paths)))
