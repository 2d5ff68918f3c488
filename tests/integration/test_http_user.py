"""MLHttpUser (requests) classifies answers exactly as MLUser (its own transport) does."""

from locust_mlstress.servers.reference.knobs import ServerKnobs
from locust_mlstress.servers.reference.process import ReferenceServer
from tests.integration.conftest import QUICKSTART
from tests.integration.harness import free_port, run_local


def test_http_user_against_a_strict_server(server, tmp_path):
    run = run_local(QUICKSTART, server.url, tmp_path, "-u", "2", "-r", "2", "-t", "4s", user="http")
    by_kind: dict[str, set[str]] = {}
    for kind, _variant, outcome in run.outcomes():
        by_kind.setdefault(kind, set()).add(outcome)
    assert by_kind["clean"] == {"ok"} and by_kind["malformed"] == {"rejected"}
    assert sum(run.by_kind().values()) == run.record()["locust_requests"] > 50
    assert run.returncode == 0, run.stderr[-2000:]


def test_http_user_timeouts_and_connection_errors(tmp_path):
    slow_profile = tmp_path / "slow.toml"
    slow_profile.write_text(QUICKSTART.read_text().replace("timeout = 10.0", "timeout = 0.3"))
    with ReferenceServer(QUICKSTART, ServerKnobs(latency_ms=1500)) as slow:
        slow_run = run_local(slow_profile, slow.url, tmp_path / "slow", "-u", "2", "-r", "2", "-t", "4s", user="http")
    assert {o for (k, _v, o) in slow_run.outcomes() if k == "clean"} == {"timeout"}
    down = run_local(
        QUICKSTART, f"http://127.0.0.1:{free_port()}", tmp_path / "down", "-u", "2", "-r", "2", "-t", "4s", user="http"
    )
    assert {o for (_k, _v, o) in down.outcomes()} == {"connection_error"}
    assert "Traceback" not in slow_run.stderr + down.stderr
