"""Attacks on what a run leaves behind: unwritable and full outputs, a password in --host, Ctrl-C
on a master and twice on a local run, a hand-edited saved summary (docs/reliability.md).

Real Locust processes against the reference server on 127.0.0.1, real files, real signals; a
tmpfs mount stands for a full or read-only disk (the tests that need one skip without root)."""

from __future__ import annotations

import html
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from locust_mlstress.errors import ProfileError
from locust_mlstress.plugin.outputs import EXIT_OUTPUT_FAILED, check_outputs
from tests.attacks._outputs import (
    distributed,
    files_under,
    local,
    locust_total,
    ml_total,
    no_traceback,
    tmpfs,
    wait_until,
)
from tests.integration.conftest import QUICKSTART
from tests.integration.harness import ROOT, free_port, read_records

PASSWORD = "Pw&0f'the<h0st-\u00e991"  # & ' < and a non-ASCII letter: every writer escapes them its own way


def spellings(secret: str) -> set[str]:
    """`secret` as a file may spell it: literal, JSON (ASCII or not, and Jinja's `tojson`, which
    also escapes & ' < >), HTML-escaped, URL-encoded."""
    as_json = json.dumps(secret)[1:-1]
    tojson = as_json.replace("&", "\\u0026").replace("'", "\\u0027").replace("<", "\\u003c").replace(">", "\\u003e")
    return {secret, as_json, json.dumps(secret, ensure_ascii=False)[1:-1], tojson, html.escape(secret),
            html.escape(secret, quote=False), quote(secret, safe=""), quote(secret)}  # fmt: skip


class Options:
    """The parsed options `check_outputs` reads, as Locust's namespace holds them."""

    def __init__(self, **values) -> None:
        self.__dict__.update(values)


class Env:
    def __init__(self, **values) -> None:
        self.parsed_options = Options(**values)


@pytest.mark.parametrize(
    ("name", "flag"),
    [("ml_json", "--ml-json"), ("ml_html", "--ml-html"), ("ml_junit", "--ml-junit"), ("ml_manifest", "--ml-manifest"),
     ("ml_save_baseline", "--ml-save-baseline"), ("ml_csv", "--ml-csv"), ("ml_artifacts", "--ml-artifacts")],
)  # fmt: skip
def test_every_output_path_is_checked_and_its_folders_created(tmp_path, name, flag):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ProfileError) as caught:
        check_outputs(Env(**{name: str(blocker / "sub" / "out")}))
    assert str(caught.value).startswith(f"{flag}: ") and "\n" not in str(caught.value)
    fresh = tmp_path / "new" / "deeper" / "out"
    check_outputs(Env(**{name: str(fresh)}))  # missing folders are created, for every option alike
    assert (fresh if name == "ml_artifacts" else fresh.parent).is_dir()


def test_a_read_only_output_stops_the_run_before_any_traffic(server, tmp_path):
    with tmpfs(tmp_path / "ro", "ro", "size=64k") as ro:
        for option, path in (("--ml-json", ro / "ml.json"), ("--ml-artifacts", ro / "art")):
            run = local(QUICKSTART, server.url, tmp_path / "out", "-u", "2", "-r", "2", "-t", "20s", option, str(path))
            code = run.finish(60)
            errors = [line for line in run.lines if "ERROR" in line]
            assert code == 2, run.stderr[-2000:]
            assert len(errors) == 1 and option in errors[0] and "Read-only file system" in errors[0], errors
            assert no_traceback(run.stderr) and "All users spawned" not in run.stderr


