"""A load generator that cannot keep up, in real runs: the summary, the console and the gates say
so, per process and per stage, instead of blaming the server (docs/distributed.md)."""

from tests.integration.conftest import QUICKSTART
from tests.integration.harness import finish_distributed, run_local, start_distributed

BUSY = {"MLSTRESS_TEST_BURN_MS": "30"}  # busy.py: 30 ms of CPU after each request, 4 users: ~90 ms late
GATE = ("--ml-gate", "p99_ms < 5000")  # holds on the server's latency; the burn alone stays far under it


def test_a_saturated_generator_makes_latency_unreliable_and_its_gate_inconclusive(server, tmp_path):
    run = run_local(QUICKSTART, server.url, tmp_path, "-u", "4", "-r", "4", "-t", "6s", *GATE,
                    locustfile="busy.py", env=BUSY)  # fmt: skip
    assert run.returncode == 4, run.stderr[-3000:]  # inconclusive counts as failing by default
    summary = run.record()["summary"]
    generator = summary["generator"]
    local = generator["processes"]["local"]
    assert generator["bottleneck"] is True and local["saturated_s"] >= 3, generator
    assert local["loop_lag_ms_max"] >= 50 and local["cpu_bound_s"] >= 3
    assert generator["reason"].startswith("load generator saturated") and "local: event-loop lag" in generator["reason"]
    assert summary["all"]["latency_ms"]["unreliable"] == generator["reason"]
    assert all(k["latency_ms"].get("unreliable") for k in summary["kinds"].values() if k["latency_ms"]["n"])
    (gate,) = summary["gates"]
    assert gate["status"] == "inconclusive" and "load generator saturated" in gate["message"]
    assert gate["value"] == summary["all"]["latency_ms"]["p99"]
    out = run.stdout + run.stderr
    assert "latency marked ! is unreliable: load generator saturated" in out


def test_a_generator_that_keeps_up_leaves_latency_and_gates_alone(server, tmp_path):
    run = run_local(QUICKSTART, server.url, tmp_path, "-u", "4", "-r", "4", "-t", "5s", *GATE,
                    env={"MLSTRESS_TEST_WAIT": "0.02"})  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    summary = run.record()["summary"]
    generator = summary["generator"]
    local = generator["processes"]["local"]
    assert generator["bottleneck"] is False and generator["reason"] is None, generator
    # at most a blip: users starting up (their payload kits) may hold the loop once
    assert local["seconds"] >= 3 and local["saturated_s"] <= 1 and 0 < local["cpu_max"] < 0.9
    assert local["late_share"] is None  # closed-loop users: no arrivals
    assert "unreliable" not in summary["all"]["latency_ms"]
    assert summary["gates"][0]["status"] == "pass"
    assert "unreliable" not in run.stdout + run.stderr


def test_workers_report_their_health_to_the_master(server, tmp_path):
    # 2 users a worker: 80 ms burns, so each worker's loop wakes late whichever user burns
    master, workers = start_distributed(QUICKSTART, server.url, tmp_path, 2, "-u", "4", "-r", "4", "-t", "6s",
                                        *GATE, env={"MLSTRESS_TEST_BURN_MS": "80"}, locustfile="busy.py")  # fmt: skip
    run = finish_distributed(master, workers, tmp_path)
    assert run.returncode == 4, run.stderr[-3000:]
    summary = run.record("MasterRunner")["summary"]
    generator = summary["generator"]
    assert sorted(generator["processes"]) == sorted(w["client_id"] for w in run.workers())
    processes = generator["processes"]
    assert all(p["seconds"] >= 3 and p["saturated_s"] >= 2 for p in processes.values()), processes
    assert generator["bottleneck"] is True and summary["gates"][0]["status"] == "inconclusive"


STAGES = """
[load]
shape = "stages"
spawn_rate = 10

[[load.stages]]
name = "calm"
duration = 5
users = 4
gates = ["p99_ms < 5000"]

[[load.stages]]
name = "busy"
duration = 5
users = 4
gates = ["p99_ms < 5000"]
"""


def test_only_the_stage_where_the_generator_saturated_is_inconclusive(server, tmp_path):
    profile = tmp_path / "plan.toml"
    profile.write_text(QUICKSTART.read_text() + STAGES)
    run = run_local(profile, server.url, tmp_path / "out", locustfile="busy_shaped.py",
                    env=BUSY | {"MLSTRESS_TEST_BURN_AFTER_S": "5.5"})  # fmt: skip
    summary = run.record()["summary"]
    calm, busy = summary["stages"]
    assert (calm["name"], calm["passed"], calm["gates"][0]["status"]) == ("calm", True, "pass"), summary["stages"]
    assert (busy["name"], busy["gates"][0]["status"]) == ("busy", "inconclusive"), summary["generator"]
    assert "load generator saturated" in busy["gates"][0]["message"]
    (start, end), *_ = summary["generator"]["spans"]
    assert start >= 5 and end <= 12, summary["generator"]
