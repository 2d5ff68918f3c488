"""The run summary: every figure of a run, built once at its end and read by every output.

The console table, `--ml-json` and `--ml-csv`, the HTML report, the web UI, the gates and JUnit
all read this one structure, so each field is named once, here; docs/reports.md says what each
means. TypedDicts rather than dataclasses because the summary *is* the JSON: `json.dump` writes
it as it stands, and a saved summary read back (`mlstress report DIR`) is the same type. Workers
never send it; they send counts, and the master computes the figures from the merged counts.

A figure that cannot be computed honestly is None, and where a reason exists it sits beside it
(`calibration_reason`); a key is absent (NotRequired) only when the part of the run it
describes did not happen (no gates, no load plan, no open-model arrivals, a local run).
"""

# Not `from __future__ import annotations`: on Python 3.11 a TypedDict reads NotRequired only from
# evaluated annotations, and would count every key of string ones as required.
from typing import NotRequired, TypedDict

SCHEMA_VERSION = 1
"""`schema_version` of the JSON. Raised when a field changes meaning or is removed, not when
one is added; readers take any version up to theirs (docs/reports.md, "Schema versions")."""


class Latency(TypedDict):
    """Percentiles in milliseconds from mergeable log buckets; None below one request."""

    p50: float | None
    p95: float | None
    p99: float | None
    n: int
    unreliable: NotRequired[str]  # the load generator was saturated: why (quality/generator.py)


class PayloadSizes(TypedDict):
    """One variant's request bodies."""

    requests: int
    mean_bytes: float | None
    max_bytes: int
    latency_ms: NotRequired[Latency]  # only where latency is recorded per variant


class Histogram(TypedDict):
    """Prediction counts of a kind and of its reference on shared coarse bins, for plotting."""

    scale: str  # "linear" (probabilities on [0, 1]) or "log" (regression values)
    edges: list[float]
    reference: list[int] | None
    current: list[int]


class Shift(TypedDict):
    """Prediction shift against the kind's reference, with the noise floor at these counts.
    Below MIN_SHIFT_SAMPLES on either side the figures are None and the verdict `insufficient`,
    and the keys marked NotRequired are left out."""

    psi: float | None
    js: float | None
    ks: float | None
    ks_upper: float | None
    wasserstein: float | None
    n: int
    n_reference: int
    significant: bool
    underpowered: bool
    min_n_reference: int | None
    verdict: str
    wasserstein_bounds: NotRequired[list[float | None]]
    bins: NotRequired[int]
    psi_noise: NotRequired[float | None]
    psi_threshold: NotRequired[float | None]
    ks_threshold: NotRequired[float | None]


class ReliabilityBin(TypedDict):
    bin: int
    count: int
    mean_p: float
    mean_y: float


class Calibration(TypedDict):
    """ECE, MCE and Brier against the payloads' labels. Per-window rows carry the first five
    keys only (the significance test costs Monte Carlo runs); a fixed batch adds `verdict`."""

    ece: float | None
    mce: float | None
    brier: float | None
    n: int
    ece_noise: float | None
    ece_threshold: NotRequired[float | None]
    significant: NotRequired[bool]
    reliability: NotRequired[list[ReliabilityBin]]
    verdict: NotRequired[str]


class Accuracy(TypedDict):
    accuracy: float
    error_rate: float
    n: int
    interval: list[float] | None  # Wilson 95%; None for a fixed batch, whose instances repeat


class Consistency(TypedDict):
    """Probe traffic: the same inputs sent again, and how far the answers moved."""

    probes: int
    instances: int
    flip_rate: float | None
    max_abs_diff: float
    mean_abs_diff: float | None


class Classes(TypedDict):
    """Multiclass: predicted-class shares, and the mean probability of each (None for labels)."""

    predicted_share: dict[str, float]
    mean_probability: dict[str, float] | None


class KindFigures(TypedDict):
    """Everything measured for one payload kind over the run (or one stage of it)."""

    requests: int
    outcomes: dict[str, int]
    variants: dict[str, dict[str, int]]  # variant -> outcome -> requests
    payloads: dict[str, PayloadSizes]
    histogram: Histogram | None
    shift: Shift | None
    answers: str | None  # "probabilities", "labels", "mixed"; None for regression or no answers
    calibration: Calibration | None
    calibration_reason: str | None
    accuracy: Accuracy | None
    fixed_batch: bool
    latency_ms: Latency
    consistency: Consistency | None
    classes: Classes | None


