"""Exports while a run goes: `--ml-prometheus-port` serves our metrics, and with Locust's `--otel`
they go out through OpenTelemetry beside Locust's own (docs/observe.md).

Both read one source, `current_metrics`: the figures so far (what the gates read during a run,
from the monitor that holds every worker's counts), or, once a run has finished, its summary as
written to `--ml-json`. Only the process with the merged figures exports: the local runner or
the master, never a worker. The metrics of a moment are computed at most once per
`REFRESH_S`, however many scrapers ask.

At the end of a headless run the process exits: `--ml-prometheus-linger S` keeps it serving the
final figures until Prometheus has scraped them once (at most S seconds), and the OpenTelemetry
export sends them once more before Locust's own exporter shuts down.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import gevent
from gevent.event import Event
from gevent.pywsgi import WSGIServer
from locust.env import Environment

from locust_mlstress.domain.summary import Figures, GateVerdict, no_figures
from locust_mlstress.observe.samples import Buckets, Metric, RunLabels, latency_buckets, metrics_of
from locust_mlstress.plugin.gates import judge_spec, verdicts_of
from locust_mlstress.plugin.lifecycle import current_monitor, gate_summary
from locust_mlstress.plugin.state import state_of
from locust_mlstress.users.context import option

if TYPE_CHECKING:
    from locust_mlstress.observe.otel import OtelExport

__all__ = ["current_metrics", "finish", "new_test", "start"]

logger = logging.getLogger("locust_mlstress")
REFRESH_S = 1.0
EXIT_BAD_OPTION = 2


@dataclass(eq=False)
class Exports:
    """What one process exports: the Prometheus server, the OpenTelemetry export and its greenlet."""

    server: WSGIServer | None = None
    scraped_final: Event = field(default_factory=Event)  # a scrape has read a finished run's figures
    otel: OtelExport | None = None
    pusher: gevent.Greenlet | None = None
    cache: tuple[float, str, list[Metric]] | None = None  # (when, which run and whether finished, metrics)


def exports_of(environment: Environment) -> Exports:
    state = state_of(environment)
    if state.exports is None:
        state.exports = Exports()
    return state.exports


def run_labels(environment: Environment) -> RunLabels:
    state = state_of(environment)
    profile = state.run.profile
    versions = state.model_versions
    return RunLabels(
        profile=profile.name if profile is not None else "",
        profile_sha256=profile.sha256 if profile is not None else "",
        seed=profile.seed if profile is not None else 0,
        run_id=state.run.run_id,
        model_version=versions.get("champion"),
        challenger_version=versions.get("challenger") if "challenger" in versions else None,
    )


def _latency(environment: Environment, figures: Figures) -> dict[str, Buckets]:
    """Each kind's latency histogram from the monitor's log buckets (the summary keeps only percentiles)."""
    monitor = current_monitor(environment)
    if monitor is None:
        return {}
    return {
        kind: latency_buckets(stats.latency, stats.latency_us, (("kind", kind),))
        for kind, stats in monitor.totals.items()
        if kind in figures["kinds"]
    }


def _compute(environment: Environment) -> list[Metric]:
    state = state_of(environment)
    run = state.run
    labels = run_labels(environment)
    gates: Sequence[GateVerdict]
    if run.summary is not None:  # finished: the summary every output wrote
        figures: Figures = run.summary
        gates = run.summary.get("gates", [])
        generator = run.summary.get("generator")
    else:
        live = gate_summary(environment)
        if live is None:
            return metrics_of(no_figures(0.0), labels)
        figures = live
        gates = verdicts_of(judge_spec(run.gates, live)) if run.gates is not None and run.gates.checks else []
        generator = run.health.figures(live["duration_s"]) if run.health is not None else None
    return metrics_of(figures, labels, latency=_latency(environment, figures), gates=gates, generator=generator)


def current_metrics(environment: Environment) -> list[Metric]:
    """Our metrics now; the same list for every caller within `REFRESH_S` of a run's moment."""
    exports = exports_of(environment)
    run = state_of(environment).run
    now = time.monotonic()
    key = f"{run.run_id}:{run.summary is not None}"  # a finished run is computed afresh once
    if exports.cache is not None and exports.cache[1] == key and now - exports.cache[0] < REFRESH_S:
        return exports.cache[2]
    metrics = _compute(environment)
    exports.cache = (now, key, metrics)
    return metrics


