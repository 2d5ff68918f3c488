"""Each fault of the proxy, seen in the ML summary of a real headless Locust run sent through it
to the reference server: latency in p50, bandwidth in the big payloads' latency, resets as
connection errors, black holes as timeouts, a down window as errors in its stage only."""

import socket
import time

import pytest

from locust_mlstress.servers.faultproxy.process import FaultProxyError, FaultProxyProcess
from tests.integration.conftest import QUICKSTART
from tests.integration.harness import run_local

NO_EXIT_ON_ERRORS = ("--exit-code-on-error", "0")  # failures are what these runs are about


def _stages(*stages: tuple[str, float, int]) -> str:
    text = '\n[load]\nshape = "stages"\nspawn_rate = 20\n'
    for name, duration, users in stages:
        text += f'\n[[load.stages]]\nname = "{name}"\nduration = {duration}\nusers = {users}\n'
    return text


def _profile(tmp_path, plan: str, timeout: float | None = None, oversized: str | None = None):
    """The quickstart with a load plan, and optionally a shorter timeout or other oversized variants."""
    text = QUICKSTART.read_text()
    if timeout is not None:
        text = text.replace("timeout = 10.0", f"timeout = {timeout}")
    if oversized is not None:
        text = text.split("[oversized.variants]")[0] + f"[oversized.variants]\n{oversized}\n"
    path = tmp_path / "profile.toml"
    path.write_text(text + plan)
    return path


def _run(tmp_path, profile, proxy: FaultProxyProcess, *extra: str):
    run = run_local(profile, proxy.url, tmp_path / "out", *NO_EXIT_ON_ERRORS, *extra, locustfile="shaped.py")
    assert run.returncode == 0, run.stderr[-2000:]
    return run.record()["summary"]


def _windows(summary: dict, kind: str | None = None) -> dict[int, list[dict]]:
    """Window start (s) -> rows, of one kind or all."""
    out: dict[int, list[dict]] = {}
    for row in summary["windows"]:
        if kind is None or row["kind"] == kind:
            out.setdefault(round(row["start_s"]), []).append(row)
    return out


