"""The OpenTelemetry export (observe/otel.py): our metrics as the SDK's MetricsData, and the bytes
the SDK's own OTLP/HTTP exporter sends, decoded by a real receiver (tests/otlp_receiver.py).

The figures come from a real QualityMonitor fed recorder deltas (the summary of
test_html_report.monitored_summary, kept with its monitor for the latency buckets), with the
end-of-run comparison block of test_report_compare and two gates, so every kind of metric
(gauge, counter, histogram) and every label set a run can have goes through the export.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import random
import socket
import time
from types import SimpleNamespace

import pytest
from locust.env import Environment
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    ConsoleMetricExporter,
    Gauge,
    Histogram,
    Sum,
)
from opentelemetry.sdk.resources import Resource

from locust_mlstress.observe.otel import (
    SCOPE,
    OtelExport,
    as_delta,
    export_interval_s,
    metrics_data,
    otel_export,
    resource_for,
)
from locust_mlstress.observe.samples import Buckets, Metric, RunLabels, Sample, flatten, latency_buckets, metrics_of
from locust_mlstress.plugin import state_of
from locust_mlstress.plugin.observe import exports_of, new_test
from locust_mlstress.profile import load_profile
from locust_mlstress.quality import QualityMonitor
from tests.conftest import PROFILES
from tests.otlp_receiver import OtlpReceiver, histograms, metric_names, numbers, resource_attributes
from tests.otlp_receiver import metrics_of as metrics_of_request
from tests.unit.test_html_report import _kind_delta
from tests.unit.test_report_compare import comparison

START_NS = 1_790_000_000_000_000_000
NOW_NS = START_NS + 30 * 10**9
RUN = RunLabels(profile="quickstart", profile_sha256="ab" * 32, seed=42, run_id="run-7", model_version="7")
RESOURCE_ATTRIBUTES = {f"mlstress.{k}": v for k, v in RUN.labels()}
GATES = [
    {"gate": "p95_ms < 500", "value": 12.5, "n": 720, "status": "pass", "message": "p95_ms = 12.5 < 500: pass"},
    {"gate": "accepted_malformed == 0", "value": 30, "n": 180, "status": "fail", "message": "fail"},
]


def _run() -> tuple[dict, dict[str, Buckets]]:
    """A finished run's summary (as --ml-json writes it) and each kind's latency histogram point."""
    profile = load_profile(PROFILES / "quickstart.toml")
    rng = random.Random(11)
    monitor = QualityMonitor(profile, window_s=5.0)
    for w in range(6):
        deltas = []
        for kind in ("clean", "drifted", "malformed", "oversized"):
            stats = _kind_delta(rng, kind, w, labels=True, oversized=True)
            assert stats is not None
            deltas.append({"window": w, "kind": kind, "stats": stats.to_wire()})
        monitor.absorb(deltas)
    summary = dict(monitor.summary(now=30.0)) | {"duration_s": 30.0, "comparison": comparison(), "gates": GATES}
    latency = {
        kind: latency_buckets(stats.latency, stats.latency_us, (("kind", kind),))
        for kind, stats in monitor.totals.items()
    }
    return summary, latency


@pytest.fixture(scope="module")
def run() -> tuple[dict, dict[str, Buckets]]:
    return _run()


@pytest.fixture(scope="module")
def metrics(run) -> list[Metric]:
    summary, latency = run
    return metrics_of(summary, RUN, latency=latency, gates=summary["gates"])


@pytest.fixture
def otlp_http(monkeypatch):
    """A receiver, and the environment Locust's --otel reads pointed at it over OTLP/HTTP."""
    with OtlpReceiver() as receiver:
        monkeypatch.setenv("OTEL_METRICS_EXPORTER", "otlp")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", receiver.endpoint)
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", raising=False)
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_COMPRESSION", raising=False)
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", raising=False)
        yield receiver


def _ours(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "locust_mlstress"]


# metrics_data: the pure translation


