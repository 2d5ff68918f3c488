"""Command lines in run records lose their secrets, and only them."""

import pytest

from locust_mlstress.report.manifest import REDACTED, redact_argv


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