def _failures(rows: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in rows:
        for outcome, n in row["outcomes"].items():
            if outcome not in ("ok", "rejected"):
                out[outcome] = out.get(outcome, 0) + n
    return out


def test_latency_adds_the_configured_ms_to_p50_in_its_stage_only(server, tmp_path):
    profile = _profile(tmp_path, _stages(("direct", 3, 2), ("slow", 3, 2)))
    faults = tmp_path / "faults.toml"
    faults.write_text(f'profile = "{profile}"\nseed = 3\n[stages.slow]\nlatency_ms = 60\njitter_ms = 10\n')
    with FaultProxyProcess(server.url, faults=faults) as proxy:
        summary = _run(tmp_path, profile, proxy, "--ml-window", "1")
    clean = _windows(summary, "clean")
    # windows wholly inside a stage on both clocks (the proxy's starts at the first request)
    direct = [clean[w][0]["latency_ms"]["p50"] for w in (1, 2)]
    slow = [clean[w][0]["latency_ms"]["p50"] for w in (4, 5)]
    # 60 ms ± 10 uniform has a median of 60; on top comes the server's own latency, a few ms at
    # this light load (more on a busy machine: the margin; twice the delay would be 120)
    assert all(57 <= p50 <= 100 for p50 in slow), (direct, slow)
    assert max(direct) < 40, (direct, slow)
    counts = proxy.counts["stages"]
    assert counts["slow"]["delayed"] == counts["slow"]["forwarded"] > 0
    assert "delayed" not in counts["direct"]


def test_a_bandwidth_limit_slows_big_payloads_by_their_size_and_small_ones_hardly(server, tmp_path):
    rate = 200_000  # bytes per second, each direction
    body = 47_296  # bytes of a 256-row large_batch request of the quickstart
    plan = '\n[load]\nshape = "soak"\nusers = 3\nduration = 4\n'
    profile = _profile(tmp_path, plan, oversized="large_batch = { weight = 1, size = 256 }")
    profile.write_text(profile.read_text().replace("oversized = 0.05", "oversized = 0.3"))
    with FaultProxyProcess(server.url, "--bandwidth", str(rate)) as proxy:
        summary = _run(tmp_path, profile, proxy)
    kinds = summary["kinds"]
    big, small = kinds["oversized"]["latency_ms"], kinds["clean"]["latency_ms"]
    assert big["n"] >= 10 and small["n"] >= 50
    assert big["p50"] >= 0.95 * body / rate * 1000  # the request alone takes size / rate
    assert big["p50"] < 4 * body / rate * 1000  # and the answer (about 10 kB) not much more
    assert small["p50"] < big["p50"] / 4  # a ~200-byte request and its answer: a few ms at this rate
    assert kinds["oversized"]["outcomes"] == {"ok": kinds["oversized"]["requests"]}  # slower, not broken
    assert proxy.counts["total"]["throttled"] == proxy.counts["total"]["forwarded"]


def test_resets_show_as_connection_errors_in_their_configured_share(server, tmp_path):
    profile = _profile(tmp_path, '\n[load]\nshape = "soak"\nusers = 3\nduration = 3\n')
    with FaultProxyProcess(server.url, "--reset", "0.2", "--seed", "11") as proxy:
        summary = _run(tmp_path, profile, proxy)
    outcomes, requests = summary["all"]["outcomes"], summary["all"]["requests"]
    assert set(outcomes) <= {"ok", "rejected", "connection_error"}
    assert requests > 300 and 0.14 <= outcomes["connection_error"] / requests <= 0.26
    resets = proxy.counts["total"]["reset"]
    # every reset is one failed request; the last ones may be cut off when Locust stops its users
    assert resets - 3 <= outcomes["connection_error"] <= resets
    table = proxy.stdout().splitlines()  # the listening line, then the counts printed at exit
    header, total = table[1].split(), table[-1].split()
    assert header[0] == "stage" and total[0] == "total" and total[header.index("reset")] == str(resets)


def test_black_holed_requests_time_out_at_the_profile_timeout(server, tmp_path):
    profile = _profile(tmp_path, '\n[load]\nshape = "soak"\nusers = 3\nduration = 4\n', timeout=0.5)
    with FaultProxyProcess(server.url, "--blackhole", "0.05", "--blackhole-hold-s", "5") as proxy:
        summary = _run(tmp_path, profile, proxy)
    outcomes = summary["all"]["outcomes"]
    assert set(outcomes) <= {"ok", "rejected", "timeout"}
    held = proxy.counts["total"]["blackhole"]
    assert held >= 5 and held - 3 <= outcomes["timeout"] <= held
    assert "blackhole_expired" not in proxy.counts["total"]  # each client gave up first and closed


def test_a_black_hole_is_closed_by_the_proxy_after_its_hold(server):
    proxy = FaultProxyProcess(server.url, "--blackhole", "1", "--blackhole-hold-s", "0.5")
    with proxy, socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as s:
        s.sendall(b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n")
        sent = time.monotonic()
        assert s.recv(1024) == b""  # no answer: closed
        held = time.monotonic() - sent
    assert 0.45 <= held < 3
    assert proxy.counts["total"] == {"requests": 1, "blackhole": 1, "blackhole_expired": 1}


def test_a_down_window_fails_requests_in_its_stage_only(server, tmp_path):
    stages = (("up", 3, 2), ("outage", 2, 2), ("maintenance", 2, 2), ("back", 2, 2))
    profile = _profile(tmp_path, _stages(*stages))
    faults = tmp_path / "faults.toml"
    faults.write_text(
        f'profile = "{profile}"\n[stages.outage]\ndown = true\n[stages.maintenance]\ndown = true\ndown_status = 503\n'
    )
    with FaultProxyProcess(server.url, faults=faults) as proxy:
        summary = _run(tmp_path, profile, proxy, "--ml-window", "1")
    by_window = {w: _failures(rows) for w, rows in _windows(summary).items()}
    # the proxy's stages start when its first request came, a few ms after Locust's: one window of slack
    assert all(not by_window[w] for w in (0, 1, 2)), by_window
    assert {w for w, f in by_window.items() if f.get("connection_error")} - {3, 4, 5} == set(), by_window
    assert {w for w, f in by_window.items() if f.get("server_error")} - {5, 6, 7} == set(), by_window
    assert by_window[4] == {"connection_error": by_window[4]["connection_error"]}  # a reset: connection errors
    assert by_window[6] == {"server_error": by_window[6]["server_error"]}  # a 503 answer: server errors
    assert not by_window[8]
    counts = proxy.counts["stages"]
    assert "down" not in counts["up"] and "down" not in counts["back"]
    assert counts["outage"]["down"] == counts["outage"]["requests"] > 0
    assert counts["maintenance"]["down"] == counts["maintenance"]["requests"] > 0


def test_a_bad_flag_stops_the_proxy_with_exit_2_and_the_message(server):
    with pytest.raises(FaultProxyError, match=r"exit 2\):\nerror: --reset: must be <= 1, got 3"):
        FaultProxyProcess(server.url, "--reset", "3").start()