def test_one_unwritable_file_loses_no_other_and_no_file_holds_the_host_password(server, tmp_path):
    """--ml-json on /dev/full (a full disk): every other output is still written, in folders that
    did not exist, the run exits 5 (gates passed, an output failed); the password of --host is
    in none of them."""
    out = tmp_path / "files"
    host = server.url.replace("http://", f"http://tester:{PASSWORD}@")
    run = local(
        QUICKSTART, host, tmp_path / "records", "-u", "2", "-r", "2", "-t", "3s", "--ml-gate", "requests > 10",
        "--ml-json", "/dev/full", "--ml-junit", str(out / "j" / "gates.xml"),
        "--ml-save-baseline", str(out / "b" / "baseline.json"), "--ml-html", str(out / "h" / "report.html"),
        "--ml-csv", str(out / "c" / "run"), "--ml-artifacts", str(out / "art"),
    )  # fmt: skip
    code = run.finish(90)
    assert code == EXIT_OUTPUT_FAILED, run.stderr[-3000:]
    failed = [line for line in run.lines if "not written" in line]
    assert len(failed) == 1 and "--ml-json /dev/full" in failed[0] and no_traceback(run.stderr)
    expected = ["j/gates.xml", "b/baseline.json", "h/report.html", "c/run_ml_windows.csv"] + [
        f"art/{name}" for name in ("manifest.json", "ml_summary.json", "ml_windows.csv", "locust_stats.csv",
                                   "locust_report.html", "report.html")]  # fmt: skip
    for name in expected:
        assert (out / name).stat().st_size > 0, name
    manifest = json.loads((out / "art" / "manifest.json").read_text())
    assert manifest["failed"] == ["--ml-json /dev/full"]
    assert manifest["host"] == host.replace(PASSWORD, "***") and "tester:***@" in " ".join(manifest["command"])
    assert json.loads((out / "b" / "baseline.json").read_text())["model"]["host"] == manifest["host"]
    assert json.loads((out / "art" / "ml_summary.json").read_text())["run"]["host"] == manifest["host"]
    assert "tester:***@" in (out / "art" / "locust_report.html").read_text()
    holding = [(str(p), form) for p in files_under(tmp_path) for form in spellings(PASSWORD)
               if form in p.read_text(encoding="utf-8", errors="replace")]  # fmt: skip
    assert holding == []


def test_a_full_disk_under_the_artifacts_leaves_the_run_record(server, tmp_path):
    """--ml-artifacts on a 200 KB disk with every request traced: tracing stops with one warning
    (never an error inside the request hook), the big pages fail one line each, and the run
    record (summary, manifest, tables) and --ml-json elsewhere are written."""
    with tmpfs(tmp_path / "small", "size=200k") as small:
        art = small / "art"
        run = local(QUICKSTART, server.url, tmp_path / "records", "-u", "2", "-r", "2", "-t", "3s", "--ml-artifacts",
                    str(art), "--ml-trace-rate", "1", "--ml-json", str(tmp_path / "ml.json"))  # fmt: skip
        code = run.finish(90)
        assert code == EXIT_OUTPUT_FAILED, run.stderr[-3000:]
        assert no_traceback(run.stderr) and "Uncaught exception" not in run.stderr
        assert sum("request tracing is off" in line for line in run.lines) == 1
        assert json.loads((tmp_path / "ml.json").read_text())["kinds"]
        for name in ("ml_summary.json", "manifest.json", "ml_windows.csv", "locust_stats.csv"):
            assert (art / name).stat().st_size > 0, name
        manifest = json.loads((art / "manifest.json").read_text())
        assert manifest["traces"]["error"] and manifest["failed"]
        assert all(name not in manifest["files"].values() for name in ("traces.jsonl", "report.html"))


def _reported(out: Path, workers: int, at_least: int) -> bool:
    """Each worker has sent a report holding at least `at_least` requests (fast.py's snapshots)."""
    sizes = []
    for path in out.glob("report-*.json"):
        try:
            sizes.append(sum(row[3] for row in json.loads(path.read_text())["outcomes"]))
        except (ValueError, KeyError):
            return False
    return len(sizes) == workers and min(sizes) >= at_least


@pytest.mark.parametrize("repeat", range(2))
def test_ctrl_c_on_a_master_loses_no_request(server, tmp_path, repeat):
    """SIGINT on the master between worker reports (each worker holds up to 3 s of unreported
    requests): the ML totals equal Locust's final totals, every worker reported, no missing."""
    out = tmp_path / "records"
    master, workers = distributed(QUICKSTART, server.url, out, 2, "-u", "4", "-r", "4", "-t", "60s",
                                  "--json-file", str(tmp_path / "locust"), "--ml-json", str(tmp_path / "ml.json"),
                                  "--ml-gate", "requests > 10")  # fmt: skip
    try:
        assert wait_until(lambda: _reported(out, 2, 1 + 50 * repeat), timeout=60), master.stderr[-2000:]
        master.interrupt()
        code = master.finish(40)
        for w in workers:
            w.finish(30)
    finally:
        for p in (master, *workers):
            if p.proc.poll() is None:
                p.proc.kill()
    assert code == 0, master.stderr[-3000:]
    summary = json.loads((tmp_path / "ml.json").read_text())
    assert ml_total(summary) == locust_total(tmp_path / "locust.json") > 0
    assert len(summary["workers"]["reported"]) == 2 and summary["workers"]["missing"] == []
    assert no_traceback(master.stderr) and all(no_traceback(w.stderr) for w in workers)


