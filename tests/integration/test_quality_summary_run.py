"""The summary's honesty keys from real Locust runs: against the reference server, a warm-up too
small to call clean traffic stable, the oversized kind as a fixed batch, accuracy, KS as a bound;
against a local endpoint that answers class labels, accuracy and a calibration reason, no ECE."""

import json

from locust_mlstress import metrics
from tests.integration.conftest import QUICKSTART
from tests.integration.harness import run_local


def test_a_short_warmup_and_the_oversized_batch_are_reported_for_what_they_are(server, tmp_path):
    # Paced users and a one-second warm-up: the warm-up holds tens of clean predictions, like the
    # README's commands that ramp at one user a second.
    run = run_local(QUICKSTART, server.url, tmp_path, "-u", "2", "-r", "2", "-t", "6s", "--ml-window", "1",
                    "--ml-warmup", "1s", "--ml-json", str(tmp_path / "ml.json"), "--ml-html", str(tmp_path / "r.html"),
                    env={"MLSTRESS_TEST_WAIT": "0.02"})  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads((tmp_path / "ml.json").read_text())
    clean = summary["kinds"]["clean"]
    shift = clean["shift"]
    assert 20 <= shift["n_reference"] < 217  # fewer than any PSI threshold under 0.1 allows on 10 bins
    assert shift["psi_threshold"] > metrics.PSI_MODERATE and shift["underpowered"] is not shift["significant"]
    assert shift["verdict"] == "insufficient" or shift["significant"]  # never a "stable" it cannot back
    assert summary["baseline"]["too_small"] is not shift["significant"]
    assert summary["baseline"]["min_n"] == metrics.psi_min_reference(shift["n"], bins=shift["bins"])
    assert shift["ks"] <= shift["ks_upper"]

    assert clean["answers"] == "probabilities" and clean["calibration_reason"] is None
    accuracy = clean["accuracy"]
    assert accuracy["n"] == clean["calibration"]["n"] > 0
    assert accuracy["interval"][0] <= accuracy["accuracy"] <= accuracy["interval"][1]

    oversized = summary["kinds"]["oversized"]
    assert oversized["fixed_batch"] is True and clean["fixed_batch"] is False
    assert oversized["shift"]["verdict"] == "fixed batch" and oversized["shift"]["significant"] is False

    page = (tmp_path / "r.html").read_text()
    assert '<td>oversized <span class="fixed">(fixed batch)</span></td>' in page
    assert f"≥ {shift['ks']:.3f} (≤ {shift['ks_upper']:.3f})" in page
    if summary["baseline"]["too_small"]:
        assert f"The clean baseline holds {shift['n_reference']} predictions" in page


def test_label_answers_get_accuracy_and_a_calibration_reason_not_an_ece(label_server, tmp_path):
    run = run_local(QUICKSTART, label_server, tmp_path, "-u", "2", "-r", "2", "-t", "5s",
                    "--ml-gate", "ece[clean] < 0.05", "--ml-gate", "accuracy[clean] > 0.1",
                    "--ml-json", str(tmp_path / "ml.json"), "--ml-html", str(tmp_path / "r.html"),
                    env={"MLSTRESS_TEST_WAIT": "0.01"})  # fmt: skip
    summary = json.loads((tmp_path / "ml.json").read_text())
    clean = summary["kinds"]["clean"]
    assert clean["answers"] == "labels" and clean["calibration"] is None
    # JSON 0/1 only, over the kind: labels (a single answer of 0/1 could be probabilities)
    assert clean["calibration_reason"].startswith("every prediction was exactly 0 or 1: class labels, not")
    assert "have the predictor return class probabilities" in clean["calibration_reason"]  # the kserve_v1 fix
    accuracy = clean["accuracy"]
    assert accuracy["n"] > 100 and accuracy["interval"][0] <= accuracy["accuracy"] <= accuracy["interval"][1]
    drifted = summary["kinds"]["drifted"]["shift"]
    assert drifted["psi"] is not None and drifted["ks"] == drifted["ks_upper"]  # class shares, exact KS
    gates = {g["gate"]: g for g in summary["gates"]}
    assert gates["ece[clean] < 0.05"]["status"] == "inconclusive"
    assert "class label" in gates["ece[clean] < 0.05"]["message"]
    assert gates["accuracy[clean] > 0.1"]["status"] == "pass"
    assert run.returncode == 4, run.stderr[-2000:]  # an inconclusive gate counts as failed by default
    page = (tmp_path / "r.html").read_text()
    assert "not computed: every prediction was exactly 0 or 1" in page
