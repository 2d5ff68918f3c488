"""observe/samples.py and observe/prometheus.py: one list of metrics, named and translated once."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from locust_mlstress.domain.summary import Figures, KindFigures
from locust_mlstress.observe.prometheus import families, registry_for
from locust_mlstress.observe.samples import (
    BOUNDS_MS,
    Metric,
    RunLabels,
    Sample,
    flatten,
    latency_buckets,
    metrics_of,
    prometheus_name,
)
from locust_mlstress.quality.histograms import LogHistogram

ROOT = Path(__file__).resolve().parents[2]
RUN = RunLabels(profile="p", profile_sha256="abc", seed=7, run_id="r1", model_version="3")


def kind(requests: int, ece: float | None = 0.02, reason: str | None = None) -> KindFigures:
    calibration = None if ece is None else {"ece": ece, "mce": 0.1, "brier": 0.2, "n": requests, "ece_noise": 0.01}
    return {
        "requests": requests,
        "outcomes": {"ok": requests - 1, "server_error": 1},
        "variants": {},
        "payloads": {},
        "histogram": None,
        "shift": {"psi": None, "js": None, "ks": None, "ks_upper": None, "wasserstein": None, "n": 3,
                  "n_reference": 40, "significant": False, "underpowered": True, "min_n_reference": None,
                  "verdict": "insufficient"},
        "answers": "probabilities",
        "calibration": calibration,  # type: ignore[typeddict-item]
        "calibration_reason": reason,
        "accuracy": {"accuracy": 0.9, "error_rate": 0.1, "n": requests, "interval": None},
        "fixed_batch": False,
        "latency_ms": {"p50": 12.0, "p95": None, "p99": None, "n": requests},
        "consistency": None,
        "classes": None,
    }  # fmt: skip


def figures() -> Figures:
    return {
        "kinds": {"clean": kind(50), "drifted": kind(20, ece=None, reason="no labels in this kind")},
        "all": {"requests": 70, "outcomes": {}, "latency_ms": {"p50": None, "p95": None, "p99": None, "n": 0}},
        "duration_s": 12.5,
    }


def test_a_figure_the_summary_leaves_none_is_left_out_and_its_reason_is_shown():
    values = flatten(metrics_of(figures(), RUN))
    names = {name for name, _ in values}
    assert ("mlstress.ece", (("kind", "clean"),)) in values
    assert ("mlstress.ece", (("kind", "drifted"),)) not in values
    assert "mlstress.psi" not in names  # every psi is None (too few predictions)
    assert not any(math.isnan(v) for v in values.values())
    unavailable = {dict(labels)["figure"] + ":" + dict(labels)["kind"]: dict(labels)["reason"]
                   for name, labels in values if name == "mlstress.figure.unavailable"}  # fmt: skip
    assert unavailable["calibration:drifted"] == "no labels in this kind"
    assert "3 here" in unavailable["shift:clean"]
    # ms in the summary, seconds out
    assert values[("mlstress.request.duration.percentile", (("kind", "clean"), ("quantile", "0.5")))] == 0.012


def test_counters_are_the_summary_counts_and_gates_are_one_hot():
    gates = [{"gate": "p99_ms[clean] < 300", "value": 12.0, "n": 50, "status": "inconclusive", "message": ""}]
    values = flatten(metrics_of(figures(), RUN, gates=gates))  # type: ignore[arg-type]
    assert values[("mlstress.requests", (("kind", "clean"), ("outcome", "server_error")))] == 1
    assert values[("mlstress.requests", (("kind", "drifted"), ("outcome", "ok")))] == 19
    states = {dict(labels)["status"]: v for (name, labels), v in values.items() if name == "mlstress.gate.status"}
    assert states == {"pass": 0, "fail": 0, "inconclusive": 1}


def test_the_generator_health_is_exported_with_its_bottleneck_flag_per_process():
    process = {
        "seconds": 9,
        "saturated_s": 7,
        "cpu_bound_s": 8,
        "cpu_mean": 0.97,
        "cpu_max": 1.0,
        "loop_lag_ms_max": 82.0,
        "late_share": None,
        "dropped_share": None,
        "dispatch_lag_ms_max": None,
    }
    generator = {"bottleneck": True, "reason": "load generator saturated 7 of 9 s", "measured_s": 9,
                 "saturated_s": 7, "spans": [[2, 9]], "processes": {"local": process}, "thresholds": {}}  # fmt: skip
    values = flatten(metrics_of(figures(), RUN, generator=generator))  # type: ignore[arg-type]
    at = (("process", "local"),)
    assert values[("mlstress.generator.bottleneck", ())] == 1
    assert values[("mlstress.generator.saturated", ())] == 7
    assert values[("mlstress.generator.loop_lag.max", at)] == 0.082  # ms in the summary, seconds out
    assert values[("mlstress.generator.cpu.max", at)] == 1.0
    assert ("mlstress.generator.late", at) not in values  # no open-model arrivals: left out, not 0
    assert not any(name.startswith("mlstress.generator") for name, _ in flatten(metrics_of(figures(), RUN)))


def test_prometheus_names_follow_its_otlp_translation():
    def m(name: str, type_: str, unit: str) -> Metric:
        return Metric(name, type_, unit, "", ())  # type: ignore[arg-type]

    assert prometheus_name(m("mlstress.request.duration", "histogram", "s")) == "mlstress_request_duration_seconds"
    assert prometheus_name(m("mlstress.accuracy", "gauge", "1")) == "mlstress_accuracy_ratio"
    assert prometheus_name(m("mlstress.requests", "counter", "{request}")) == "mlstress_requests"
    assert prometheus_name(m("mlstress.psi", "gauge", "")) == "mlstress_psi"


def test_latency_buckets_count_exactly_the_values_at_or_below_each_bound():
    rng = np.random.default_rng(3)
    values = rng.lognormal(mean=3, sigma=2, size=5000)  # ms, from µs to minutes
    histogram = LogHistogram()
    for v in values:
        histogram.add(float(v))
    point = latency_buckets(histogram, int(sum(round(v * 1000) for v in values)), (("kind", "clean"),))
    assert len(point.bounds) == len(BOUNDS_MS) + 1 and point.bounds[-1] == math.inf
    cumulative = np.cumsum(point.counts)
    for bound, below in zip(point.bounds[:-1], cumulative[:-1], strict=True):
        assert below == int((values <= bound * 1000).sum())
        assert 1 <= bound * 1000 / BOUNDS_MS[list(point.bounds).index(bound)] < 1.01
    assert point.count == len(values)
    assert math.isclose(point.total, values.sum() / 1000, rel_tol=1e-6)


def test_merged_histograms_give_the_buckets_of_one():
    rng = np.random.default_rng(5)
    a, b, whole = LogHistogram(), LogHistogram(), LogHistogram()
    for i, v in enumerate(rng.exponential(40, size=2000)):
        (a if i % 3 else b).add(float(v))
        whole.add(float(v))
    a.merge(b)
    assert latency_buckets(a, 0, ()) == latency_buckets(whole, 0, ())


def test_the_exposition_says_what_the_list_says():
    histogram = LogHistogram()
    for v in (0.5, 3.0, 40.0, 700.0):
        histogram.add(v)
    metrics = metrics_of(figures(), RUN, latency={"clean": latency_buckets(histogram, 743500, (("kind", "clean"),))})
    text = generate_latest(registry_for(lambda: metrics)).decode()
    parsed = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    for metric in metrics:
        for sample in metric.samples:
            if isinstance(sample, Sample):
                suffix = "_total" if metric.type == "counter" else ""
                key = (prometheus_name(metric) + suffix, tuple(sorted(sample.labels)))
                assert parsed[key] == sample.value, key
    assert parsed[("mlstress_request_duration_seconds_count", (("kind", "clean"),))] == 4
    assert parsed[("mlstress_request_duration_seconds_sum", (("kind", "clean"),))] == 0.7435
    assert parsed[("mlstress_request_duration_seconds_bucket", (("kind", "clean"), ("le", "+Inf")))] == 4


def test_a_failing_source_answers_an_empty_scrape():
    def broken() -> list[Metric]:
        raise RuntimeError("boom")

    assert generate_latest(registry_for(broken)) == b""
    assert families([Metric("mlstress.psi", "gauge", "", "", ())]) == []


def test_docs_observe_names_every_metric():
    """docs/observe.md lists each metric by its OpenTelemetry name (the Prometheus name beside it)."""
    source = (ROOT / "locust_mlstress" / "observe" / "samples.py").read_text()
    names = set(re.findall(r'"(mlstress(?:\.[a-z_]+)+)"', source))
    assert len(names) > 30
    docs = (ROOT / "docs" / "observe.md").read_text()
    missing = sorted(n for n in names if f"`{n}`" not in docs)
    assert not missing, f"docs/observe.md does not name: {missing}"
