"""The HTML report of a real run: a short step-to-failure plan against the reference server, with
--ml-html and --ml-artifacts, then rendered again from the saved run by `mlstress report DIR`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from locust_mlstress.report.html import PLOT_IDS
from tests.integration.conftest import QUICKSTART
from tests.integration.harness import ROOT, Run, run_local

# Three 3-second steps with 2-second windows: every plot has data, the stage timeline included.
STEP = """
[load]
shape = "step"
users = 2
step = 2
step_duration = 3
max_users = 6
spawn_rate = 20
slo = ["p99_ms < 5000"]
"""


def run_with_report(url: str, tmp_path: Path) -> tuple[Run, Path, Path]:
    """A real run writing --ml-html PATH and --ml-artifacts DIR; (run, PATH, DIR)."""
    profile = tmp_path / "step.toml"
    profile.write_text(QUICKSTART.read_text() + STEP)
    html, art = tmp_path / "report" / "page.html", tmp_path / "artifacts"
    run = run_local(profile, url, tmp_path / "out", "--ml-window", "2", "--ml-warmup", "2s",
                    "--ml-html", str(html), "--ml-artifacts", str(art), locustfile="shaped.py")  # fmt: skip
    return run, html, art


def structure(page: str) -> list[str]:
    """The page's elements with their ids, in order: what must not change between renderings."""
    return re.findall(r'<(\w+)(?:[^>]*?\sid="([^"]*)")?', page)


def mlstress(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "locust_mlstress.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)  # fmt: skip


def test_a_run_writes_a_self_contained_report_that_mlstress_report_renders_again(server, tmp_path):
    run, html, art = run_with_report(server.url, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    page = html.read_text()
    assert (art / "report.html").read_text() == page  # one rendering, written to both places
    manifest = json.loads((art / "manifest.json").read_text())
    assert manifest["files"]["ml_html"] == "report.html"
    assert len(manifest["stages"]) == 3

    for plot_id in PLOT_IDS:
        figure = re.search(rf'<figure id="{plot_id}">(.*?)</figure>', page, re.DOTALL)
        assert figure, plot_id
        assert re.search(r"<svg[^>]*>\s*<title>[^<]+</title>", figure.group(1)), (plot_id, figure.group(1)[:400])
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<script" not in page and "<link" not in page and not re.search(r"url\((?!#)", page)
    assert "could not be drawn" not in page and "could not be drawn" not in run.stderr

    again = tmp_path / "again.html"
    proc = mlstress("report", str(art), "-o", str(again))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert structure(again.read_text()) == structure(page)
    assert again.read_text() == page  # the same summary and manifest: the same page


def test_mlstress_report_refuses_a_directory_without_a_summary(tmp_path):
    proc = mlstress("report", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "has no ml_summary.json" in proc.stderr
    assert "Traceback" not in proc.stderr