def test_every_metric_keeps_its_name_unit_help_and_type(metrics):
    data = metrics_data(metrics, Resource({"service.name": "locust"}), START_NS, NOW_NS)
    [resource_metrics] = data.resource_metrics
    [scope_metrics] = resource_metrics.scope_metrics
    assert scope_metrics.scope.name == "locust_mlstress" == SCOPE.name
    sent = {m.name: m for m in scope_metrics.metrics}
    with_points = [m for m in metrics if m.samples]
    assert [m.name for m in scope_metrics.metrics] == [m.name for m in with_points]
    assert {m.type for m in with_points} == {"gauge", "counter", "histogram"}, "the fixture covers every type"
    for metric in with_points:
        out = sent[metric.name]
        assert (out.unit, out.description) == (metric.unit, metric.help)
        assert len(out.data.data_points) == len(metric.samples)
        if metric.type == "counter":
            assert isinstance(out.data, Sum) and out.data.is_monotonic
            assert out.data.aggregation_temporality is AggregationTemporality.CUMULATIVE
        elif metric.type == "histogram":
            assert isinstance(out.data, Histogram)
            assert out.data.aggregation_temporality is AggregationTemporality.CUMULATIVE
        else:
            assert isinstance(out.data, Gauge)
        for point in out.data.data_points:
            assert (point.start_time_unix_nano, point.time_unix_nano) == (START_NS, NOW_NS)


def test_a_metric_with_no_point_is_left_out():
    empty = Metric("mlstress.psi", "gauge", "", "PSI", ())
    one = Metric("mlstress.run.duration", "gauge", "s", "run", (Sample((), 3.5),))
    data = metrics_data([empty, one], Resource({}), START_NS, NOW_NS)
    [metric] = data.resource_metrics[0].scope_metrics[0].metrics
    assert metric.name == "mlstress.run.duration" and metric.data.data_points[0].value == 3.5


def _sent(metrics: list[Metric]) -> dict:
    """The SDK's metrics of one export, by name."""
    data = metrics_data(metrics, Resource({}), START_NS, NOW_NS)
    return {m.name: m for m in data.resource_metrics[0].scope_metrics[0].metrics}


def test_counters_are_the_summarys_ints_and_gauges_its_floats(run, metrics):
    summary, _ = run
    sent = _sent(metrics)
    requests = {tuple(p.attributes.items()): p.value for p in sent["mlstress.requests"].data.data_points}
    expected = {
        (("kind", kind), ("outcome", outcome)): n
        for kind, k in summary["kinds"].items()
        for outcome, n in k["outcomes"].items()
    }
    assert requests == expected
    assert all(type(v) is int for v in requests.values())
    psi = {p.attributes["kind"]: p.value for p in sent["mlstress.psi"].data.data_points}
    assert psi == {kind: k["shift"]["psi"] for kind, k in summary["kinds"].items() if k["shift"] is not None}
    assert all(type(v) is float for v in psi.values())


def test_the_histogram_is_our_buckets_with_the_inf_bound_implicit(run, metrics):
    summary, latency = run
    sent = _sent(metrics)
    points = {p.attributes["kind"]: p for p in sent["mlstress.request.duration"].data.data_points}
    assert points.keys() == latency.keys() == summary["kinds"].keys()
    for kind, point in points.items():
        ours = latency[kind]
        assert list(point.explicit_bounds) == list(ours.bounds[:-1]) and ours.bounds[-1] == float("inf")
        assert len(point.bucket_counts) == len(point.explicit_bounds) + 1
        assert list(point.bucket_counts) == list(ours.counts)
        assert point.count == sum(point.bucket_counts) == sum(summary["kinds"][kind]["outcomes"].values())
        assert point.sum == ours.total > 0
        assert point.min is None and point.max is None  # unknown beyond a bin's width: not sent


# The resource


def test_the_resource_is_locusts_with_the_run_merged_over_it():
    locust = MeterProvider(
        resource=Resource({"service.name": "locust", "filename": "locustfile.py", "mlstress.seed": "stale"}),
        shutdown_on_exit=False,
    )
    resource = resource_for({"mlstress.run_id": "run-7", "mlstress.seed": "42"}, locust)
    assert resource.attributes["service.name"] == "locust"
    assert resource.attributes["filename"] == "locustfile.py"
    assert resource.attributes["mlstress.run_id"] == "run-7"
    assert resource.attributes["mlstress.seed"] == "42"


