"""Command lines and hosts in run records lose their secrets, and only them; a trace file that
cannot be written never raises."""

import json
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


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_partial_one(tmp_path):
    """`--ml-baseline b.json --ml-save-baseline b.json`: a write that fails before the file is
    opened (a value JSON cannot hold, a second Ctrl-C while rendering) or half way through
    leaves the previous file whole; only a whole write replaces it."""
    from locust_mlstress.plugin.outputs import attempt
    from locust_mlstress.report.formats import write_json

    path = tmp_path / "b.json"
    path.write_text('{"intact": true}\n')

    def interrupted(target):
        raise KeyboardInterrupt

    def half_written(target):
        Path(target).write_text('{"half')
        raise OSError(28, "No space left on device")

    failures: list[str] = []
    assert not attempt("nan", lambda t: write_json(t, {"x": float("nan")}), failures, path)
    assert not attempt("ctrl-c", interrupted, failures, path)
    assert not attempt("full", half_written, failures, path)
    assert failures == ["nan", "ctrl-c", "full"]
    assert path.read_text() == '{"intact": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json"]  # no partial file left behind
    assert attempt("ok", lambda t: write_json(t, {"x": 1}), failures, path) and json.loads(path.read_text()) == {"x": 1}
    fresh = tmp_path / "new.json"  # a file that did not exist: a failed write leaves nothing
    assert not attempt("full", half_written, failures, fresh) and not fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json"]
