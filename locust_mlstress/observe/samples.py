"""A run's figures as named metrics, once, for every export.

Prometheus and OpenTelemetry read the same list (`metrics_of`), so a figure has one name, one
unit and one meaning in both. Names are OpenTelemetry's (dotted, with a UCUM unit);
`prometheus_name` gives the name Prometheus's own OTLP translation would give, so a team that
scrapes us and a team that receives our OTLP through a collector write the same PromQL.

Every value is taken from the summary as it stands, never recomputed, so what an export says
equals `--ml-json` (latencies converted from ms to seconds, the unit both conventions use).
A figure the summary leaves None is left out, not sent as 0 or NaN; where the summary says why
(`calibration_reason`, a shift verdict of `insufficient`), `mlstress.figure.unavailable` carries
the reason as a label. The latency histogram is the only thing not in the summary: it comes
from the monitor's mergeable log buckets (`latency_buckets`), summed into coarse buckets whose
bounds are bin edges, so every count is exact.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from locust_mlstress.domain.summary import Figures, GateVerdict, Generator, Interval, KindFigures, PairFigures
from locust_mlstress.quality.histograms import LogHistogram, key_bounds, log_key

__all__ = [
    "BOUNDS_MS",
    "Buckets",
    "Metric",
    "RunLabels",
    "Sample",
    "latency_buckets",
    "metrics_of",
    "prometheus_name",
]

MetricType = Literal["gauge", "counter", "histogram"]
Labels = tuple[tuple[str, str], ...]

BOUNDS_MS = (1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)
"""Wanted upper bounds of the latency histogram's buckets, ms. Each becomes the upper edge of
the log bin holding it (within 1% above it): our bins are never split, so counts stay exact."""

GATE_STATES = ("pass", "fail", "inconclusive")
VERDICTS = ("promote", "hold", "rollback")
PERCENTILES = (("p50", "0.5"), ("p95", "0.95"), ("p99", "0.99"))


@dataclass(frozen=True, slots=True)
class Sample:
    labels: Labels
    value: float


@dataclass(frozen=True, slots=True)
class Buckets:
    """One histogram point: counts per bucket (not cumulative) under ascending upper bounds in
    seconds, the last +inf; the sum of the values in seconds."""

    labels: Labels
    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    total: float

    @property
    def count(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True, slots=True)
class Metric:
    name: str  # OpenTelemetry's name; `prometheus_name` for Prometheus's
    type: MetricType
    unit: str  # UCUM: "s", "1" (a ratio), "{request}" (a count of requests), "" (a pure number)
    help: str
    samples: tuple[Sample, ...] | tuple[Buckets, ...]


@dataclass(frozen=True, slots=True)
class RunLabels:
    """What identifies the run: labels of `mlstress.run.info` and the OTel resource."""

    profile: str
    profile_sha256: str
    seed: int
    run_id: str
    model_version: str | None = None
    challenger_version: str | None = None

    def labels(self) -> Labels:
        pairs = [
            ("profile", self.profile),
            ("profile_sha256", self.profile_sha256),
            ("seed", str(self.seed)),
            ("run_id", self.run_id),
            ("model_version", self.model_version or ""),
        ]
        if self.challenger_version is not None:
            pairs.append(("challenger_model_version", self.challenger_version))
        return tuple(pairs)


_UNIT_SUFFIX = {"s": "seconds", "1": "ratio", "By": "bytes"}


def prometheus_name(metric: Metric) -> str:
    """The name Prometheus gives an OTLP metric (its `otlp` translation): dots to underscores,
    the unit's word appended (annotations in braces dropped), `_ratio` for unit "1" on gauges,
    and `_total` on counters (prometheus_client adds that one itself)."""
    name = metric.name.replace(".", "_")
    word = _UNIT_SUFFIX.get(metric.unit)
    if word is not None and not (word == "ratio" and metric.type != "gauge") and not name.endswith(word):
        name = f"{name}_{word}"
    return name


def latency_buckets(histogram: LogHistogram, total_us: int, labels: Labels) -> Buckets:
    """Our log bins summed into the coarse buckets of `BOUNDS_MS` (each bound moved up to the
    edge of the bin holding it), plus +inf; pure sums, so a merged histogram gives the counts
    one process would."""
    edges = [key_bounds(log_key(b))[1] for b in BOUNDS_MS]
    counts = [0] * (len(edges) + 1)
    i = 0
    for key, count in histogram.items():
        upper = key_bounds(key)[1]
        while i < len(edges) and upper > edges[i]:
            i += 1
        counts[i] += count
    return Buckets(labels, tuple(e / 1000 for e in edges) + (math.inf,), tuple(counts), total_us / 1e6)


@dataclass
class _Families:
    """The metrics being built, in order of first use."""

    found: dict[str, tuple[MetricType, str, str, list]] = field(default_factory=dict)

    def add(self, name: str, type_: MetricType, unit: str, help_: str, labels: Labels, value: float | None) -> None:
        family = self.found.setdefault(name, (type_, unit, help_, []))
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            family[3].append(Sample(labels, float(value)))

    def histogram(self, name: str, unit: str, help_: str, point: Buckets) -> None:
        self.found.setdefault(name, ("histogram", unit, help_, []))[3].append(point)

    def metrics(self) -> list[Metric]:
        return [Metric(n, t, u, h, tuple(s)) for n, (t, u, h, s) in self.found.items()]


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000


def _kind(out: _Families, kind: str, k: KindFigures) -> None:
    at = (("kind", kind),)
    for outcome, n in sorted(k["outcomes"].items()):
        out.add(
            "mlstress.requests",
            "counter",
            "{request}",
            "ML requests by payload kind and outcome",
            at + (("outcome", outcome),),
            n,
        )
    for name, q in PERCENTILES:
        value = _seconds(k["latency_ms"][name])  # type: ignore[literal-required]
        out.add(
            "mlstress.request.duration.percentile",
            "gauge",
            "s",
            "Latency percentile (nearest rank over log bins within 0.5%), as in the summary",
            at + (("quantile", q),),
            value,
        )
    shift = k["shift"]
    if shift is not None:
        out.add(
            "mlstress.shift.samples", "gauge", "{prediction}", "Predictions the shift is measured on", at, shift["n"]
        )
        out.add(
            "mlstress.shift.reference.samples",
            "gauge",
            "{prediction}",
            "Predictions of the shift's reference",
            at,
            shift["n_reference"],
        )
        out.add(
            "mlstress.psi",
            "gauge",
            "",
            "Population stability index of predictions against the reference",
            at,
            shift["psi"],
        )
        out.add(
            "mlstress.psi.noise",
            "gauge",
            "",
            "PSI expected from sampling alone at these counts (95%)",
            at,
            shift.get("psi_noise"),
        )
        out.add(
            "mlstress.js", "gauge", "", "Jensen-Shannon distance of predictions against the reference", at, shift["js"]
        )
        out.add("mlstress.ks", "gauge", "", "Kolmogorov-Smirnov statistic on binned predictions", at, shift["ks"])
        out.add(
            "mlstress.ks.upper", "gauge", "", "Upper bound of the KS statistic given the binning", at, shift["ks_upper"]
        )
        out.add(
            "mlstress.wasserstein",
            "gauge",
            "",
            "Wasserstein-1 distance of predictions against the reference",
            at,
            shift["wasserstein"],
        )
        if shift["verdict"] == "insufficient":
            reason = f"too few predictions for shift ({shift['n']} here, {shift['n_reference']} in the reference)"
            out.add(
                "mlstress.figure.unavailable",
                "gauge",
                "",
                "A figure left out, and why (value 1)",
                at + (("figure", "shift"), ("reason", reason)),
                1,
            )
    calibration = k["calibration"]
    if calibration is not None:
        out.add(
            "mlstress.calibration.samples",
            "gauge",
            "{prediction}",
            "Labelled predictions calibration is on",
            at,
            calibration["n"],
        )
        out.add("mlstress.ece", "gauge", "", "Expected calibration error", at, calibration["ece"])
        out.add(
            "mlstress.ece.noise",
            "gauge",
            "",
            "ECE expected from sampling alone at this n (95%)",
            at,
            calibration["ece_noise"],
        )
        out.add("mlstress.mce", "gauge", "", "Maximum calibration error", at, calibration["mce"])
        out.add("mlstress.brier", "gauge", "", "Brier score", at, calibration["brier"])
    elif k["calibration_reason"]:
        out.add(
            "mlstress.figure.unavailable",
            "gauge",
            "",
            "A figure left out, and why (value 1)",
            at + (("figure", "calibration"), ("reason", k["calibration_reason"])),
            1,
        )
    if k["accuracy"] is not None:
        out.add(
            "mlstress.accuracy",
            "gauge",
            "1",
            "Share of labelled predictions that are right",
            at,
            k["accuracy"]["accuracy"],
        )


def _interval(out: _Families, name: str, unit: str, help_: str, at: Labels, interval: Interval, scale=1.0) -> None:
    value, ci = interval["value"], interval["ci"]
    out.add(name, "gauge", unit, help_, at, None if value is None else value * scale)
    out.add(
        f"{name}.lower",
        "gauge",
        unit,
        f"{help_}: lower end of the 95% interval",
        at,
        None if ci is None or ci[0] is None else ci[0] * scale,
    )
    out.add(
        f"{name}.upper",
        "gauge",
        unit,
        f"{help_}: upper end of the 95% interval",
        at,
        None if ci is None or ci[1] is None else ci[1] * scale,
    )


def _pairs(out: _Families, kind: str, p: PairFigures) -> None:
    at = (("kind", kind),)
    out.add("mlstress.pairs", "counter", "{pair}", "Payloads sent to both versions", at, p["n_pairs"])
    ci = p["disagreement_ci"]
    _interval(
        out,
        "mlstress.pair.disagreement",
        "1",
        "Share of paired answers that disagree",
        at,
        {"value": p["disagreement"], "ci": ci},
    )
    out.add(
        "mlstress.pair.regressions",
        "counter",
        "{pair}",
        "Pairs the champion got right and the challenger not",
        at,
        p["regressions"],
    )
    out.add(
        "mlstress.pair.mean_abs_diff",
        "gauge",
        "",
        "Mean |challenger − champion| of paired answers",
        at,
        p["mean_abs_diff"],
    )
    for name, q in PERCENTILES:
        _interval(
            out,
            "mlstress.pair.duration.delta",
            "s",
            "Challenger's latency percentile minus the champion's",
            at + (("quantile", q),),
            p["percentile_delta_ms"][name],
            1 / 1000,
        )
    _interval(
        out,
        "mlstress.pair.accuracy.delta",
        "1",
        "Challenger's accuracy minus the champion's, paired",
        at,
        p["accuracy_delta"],
    )
    for version, totals in _pair_outcomes(p["transitions"]).items():
        for outcome, n in sorted(totals.items()):
            out.add(
                "mlstress.pair.requests",
                "counter",
                "{request}",
                "Paired requests by version and outcome",
                at + (("version", version), ("outcome", outcome)),
                n,
            )
    for version, v in sorted(p["versions"].items()):
        vat = at + (("version", version),)
        out.add(
            "mlstress.pair.psi", "gauge", "", "PSI of this version's paired answers against the baseline", vat, v["psi"]
        )
        out.add("mlstress.pair.ece", "gauge", "", "ECE of this version's paired answers", vat, v["ece"])
        out.add("mlstress.pair.brier", "gauge", "", "Brier score of this version's paired answers", vat, v["brier"])
        out.add("mlstress.pair.accuracy", "gauge", "1", "Accuracy of this version's paired answers", vat, v["accuracy"])
        for name, q in PERCENTILES:
            out.add(
                "mlstress.pair.duration.percentile",
                "gauge",
                "s",
                "This version's latency percentile over pairs",
                vat + (("quantile", q),),
                _seconds(v["latency_ms"][name]["value"]),
            )


def _pair_outcomes(transitions: Mapping[str, int]) -> dict[str, dict[str, int]]:
    """Each version's outcome counts over the pairs, from "champion->challenger" transitions."""
    totals: dict[str, dict[str, int]] = {"champion": {}, "challenger": {}}
    for transition, n in transitions.items():
        champion, _, challenger = transition.partition("->")
        totals["champion"][champion] = totals["champion"].get(champion, 0) + n
        totals["challenger"][challenger] = totals["challenger"].get(challenger, 0) + n
    return totals


