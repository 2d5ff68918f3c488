"""A real OTLP/HTTP metrics receiver for tests: what a collector does with the bytes, nothing more.

It listens on 127.0.0.1, accepts POST /v1/metrics, undoes the Content-Encoding the exporter chose
(gzip, deflate or none), decodes the body as the protobuf `ExportMetricsServiceRequest` and answers
200 with an empty `ExportMetricsServiceResponse`, as the OTLP/HTTP specification asks. Every
decoded request is kept in order; `wait_for` blocks on a condition until one matches, so a test
never sleeps in the hope that an export has arrived.

    receiver = OtlpReceiver()
    port = receiver.start()   # OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=receiver.endpoint
    request = receiver.wait_for(lambda r: "mlstress.requests" in metric_names(r), timeout=30)
    receiver.stop()

The helpers below (`numbers`, `histograms`, `resource_attributes`, `metric_names`) read a decoded
request back into plain values, keyed as `observe.samples.flatten` keys ours: (name, labels).
"""

from __future__ import annotations

import gzip
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric, NumberDataPoint

__all__ = [
    "HistogramPoint",
    "OtlpReceiver",
    "histograms",
    "metric_names",
    "metrics_of",
    "numbers",
    "resource_attributes",
]

PATH = "/v1/metrics"
Labels = tuple[tuple[str, str], ...]


class OtlpReceiver:
    """One receiver per test. `status` is what it answers (200 unless a test wants a collector
    that refuses: a refused request is still decoded and kept)."""

    def __init__(self, status: int = 200):
        self.status = status
        self.requests: list[ExportMetricsServiceRequest] = []
        self.encodings: list[str] = []  # each request's Content-Encoding ("" for none)
        self.rejected: list[str] = []  # why a request could not be taken (wrong path, undecodable)
        self.arrived = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return self._server.server_address[1]

    @property
    def endpoint(self) -> str:
        """The value for OTEL_EXPORTER_OTLP_METRICS_ENDPOINT (the full URL, path included)."""
        return f"http://127.0.0.1:{self.port}{PATH}"

    def start(self) -> int:
        """Listen on a free port of 127.0.0.1 in a background thread; the port."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != PATH:
                    receiver._reject(f"POST {self.path}")
                    self._answer(404, b"")
                    return
                encoding = (self.headers.get("Content-Encoding") or "").strip().lower()
                try:
                    request = ExportMetricsServiceRequest.FromString(_decoded(body, encoding))
                except Exception as exc:  # a receiver's 400, and the test sees why
                    receiver._reject(f"undecodable ({encoding or 'identity'}): {exc!r}")
                    self._answer(400, b"")
                    return
                receiver._keep(request, encoding)
                self._answer(receiver.status, ExportMetricsServiceResponse().SerializeToString())

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002  (the base class's name)
                pass  # quiet: the test reads `requests`, not stderr

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="otlp-receiver", daemon=True
        )  # a short poll: stop() returns at once
        self._thread.start()
        return self.port

    def _keep(self, request: ExportMetricsServiceRequest, encoding: str) -> None:
        with self.arrived:
            self.requests.append(request)
            self.encodings.append(encoding)
            self.arrived.notify_all()

    def _reject(self, why: str) -> None:
        with self.arrived:
            self.rejected.append(why)
            self.arrived.notify_all()

    def wait_for(
        self, predicate: Callable[[ExportMetricsServiceRequest], bool], timeout: float = 10.0
    ) -> ExportMetricsServiceRequest:
        """The first request (received so far or later) that `predicate` accepts; TimeoutError
        after `timeout` seconds, naming what did arrive."""
        with self.arrived:
            found = self.arrived.wait_for(lambda: next((r for r in self.requests if predicate(r)), None), timeout)
            if found is None:
                names = sorted({name for r in self.requests for name in metric_names(r)})
                raise TimeoutError(
                    f"no matching OTLP request in {timeout}s: {len(self.requests)} arrived "
                    f"(metrics {names}), rejected {self.rejected}"
                )
            return found

    def stop(self) -> None:
        """Stop listening and join the thread. Idempotent."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> OtlpReceiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _decoded(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding in ("", "identity"):
        return body
    raise ValueError(f"unknown Content-Encoding {encoding!r}")


def _value(value: AnyValue) -> str | int | float | bool:
    which = value.WhichOneof("value")
    return getattr(value, which) if which in ("string_value", "int_value", "double_value", "bool_value") else str(value)


def _labels(attributes: list[KeyValue]) -> Labels:
    """Attributes in the order they came (the SDK's encoder keeps ours), values as strings."""
    return tuple((kv.key, str(_value(kv.value))) for kv in attributes)


def metrics_of(request: ExportMetricsServiceRequest, scope: str | None = None) -> list[Metric]:
    """Every metric of the request, of one instrumentation scope when `scope` is given."""
    return [
        metric
        for rm in request.resource_metrics
        for sm in rm.scope_metrics
        if scope is None or sm.scope.name == scope
        for metric in sm.metrics
    ]


def metric_names(request: ExportMetricsServiceRequest, scope: str | None = None) -> set[str]:
    return {m.name for m in metrics_of(request, scope)}


def resource_attributes(request: ExportMetricsServiceRequest, scope: str | None = None) -> dict[str, object]:
    """The attributes of the (first) resource holding `scope`'s metrics, or of the first one."""
    for rm in request.resource_metrics:
        if scope is None or any(sm.scope.name == scope for sm in rm.scope_metrics):
            return {kv.key: _value(kv.value) for kv in rm.resource.attributes}
    return {}


def _number(point: NumberDataPoint) -> int | float:
    return point.as_int if point.WhichOneof("value") == "as_int" else point.as_double


def numbers(request: ExportMetricsServiceRequest, scope: str | None = None) -> dict[tuple[str, Labels], int | float]:
    """{(name, labels): value} of every gauge and sum point, an int where the wire says as_int."""
    out: dict[tuple[str, Labels], int | float] = {}
    for metric in metrics_of(request, scope):
        which = metric.WhichOneof("data")
        if which in ("gauge", "sum"):
            for point in getattr(metric, which).data_points:
                out[(metric.name, _labels(point.attributes))] = _number(point)
    return out


@dataclass(frozen=True)
class HistogramPoint:
    explicit_bounds: tuple[float, ...]
    bucket_counts: tuple[int, ...]
    count: int
    sum: float
    has_min_max: bool
    temporality: int  # AggregationTemporality: 2 is cumulative
    start_time_unix_nano: int
    time_unix_nano: int


def histograms(
    request: ExportMetricsServiceRequest, scope: str | None = None
) -> dict[tuple[str, Labels], HistogramPoint]:
    """{(name, labels): point} of every explicit-bucket histogram point."""
    out: dict[tuple[str, Labels], HistogramPoint] = {}
    for metric in metrics_of(request, scope):
        if metric.WhichOneof("data") != "histogram":
            continue
        for p in metric.histogram.data_points:
            out[(metric.name, _labels(p.attributes))] = HistogramPoint(
                tuple(p.explicit_bounds),
                tuple(p.bucket_counts),
                p.count,
                p.sum,
                p.HasField("min") or p.HasField("max"),
                metric.histogram.aggregation_temporality,
                p.start_time_unix_nano,
                p.time_unix_nano,
            )
    return out
