"""A real headless quickstart run (embedded reference server on 127.0.0.1): the ML summary, then
the gate verdicts, are the last thing it prints, once, after Locust's own final tables; every
line of it fits in 120 characters; the gates still set the exit code."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.integration.harness import LOCUST, ROOT

TITLE = "ML quality per payload kind"


@pytest.fixture(scope="module")
def quickstart_run():
    args = [
        *LOCUST, "-f", str(ROOT / "locustfiles" / "quickstart.py"), "--headless", "-u", "10", "-r", "10", "-t", "6s",
        "--only-summary", "--ml-gate", "requests > 10", "--ml-gate", "requests < 10",
    ]  # fmt: skip
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=ROOT, env=dict(os.environ))


def test_the_ml_summary_and_gates_are_the_final_block(quickstart_run):
    run = quickstart_run
    assert run.returncode == 3, run.stderr[-3000:]  # the failing gate, judged before Locust exits
    lines = run.stderr.splitlines()
    assert lines.count(TITLE) == 1  # printed once
    start = lines.index(TITLE)
    before, ours = lines[:start], lines[start:]
    # Locust's final tables come first, once (--only-summary: no periodic table)
    assert sum("Response time percentiles" in line for line in before) == 1
    assert sum(line.lstrip().startswith("Aggregated") for line in before) == 2  # requests and percentiles
    assert any("Shutting down (exit code 3)" in line for line in before)
    # nothing of Locust's after ours: no log records, no table rows
    assert not [line for line in ours if line.startswith("[") or "|" in line or "Aggregated" in line]
    assert ours.index("ML gates") > ours.index("malformed variants: outcome counts")
    assert [line for line in ours if line.strip()][-1] == "gates: 1 passed, 1 failed, 0 inconclusive"


def test_every_line_of_the_ml_summary_fits_in_120_characters(quickstart_run):
    lines = quickstart_run.stderr.splitlines()
    ours = lines[lines.index(TITLE) :]
    assert [line for line in ours if len(line) > 120] == []
    header = ours[1].split()
    assert header[:3] == ["kind", "requests", "ok"] and header[-1] == "verdict"