_PROCESS_GAUGES = (
    # name, unit, help, field of the summary's `generator.processes.P`, divisor to the unit (ms → s)
    ("mlstress.generator.process.saturated", "s", "Seconds this process was saturated", "saturated_s", 1),
    ("mlstress.generator.process.cpu_bound", "s", "Seconds this process used at least 90% of a core", "cpu_bound_s", 1),
    ("mlstress.generator.cpu.mean", "1", "Mean CPU share of one core", "cpu_mean", 1),
    ("mlstress.generator.cpu.max", "1", "Highest CPU share of one core in a second", "cpu_max", 1),
    ("mlstress.generator.loop_lag.max", "s", "Latest the event loop woke in a second", "loop_lag_ms_max", 1000),
    ("mlstress.generator.late", "1", "Share of open-model arrivals sent late", "late_share", 1),
    ("mlstress.generator.dropped", "1", "Share of open-model arrivals dropped", "dropped_share", 1),
    ("mlstress.generator.dispatch_lag.max", "s", "Latest an open-model arrival went out", "dispatch_lag_ms_max", 1000),
)


def _generator(out: _Families, g: Generator) -> None:
    """The load generator's health: a dashboard shows beside the server's latency whether the
    latency was the server's at all (docs/distributed.md)."""
    out.add(
        "mlstress.generator.bottleneck",
        "gauge",
        "",
        "1 when the load generator was the bottleneck over the run so far (latency marked unreliable)",
        (),
        int(g["bottleneck"]),
    )
    out.add(
        "mlstress.generator.measured", "gauge", "s", "Seconds of the run some process measured", (), g["measured_s"]
    )
    out.add("mlstress.generator.saturated", "gauge", "s", "Seconds some process was saturated", (), g["saturated_s"])
    for source, process in g["processes"].items():
        for name, unit, help_, key, per in _PROCESS_GAUGES:
            value = process[key]  # type: ignore[literal-required]
            out.add(name, "gauge", unit, help_, (("process", source),), None if value is None else value / per)


