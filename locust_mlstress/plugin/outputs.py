"""The files a run leaves behind: `--ml-json`, `--ml-csv`, `--ml-manifest`, `--ml-artifacts DIR`.

`--ml-artifacts DIR` gathers everything in one place:

    DIR/manifest.json        the run record (report/manifest.py)
    DIR/ml_summary.json      the ML summary (docs/reports.md)
    DIR/ml_windows.csv       one row per window and kind
    DIR/locust_stats.csv, locust_failures.csv, locust_exceptions.csv   Locust's own tables
    DIR/locust_report.html   Locust's HTML report, secrets masked (unless --html names another file)
    DIR/traces.jsonl         a sample of requests (--ml-trace-rate)
    DIR/report.html          the HTML report with plots (report/html.py), also written by --ml-html PATH

Every output path is checked before any traffic (`check_outputs`: a bad one stops the run with
exit code 2 naming the option). At the end each file is written on its own (`attempt`): one that
fails is logged in one line and the others are still written; the run then exits 5 unless a
gate failed (3) or was inconclusive (4), which say more (docs/gates.md).
"""

from __future__ import annotations

import csv
import html
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from urllib.parse import quote

from locust.env import Environment
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

from locust_mlstress.domain.summary import RunSummary
from locust_mlstress.errors import ProfileError
from locust_mlstress.plugin.state import MLState
from locust_mlstress.report.formats import write_csv, write_json
from locust_mlstress.report.html import render_html, write_page
from locust_mlstress.report.manifest import REDACTED, build_manifest, current_argv, host_password, mask_host
from locust_mlstress.users.challenger import challenger_settings
from locust_mlstress.users.context import extra_headers, option

logger = logging.getLogger("locust_mlstress")
EXIT_OUTPUT_FAILED = 5  # the run ended, but some file could not be written (gates decide first: 3, 4)

