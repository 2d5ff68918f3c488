"""Command lines and hosts in run records lose their secrets, and only them; a trace file that
cannot be written never raises."""

from pathlib import Path

import pytest

from locust_mlstress.quality.traces import TraceFile
from locust_mlstress.report.manifest import REDACTED, host_password, mask_host, redact_argv


@pytest.mark.parametrize(
    ("argv", "secrets", "expected"),
    [
        (["locust", "--ml-header", "Authorization: Bearer abc"], [], ["locust", "--ml-header", REDACTED]),
        (["locust", "--api-key=abc", "-u", "5"], [], ["locust", f"--api-key={REDACTED}", "-u", "5"]),
        (["locust", "--web-login", "--token", "t0k"], [], ["locust", "--web-login", "--token", REDACTED]),
        (["locust", "-H", "http://u:s3cret@127.0.0.1"], ["s3cret"], ["locust", "-H", f"http://u:{REDACTED}@127.0.0.1"]),
        (["locust", "-u", "50", "--ml-json", "out.json"], ["zzz"], ["locust", "-u", "50", "--ml-json", "out.json"]),
    ],
)
def test_redact_argv(argv, secrets, expected):
    assert redact_argv(argv, secrets) == expected


@pytest.mark.parametrize(
    ("host", "shown", "password"),
    [
        ("http://user:s3cret@127.0.0.1:8080/v1", f"http://user:{REDACTED}@127.0.0.1:8080/v1", "s3cret"),
        ("https://user:p%40ss@example.test", f"https://user:{REDACTED}@example.test", "p%40ss"),
        ("http://user@127.0.0.1", "http://user@127.0.0.1", None),  # a user name alone is no secret
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080", None),
        (None, None, None),
    ],
)
def test_the_host_password_is_masked(host, shown, password):
    assert mask_host(host) == shown and host_password(host) == password


def test_a_trace_file_on_a_full_disk_turns_tracing_off_without_raising(tmp_path, caplog):
    traces = TraceFile(tmp_path / "traces.jsonl")
    traces.path = Path("/dev/full")  # every write fails with ENOSPC, as on a full disk
    traces.add([{"request_id": "a"}])
    traces.add([{"request_id": "b"}, {"request_id": "c"}], dropped=1)
    assert traces.error and traces.written == 0 and traces.dropped == 4
    assert sum("request tracing is off" in r.message for r in caplog.records) == 1
