"""Transport attacks (issue 13): hostile or unusual servers in processes of their own, met by the
ML users' transports as a run meets them. Each test fails on the code before the fix."""

from __future__ import annotations

import csv
import gc
import subprocess
import time
import tracemalloc
from pathlib import Path

import psutil
import pytest
from locust.contrib.fasthttp import insecure_ssl_context_factory

from locust_mlstress.http.bodies import MAX_RESPONSE_BYTES, BodyTooLarge, decompressed
from locust_mlstress.http.client import Origin, Pool, post, request_head
from tests.attacks._transport import Server, self_signed
from tests.conftest import PROFILES
from tests.integration.harness import LOCUST, LOCUSTFILES, ROOT, locust_env

QUICKSTART = PROFILES / "quickstart.toml"
ROUTER = PROFILES / "multiclass_router.toml"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


def test_tls13_session_tickets_do_not_read_as_an_early_answer(certificate):
    """Defect 1: a TLS 1.3 server (another process, session tickets on) reading the whole body
    before answering. Each 2 MiB body goes over a new connection, as a new user's would; the
    ticket that arrives while the body is going out must not stop the sending. Before the fix
    38 of 50 timed out."""
    cert, key = certificate
    body = b'{"instances": [[1]], "pad": "' + b"x" * (2 << 20) + b'"}'
    with Server("tls", str(cert), str(key)) as server:
        origin = Origin.parse(server.url)
        head = request_head(origin, "/v1/models/m:predict", {"Accept-Encoding": "gzip"})
        failures = []
        for i in range(50):
            pool = Pool(origin, 3.0, insecure_ssl_context_factory())
            answer = pool.exchange(post(head, "application/json", f"r-{i}", body), 10.0, 1 << 20)
            pool.close()
            if answer.error is not None or answer.status != 200 or answer.content != b'{"predictions": [0.5]}':
                failures.append(f"{answer.status} {answer.error}")
    assert failures == [], f"{len(failures)} of 50 failed: {failures[:3]}"