class AllFigures(TypedDict):
    """Every kind but the probes, together."""

    requests: int
    outcomes: dict[str, int]
    latency_ms: Latency


class Interval(TypedDict):
    """A figure with its 95% interval; None where it cannot be computed."""

    value: float | None
    ci: list[float] | None  # [low, high]


class PairedLatency(TypedDict):
    """Challenger − champion per paired request, ms, with order-statistic intervals."""

    p50: Interval
    p95: Interval
    p99: Interval
    n: int
    histogram: list[list[float]]  # [low, high, count] per log bin, for the distribution plot


class VersionFigures(TypedDict):
    """One version's figures over the paired requests of a kind, against the same baseline."""

    latency_ms: dict[str, Interval]  # p50, p95, p99 with their intervals
    n: int
    accuracy: float | None
    ece: float | None
    ece_noise: float | None
    brier: float | None
    n_calibration: int
    psi: float | None
    shift_reason: str | None  # why `psi` is None


class PairFigures(TypedDict):
    """One payload kind's champion/challenger figures (docs/compare.md)."""

    n_pairs: int
    n_compared: int  # instances with an answer from both
    disagreement: float | None
    disagreement_ci: list[float] | None
    mean_abs_diff: float | None
    transitions: dict[str, int]  # "champion outcome->challenger outcome": count
    regressions: int
    regressions_by_variant: dict[str, int]
    latency_delta_ms: PairedLatency
    percentile_delta_ms: dict[str, Interval]  # challenger pXX − champion pXX: what gates read
    n_labelled: int
    accuracy_delta: Interval  # challenger − champion, paired
    mcnemar_p: float | None
    versions: dict[str, VersionFigures]  # "champion", "challenger"
    fixed_batch: bool  # one batch sent again and again: counts, but no interval is evidence


class PairWindowRow(TypedDict):
    """One kind's pairs in one time window: disagreement over time (the web UI's trend chart)."""

    window: int
    start_s: float
    end_s: float
    kind: str
    n_pairs: int
    n_compared: int
    disagreement: float | None
    disagreement_ci: list[float] | None
    regressions: int


class Comparison(TypedDict):
    """The `comparison` block: present when a challenger ran."""

    challenger: str  # its URL, credentials masked
    share: float  # of ML requests mirrored
    model_versions: dict[str, str | None]  # what each version's answers named
    kinds: dict[str, PairFigures]
    verdict: NotRequired[str]  # "promote", "hold", "rollback": at the end of a run
    reasons: NotRequired[list[str]]
    # per window and kind, in a summary (the figures gates read during a run leave it out)
    windows: NotRequired[list[PairWindowRow]]


class Figures(TypedDict):
    """What gates are judged on: the whole run's, a stage's, or the figures so far."""

    kinds: dict[str, KindFigures]
    all: AllFigures
    duration_s: float
    comparison: NotRequired[Comparison]  # with a challenger (the run's figures; never a stage's)


def no_figures(duration_s: float) -> Figures:
    """The figures of a span with no requests: gates over them are inconclusive, not errors."""
    return {
        "kinds": {},
        "all": {"requests": 0, "outcomes": {}, "latency_ms": {"p50": None, "p95": None, "p99": None, "n": 0}},
        "duration_s": duration_s,
    }


class WindowHead(TypedDict):
    """Which kind, which window, and how its requests ended: shared by the report's window rows
    and the web UI's lighter trend rows, so the two read alike."""

    window: int
    start_s: float
    end_s: float
    kind: str
    requests: int
    outcomes: dict[str, int]


class WindowRow(WindowHead):
    """One kind in one time window."""

    shift: Shift | None
    calibration: Calibration | None
    latency_ms: Latency


class TrafficRow(TypedDict):
    """All kinds together in one time window."""

    window: int
    start_s: float
    end_s: float
    users: int | None
    requests: int
    rps: float | None


class Warmup(TypedDict):
    seconds: float | None
    predictions: int | None
    windows: list[int]
    n: int


class ProfileIdentity(TypedDict):
    name: str
    path: str
    sha256: str


class BaselineHeader(TypedDict):
    """Who wrote a saved baseline file (--ml-save-baseline): when, with which profile, of which model."""

    created: str
    profile: ProfileIdentity
    model: dict[str, str | None]  # host (masked), path, version


