"""A real headless run against a KServe v1 endpoint that answers class labels (0/1, as MLflow's
pyfunc predict does): the console says ECE was not computed, why, the fix, and the accuracy
instead, within 120 columns, as the last thing the run prints."""

from __future__ import annotations

import os
import subprocess

from tests.integration.harness import LOCUST, ROOT

TITLE = "ML quality per payload kind"


def test_label_answers_are_flagged_with_the_fix_and_accuracy(label_server):
    args = [*LOCUST, "-f", str(ROOT / "locustfiles" / "quickstart.py"), "--host", label_server, "--headless",
            "-u", "10", "-r", "10", "-t", "6s", "--only-summary"]  # fmt: skip
    run = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=ROOT, env=dict(os.environ))
    lines = run.stderr.splitlines()
    ours = lines[lines.index(TITLE) :]
    assert [line for line in ours if len(line) > 120] == []
    rows = {line.split()[0]: line.split() for line in ours[3:7]}
    assert rows["clean"][7] == "labels" and rows["clean"][8] == "-"  # ECE and Brier not computed
    assert 0 <= float(rows["clean"][9]) <= 1  # accuracy instead
    notes = " ".join(line.strip() for line in ours)
    assert "ECE and Brier not computed: every prediction was exactly 0 or 1: class labels" in notes
    assert "accuracy instead: clean" in notes
    assert "Fix: have the predictor return class probabilities" in notes
    assert not [line for line in ours if line.startswith("[") or "Aggregated" in line]