def test_ctrl_c_on_a_processes_run_loses_no_request_and_prints_no_traceback(server, tmp_path):
    """Ctrl-C in a terminal reaches the whole process group: with --processes, the master and its
    forked workers at once. The ML totals still equal Locust's, and no process prints a traceback."""
    out = tmp_path / "records"
    port = str(free_port())
    run = local(QUICKSTART, server.url, out, "--processes", "2", "-u", "4", "-r", "4", "-t", "60s",
                "--master-bind-host", "127.0.0.1", "--master-bind-port", port, "--master-port", port,
                "--ml-gate", "requests > 10", new_session=True)  # fmt: skip
    try:
        assert wait_until(lambda: _reported(out, 2, 1), timeout=60), run.stderr[-2000:]
        os.killpg(run.proc.pid, signal.SIGINT)
        code = run.finish(40)
    finally:
        if run.proc.poll() is None:
            os.killpg(run.proc.pid, signal.SIGKILL)
    assert code == 0 and no_traceback(run.stderr), run.stderr[-3000:]
    master = next(r for r in read_records(out) if r["role"] == "MasterRunner")
    assert ml_total(master["summary"]) == master["locust_requests"] > 0
    assert master["summary"]["workers"]["missing"] == []


def test_a_worker_that_never_sends_its_final_report_is_named(server, tmp_path):
    """One worker frozen (SIGSTOP) when the master is interrupted: the master waits its bound
    (5 s), names that worker as missing, and the gates are inconclusive (exit 4), not passed."""
    out = tmp_path / "records"
    master, workers = distributed(QUICKSTART, server.url, out, 2, "-u", "4", "-r", "4", "-t", "60s",
                                  "--ml-json", str(tmp_path / "ml.json"), "--ml-gate", "requests > 10")  # fmt: skip
    frozen = workers[0]
    try:
        assert wait_until(lambda: _reported(out, 2, 1), timeout=60), master.stderr[-2000:]
        frozen_id = json.loads((out / f"report-{frozen.proc.pid}.json").read_text())["client_id"]
        frozen.proc.send_signal(signal.SIGSTOP)
        master.interrupt()
        code = master.finish(40)
    finally:
        frozen.proc.send_signal(signal.SIGCONT)
        for p in (master, *workers):
            if p.proc.poll() is None:
                p.proc.kill()
    assert code == 4, master.stderr[-3000:]
    summary = json.loads((tmp_path / "ml.json").read_text())
    assert summary["workers"]["missing"] == [frozen_id]
    assert [g["status"] for g in summary["gates"]] == ["inconclusive"]
    assert frozen_id in summary["gates"][0]["message"] and no_traceback(master.stderr)


def test_a_second_ctrl_c_while_the_html_renders_still_leaves_the_manifest(server, tmp_path):
    art = tmp_path / "art"
    run = local(QUICKSTART, server.url, tmp_path / "records", "-u", "2", "-r", "2", "-t", "60s",
                "--ml-artifacts", str(art), "--ml-trace-rate", "1")  # fmt: skip
    traces = art / "traces.jsonl"
    try:
        assert wait_until(lambda: traces.exists() and traces.stat().st_size > 0, timeout=60), run.stderr[-2000:]
        run.interrupt()
        assert run.wait_for("rendering the HTML report", timeout=60), run.stderr[-2000:]
        run.interrupt()
        code = run.finish(60)
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
    assert code == EXIT_OUTPUT_FAILED and no_traceback(run.stderr), run.stderr[run.stderr.find("Traceback") - 500 :]
    manifest = json.loads((art / "manifest.json").read_text())
    assert manifest["failed"] == [f"the HTML report ({art / 'report.html'})"]
    assert json.loads((art / "ml_summary.json").read_text())["kinds"]
    assert any("interrupted (Ctrl-C)" in line for line in run.lines)


def test_the_report_command_on_a_summary_with_a_string_count_is_one_line(tmp_path):
    (tmp_path / "ml_summary.json").write_text(json.dumps({"kinds": {"clean": {"requests": "many"}}, "requests": "x"}))
    done = subprocess.run([sys.executable, "-m", "locust_mlstress.cli", "report", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)  # fmt: skip
    assert done.returncode == 2 and no_traceback(done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "ml_summary.json" in lines[0]
