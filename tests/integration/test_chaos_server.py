"""A headless Locust run against the reference server in chaos mode: every bad answer is classified.

One real run of MLUser: every chaos mode is hit, each request's outcome and reason are what its
mode calls for (the request id says which mode it got: `mode_for`), no exception reaches Locust,
and the ML summary counts what Locust counts. (MLHttpUser meets the transport modes on real
sockets in tests/unit/test_chaos_transport.py; the body modes do not depend on the client.)

Most users spend their time in the hang and drip modes, waiting out the 1 s timeout, so the run
has many users: each chaos request costs about 0.15 s on average.
"""

from __future__ import annotations

import csv
import json
import re

import pytest

from locust_mlstress.servers.reference.chaos import mode_for
from locust_mlstress.servers.reference.knobs import CHAOS_MODES, ServerKnobs
from locust_mlstress.servers.reference.process import ReferenceServer
from tests.integration.conftest import QUICKSTART
from tests.integration.harness import run_local

SHARE = 0.8
TIMEOUT = 1.0
EXPECTED = {  # mode -> (outcome, reason pattern)
    "not_json": ("undecodable", r"^body is not JSON: Expecting value"),
    "truncated": ("undecodable", r"^body is not JSON: "),
    "wrong_shape": ("undecodable", r"^expected \d+ predictions, got \d+$"),
    "nan": ("undecodable", r"^prediction 0 is NaN$"),
    "inf": ("undecodable", r"^prediction 0 is inf$"),
    "out_of_range": ("undecodable", r"^prediction 0 is 1\.7, outside \[0, 1\]$"),
    "empty": ("undecodable", r"^empty body$"),
    "content_type": ("ok", None),
    "huge": ("undecodable", r"^body exceeds the limit of 8388608 bytes \(max_response_bytes\)$"),
    "drip": ("timeout", r"^body could not be read: TimeoutError: body not complete within the 1 s timeout$"),
    "reset": ("connection_error", r"^body could not be read: .*Connection reset by peer"),
    "hang": ("timeout", r"^TimeoutError: timed out: no answer within the 1 s timeout$"),
}  # fmt: skip


@pytest.fixture(scope="module")
def chaos_server():
    knobs = ServerKnobs(chaos=CHAOS_MODES, chaos_share=SHARE, chaos_stall_s=5.0, chaos_huge_bytes=(8 << 20) + 4096)
    with ReferenceServer(QUICKSTART, knobs, train_samples=2_000) as server:
        yield server
        assert "Traceback" not in server.stderr()


@pytest.fixture(scope="module")
def chaos_run(chaos_server, tmp_path_factory):
    out = tmp_path_factory.mktemp("chaos")
    profile = out / "chaos.toml"
    profile.write_text(QUICKSTART.read_text().replace("timeout = 10.0", f"timeout = {TIMEOUT}"))
    run = run_local(
        profile, chaos_server.url, out, "-u", "12", "-r", "12", "-t", "8s",
        "--ml-artifacts", str(out / "art"), "--ml-trace-rate", "1", timeout=60,
    )  # fmt: skip
    traces = [json.loads(line) for line in (out / "art" / "traces.jsonl").read_text().splitlines()]
    return run, traces


def test_the_run_completes_with_failures_and_no_exception(chaos_run):
    run, _ = chaos_run
    assert run.returncode == 1, run.stderr[-2000:]  # Locust's code for a run with failed requests
    assert "Traceback" not in run.stderr and "Exception" not in run.stderr
    exceptions = list(csv.reader(run.path("art/locust_exceptions.csv").open()))
    assert exceptions == [["Count", "Message", "Traceback", "Nodes"]]


def test_every_request_of_every_mode_has_its_outcome_and_reason(chaos_run):
    run, traces = chaos_run
    manifest = json.loads(run.path("art/manifest.json").read_text())
    assert manifest["traces"]["dropped"] == 0 and len(traces) == run.record()["locust_requests"]
    hits = dict.fromkeys(CHAOS_MODES, 0)
    normal = 0
    for trace in traces:
        mode = mode_for(trace["request_id"], CHAOS_MODES, SHARE)
        if trace["kind"] == "malformed" or (trace["kind"] == "oversized" and trace["outcome"] == "rejected"):
            assert trace["outcome"] == "rejected", trace  # refused before any chaos: only 200s are touched
            continue
        if mode is None:
            assert trace["outcome"] == "ok", trace
            normal += 1
            continue
        outcome, pattern = EXPECTED[mode]
        assert trace["outcome"] == outcome, (mode, trace)
        assert pattern is None or re.search(pattern, trace["reason"]), (mode, trace["reason"])
        hits[mode] += 1
    assert min(hits.values()) > 0 and normal > 0, hits


def test_the_ml_summary_counts_what_locust_counts(chaos_run):
    run, traces = chaos_run
    record = run.record()
    summary = run.summary_outcomes()
    assert summary == run.outcomes()  # the library's recorder agrees with the locustfile's own listener
    assert sum(summary.values()) == record["locust_requests"] == len(traces)
    failed = sum(n for (_k, _v, outcome), n in summary.items() if outcome not in ("ok", "rejected"))
    assert failed == record["locust_failures"] > 0
