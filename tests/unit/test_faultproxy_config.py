"""Fault files, fault flags and addresses: valid ones become a plan, bad ones an error that
names the field (or flag) and the fix, and `mlstress proxy` exits 2 on them without a traceback."""

import pytest

from locust_mlstress.cli import main as mlstress
from locust_mlstress.errors import ProfileError
from locust_mlstress.servers.faultproxy.config import load_plan, parse_listen, parse_upstream
from locust_mlstress.servers.faultproxy.faults import AFTER_PLAN, FaultSet
from tests.samples import MINIMAL

LOAD = """
[load]
shape = "stages"

[[load.stages]]
name = "warm"
duration = 5
users = 2

[[load.stages]]
name = "outage"
duration = 3
users = 2
"""


def _file(tmp_path, text: str, name: str = "faults.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _error(tmp_path, text: str, **kwargs) -> ProfileError:
    with pytest.raises(ProfileError) as info:
        load_plan(_file(tmp_path, text), **kwargs)
    return info.value


def test_stages_come_from_the_profile_next_to_the_fault_file_and_inherit_the_base(tmp_path):
    _file(tmp_path, MINIMAL + LOAD, "scenario.toml")
    text = 'seed = 9\nprofile = "scenario.toml"\n[faults]\nlatency_ms = 20\n[stages.outage]\ndown = true\n'
    plan = load_plan(_file(tmp_path, text))
    assert plan.seed == 9 and plan.clock == "first-request"
    assert [(s.name, s.start_s, s.end_s) for s in plan.stages] == [("warm", 0, 5), ("outage", 5, 8)]
    assert plan.at(1) == ("warm", FaultSet(latency_ms=20))
    assert plan.at(6) == ("outage", FaultSet(latency_ms=20, down=True))
    assert plan.at(8)[0] == AFTER_PLAN


def test_a_timeline_in_the_fault_file_needs_no_profile(tmp_path):
    text = '[[timeline]]\nname = "a"\nduration = 2\n[[timeline]]\nname = "b"\nduration = 3\n[stages.b]\nreset = 0.5\n'
    plan = load_plan(_file(tmp_path, text), seed=4, clock="listen")
    assert [(s.name, s.faults.reset) for s in plan.stages] == [("a", 0.0), ("b", 0.5)]
    assert (plan.seed, plan.clock) == (4, "listen")


def test_flags_set_the_base_over_the_file_and_the_stages_inherit_them(tmp_path):
    text = '[[timeline]]\nname = "a"\nduration = 2\n[faults]\nlatency_ms = 20\nreset = 0.1\n[stages.a]\njitter_ms = 3\n'
    plan = load_plan(_file(tmp_path, text), flags={"latency_ms": 50.0, "reset": None, "bandwidth": 0.0})
    assert plan.base == FaultSet(latency_ms=50, reset=0.1)  # bandwidth 0: unlimited
    assert plan.at(0)[1] == FaultSet(latency_ms=50, reset=0.1, jitter_ms=3)


def test_flags_alone_make_a_whole_run_plan():
    plan = load_plan(flags={"latency_ms": 50.0, "jitter_ms": 10.0, "jitter": "normal", "down": True})
    assert plan.stages == () and plan.base == FaultSet(latency_ms=50, jitter_ms=10, jitter="normal", down=True)


@pytest.mark.parametrize(
    ("text", "field", "says"),
    [
        ("[faults]\nreset = 1.5\n", "faults.reset", "must be <= 1"),
        ("[faults]\nreset = 0.6\nblackhole = 0.5\n", "faults.blackhole", "must be <= 1: they share one draw"),
        ('[faults]\njitter = "gauss"\n', "faults.jitter", "choose one of: uniform, normal"),
        ("[faults]\nlatncy_ms = 5\n", "faults.latncy_ms", "did you mean 'latency_ms'"),
        ("[faults]\ndown_status = 200\n", "faults.down_status", "from 400 to 599"),
        ("[faults]\nbandwidth = -1\n", "faults.bandwidth", "must be >= 0"),
        ('[faults]\nbandwidth_on = "up"\n', "faults.bandwidth_on", "both, response, request"),
        ("[faults]\nblackhole_hold_s = 0\n", "faults.blackhole_hold_s", "must be > 0"),
        ('clock = "wall"\n', "clock", "first-request, listen"),
        ("seed = -1\n", "seed", "must be >= 0"),
        ("[stages.outage]\ndown = true\n", "stages", "needs a timeline"),
        ('[[timeline]]\nname = "a"\nduration = 1\n[stages.b]\ndown = true\n', "stages.b", "its stages are: a"),
        ('[[timeline]]\nname = "outage"\nduration = 1\n[stages.outgae]\n', "stages.outgae", "did you mean 'outage'"),
        ('[[timeline]]\nname = "a"\nduration = 1\n[stages.a]\ndwn = true\n', "stages.a.dwn", "did you mean 'down'"),
        ('[[timeline]]\nname = "a"\nduration = 0\n', "timeline[0].duration", "must be > 0"),
        ("[[timeline]]\nduration = 1\n", "timeline[0].name", "is required"),
        ('profile = "x.toml"\n[[timeline]]\nname = "a"\nduration = 1\n', "timeline", "give the stages once"),
        ("latency_ms = 5\n", "latency_ms", "unknown field"),
    ],
)
def test_a_bad_fault_file_names_the_field_and_the_fix(tmp_path, text, field, says):
    error = _error(tmp_path, text)
    assert error.field == field and says in error.message
    assert str(tmp_path / "faults.toml") in str(error)


def test_a_profile_without_a_load_plan_gives_no_stages(tmp_path):
    _file(tmp_path, MINIMAL, "flat.toml")
    error = _error(tmp_path, 'profile = "flat.toml"\n')
    assert error.field == "load" and "has no [load] plan" in error.message and "flat.toml" in str(error)


def test_an_unreadable_fault_file_says_so(tmp_path):
    assert "is not valid TOML" in str(_error(tmp_path, "seed = = 1\n"))
    with pytest.raises(ProfileError, match="file not found"):
        load_plan(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("flags", "flag", "says"),
    [
        ({"reset": 2.0}, "--reset", "must be <= 1"),
        ({"reset": 0.7, "blackhole": 0.7}, "--blackhole", "share one draw"),
        ({"latency_ms": -5.0}, "--latency-ms", "must be >= 0"),
        ({"jitter": "flat"}, "--jitter", "choose one of"),
        ({"down_status": 302}, "--down-status", "from 400 to 599"),
    ],
)
def test_a_bad_flag_is_named_as_the_flag(flags, flag, says):
    with pytest.raises(ProfileError) as info:
        load_plan(flags=flags)
    assert info.value.field == flag and says in info.value.message


@pytest.mark.parametrize("text", ["127.0.0.1:8081", "localhost:0", "[::1]:9000"])
def test_loopback_listen_addresses_are_accepted(text):
    host, port = parse_listen(text)
    assert host in ("127.0.0.1", "localhost", "::1") and 0 <= port <= 65535


@pytest.mark.parametrize(
    ("text", "says"), [("0.0.0.0:8081", "not loopback"), ("10.1.2.3:80", "not loopback"), ("8081", "not HOST:PORT")]
)
def test_a_listen_address_off_loopback_is_refused(text, says):
    with pytest.raises(ProfileError, match=says) as info:
        parse_listen(text)
    assert info.value.field == "--listen"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://example.com:80", "not loopback"),
        ("http://192.168.1.1:8080", "not loopback"),
        ("https://127.0.0.1:8443", "only http://"),
        ("http://127.0.0.1", "needs a port"),
        ("http://127.0.0.1:8080/v1", "give no path"),
        ("http://127.0.0.1:99999", "is not a URL"),
    ],
)
def test_an_upstream_off_loopback_or_malformed_is_refused(url, says):
    with pytest.raises(ProfileError, match=says) as info:
        parse_upstream(url)
    assert info.value.field == "--upstream"