def test_without_an_sdk_provider_the_resource_is_like_locusts(monkeypatch):
    monkeypatch.setenv("OTEL_SERVICE_NAME", "checkout-load")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging")
    resource = resource_for({"mlstress.run_id": "run-7"}, object())
    assert resource.attributes["service.name"] == "checkout-load"
    assert resource.attributes["deployment.environment"] == "staging"
    assert resource.attributes["mlstress.run_id"] == "run-7"
    monkeypatch.delenv("OTEL_SERVICE_NAME")
    assert resource_for({}, object()).attributes["service.name"] == "locust"


# Through the SDK's OTLP/HTTP exporter to a real receiver


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_an_export_arrives_with_every_value_as_sent(otlp_http, monkeypatch, metrics, compression):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", compression)
    export = otel_export(RESOURCE_ATTRIBUTES, START_NS / 1e9)
    assert export is not None
    try:
        assert export.export(metrics) is True
    finally:
        export.shutdown()
    request = otlp_http.wait_for(lambda r: "mlstress.requests" in metric_names(r), timeout=5)
    assert otlp_http.encodings == ["" if compression == "none" else "gzip"]
    assert metric_names(request) == metric_names(request, "locust_mlstress") == {m.name for m in metrics if m.samples}
    received = numbers(request)
    assert received == flatten(metrics)  # every gauge and counter point, labels in order, value equal
    counters = {(m.name, s.labels) for m in metrics if m.type == "counter" for s in m.samples}
    assert counters and all(type(received[key]) is int for key in counters)
    attributes = resource_attributes(request, "locust_mlstress")
    assert {k: attributes[k] for k in RESOURCE_ATTRIBUTES} == RESOURCE_ATTRIBUTES
    assert attributes["service.name"]
    [latency] = [m for m in metrics if m.type == "histogram"]
    points = histograms(request)
    for ours in latency.samples:
        assert isinstance(ours, Buckets)
        got = points[(latency.name, ours.labels)]
        assert got.explicit_bounds == ours.bounds[:-1]
        assert got.bucket_counts == ours.counts and got.count == ours.count and got.sum == ours.total
        assert got.temporality == AggregationTemporality.CUMULATIVE.value and not got.has_min_max
        assert got.start_time_unix_nano == START_NS


def test_an_export_says_what_the_ml_json_summary_says(otlp_http, run):
    """The summary as --ml-json writes it (JSON text) against the values a collector received."""
    summary, latency = run
    written = json.loads(json.dumps(summary))
    export = otel_export(RESOURCE_ATTRIBUTES, time.time())
    assert export is not None
    assert export.export(metrics_of(summary, RUN, latency=latency, gates=summary["gates"]))
    export.shutdown()
    got = numbers(otlp_http.wait_for(lambda r: bool(numbers(r)), timeout=5))
    assert got[("mlstress.run.duration", ())] == written["duration_s"]
    for kind, k in written["kinds"].items():
        at = (("kind", kind),)
        for outcome, n in k["outcomes"].items():
            assert got[("mlstress.requests", at + (("outcome", outcome),))] == n
        for name, q in (("p50", "0.5"), ("p95", "0.95"), ("p99", "0.99")):
            assert (
                got[("mlstress.request.duration.percentile", at + (("quantile", q),))] == k["latency_ms"][name] / 1000
            )
        if k["shift"] is not None:
            assert got[("mlstress.psi", at)] == k["shift"]["psi"]
            assert got[("mlstress.js", at)] == k["shift"]["js"]
        if k["calibration"] is not None:
            assert got[("mlstress.ece", at)] == k["calibration"]["ece"]
            assert got[("mlstress.brier", at)] == k["calibration"]["brier"]
    clean = written["comparison"]["kinds"]["clean"]
    assert got[("mlstress.pairs", (("kind", "clean"),))] == clean["n_pairs"]
    assert got[("mlstress.pair.regressions", (("kind", "clean"),))] == clean["regressions"]
    assert got[("mlstress.pair.disagreement", (("kind", "clean"),))] == clean["disagreement"]
    assert got[("mlstress.comparison.verdict", (("verdict", "rollback"),))] == 1
    assert got[("mlstress.gate.status", (("gate", "accepted_malformed == 0"), ("status", "fail")))] == 1