# option -> (a file name for the example in the error, how the option's value names the file)
OUTPUT_FILES: dict[str, tuple[str, Callable[[str], str]]] = {
    "ml_json": ("ml.json", str),
    "ml_html": ("report.html", str),
    "ml_junit": ("gates.xml", str),
    "ml_manifest": ("manifest.json", str),
    "ml_save_baseline": ("baseline.json", str),
    "ml_csv": ("run", lambda prefix: f"{prefix}_ml_windows.csv"),
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _writable_folder(folder: Path) -> str | None:
    """Why files cannot be created in `folder` (created with its parents if missing); None if they can.
    Tried for real, with a file created and removed: permission bits do not tell a root user about
    a read-only mount."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        return f"{folder} is not a folder"
    except OSError as exc:
        return f"cannot create the folder {folder}: {exc.strerror or exc}"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".mlstress-probe-"):
            pass
    except OSError as exc:
        return f"cannot write in the folder {folder}: {exc.strerror or exc}"
    return None


def output_problem(path: Path) -> str | None:
    """Why a file cannot be written at `path`; None if it can (its folder is created)."""
    if path.is_dir():
        return f"{path} is a directory"
    if path.exists():  # an existing file (or a device such as /dev/null): opened without truncating
        try:
            with path.open("ab"):
                pass
        except OSError as exc:
            return f"cannot write {path}: {exc.strerror or exc}"
        return None
    return _writable_folder(path.parent)


def check_outputs(environment: Environment) -> None:
    """Every output option's path, before any traffic: the first that cannot be written, as a
    ProfileError naming the option (exit code 2). Missing folders are created, for every option alike."""
    for name, (example, file_of) in OUTPUT_FILES.items():
        value = option(environment, name)
        if not value:
            continue
        path = Path(file_of(str(value)))
        if problem := output_problem(path):
            hint = f"give a file path, e.g. {path / example}" if path.is_dir() else "give a writable path"
            raise ProfileError(None, _flag(name), f"{problem}; {hint}")
    directory = option(environment, "ml_artifacts")
    if directory and (problem := _writable_folder(Path(directory))):
        raise ProfileError(None, "--ml-artifacts", f"{problem}; give a writable directory")


def prepare(environment: Environment) -> Path | None:
    """At init: create the artifacts directory (checked before, by `check_outputs`). Locust's own
    HTML report is not pointed into it: the plugin writes that copy itself at the end, secrets
    masked, as one of the files that may fail without stopping the others."""
    directory = option(environment, "ml_artifacts")
    if not directory:
        return None
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # reported by check_outputs as exit code 2 on a local runner or master
        logger.error("--ml-artifacts: cannot create %s: %s", path, exc.strerror or exc)
    return path


def attempt(what: str, write: Callable[..., object], failures: list[str], path: Path | str | None = None) -> bool:
    """Run one file's `write`; a failure (full disk, permissions, a second Ctrl-C) is one logged
    line, added to `failures`. With a `path`, `write` is called with the file to write: a
    temporary file beside `path`, renamed over it only once whole, so a failure (even before
    the file is opened: a value JSON cannot hold, an interrupt while rendering) leaves the
    previous file at `path` intact and removes only the partial temporary one. A `path` that
    exists and is not a regular file (/dev/null) is written as is."""
    target = Path(path) if path is not None else None
    staging = None
    if target is not None and not (target.exists() and not target.is_file()):
        staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        if target is None:
            write()
        elif staging is None:
            write(target)
        else:
            write(staging)
            os.replace(staging, target)
        return True
    except KeyboardInterrupt:
        reason = "interrupted (Ctrl-C)"
    except OSError as exc:
        reason = exc.strerror or str(exc)
    except Exception as exc:  # noqa: BLE001  (one line, never a traceback: the other files still come)
        reason = f"{type(exc).__name__}: {exc}"
    logger.error("%s not written: %s", what, reason)
    failures.append(what)
    if staging is not None:
        try:
            if staging.is_file():
                staging.unlink()
        except OSError:
            pass
    return False


def _locust_csv(environment: Environment, directory: Path, failures: list[str]) -> dict[str, str]:
    stats_csv = StatsCSV(environment, PERCENTILES_TO_REPORT)
    files = {}
    for name, method in (("stats", stats_csv.requests_csv), ("failures", stats_csv.failures_csv),
                         ("exceptions", stats_csv.exceptions_csv)):  # fmt: skip
        path = directory / f"locust_{name}.csv"

        def write(target: Path, method=method) -> None:
            with target.open("w", newline="") as f:
                method(csv.writer(f))

        if attempt(str(path), write, failures, path):
            files[f"locust_{name}"] = path.name
    return files


def secrets_of(environment: Environment, profile) -> list[str]:
    """Every secret value a written file must not hold: secret profile headers (the challenger's
    too), --ml-header values, and the password of --host and of the challenger's URL."""
    headers = [*profile.target.headers, *(profile.challenger.headers if profile.challenger else ())]
    values = [h.value for h in headers if h.secret and h.value]
    values += [v for v in extra_headers(environment).values() if v]
    challenger = challenger_settings(environment, profile)
    hosts = (environment.host, challenger.url if challenger is not None else None)
    return values + [p for p in map(host_password, hosts) if p]


def _escaped_forms(secret: str) -> set[str]:
    """`secret` as every writer may have spelled it: literal, JSON-escaped (ASCII or not, and
    Jinja's `tojson`, which also escapes & ' < >), HTML-escaped and URL-encoded."""
    as_json = json.dumps(secret)[1:-1]
    tojson = as_json.replace("&", "\\u0026").replace("'", "\\u0027").replace("<", "\\u003c").replace(">", "\\u003e")
    forms = {secret, as_json, json.dumps(secret, ensure_ascii=False)[1:-1], tojson,
             html.escape(secret), html.escape(secret, quote=False), quote(secret, safe=""), quote(secret)}  # fmt: skip
    return {f for f in forms if f}


def masked(text: str, environment: Environment, secrets: list[str]) -> str:
    """`text` with every secret replaced by `***`: the host's user info first (so a short
    password is masked where it sits, not in every word that holds it), then whole values of
    four characters or more, each in every escaped form (`_escaped_forms`)."""
    host = environment.host or ""
    if (password := host_password(host)) and (shown := mask_host(host)) != host:
        user = shown.split("://", 1)[-1].split(":", 1)[0]
        for form in _escaped_forms(password):
            text = text.replace(f"{user}:{form}@", f"{user}:{REDACTED}@")
    for secret in secrets:
        if len(secret) >= 4:
            for form in sorted(_escaped_forms(secret), key=len, reverse=True):
                text = text.replace(form, REDACTED)
    return text


def _locust_html(environment: Environment, path: Path, secrets: list[str]) -> None:
    """Locust's own report, rendered with the host masked at the source: Locust escapes the
    host its own way (`tojson`), so masking the page's text afterwards (`masked`, kept as a
    second line of defence) would miss an escaped password."""
    from locust.html import get_html_report  # only --ml-artifacts renders it; it pulls in Jinja

    classes = list(getattr(environment, "user_classes", None) or [])
    runner = getattr(environment, "runner", None)
    classes += [c for c in (getattr(runner, "user_classes", None) or []) if c not in classes]
    saved_host = environment.host
    saved = [(cls, "host" in vars(cls), vars(cls).get("host")) for cls in classes]
    try:
        environment.host = mask_host(saved_host)
        for cls, _, _ in saved:
            if isinstance(getattr(cls, "host", None), str):
                cls.host = mask_host(cls.host)
        text = get_html_report(environment, show_download_link=False)
    finally:
        environment.host = saved_host
        for cls, own, value in saved:
            if own:
                cls.host = value
            elif "host" in vars(cls):
                delattr(cls, "host")
    path.write_text(masked(text, environment, secrets), encoding="utf-8")


def write_outputs(environment: Environment, state: MLState, summary: RunSummary, failures: list[str]) -> None:
    """Every file the options ask for, each on its own (`attempt`). Small files first and the
    large HTML pages last, so that on a disk running full the run record survives: the manifest
    is written before the pages, then replaced (never truncated) to name what came of them."""
    if path := option(environment, "ml_json"):
        attempt(f"--ml-json {path}", lambda t: write_json(t, summary), failures, path)
    if prefix := option(environment, "ml_csv"):
        csv_path = f"{prefix}_ml_windows.csv"
        attempt(f"--ml-csv {csv_path}", lambda t: write_csv(t, summary), failures, csv_path)
    run = state.run
    directory = option(environment, "ml_artifacts")
    secrets = secrets_of(environment, run.profile)
    files: dict[str, str] = {}
    if directory:
        directory = Path(directory)
        target = directory / "ml_summary.json"
        if attempt(str(target), lambda t: write_json(t, summary), failures, target):
            files["ml_summary"] = target.name
        target = directory / "ml_windows.csv"
        if attempt(str(target), lambda t: write_csv(t, summary), failures, target):
            files["ml_windows"] = target.name
        files |= _locust_csv(environment, directory, failures)
        if run.trace_file is not None and run.trace_file.error is None:
            files["traces"] = run.trace_file.path.name
    html_paths = [Path(p) for p in (option(environment, "ml_html"), directory and directory / "report.html") if p]
    manifest_path = option(environment, "ml_manifest") or (directory / "manifest.json" if directory else None)
    if not (manifest_path or html_paths):
        return
    manifest = _manifest(environment, state, summary, files, secrets)  # shown by the HTML report too
    written = _write_manifest(Path(manifest_path), manifest, failures) if manifest_path else False  # the record first
    if directory:
        html = getattr(environment.parsed_options, "html_file", None)
        if html:  # the user's --html: Locust writes it itself
            if Path(html).exists():
                files["locust_html"] = str(html)
        else:
            target = directory / "locust_report.html"
            if attempt(str(target), lambda t: _locust_html(environment, t, secrets), failures, target):
                files["locust_html"] = target.name
    if html_paths:
        # The page shows the manifest as it will be once the page is written: `mlstress report`
        # renders the same bytes from the saved files.
        files["ml_html"] = "report.html" if directory else str(html_paths[0])
        manifest["failed"] = _failed(failures)
        _write_html(html_paths, summary, manifest, failures, directory)
    if manifest_path:  # what came of the pages
        label = f"manifest {manifest_path}"
        if _write_manifest(Path(manifest_path), manifest, failures) and not written:
            failures[:] = [f for f in failures if f != label]  # the second try made it


def _manifest(environment: Environment, state: MLState, summary: RunSummary, files: dict, secrets: list[str]) -> dict:
    """The run record (report/manifest.py); its `files` is the dict the writes above fill."""
    run = state.run
    assert run.profile is not None  # a summary, and so outputs, come only from a run with a profile
    manifest = build_manifest(
        run.profile,
        argv=current_argv(),
        secrets=secrets,
        host=environment.host,
        started=state.started,
        ended=time.time(),
        workers=len(summary["workers"]["reported"]) if "workers" in summary else 0,  # who sent data (0: local run)
        stages=list(getattr(environment.shape_class, "timeline", [])),
        gates=summary.get("gates", []),
        model_version=state.model_version,
        files=files,
    )
    if run.trace_file is not None:
        manifest["traces"] = {"written": run.trace_file.written, "dropped": run.trace_file.dropped,
                              "rate": float(option(environment, "ml_trace_rate", 0.01)),
                              "error": run.trace_file.error}  # fmt: skip
    return manifest


def _failed(failures: list[str]) -> list[str]:
    """The manifest's `failed`: the outputs that could not be written, but for the manifest itself."""
    return [f for f in failures if not f.startswith("manifest ")]


def _write_manifest(path: Path, manifest: dict, failures: list[str]) -> bool:
    """The manifest, naming the files that could not be written. Written beside itself and then
    renamed over: a second write that fails leaves the first one whole."""
    manifest["failed"] = _failed(failures)
    text = json.dumps(manifest, indent=2) + "\n"
    return attempt(f"manifest {path}", lambda target: target.write_text(text), failures, path)


def _write_html(paths: list[Path], summary: RunSummary, manifest: dict, failures: list[str], directory) -> None:
    """The HTML report (matplotlib is imported only here), rendered once for every path."""
    rendered: list[str] = []

    def render() -> None:
        logger.info("rendering the HTML report")
        rendered.append(render_html(summary, manifest))

    if not attempt("the HTML report (" + ", ".join(map(str, paths)) + ")", render, failures):
        manifest["files"].pop("ml_html", None)
        return
    done = [path for path in paths if attempt(f"HTML report {path}", partial(write_page, text=rendered[0]),
                                               failures, path)]  # fmt: skip
    for path in done:
        logger.info("HTML report written to %s", path)
    files = manifest["files"]
    if not done:
        files.pop("ml_html", None)
    elif directory and directory / "report.html" not in done:
        files["ml_html"] = str(done[0])


def finish_code(environment: Environment, failures: list[str]) -> None:
    """Exit code 5 when some file could not be written, unless a gate already said 3 or 4."""
    if not failures:
        return
    logger.warning(
        "%d output file(s) could not be written (%s); the others were; exit code %d",
        len(failures),
        "; ".join(failures),
        EXIT_OUTPUT_FAILED,
    )
    if environment.process_exit_code not in (3, 4):
        environment.process_exit_code = EXIT_OUTPUT_FAILED