def test_a_loopback_upstream_is_accepted():
    assert parse_upstream("http://127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_upstream("http://localhost:8080/") == ("localhost", 8080)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--listen", "0.0.0.0:0", "--upstream", "http://127.0.0.1:1"], "error: --listen: '0.0.0.0' is not loopback"),
        (["--upstream", "http://10.0.0.1:80"], "error: --upstream: '10.0.0.1' is not loopback"),
        (["--upstream", "http://127.0.0.1:1", "--reset", "3"], "error: --reset: must be <= 1"),
    ],
)
def test_mlstress_proxy_exits_2_with_the_message_and_no_traceback(capsys, argv, says):
    assert mlstress(["proxy", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(says) and "Traceback" not in err


def test_mlstress_proxy_names_the_fault_file_field(capsys, tmp_path):
    path = _file(tmp_path, "[faults]\nreset = 0.9\nblackhole = 0.2\n")
    assert mlstress(["proxy", "--upstream", "http://127.0.0.1:1", "--faults", str(path)]) == 2
    assert f"{path}: faults.blackhole: reset (0.9) + blackhole (0.2) must be <= 1" in capsys.readouterr().err


def test_a_fault_file_nested_too_deeply_is_one_line(tmp_path):
    error = _error(tmp_path, "x = " + "[" * 100_000 + "]" * 100_000 + "\n")  # was a RecursionError
    assert error.field == "" and "nests tables or arrays too deeply" in error.message


def test_a_fault_file_that_is_a_fifo_is_refused_without_blocking(tmp_path):
    import os

    fifo = tmp_path / "faults.toml"
    os.mkfifo(fifo)  # no writer: opening it to read would block forever
    with pytest.raises(ProfileError, match="is not a regular file but a FIFO"):
        load_plan(fifo)
