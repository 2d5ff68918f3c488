"""The server for real: the CLI, and `ReferenceServer` as a subprocess answering HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import gevent
import gevent.socket
import pytest
import requests

from locust_mlstress.servers.reference import ReferenceServer, ReferenceServerError, ServerKnobs, serve, start_server
from locust_mlstress.servers.reference.cli import build_parser, knobs_from_args, knobs_to_argv, main

from .test_reference_validation import ROW

PROFILES = Path(__file__).resolve().parents[2] / "profiles"
QUICKSTART = PROFILES / "quickstart.toml"


@pytest.fixture(scope="module")
def server():
    knobs = ServerKnobs(max_body_bytes=100_000)
    with ReferenceServer(QUICKSTART, knobs, train_samples=2_000) as running:
        yield running
        assert "Traceback" not in running.stderr()


def test_real_http_prediction(server):
    assert server.url == f"http://127.0.0.1:{server.port}"
    reply = requests.post(f"{server.url}/v1/models/churn:predict", json={"instances": [ROW, ROW]}, timeout=10)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json"
    predictions = reply.json()["predictions"]
    assert len(predictions) == 2 and 0 < predictions[0] < 1
    assert requests.get(f"{server.url}/v2/health/ready", timeout=10).json() == {"ready": True}


def test_real_http_keeps_connections_alive(server):
    with requests.Session() as session:
        for _ in range(20):
            assert session.post(f"{server.url}/invocations", json={"dataframe_records": [ROW]}, timeout=10).ok


def test_real_http_errors(server):
    reply = requests.post(f"{server.url}/v1/models/churn:predict", data=b"{", timeout=10)
    assert reply.status_code == 415  # requests sends no JSON content type for raw data
    reply = requests.post(
        f"{server.url}/v1/models/churn:predict",
        data=b"{",
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert reply.status_code == 400 and "invalid JSON" in reply.json()["error"]


def test_oversized_body_gets_413_not_a_reset(server):
    body = json.dumps({"instances": [{**ROW, "last_note": "x" * 1_000_000}]}).encode()
    reply = requests.post(
        f"{server.url}/v1/models/churn:predict",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert reply.status_code == 413 and "100000 bytes" in reply.json()["error"]
    # and the same connection-level behaviour with a chunked body of unknown length
    chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
    reply = requests.post(
        f"{server.url}/v1/models/churn:predict",
        data=chunks,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert reply.status_code == 413


def test_server_binds_loopback_only(server):
    with socket.socket() as probe:
        probe.settimeout(2)
        assert probe.connect_ex(("127.0.0.1", server.port)) == 0
    with pytest.raises(ValueError, match="loopback"):
        start_server(None, host="0.0.0.0", port=0)  # type: ignore[arg-type]


def test_knobs_reach_the_subprocess():
    with ReferenceServer(QUICKSTART, ServerKnobs(error_rate=1.0), train_samples=500) as failing:
        reply = requests.post(f"{failing.url}/v1/models/churn:predict", json={"instances": [ROW]}, timeout=10)
        assert reply.status_code == 500 and "error_rate" in reply.json()["error"]
    assert failing.process is None and failing.port is None


def test_a_server_that_dies_says_why(tmp_path):
    dead = ReferenceServer(tmp_path / "missing.toml", startup_timeout=30)
    with pytest.raises(ReferenceServerError, match="status 2") as caught:
        dead.start()
    assert "missing.toml" in str(caught.value)
    assert dead.returncode == 2 and "missing.toml" in dead.stderr()  # kept once its files are gone


def test_a_server_not_listening_in_time_is_stopped_and_says_so():
    late = ReferenceServer(QUICKSTART, startup_timeout=0.001)  # no Python starts and fits a model in 1 ms
    with pytest.raises(ReferenceServerError, match=r"^reference server did not listen within 0\.001 s:"):
        late.start()
    assert late.process is None and late.port is None and late.returncode is not None


def test_a_running_server_is_not_started_twice(server):
    with pytest.raises(RuntimeError, match="already started"):
        server.start()
    assert requests.get(f"{server.url}/v2/health/ready", timeout=10).status_code == 200


def test_serve_in_process_reports_the_bound_port(quickstart, capsys):
    ports: list[int] = []
    serving = gevent.spawn(serve, quickstart, ServerKnobs(), port=0, ready=ports.append, train_samples=500)
    try:
        with gevent.Timeout(30):
            while not ports:
                gevent.sleep(0.01)
        assert f"listening on http://127.0.0.1:{ports[0]}\n" in capsys.readouterr().out
        # requests would block the gevent hub this server runs on: talk HTTP over a gevent socket
        client = gevent.socket.create_connection(("127.0.0.1", ports[0]))
        client.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        answer = b""
        with gevent.Timeout(10):
            while chunk := client.recv(65536):
                answer += chunk
        client.close()
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b'{"live":true}')
    finally:
        serving.kill()


# --- the command line ------------------------------------------------------------------------------


def test_cli_flags_round_trip():
    knobs = ServerKnobs(
        latency_ms=5.0,
        jitter_ms=1.5,
        error_rate=0.1,
        temperature=2.0,
        drift_degradation=0.5,
        concurrency_latency_ms=3.0,
        lax="accept",
        max_body_bytes=2048,
        max_instances=16,
        max_fields=32,
        seed=9,
    )
    args = build_parser().parse_args(["--profile", "p.toml", *knobs_to_argv(knobs)])
    assert knobs_from_args(args) == knobs
    defaults = build_parser().parse_args(["--profile", "p.toml"])
    assert knobs_from_args(defaults) == ServerKnobs() and defaults.port == 8080
    assert knobs_to_argv(ServerKnobs()) == []


def test_cli_bad_profile_is_a_message_and_status_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 3\n")
    assert main(["--profile", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "name" in err and "Traceback" not in err


def test_cli_bad_knobs_are_status_2(capsys):
    assert main(["--profile", str(QUICKSTART), "--error-rate", "3", "--temperature", "0"]) == 2
    err = capsys.readouterr().err
    assert "error_rate" in err and "temperature" in err
    with pytest.raises(SystemExit) as exited:
        main(["--profile", str(QUICKSTART), "--lax", "maybe"])
    assert exited.value.code == 2