class Baseline(TypedDict):
    """What each kind's shift is measured against: the run's clean warm-up (`mode` "clean") or
    a file saved by an earlier run (`mode` "file", with that file's header)."""

    mode: str
    too_small: bool | None
    min_n: int | None
    clean_n: NotRequired[int]
    warmup: NotRequired[Warmup]
    n: NotRequired[int]
    path: NotRequired[str]
    created: NotRequired[str]
    profile: NotRequired[ProfileIdentity]
    model: NotRequired[dict[str, str | None]]


class GeneratorProcess(TypedDict):
    """One process with users: how hard it worked, and how late its event loop woke."""

    seconds: int  # health rows it sent: one per second of the run
    saturated_s: int
    cpu_bound_s: int  # seconds at or above `thresholds.cpu_bound` of one core
    cpu_mean: float | None
    cpu_max: float
    loop_lag_ms_max: float
    late_share: float | None  # open-model arrivals only
    dropped_share: float | None
    dispatch_lag_ms_max: float | None


class GeneratorThresholds(TypedDict):
    loop_lag_ms: float
    late_share: float
    cpu_bound: float
    min_saturated_s: int
    min_saturated_share: float


class Generator(TypedDict):
    """Was the load generator the bottleneck (docs/distributed.md)?"""

    bottleneck: bool  # over the whole run; latency figures are then marked `unreliable`
    reason: str | None
    measured_s: int  # seconds of the run some process reported on
    saturated_s: int  # seconds some process was saturated
    spans: list[list[int]]  # saturated [start_s, end_s), longest first
    processes: dict[str, GeneratorProcess]  # by worker id ("local" in one process)
    thresholds: GeneratorThresholds


class LiveSummary(Figures):
    """The figures so far, as the monitor gives them (the web UI polls these during a run)."""

    windows: list[WindowRow]
    traffic: list[TrafficRow]
    baseline: Baseline
    window_s: float
    received: dict[str, int]  # requests counted per worker id ("local" in one process)
    generator: NotRequired[Generator]  # the load generator's health, once a process measured it


class RunIdentity(TypedDict):
    profile: ProfileIdentity
    host: str | None  # credentials masked
    model_version: str | None
    run_id: NotRequired[str]  # absent in summaries written before the exports (docs/observe.md)


class Workers(TypedDict):
    reported: list[str]
    missing: list[str]


class GateVerdict(TypedDict):
    gate: str
    value: float | None
    n: int | None
    status: str  # "pass", "fail", "inconclusive"
    message: str


class StageGate(TypedDict):
    gate: str
    status: str
    message: str


class StageVerdict(TypedDict):
    index: int
    name: str
    users: int
    passed: bool
    gates: list[StageGate]


class BreakingPoint(TypedDict):
    last_passing: StageVerdict | None
    first_failing: StageVerdict | None
    broken: list[str]


class Aborted(TypedDict):
    gate: str
    at_s: float


class Arrivals(TypedDict):
    achieved_rate: float | None
    active_s: float
    scheduled: int
    sent: int
    late: int
    dropped: int


class RunSummary(LiveSummary):
    """The end-of-run summary: the live figures plus what only the end knows."""

    schema_version: int
    run: RunIdentity
    workers: NotRequired[Workers]  # distributed runs
    gates: NotRequired[list[GateVerdict]]  # with gates
    aborted: NotRequired[Aborted]  # a gate stopped the run early
    arrivals: NotRequired[Arrivals]  # open-model arrivals
    stages: NotRequired[list[StageVerdict]]  # a load plan with stage gates
    breaking_point: NotRequired[BreakingPoint]  # step-to-failure
    stage_failure: NotRequired[StageVerdict]  # staged validation stopped at this stage


__all__ = [
    "SCHEMA_VERSION",
    "Aborted",
    "Accuracy",
    "AllFigures",
    "Arrivals",
    "Baseline",
    "BaselineHeader",
    "BreakingPoint",
    "Calibration",
    "Classes",
    "Comparison",
    "Consistency",
    "Figures",
    "GateVerdict",
    "Generator",
    "GeneratorProcess",
    "GeneratorThresholds",
    "Histogram",
    "Interval",
    "KindFigures",
    "Latency",
    "LiveSummary",
    "PairFigures",
    "PairedLatency",
    "PayloadSizes",
    "ProfileIdentity",
    "ReliabilityBin",
    "RunIdentity",
    "RunSummary",
    "Shift",
    "StageGate",
    "StageVerdict",
    "TrafficRow",
    "VersionFigures",
    "Warmup",
    "WindowHead",
    "WindowRow",
    "Workers",
    "no_figures",
]