def _locust_run(
    profile: Path, host: str, out: Path, user: str, seconds: int = 10, users: int = 8
) -> tuple[int, float, float]:
    """A real headless Locust run (MLUser, or MLHttpUser for `user="http"`; no wait): the error
    rows in Locust's failures CSV, the RSS after the first 3 s and the largest after that (MB)."""
    out.mkdir(parents=True, exist_ok=True)
    args = [
        *LOCUST, "-f", str(LOCUSTFILES / "fast.py"), "--ml-profile", str(profile), "--host", host, "--headless",
        "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--csv", str(out / "run"), "--loglevel", "WARNING",
    ]  # fmt: skip
    log = out / "stderr.txt"  # a file, not a pipe: a full pipe would stop Locust mid-run
    with log.open("w") as err:
        proc = subprocess.Popen(args, env=locust_env(out, user), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
    watched = psutil.Process(proc.pid)
    started = time.monotonic()
    early = peak = 0.0
    try:
        while proc.poll() is None:
            try:
                rss = watched.memory_info().rss / 2**20
            except psutil.Error:
                break
            if time.monotonic() - started < 3:
                early = rss
            else:
                peak = max(peak, rss)
            time.sleep(0.2)  # a sampling period, not a wait for an event
        proc.wait(timeout=seconds + 60)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = log.read_text(errors="replace")
    failures = out / "run_failures.csv"
    assert failures.exists(), stderr[-2000:]
    with failures.open() as f:
        rows = list(csv.DictReader(f))
    assert "Traceback" not in stderr, stderr[-2000:]
    return len(rows), early, peak


@pytest.mark.parametrize(
    ("mode", "profile", "user", "reason"),
    [
        ("encoding", QUICKSTART, "fast", "unsupported Content-Encoding '...'"),
        ("v2names", ROUTER, "fast", "in output '...'"),
        ("status", QUICKSTART, "fast", "bad status in '...'"),
        ("status", QUICKSTART, "http", "BadStatusLine('...')"),  # requests' own text, quoting the server
    ],
    ids=["encoding", "v2names", "status", "status-http"],
)
def test_server_text_keeps_locusts_error_table_small(tmp_path, mode, profile, user, reason):
    """Defect 6: a server sending different text on every answer (a random Content-Encoding of
    up to 2,000 characters, a random v2 output name, a random status line). Before the fix each
    answer made a row of Locust's error table (6,696 to 10,415 rows in 10 s) and the process
    grew with them."""
    if mode == "v2names":  # no requested output: the answer's first output is read, by its name
        text = profile.read_text()
        assert 'v2_outputs = ["probabilities"]\n' in text
        profile = tmp_path / "router.toml"
        profile.write_text(text.replace('v2_outputs = ["probabilities"]\n', ""))
    with Server(mode) as server:
        rows, early, peak = _locust_run(profile, server.url, tmp_path / mode, user)
    text = (tmp_path / mode / "run_failures.csv").read_text()
    assert rows <= 30, f"{rows} error rows; RSS {early:.0f} -> {peak:.0f} MB"
    assert reason in text
    assert peak - early < 15, f"RSS grew {early:.0f} -> {peak:.0f} MB"  # before the fix: 8 to 31 MB in 10 s
    print(f"{mode}: {rows} error rows, RSS {early:.0f} -> {peak:.0f} MB")


def _user(base, url: str, profile: Path = QUICKSTART):
    """One user of a subclass of `base` on `url`, started as Locust starts it; the `ml_request`
    results it fires."""
    from locust import constant

    return _start(type(f"Attack{base.__name__}", (base,), {"profile": profile, "host": url, "wait_time": constant(0)}))


def _start(user_class):
    from locust.env import Environment

    from locust_mlstress import ml_events

    url = user_class.host
    environment = Environment(user_classes=[user_class], host=url)
    seen: list = []
    ml_events(environment).add_listener(lambda payload, result, **_kw: seen.append(result))
    user = user_class(environment)
    user.on_start()
    return user, seen


def _send_clean(user, count: int) -> None:
    sent = 0
    while sent < count:
        payload = user._factory.next()
        if payload.kind == "clean":
            user._send(payload, user._champion, payload.request_id, None)
            sent += 1


def test_both_user_classes_call_an_unknown_content_encoding_undecodable():
    """Defect 10: the same answer (a valid body under `Content-Encoding: x-mystery`) was
    `undecodable` under MLUser and `ok` under MLHttpUser."""
    from locust_mlstress import MLHttpUser, MLUser

    results = {}
    with Server("unknown") as server:
        for base in (MLUser, MLHttpUser):
            user, seen = _user(base, server.url)
            _send_clean(user, 3)
            user.on_stop()
            results[base.__name__] = {(r.outcome.value, r.reason) for r in seen}
    expected = {("undecodable", "unsupported Content-Encoding 'x-mystery'")}
    assert results == {"MLUser": expected, "MLHttpUser": expected}


def test_a_gzip_bomb_is_refused_at_the_cap_without_holding_more():
    """Defect 11: 64 KiB of gzip inflating to 64 MiB, from a server process. Refused at the cap
    by both classes; one exchange of MLUser's peaks near the cap (before: twice the cap per
    decode, the compressed body and zlib's buffers held together)."""
    from locust_mlstress import MLHttpUser, MLUser

    reason = f"body exceeds the limit of {MAX_RESPONSE_BYTES} bytes (max_response_bytes)"
    with Server("bomb") as server:
        for base in (MLUser, MLHttpUser):
            user, seen = _user(base, server.url)
            _send_clean(user, 1)  # a first exchange: connections and caches made outside the measure
            gc.collect()
            tracemalloc.start()
            try:
                _send_clean(user, 1)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            user.on_stop()
            assert [(r.outcome.value, r.reason) for r in seen] == [("undecodable", reason)] * 2
            if base is MLUser:  # MLHttpUser's inflating is urllib3's, a chunk at a time
                assert peak < 1.5 * MAX_RESPONSE_BYTES, f"peak {peak / 2**20:.1f} MiB"
            print(f"{base.__name__}: peak {peak / 2**20:.1f} MiB for a cap of {MAX_RESPONSE_BYTES / 2**20:.0f} MiB")


def test_a_decode_peaks_near_the_cap():
    """Defect 11, the decoding alone: gzip, deflate and br bombs stop within 1.5x the cap."""
    import gzip
    import zlib

    import brotli

    zeros = bytes(64 << 20)
    for encoding, data in (("gzip", gzip.compress(zeros, 9)), ("deflate", zlib.compress(zeros, 9)),
                           ("br", brotli.compress(zeros))):  # fmt: skip
        tracemalloc.start()
        try:
            with pytest.raises(BodyTooLarge, match=f"limit of {MAX_RESPONSE_BYTES} bytes"):
                decompressed(data, encoding, MAX_RESPONSE_BYTES)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 1.5 * MAX_RESPONSE_BYTES, f"{encoding}: peak {peak / 2**20:.1f} MiB"


def test_a_status_of_superscript_digits_is_a_connection_error_with_a_reason():
    """Defect 12: `HTTP/1.1 ²²² OK` passed `str.isdigit()`, then `int()` raised a bare
    ValueError out of the user's request."""
    from locust_mlstress import MLUser

    with Server("superscript") as server:
        user, seen = _user(MLUser, server.url)
        _send_clean(user, 2)
        user.on_stop()
    reason = "HttpError: bad status in 'HTTP/1.1 ??? OK'"
    assert [(r.outcome.value, r.reason) for r in seen] == [("connection_error", reason)] * 2


def test_mluser_names_the_fasthttpuser_settings_it_ignores(caplog):
    """Defect 12: a proxy set on an MLUser class was silently not used for model requests."""
    from locust_mlstress import MLUser

    with Server("unknown") as server:
        proxied = type("Proxied", (MLUser,), {"proxy_host": "127.0.0.1", "proxy_port": 3128, "max_retries": 2,
                                              "default_headers": {"X-A": "1"}, "profile": QUICKSTART,
                                              "host": server.url})  # fmt: skip
        with caplog.at_level("WARNING", logger="locust_mlstress"):
            for _ in range(2):  # a second user of the class: no second warning
                user, _seen = _start(proxied)
                user.on_stop()
    warnings = [r.getMessage() for r in caplog.records if "ignore" in r.getMessage()]
    assert len(warnings) == 1
    for name in ("proxy_host", "proxy_port", "default_headers", "max_retries", "MLHttpUser", "[target.headers]"):
        assert name in warnings[0]
    assert "client_pool" not in warnings[0]


def test_a_gzip_bomb_under_load_keeps_the_process_small(tmp_path):
    """Defect 11 in a real run: 40 users against the bomb server for 10 s. Before the fix the
    Locust process grew to 548 MB with 1 user and 660 MB with 40 (an 8 MiB cap); now it stays
    near its size without the bomb (about 140 MB here)."""
    with Server("bomb") as server:
        rows, early, peak = _locust_run(QUICKSTART, server.url, tmp_path, "fast", users=40)
    assert "exceeds the limit of 8388608 bytes" in (tmp_path / "run_failures.csv").read_text()
    assert max(early, peak) < 250, f"RSS {early:.0f} -> {peak:.0f} MB"
    print(f"bomb, 40 users: {rows} error rows, RSS {early:.0f} -> {peak:.0f} MB")
