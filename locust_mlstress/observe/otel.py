"""Our metrics through OpenTelemetry, beside Locust's own `--otel` instruments.

Our figures are computed, not recorded: the monitor already holds exact, mergeable counts, and a
percentile or a PSI is not something an instrument could re-derive from measurements. So no
instrument is created. Each export builds the SDK's `MetricsData` from the list `samples.metrics_of`
gives (the same list Prometheus reads) and hands it straight to the exporters that the standard
`OTEL_*` variables configure, the way Locust configures its own (`locust/opentelemetry.py`). The
OTLP bytes are the SDK's own encoding, so a collector cannot tell our points from an instrument's.

Points are cumulative since the run's start: a counter is a monotonic Sum, the latency a
Histogram with explicit bounds whose bucket counts are our log bins summed exactly (no min or
max: the bins know those only to a bin's width), a figure a Gauge. An exporter that prefers delta
temporality (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE, read by the SDK's exporters) gets
deltas instead: each point less what that exporter was last sent (`as_delta`), our counters taken
as the SDK's ObservableCounter (observed totals) and the latency as its Histogram. The Resource
is Locust's (its global meter provider's, when `--otel` set one) with the run's identity merged
over it, so our points and `locust.client.duration` land on the same service. `metrics_data` is the pure core;
`OtelExport` only adds the exporters and the logging.
"""

from __future__ import annotations

import importlib
import logging
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

from opentelemetry import metrics as otel_metrics
from opentelemetry.sdk.metrics import Histogram as HistogramInstrument
from opentelemetry.sdk.metrics import ObservableCounter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    ConsoleMetricExporter,
    Gauge,
    Histogram,
    HistogramDataPoint,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.metrics.export import Metric as OtelMetric
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from locust_mlstress.observe.samples import Buckets, Labels, Metric, Sample
from locust_mlstress.version import __version__

__all__ = ["SCOPE", "OtelExport", "as_delta", "export_interval_s", "metrics_data", "otel_export", "resource_for"]

logger = logging.getLogger("locust_mlstress")

SCOPE = InstrumentationScope("locust_mlstress", __version__)
"""Our instrumentation scope: a backend can tell our points from Locust's (scope "locust")."""

DEFAULT_INTERVAL_MS = 60000.0
_NO_MIN_MAX = cast(float, None)
"""OTLP's histogram min and max are optional and the SDK's encoder leaves None unset; the SDK's
dataclass types them float only because its own aggregations always know them."""


def export_interval_s() -> float:
    """OTEL_METRIC_EXPORT_INTERVAL (ms) in seconds, read as the SDK's periodic reader reads it
    (a float; 60000 when unset or unreadable), so our points go out as often as Locust's. A value
    of 0 or below, which the SDK's reader refuses, is the default here, with one log line; an
    infinite one means what it means to the SDK: only at the end of the run."""
    raw = os.environ.get("OTEL_METRIC_EXPORT_INTERVAL", "")
    try:
        ms = float(raw) if raw.strip() else DEFAULT_INTERVAL_MS
    except ValueError:
        ms = math.nan
    if not ms > 0:
        logger.warning(
            "OTEL_METRIC_EXPORT_INTERVAL=%r is not a positive number of milliseconds; exporting ML metrics every %gs",
            raw,
            DEFAULT_INTERVAL_MS / 1000,
        )
        ms = DEFAULT_INTERVAL_MS
    return ms / 1000


def _counter_value(value: float) -> int | float:
    """A count as an int (OTLP's as_int), as the summary has it; anything else as given."""
    return int(value) if math.isfinite(value) and value.is_integer() else value


CUMULATIVE = AggregationTemporality.CUMULATIVE
DELTA = AggregationTemporality.DELTA
Sent = dict[tuple[str, Labels], float | tuple[tuple[int, ...], float]]
"""What an exporter was last sent of each counter and histogram point: cumulative values."""


