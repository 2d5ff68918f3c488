"""Open-model arrivals: the requested rate is kept, and latency is measured from the schedule, so
a slow server shows the queue a closed loop hides (coordinated omission)."""

from locust_mlstress.servers.reference.knobs import ServerKnobs
from locust_mlstress.servers.reference.process import ReferenceServer
from tests.integration.conftest import QUICKSTART
from tests.integration.harness import run_local


def _open(host, out, rate: str, *extra: str):
    return run_local(QUICKSTART, host, out, "-u", "1", "-t", "8s", "--ml-arrival-rate", rate, *extra,
                     locustfile="arrivals.py")  # fmt: skip


def test_the_achieved_rate_is_within_two_percent_of_the_requested(server, tmp_path):
    run = _open(server.url, tmp_path, "200")
    assert run.returncode == 0, run.stderr[-2000:]
    arrivals = run.record()["summary"]["arrivals"]
    assert abs(arrivals["achieved_rate"] - 200) <= 0.02 * 200, arrivals
    assert arrivals["dropped"] == 0 and arrivals["sent"] == arrivals["scheduled"] > 800
    recorded = run.record()["summary"]["all"]["requests"]
    assert arrivals["sent"] - 200 <= recorded <= arrivals["sent"]  # at most the in-flight ones cut at the end
    health = run.record()["summary"]["generator"]  # the dispatcher kept to its schedule
    local = health["processes"]["local"]
    assert health["bottleneck"] is False and local["late_share"] <= arrivals["late"] / arrivals["scheduled"] + 0.01
    assert local["dropped_share"] == 0 and 0 <= local["dispatch_lag_ms_max"] < 1000


def test_poisson_arrivals_keep_the_rate_on_average(server, tmp_path):
    run = _open(server.url, tmp_path, "150", "--ml-arrival-process", "poisson")
    arrivals = run.record()["summary"]["arrivals"]
    assert abs(arrivals["achieved_rate"] - 150) <= 0.1 * 150, arrivals


def test_against_a_slow_server_the_closed_loop_reports_lower_latency_than_the_open_model(tmp_path):
    """Latency grows with requests in flight. Five closed-loop users send ~110/s and wait for each
    answer; an open model at 150/s keeps sending, and measures the queue that builds."""
    with ReferenceServer(QUICKSTART, ServerKnobs(latency_ms=20, concurrency_latency_ms=5)) as slow:
        closed = run_local(QUICKSTART, slow.url, tmp_path / "closed", "-u", "5", "-r", "5", "-t", "8s")
        opened = _open(slow.url, tmp_path / "open", "150")
    closed_p50 = closed.record()["summary"]["kinds"]["clean"]["latency_ms"]["p50"]
    open_p50 = opened.record()["summary"]["kinds"]["clean"]["latency_ms"]["p50"]
    closed_rate = closed.record()["summary"]["all"]["requests"] / closed.record()["summary"]["duration_s"]
    assert closed_rate < 150  # the closed loop never reached the open model's rate ...
    assert open_p50 > 1.3 * closed_p50, (closed_p50, open_p50)  # ... and its latency looked better


def test_the_arrival_rate_changes_by_stage(server, tmp_path):
    """One dispatcher, 50/s for 4 s then 150/s for 4 s: about 800 arrivals, and the second
    stage's windows carry three times the first's."""
    profile = tmp_path / "rates.toml"
    profile.write_text(
        QUICKSTART.read_text()
        + '\n[load]\nshape = "stages"\n'
        + '[[load.stages]]\nname = "slow"\nduration = 4\nusers = 1\nrate = 50\n'
        + '[[load.stages]]\nname = "fast"\nduration = 4\nusers = 1\nrate = 150\n'
    )
    run = run_local(profile, server.url, tmp_path / "out", "--ml-window", "1", locustfile="arrivals_shaped.py")
    assert run.returncode == 0, run.stderr[-2000:]
    arrivals = run.record()["summary"]["arrivals"]
    assert 700 <= arrivals["sent"] <= 820, arrivals
    per_window = {}
    for w in run.record()["summary"]["windows"]:
        per_window[w["window"]] = per_window.get(w["window"], 0) + w["requests"]
    slow = [per_window.get(k, 0) for k in (1, 2)]
    fast = [per_window.get(k, 0) for k in (5, 6)]
    assert all(40 <= n <= 60 for n in slow) and all(135 <= n <= 165 for n in fast), per_window
