"""Load plans in real headless runs: a spike, and a staged scenario whose mix changes by stage."""

import json

import pytest

from tests.integration.conftest import QUICKSTART
from tests.integration.harness import run_local

SPIKE = '\n[load]\nshape = "spike"\nusers = 2\nfactor = 3\nat = 3\nduration = 3\ntotal = 9\nspawn_rate = 10\n'
STAGES = """
[load]
shape = "stages"
spawn_rate = 10

[[load.stages]]
name = "clean only"
duration = 4
users = 3
mix = { clean = 1 }

[[load.stages]]
name = "drift starts"
duration = 4
users = 3
mix = { clean = 0.5, drifted = 0.5 }
"""


def _run(tmp_path, server, plan: str, *extra: str):
    profile = tmp_path / "plan.toml"
    profile.write_text(QUICKSTART.read_text() + plan)
    return run_local(profile, server.url, tmp_path / "out", *extra, locustfile="shaped.py")


@pytest.mark.parametrize("given", ["profile", "option"])
def test_a_spike_raises_users_k_times_for_its_duration(server, tmp_path, given):
    manifest = tmp_path / "manifest.json"
    if given == "profile":
        run = _run(tmp_path, server, SPIKE, "--ml-manifest", str(manifest))
    else:
        option = "spike users=2 factor=3 at=3 duration=3 total=9 spawn_rate=10"
        run = _run(tmp_path, server, "", "--ml-manifest", str(manifest), "--ml-shape", option)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.record()["user_ids"] == [0, 1, 2, 3, 4, 5]  # 2 users, then 6 during the spike
    stages = json.loads(manifest.read_text())["stages"]
    assert [(s["name"], s["users"]) for s in stages] == [("base", 2), ("spike", 6), ("after", 2)]
    assert abs(stages[1]["started_s"] - 3) < 1.5 and abs(stages[2]["started_s"] - 6) < 1.5
    assert "Shape test updating to 6 users" in run.stderr


def test_a_stage_mix_starts_drift_in_its_stage(server, tmp_path):
    run = _run(tmp_path, server, STAGES, "--ml-window", "1")
    assert run.returncode == 0, run.stderr[-2000:]
    windows = run.record()["summary"]["windows"]
    drifted = [w["start_s"] for w in windows if w["kind"] == "drifted"]
    clean_early = [w for w in windows if w["kind"] == "clean" and w["end_s"] <= 3]
    assert drifted and min(drifted) >= 3  # none in the clean-only stage (one window of slack for clocks)
    assert clean_early and all(w["kind"] != "drifted" for w in windows if w["end_s"] <= 3)
    kinds = run.record()["summary"]["kinds"]
    assert kinds["drifted"]["requests"] > 0.25 * kinds["clean"]["requests"]


STEP = """
[load]
shape = "step"
users = 2
step = 4
step_duration = 3
max_users = 30
spawn_rate = 20
slo = ["p95_ms[clean] < 40"]
"""

STAGED = """
[load]
shape = "stages"
spawn_rate = 10

[[load.stages]]
name = "sanity"
duration = 3
users = 2
mix = { clean = 0.8, malformed = 0.2 }
gates = ["accepted_malformed == 0", "p99_ms < 2000"]

[[load.stages]]
name = "drifted"
duration = 3
users = 2
mix = { clean = 0.5, drifted = 0.5 }
gates = ["psi[drifted] < 0.01"]

[[load.stages]]
name = "peak"
duration = 3
users = 6
"""


def test_step_to_failure_finds_the_breaking_point(tmp_path):
    """Latency grows with concurrency on this server: a step of users breaks the p95 SLO."""
    from locust_mlstress.servers.reference.knobs import ServerKnobs
    from locust_mlstress.servers.reference.process import ReferenceServer

    with ReferenceServer(QUICKSTART, ServerKnobs(concurrency_latency_ms=5)) as slow:
        run = _run(tmp_path, slow, STEP)
    assert run.returncode == 0, run.stderr[-2000:]  # finding the breaking point is not a failure
    point = run.record()["summary"]["breaking_point"]
    assert point["last_passing"] is not None and point["first_failing"] is not None
    assert point["first_failing"]["users"] > point["last_passing"]["users"]
    assert point["first_failing"]["users"] < 30  # it broke before the plan ran out
    assert any("p95_ms[clean]" in message for message in point["broken"])
    assert "breaking point: last passing step" in run.stdout + run.stderr


def test_staged_validation_stops_at_the_first_failing_stage(server, tmp_path):
    manifest = tmp_path / "manifest.json"
    run = _run(tmp_path, server, STAGED, "--ml-manifest", str(manifest))
    assert run.returncode == 3
    summary = run.record()["summary"]
    assert [(v["name"], v["passed"]) for v in summary["stages"]] == [("sanity", True), ("drifted", False)]
    assert summary["stage_failure"]["name"] == "drifted"
    started = [s["name"] for s in json.loads(manifest.read_text())["stages"]]
    assert started[:2] == ["sanity", "drifted"]  # 'peak' starts at most for the half second a verdict takes
    assert "stopped at stage 'drifted'" in run.stdout + run.stderr