def as_delta(metrics: Sequence[Metric], sent: Sent, counters: bool, histograms: bool) -> tuple[list[Metric], Sent]:
    """The points of `metrics` less what was `sent` before: counters (when `counters`) and
    histograms (when `histograms`), each point by its name and labels; a point seen for the first
    time, or lower than before (figures reset), counts from zero. Gauges as they are. With what
    is sent now, to subtract next time; summing every delta gives the cumulative values back."""
    out: list[Metric] = []
    now: Sent = {}
    for metric in metrics:
        if metric.type == "counter" and counters:
            points: list = []
            for sample in metric.samples:
                assert isinstance(sample, Sample)
                key = (metric.name, sample.labels)
                before = sent.get(key, 0.0)
                now[key] = sample.value
                base = before if isinstance(before, float | int) and before <= sample.value else 0.0
                points.append(Sample(sample.labels, sample.value - base))
            out.append(Metric(metric.name, metric.type, metric.unit, metric.help, tuple(points)))
        elif metric.type == "histogram" and histograms:
            points = []
            for point in metric.samples:
                assert isinstance(point, Buckets)
                key = (metric.name, point.labels)
                last = sent.get(key)
                now[key] = (point.counts, point.total)
                if isinstance(last, tuple) and all(b <= c for b, c in zip(last[0], point.counts, strict=True)):
                    counts = tuple(c - b for b, c in zip(last[0], point.counts, strict=True))
                    points.append(Buckets(point.labels, point.bounds, counts, point.total - last[1]))
                else:
                    points.append(point)
            out.append(Metric(metric.name, metric.type, metric.unit, metric.help, tuple(points)))
        else:
            out.append(metric)
    return out, now


def _metric(
    metric: Metric, start_ns: int, now_ns: int, temporality: AggregationTemporality = CUMULATIVE
) -> OtelMetric | None:
    """One of our metrics as the SDK's; None for a metric with no point (an empty family says
    nothing a backend could use). `temporality` is that of a counter or histogram's points."""
    if not metric.samples:
        return None
    data: Gauge | Sum | Histogram
    if metric.type == "histogram":
        points = []
        for point in metric.samples:
            assert isinstance(point, Buckets)
            points.append(
                HistogramDataPoint(
                    attributes=dict(point.labels),
                    start_time_unix_nano=start_ns,
                    time_unix_nano=now_ns,
                    count=point.count,
                    sum=point.total,
                    bucket_counts=list(point.counts),
                    explicit_bounds=list(point.bounds[:-1]),  # OTLP's last bucket is +inf implicitly
                    min=_NO_MIN_MAX,
                    max=_NO_MIN_MAX,
                )
            )
        data = Histogram(data_points=points, aggregation_temporality=temporality)
    else:
        numbers = []
        for sample in metric.samples:
            assert isinstance(sample, Sample)
            value = _counter_value(sample.value) if metric.type == "counter" else sample.value
            numbers.append(NumberDataPoint(dict(sample.labels), start_ns, now_ns, value))
        data = Sum(numbers, temporality, is_monotonic=True) if metric.type == "counter" else Gauge(numbers)
    return OtelMetric(name=metric.name, description=metric.help, unit=metric.unit, data=data)


def metrics_data(
    metrics: Sequence[Metric],
    resource: Resource,
    start_ns: int,
    now_ns: int,
    *,
    counters: AggregationTemporality = CUMULATIVE,
    histograms: AggregationTemporality = CUMULATIVE,
    delta_start_ns: int | None = None,
) -> MetricsData:
    """Our metrics as one export's `MetricsData`: one resource, our scope, every metric with a
    point. Values are the samples' own (nothing recomputed), so an export equals the summary.
    Counters and histograms carry the temporality given (their values already deltas, from
    `as_delta`, when it is DELTA; their start is then `delta_start_ns`, the previous export)."""
    found: list[OtelMetric] = []
    for metric in metrics:
        temporality = {"counter": counters, "histogram": histograms}.get(metric.type, CUMULATIVE)
        start = delta_start_ns if temporality is DELTA and delta_start_ns is not None else start_ns
        if (otel := _metric(metric, start, now_ns, temporality)) is not None:
            found.append(otel)
    scope = ScopeMetrics(scope=SCOPE, metrics=found, schema_url="")
    return MetricsData(resource_metrics=[ResourceMetrics(resource, [scope], resource.schema_url)])