def test_an_unreachable_collector_fails_the_export_with_one_line(monkeypatch, metrics, caplog):
    with socket.socket() as s:  # a port nothing listens on: connections are refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", f"http://127.0.0.1:{port}/v1/metrics")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "0.5")  # seconds, as this SDK reads it
    export = otel_export(RESOURCE_ATTRIBUTES, time.time())
    assert export is not None
    caplog.set_level(logging.INFO, logger="locust_mlstress")
    started = time.monotonic()
    assert export.export(metrics) is False
    assert export.export(metrics) is False
    assert time.monotonic() - started < 5
    lines = _ours(caplog)
    assert len(lines) == 1, lines
    assert f"127.0.0.1:{port}/v1/metrics" in lines[0]
    export.shutdown()


def test_a_collector_that_refuses_fails_the_export_and_keeps_nothing_back(monkeypatch, metrics, caplog):
    with OtlpReceiver(status=400) as receiver:
        monkeypatch.setenv("OTEL_METRICS_EXPORTER", "otlp")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", receiver.endpoint)
        export = otel_export(RESOURCE_ATTRIBUTES, time.time())
        assert export is not None
        caplog.set_level(logging.INFO, logger="locust_mlstress")
        assert export.export(metrics) is False
        assert export.export(metrics) is False
        assert len(receiver.requests) == 2  # it did arrive, and was refused: no retry of a 400
        assert len(_ours(caplog)) == 1
        export.shutdown()


def test_after_shutdown_an_export_is_refused_not_raised(otlp_http, metrics):
    export = otel_export(RESOURCE_ATTRIBUTES, time.time())
    assert export is not None
    export.shutdown()
    export.shutdown()
    assert export.export(metrics) is False
    assert otlp_http.requests == []


def test_a_broken_exporter_does_not_raise(metrics, caplog):
    class Broken(ConsoleMetricExporter):
        def export(self, metrics_data, timeout_millis=10_000, **kwargs):
            raise ConnectionError("collector exploded")

    caplog.set_level(logging.INFO, logger="locust_mlstress")
    export = OtelExport([("broken", Broken())], Resource({}), START_NS)
    assert export.export(metrics) is False and export.export(metrics) is False
    assert _ours(caplog) == [
        "ML metrics not exported by OpenTelemetry to broken: ConnectionError('collector exploded')"
    ]


# The OTEL_* environment


def test_no_exporter_means_no_export_and_one_line(monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="locust_mlstress")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    assert otel_export(RESOURCE_ATTRIBUTES, time.time()) is None
    assert len(_ours(caplog)) == 1


def test_grpc_without_its_exporter_says_how_to_fix_it(monkeypatch, caplog):
    if importlib.util.find_spec("opentelemetry.exporter.otlp.proto.grpc") is not None:
        pytest.skip("the grpc exporter is installed here")
    caplog.set_level(logging.INFO, logger="locust_mlstress")
    monkeypatch.delenv("OTEL_METRICS_EXPORTER", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_PROTOCOL", raising=False)  # grpc: Locust's default
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", raising=False)
    assert otel_export(RESOURCE_ATTRIBUTES, time.time()) is None
    [line] = _ours(caplog)
    assert "opentelemetry-exporter-otlp-proto-grpc" in line and "http/protobuf" in line


def test_an_unknown_protocol_is_named(monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="locust_mlstress")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json")
    assert otel_export(RESOURCE_ATTRIBUTES, time.time()) is None
    [line] = _ours(caplog)
    assert "'http/json'" in line


def test_console_and_otlp_together_both_export(otlp_http, monkeypatch, metrics, capsys):
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "console, otlp, nonsense")
    export = otel_export(RESOURCE_ATTRIBUTES, time.time())
    assert export is not None
    assert [name for name, _ in export.exporters] == ["console", f"OTLP/HTTP {otlp_http.endpoint}"]
    assert export.export(metrics) is True
    export.shutdown()
    assert len(otlp_http.requests) == 1
    assert '"mlstress.requests"' in capsys.readouterr().out


@pytest.mark.parametrize(
    ("value", "seconds", "warned"),
    [(None, 60.0, False), ("1500", 1.5, False), ("250.5", 0.2505, False), ("soon", 60.0, True), ("0", 60.0, True)],
)
def test_the_export_interval_is_the_sdks(monkeypatch, caplog, value, seconds, warned):
    caplog.set_level(logging.INFO, logger="locust_mlstress")
    if value is None:
        monkeypatch.delenv("OTEL_METRIC_EXPORT_INTERVAL", raising=False)
    else:
        monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", value)
    assert export_interval_s() == seconds
    assert bool(_ours(caplog)) == warned


