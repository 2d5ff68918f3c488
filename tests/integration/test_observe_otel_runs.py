"""Locust's `--otel` with our figures, in real local and distributed runs, sent by the SDK's real
OTLP/HTTP exporter to a receiver that decodes the protobuf (docs/observe.md): the last export
equals the `--ml-json` summary, beside Locust's own instruments."""

from __future__ import annotations

import json
import math

import pytest

from tests.integration.conftest import QUICKSTART
from tests.integration.harness import finish_distributed, run_local, start_distributed
from tests.observe_expect import expected_series
from tests.otlp_receiver import OtlpReceiver, histograms, metric_names, numbers, resource_attributes

SCOPE = "locust_mlstress"
PROM = {"mlstress.requests": "mlstress_requests_total", "mlstress.pairs": "mlstress_pairs_total",
        "mlstress.pair.regressions": "mlstress_pair_regressions_total"}  # fmt: skip


def otel_env(receiver: OtlpReceiver) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": receiver.endpoint,
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
        "OTEL_SERVICE_NAME": "mlstress-test",
    }


@pytest.fixture
def receiver():
    with OtlpReceiver() as r:
        yield r


def final_export(receiver: OtlpReceiver, summary: dict):
    """The export whose run duration is the summary's: the one sent after the run finished."""
    return receiver.wait_for(
        lambda r: numbers(r, SCOPE).get(("mlstress.run.duration", ())) == summary["duration_s"], timeout=10
    )


def as_prometheus(request) -> dict:
    """The export's values under Prometheus's names (its OTLP translation), keyed like
    tests/observe_expect.py, so one expectation serves both exports."""
    out = {}
    for (name, labels), value in numbers(request, SCOPE).items():
        prom = PROM.get(name) or name.replace(".", "_")
        out[(prom, frozenset(labels))] = value
    for (_name, labels), point in histograms(request, SCOPE).items():
        out[("mlstress_request_duration_seconds_count", frozenset(labels))] = point.count
    return out


def assert_equal_to_summary(request, summary: dict) -> int:
    got = as_prometheus(request)
    units = {"mlstress_run_duration_seconds": "mlstress_run_duration",
             "mlstress_request_duration_percentile_seconds": "mlstress_request_duration_percentile",
             "mlstress_accuracy_ratio": "mlstress_accuracy",
             "mlstress_pair_disagreement_ratio": "mlstress_pair_disagreement",
             "mlstress_generator_saturated_seconds": "mlstress_generator_saturated",
             "mlstress_generator_process_saturated_seconds": "mlstress_generator_process_saturated",
             "mlstress_generator_cpu_max_ratio": "mlstress_generator_cpu_max",
             "mlstress_generator_loop_lag_max_seconds": "mlstress_generator_loop_lag_max"}  # fmt: skip
    expected = expected_series(summary)
    for (name, labels), value in expected.items():
        key = (units.get(name, name), labels)
        assert key in got, f"{key} not exported"
        assert got[key] == value or math.isclose(got[key], value, rel_tol=1e-15), (key, got[key], value)
    return len(expected)


def test_a_local_run_exports_its_summary_beside_locusts_own_instruments(server, receiver, tmp_path):
    summary_path = tmp_path / "summary.json"
    run = run_local(QUICKSTART, server.url, tmp_path / "out", "-u", "4", "-t", "5s", "--otel",
                    "--ml-json", str(summary_path), "--ml-challenger", server.url,
                    "--ml-gate", "p99_ms[clean] < 5000", env=otel_env(receiver))  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(summary_path.read_text())
    last = final_export(receiver, summary)
    assert assert_equal_to_summary(last, summary) > 40
    attributes = resource_attributes(last, SCOPE)
    assert attributes["service.name"] == "mlstress-test"
    assert attributes["mlstress.run_id"] == summary["run"]["run_id"]
    assert attributes["mlstress.profile"] == "quickstart"
    # the histogram: every request of the kind, cumulative since the test started
    (clean,) = (p for (n, labels), p in histograms(last, SCOPE).items() if dict(labels).get("kind") == "clean")
    assert clean.count == sum(clean.bucket_counts) == summary["kinds"]["clean"]["latency_ms"]["n"]
    assert clean.temporality == 2 and not clean.has_min_max
    # exports went out during the run too, and Locust's own instruments beside ours
    ours = [r for r in receiver.requests if "mlstress.requests" in metric_names(r, SCOPE)]
    assert len(ours) >= 3
    assert any("locust.client.duration" in metric_names(r, "locust") for r in receiver.requests)


def test_a_distributed_run_is_exported_once_by_the_master_with_the_merged_figures(server, receiver, tmp_path):
    summary_path = tmp_path / "summary.json"
    out = tmp_path / "out"
    env = otel_env(receiver)
    master, workers = start_distributed(QUICKSTART, server.url, out, 2, "-u", "4", "-t", "5s", "--otel",
                                        "--ml-json", str(summary_path), env=env)  # fmt: skip
    run = finish_distributed(master, workers, out)
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(summary_path.read_text())
    assert len(summary["received"]) == 2
    last = final_export(receiver, summary)
    assert assert_equal_to_summary(last, summary) > 25
    finals = [
        r for r in receiver.requests if numbers(r, SCOPE).get(("mlstress.run.duration", ())) == summary["duration_s"]
    ]
    assert len(finals) == 1  # the master's; workers export nothing of ours


def test_without_an_exporter_the_run_says_so_once_and_goes_on(server, tmp_path):
    run = run_local(QUICKSTART, server.url, tmp_path, "-u", "1", "-t", "2s", "--otel",
                    env={"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_TRACES_EXPORTER": "none",
                         "OTEL_LOGS_EXPORTER": "none"})  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    lines = [line for line in run.stderr.splitlines() if "ML metrics not exported" in line]
    assert len(lines) == 1 and "http/protobuf" in lines[0]