def resource_for(attributes: Mapping[str, str], provider: object | None = None) -> Resource:
    """The Resource of our points: the global meter provider's (Locust's, with `--otel`) with
    `attributes` merged over it, so a backend finds our metrics on Locust's service. Without an
    SDK provider, a Resource like Locust's own (service.name from OTEL_SERVICE_NAME, or "locust";
    OTEL_RESOURCE_ATTRIBUTES read by the SDK). The SDK keeps a provider's Resource in a private
    field; a provider without one is treated as none."""
    provider = otel_metrics.get_meter_provider() if provider is None else provider
    base = getattr(getattr(provider, "_sdk_config", None), "resource", None)
    if not isinstance(base, Resource):
        base = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or "locust"})
    return base.merge(Resource(dict(attributes)))


def _names(variable: str) -> list[str]:
    seen: list[str] = []
    for name in os.environ.get(variable, "otlp").split(","):
        name = name.strip().lower()
        if name and name not in seen:
            seen.append(name)
    return seen


def _endpoint() -> str:
    """Where the OTLP/HTTP exporter sends, as it resolves it: for our log lines only."""
    signal = os.environ.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "").strip()
    if signal:
        return signal
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip() or "http://localhost:4318"
    return base.rstrip("/") + "/v1/metrics"


def _otlp_exporter() -> tuple[str, MetricExporter] | None:
    """The OTLP exporter Locust would pick: the protocol of OTEL_EXPORTER_OTLP_METRICS_PROTOCOL,
    else OTEL_EXPORTER_OTLP_PROTOCOL, else grpc; None with one line when it cannot be had."""
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"))
        .strip()
        .lower()
    )
    if protocol == "grpc":
        try:  # by name: the grpc exporter is optional, and typed only where it is installed
            grpc = importlib.import_module("opentelemetry.exporter.otlp.proto.grpc.metric_exporter")
        except ImportError:
            logger.warning(
                "ML metrics not exported by OpenTelemetry: the OTLP protocol is grpc (OTEL_EXPORTER_OTLP_PROTOCOL "
                "unset or grpc) and opentelemetry-exporter-otlp-proto-grpc is not installed; install it, or set "
                "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"
            )
            return None
        return "OTLP/gRPC", cast(MetricExporter, grpc.OTLPMetricExporter())
    if protocol in ("http/protobuf", "http"):
        # only for this protocol: it pulls in requests and protobuf's generated modules
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        return f"OTLP/HTTP {_endpoint()}", OTLPMetricExporter()
    logger.warning(
        "ML metrics not exported by OpenTelemetry: unknown OTLP protocol %r (use grpc or http/protobuf)", protocol
    )
    return None


def preferred(exporter: MetricExporter) -> tuple[AggregationTemporality, AggregationTemporality]:
    """The temporality an exporter asks for our counters and our latency histogram: what it
    prefers for an ObservableCounter and a Histogram, read as the SDK's periodic reader reads it
    (the exporter's `_preferred_temporality`); cumulative when it says nothing."""
    wanted = getattr(exporter, "_preferred_temporality", None) or {}
    return wanted.get(ObservableCounter, CUMULATIVE), wanted.get(HistogramInstrument, CUMULATIVE)


@dataclass
class _Deltas:
    """One delta-preferring exporter's memory: what it was last sent, when, and from which start."""

    sent: Sent = field(default_factory=dict)
    at_ns: int = 0
    start_ns: int = 0  # the export's start time then: a reset moves it, and the counts restart


