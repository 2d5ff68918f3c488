"""Gates in real runs: exit codes local and distributed, JUnit, inconclusive policy, early abort."""

import xml.etree.ElementTree as ET

import pytest

from tests.integration.conftest import QUICKSTART
from tests.integration.harness import run_distributed, run_local

RUN = ("-u", "4", "-r", "4", "-t", "6s")


def _with_gates(tmp_path, gates: str):
    profile = tmp_path / "gated.toml"
    profile.write_text(QUICKSTART.read_text() + "\n[gates]\n" + gates)
    return profile


def test_passing_gates_exit_0_and_write_junit(server, tmp_path):
    junit = tmp_path / "gates.xml"
    run = run_local(QUICKSTART, server.url, tmp_path / "out", *RUN, "--ml-junit", str(junit),
                    "--ml-gate", "accepted_malformed == 0", "--ml-gate", "error_rate < 1%",
                    "--ml-gate", "p99_ms[clean] < 5000", "--ml-gate", "psi[clean] < 0.25",
                    "--ml-warmup", "500", "--ml-window", "1")  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == "4" and suite.get("failures") == "0"
    assert [c.get("name") for c in suite.iter("testcase")][0] == "accepted_malformed == 0"
    assert "gates: 4 passed, 0 failed, 0 inconclusive" in run.stdout + run.stderr


def test_a_failing_gate_exits_3(server, tmp_path):
    junit = tmp_path / "gates.xml"
    run = run_local(QUICKSTART, server.url, tmp_path / "out", *RUN, "--ml-junit", str(junit),
                    "--ml-gate", "psi[drifted] < 0.01", "--ml-gate", "accepted_malformed == 0")  # fmt: skip
    assert run.returncode == 3
    failed = [c for c in ET.parse(junit).getroot().iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["psi[drifted] < 0.01"]
    verdicts = run.record()["summary"]["gates"]
    assert [v["status"] for v in verdicts] == ["fail", "pass"]


@pytest.mark.parametrize(("policy", "code"), [("fail", 4), ("pass", 0)])
def test_too_few_samples_is_inconclusive_and_the_profile_says_what_it_counts_as(server, tmp_path, policy, code):
    profile = _with_gates(
        tmp_path, f'checks = ["ece[clean] < 0.5"]\nmin_samples = 1000000\ninconclusive = "{policy}"\n'
    )
    run = run_local(profile, server.url, tmp_path / "out", *RUN)
    assert run.returncode == code, run.stderr[-2000:]
    assert run.record()["summary"]["gates"][0]["status"] == "inconclusive"


def test_gates_on_a_master_with_workers(server, tmp_path):
    junit = tmp_path / "gates.xml"
    run = run_distributed(QUICKSTART, server.url, tmp_path / "out", 2, *RUN, "--ml-junit", str(junit),
                          "--ml-gate", "psi[drifted] < 0.01")  # fmt: skip
    assert run.returncode == 3
    assert ET.parse(junit).getroot().get("failures") == "1"


def test_abort_on_fail_stops_the_run_after_the_grace_period(server, tmp_path):
    profile = _with_gates(
        tmp_path, 'checks = ["psi[drifted] < 0.01"]\nabort_on_fail = true\ngrace_s = 1\ninterval_s = 1\n'
    )
    run = run_local(profile, server.url, tmp_path / "out", "-u", "4", "-r", "4", "-t", "60s", "--ml-window", "1")
    assert run.returncode == 3
    summary = run.record()["summary"]
    assert summary["aborted"]["at_s"] < 30 and summary["duration_s"] < 30  # far short of the 60 s asked for
    assert "stopping the run" in run.stderr