def metrics_of(
    figures: Figures,
    run: RunLabels,
    *,
    latency: Mapping[str, Buckets] | None = None,
    gates: Sequence[GateVerdict] = (),
    verdict: str | None = None,
    generator: Generator | None = None,
) -> list[Metric]:
    """Every metric of `figures` (the run's summary, or the figures so far): per payload kind,
    per pair of versions when a challenger ran, the gates' states, the load generator's health
    and the run's identity. `latency` is each kind's histogram point (`latency_buckets`);
    `verdict` the comparison's (promote, hold, rollback), known at the end of a run;
    `generator` the summary's `generator` block, or the health so far."""
    out = _Families()
    out.add(
        "mlstress.run.info", "gauge", "", "The run: profile, seed, run id, model versions (value 1)", run.labels(), 1
    )
    out.add("mlstress.run.duration", "gauge", "s", "Seconds of the run so far", (), figures["duration_s"])
    for kind, k in sorted(figures["kinds"].items()):
        _kind(out, kind, k)
    for _kind_name, point in sorted((latency or {}).items()):
        out.histogram("mlstress.request.duration", "s", "Latency of ML requests (log bins summed exactly)", point)
    comparison = figures.get("comparison")
    if comparison is not None:
        for kind, p in sorted(comparison["kinds"].items()):
            _pairs(out, kind, p)
        verdict = verdict or comparison.get("verdict")
        if verdict is not None:
            for name in VERDICTS:
                out.add(
                    "mlstress.comparison.verdict",
                    "gauge",
                    "",
                    "The comparison's verdict, one-hot",
                    (("verdict", name),),
                    int(name == verdict),
                )
    for gate in gates:
        at = (("gate", gate["gate"]),)
        for state in GATE_STATES:
            out.add(
                "mlstress.gate.status",
                "gauge",
                "",
                "Each gate's state, one-hot (pass, fail, inconclusive)",
                at + (("status", state),),
                int(gate["status"] == state),
            )
        out.add("mlstress.gate.value", "gauge", "", "The figure each gate judged", at, gate["value"])
    if generator is not None:
        _generator(out, generator)
    return out.metrics()


def flatten(metrics: Iterable[Metric]) -> dict[tuple[str, Labels], float]:
    """{(name, labels): value} of every plain sample, for comparing two exports in tests and docs."""
    return {(m.name, s.labels): s.value for m in metrics for s in m.samples if isinstance(s, Sample)}