@dataclass(eq=False)
class OtelExport:
    """The exporters of our metrics and the resource and start time every export carries.
    `export` sends the metrics of the moment and never raises: a failed export is a gap in a
    dashboard, never a broken run, and each distinct failure is logged once, not once a minute.
    An exporter preferring deltas is sent what changed since its last export, failed or not, as
    the SDK's own delta aggregation does."""

    exporters: list[tuple[str, MetricExporter]]
    resource: Resource
    start_ns: int
    logged: set[str] = field(default_factory=set)
    closed: bool = False
    deltas: dict[str, _Deltas] = field(default_factory=dict)

    def _deltas(
        self, name: str, exporter: MetricExporter, metrics: Sequence[Metric], now_ns: int
    ) -> MetricsData | None:
        """The export for an exporter preferring deltas; None for one that takes totals."""
        counters, histograms = preferred(exporter)
        if counters is CUMULATIVE and histograms is CUMULATIVE:
            return None
        memory = self.deltas.get(name)
        if memory is None or memory.start_ns != self.start_ns:  # the first export, or after a reset
            memory = self.deltas[name] = _Deltas(at_ns=self.start_ns, start_ns=self.start_ns)
        changed, memory.sent = as_delta(metrics, memory.sent, counters is DELTA, histograms is DELTA)
        data = metrics_data(
            changed,
            self.resource,
            self.start_ns,
            now_ns,
            counters=counters,
            histograms=histograms,
            delta_start_ns=memory.at_ns,
        )
        memory.at_ns = now_ns
        return data

    def _once(self, key: str, message: str, *args: object) -> None:
        if key not in self.logged:
            self.logged.add(key)
            logger.warning(message, *args)

    def export(self, metrics: Sequence[Metric]) -> bool:
        """One export of `metrics` now, to every exporter; True when all of them took it."""
        if self.closed:
            self._once("closed", "ML metrics not exported by OpenTelemetry: the export is shut down")
            return False
        now_ns = max(time.time_ns(), self.start_ns)
        ok = True
        totals: MetricsData | None = None  # built once, for every exporter that takes totals
        for name, exporter in self.exporters:
            try:
                data = self._deltas(name, exporter, metrics, now_ns)
                if data is None:
                    totals = totals or metrics_data(metrics, self.resource, self.start_ns, now_ns)
                    data = totals
            except Exception as exc:  # a bug of ours must not end a run either
                self._once(f"build:{exc!r}", "ML metrics not exported by OpenTelemetry: %r", exc)
                return False
            try:
                result = exporter.export(data)
            except Exception as exc:
                self._once(f"{name}:{exc!r}", "ML metrics not exported by OpenTelemetry to %s: %r", name, exc)
                ok = False
                continue
            if result is not MetricExportResult.SUCCESS:
                self._once(
                    f"{name}:failed",
                    "ML metrics not exported by OpenTelemetry to %s (the exporter's own log says why); "
                    "further failures there are not logged",
                    name,
                )
                ok = False
        return ok

    def shutdown(self) -> None:
        """Close every exporter (its connections); later exports return False. Idempotent."""
        if self.closed:
            return
        self.closed = True
        for name, exporter in self.exporters:
            try:
                exporter.shutdown()
            except Exception as exc:
                self._once(f"shutdown:{name}:{exc!r}", "OpenTelemetry exporter %s did not shut down: %r", name, exc)


def otel_export(resource_attributes: Mapping[str, str], start_time_s: float) -> OtelExport | None:
    """The export of our metrics as the OTEL_* environment configures Locust's: the exporters of
    OTEL_METRICS_EXPORTER (comma-separated: otlp, the default; console; none), the OTLP protocol
    as Locust picks it, the Resource of `resource_for`. None, with one log line, when nothing is
    to be exported; unknown exporter names get a line each and are skipped, as Locust does."""
    exporters: list[tuple[str, MetricExporter]] = []
    explained = False  # a line already says why an exporter is missing
    for name in _names("OTEL_METRICS_EXPORTER"):
        if name == "otlp":
            otlp = _otlp_exporter()
            if otlp is not None:
                exporters.append(otlp)
            explained |= otlp is None
        elif name == "console":
            exporters.append(("console", ConsoleMetricExporter(out=sys.stdout)))  # stdout now, not at SDK import
        elif name != "none":
            logger.warning("OTEL_METRICS_EXPORTER: unknown exporter %r skipped for ML metrics", name)
            explained = True
    if not exporters:
        if not explained:
            logger.info("ML metrics not exported by OpenTelemetry: OTEL_METRICS_EXPORTER names no exporter")
        return None
    return OtelExport(exporters, resource_for(resource_attributes), int(start_time_s * 1e9))