def test_a_reset_moves_the_start_time_to_its_moment_and_a_new_test_to_its_start():
    """Counters restart at Reset and `--reset-stats`: a backend must see a new cumulative series
    starting then, not the same series dropping (docs/observe.md)."""
    environment = Environment()
    exports_of(environment).otel = SimpleNamespace(start_ns=0)  # type: ignore[assignment]  (a unit seam)
    state_of(environment).started = 1_000.0
    new_test(environment)
    assert exports_of(environment).otel.start_ns == 1_000_000_000_000  # type: ignore[union-attr]
    before = time.time_ns()
    new_test(environment, reset=True)
    assert before <= exports_of(environment).otel.start_ns <= time.time_ns()  # type: ignore[union-attr]


def _grown(metrics: list[Metric], by: int) -> list[Metric]:
    """`metrics` a moment later: every counter `by` higher, every histogram bucket `by` fuller."""
    out = []
    for m in metrics:
        if m.type == "counter":
            samples: tuple = tuple(Sample(s.labels, s.value + by) for s in m.samples)  # type: ignore[union-attr]
        elif m.type == "histogram":
            samples = tuple(
                Buckets(b.labels, b.bounds, tuple(c + by for c in b.counts), b.total + by)  # type: ignore[union-attr]
                for b in m.samples
            )
        else:
            samples = m.samples
        out.append(Metric(m.name, m.type, m.unit, m.help, samples))
    return out


def test_deltas_add_back_up_to_the_cumulative_values_and_restart_after_a_reset(metrics):
    first, second = metrics, _grown(metrics, 5)
    d1, sent = as_delta(first, {}, counters=True, histograms=True)
    d2, sent = as_delta(second, sent, counters=True, histograms=True)
    counters = {(m.name, s.labels) for m in metrics if m.type == "counter" for s in m.samples}
    v1, v2, full = flatten(d1), flatten(d2), flatten(second)
    assert counters and all(v1[k] + v2[k] == full[k] and v2[k] == 5 for k in counters)
    gauges = set(full) - counters
    assert gauges and all(v2[k] == full[k] for k in gauges)  # a gauge is sent as it is
    buckets = [b for m in d2 if m.type == "histogram" for b in m.samples]
    assert buckets and all(set(b.counts) == {5} and math.isclose(b.total, 5) for b in buckets)  # type: ignore[union-attr]
    reset, _ = as_delta(first, sent, counters=True, histograms=True)  # lower than before: from zero
    assert flatten(reset) == flatten(first)
    kept, _ = as_delta(second, sent, counters=False, histograms=True)  # lowmemory: counters cumulative
    assert flatten(kept) == full


def test_an_exporter_preferring_deltas_gets_deltas_chained_in_time(otlp_http, monkeypatch, metrics):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta")
    export = otel_export(RESOURCE_ATTRIBUTES, START_NS / 1e9)
    assert export is not None
    try:
        assert export.export(metrics) and export.export(_grown(metrics, 3))
    finally:
        export.shutdown()
    otlp_http.wait_for(lambda _r: len(otlp_http.requests) >= 2, timeout=5)  # each export answered in turn
    first, second = otlp_http.requests[:2]
    counter = ("mlstress.requests", (("kind", "clean"), ("outcome", "ok")))
    assert numbers(first)[counter] == flatten(metrics)[counter] and numbers(second)[counter] == 3
    [sum_metric] = [m for m in metrics_of_request(second) if m.name == "mlstress.requests"]
    assert sum_metric.sum.aggregation_temporality == AggregationTemporality.DELTA.value
    gauge = ("mlstress.run.duration", ())
    assert numbers(second)[gauge] == flatten(metrics)[gauge]  # a gauge is a gauge either way
    points = list(histograms(second).values())
    assert points and all(p.temporality == AggregationTemporality.DELTA.value for p in points)
    before = next(iter(histograms(first).values()))
    assert before.start_time_unix_nano == START_NS and points[0].start_time_unix_nano == before.time_unix_nano