def _prometheus_app(environment: Environment) -> Callable:
    from locust_mlstress.observe.prometheus import wsgi_app  # prometheus_client only with --ml-prometheus-port

    app = wsgi_app(lambda: current_metrics(environment))
    exports = exports_of(environment)

    def counted(environ, start_response):
        finished = state_of(environment).run.summary is not None
        body = app(environ, start_response)
        if finished:
            exports.scraped_final.set()
        else:  # a new run in the same process (the web UI): its own final figures are still to come
            exports.scraped_final.clear()
        return body

    return counted


def start(environment: Environment) -> None:
    """At init on a local runner or master: serve --ml-prometheus-port, start the OTel export."""
    exports = exports_of(environment)
    port = option(environment, "ml_prometheus_port")
    if port is not None and exports.server is None:
        host = option(environment, "ml_prometheus_host", "127.0.0.1") or "127.0.0.1"
        server = WSGIServer((host, int(port)), _prometheus_app(environment), log=None)
        try:
            server.start()
        except OSError as exc:
            logger.error(
                "--ml-prometheus-port %s: cannot listen on %s:%s (%s); choose a free port",
                port,
                host,
                port,
                exc.strerror or exc,
            )
            sys.stderr.flush()
            sys.exit(EXIT_BAD_OPTION)
        exports.server = server
        logger.info("ML metrics for Prometheus on http://%s:%s/metrics", host, server.server_port)
    if getattr(environment.parsed_options, "otel", False) and exports.otel is None:
        _start_otel(environment, exports)


def _start_otel(environment: Environment, exports: Exports) -> None:
    from locust_mlstress.observe.otel import export_interval_s, otel_export  # the OTel SDK only with --otel

    export = otel_export(_resource(run_labels(environment)), state_of(environment).started)
    if export is None:
        return
    exports.otel = export

    def push() -> None:
        interval = export_interval_s()
        while True:
            gevent.sleep(interval)
            if state_of(environment).run.monitor is not None:
                _export(environment, export)

    exports.pusher = gevent.spawn(push)


def _export(environment: Environment, export: OtelExport) -> None:
    """One OpenTelemetry export of the metrics now, under the run's identity of now (a new test
    has a new run id; the model version is known once an answer named it)."""
    from locust_mlstress.observe.otel import resource_for  # the OTel SDK only with --otel

    export.resource = resource_for(_resource(run_labels(environment)))
    export.export(current_metrics(environment))


def _resource(labels: RunLabels) -> dict[str, str]:
    return {f"mlstress.{key}": value for key, value in labels.labels()}


def new_test(environment: Environment, *, reset: bool = False) -> None:
    """At a test start, or a reset of the figures: counters restart from zero, so OpenTelemetry's
    start time moves to that moment (a backend then reads a new cumulative series, not a drop)."""
    exports = exports_of(environment)
    exports.cache = None
    if exports.otel is not None:
        exports.otel.start_ns = time.time_ns() if reset else int(state_of(environment).started * 1e9)


def finish(environment: Environment) -> None:
    """At `quitting`, after the run's summary is built: the final figures go out once more by
    OpenTelemetry, and Prometheus gets `--ml-prometheus-linger` seconds to scrape them."""
    exports = exports_of(environment)
    if state_of(environment).run.summary is None:
        return
    if exports.pusher is not None:
        exports.pusher.kill(block=False)
    if exports.otel is not None:
        _export(environment, exports.otel)
        exports.otel.shutdown()
        exports.otel = None
    linger = float(option(environment, "ml_prometheus_linger", 0) or 0)
    if exports.server is not None and linger > 0 and not exports.scraped_final.wait(timeout=linger):
        logger.warning("--ml-prometheus-linger: no scrape of the final figures within %ss", linger)
