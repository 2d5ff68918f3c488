"""Our metrics in Prometheus's exposition format, through prometheus_client.

A custom collector, not registered gauges: a scrape asks `source` for the figures of the moment
and translates the list of `samples.Metric` as it stands, so nothing is kept between scrapes and
no request touches the client library. The registry is our own (not prometheus_client's global
one), so the process's own Python metrics never mix into ours.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric as PromMetric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from locust_mlstress.observe.samples import Buckets, Metric, Sample, prometheus_name

__all__ = ["FigureCollector", "families", "registry_for", "wsgi_app"]

logger = logging.getLogger("locust_mlstress")


def families(metrics: Sequence[Metric]) -> list[PromMetric]:
    """prometheus_client's metric families of our metrics (a family with no sample is left out:
    an empty family says nothing a scrape could use)."""
    out: list[PromMetric] = []
    for metric in metrics:
        if not metric.samples:
            continue
        name = prometheus_name(metric)
        names = [key for key, _ in metric.samples[0].labels]
        family: PromMetric
        if metric.type == "histogram":
            family = HistogramMetricFamily(name, metric.help, labels=names)
            for point in metric.samples:
                assert isinstance(point, Buckets)
                cumulative, running = [], 0
                for bound, count in zip(point.bounds, point.counts, strict=True):
                    running += count
                    cumulative.append((floatToGoString(bound), running))
                family.add_metric([v for _, v in point.labels], cumulative, point.total)
        else:
            kind = CounterMetricFamily if metric.type == "counter" else GaugeMetricFamily
            family = kind(name, metric.help, labels=names)
            for sample in metric.samples:
                assert isinstance(sample, Sample)
                family.add_metric([v for _, v in sample.labels], sample.value)
        out.append(family)
    return out


class FigureCollector(Collector):
    """Collects `source()` at each scrape. A failing source answers an empty scrape and one log
    line per distinct error: a dashboard's gap, never a broken run."""

    def __init__(self, source: Callable[[], Sequence[Metric]]):
        self.source = source
        self._logged: set[str] = set()

    def collect(self) -> Iterator[PromMetric]:
        try:
            metrics = self.source()
        except Exception as exc:  # the scrape must answer whatever the figures do
            text = repr(exc)
            if text not in self._logged:
                self._logged.add(text)
                logger.warning("--ml-prometheus-port: the figures could not be computed for a scrape: %s", text)
            return iter(())
        return iter(families(metrics))


def registry_for(source: Callable[[], Sequence[Metric]]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FigureCollector(source))
    return registry


def wsgi_app(source: Callable[[], Sequence[Metric]]) -> Callable:
    """A WSGI app answering scrapes (any path, as prometheus_client's own) with `source`'s metrics."""
    return make_wsgi_app(registry_for(source))
