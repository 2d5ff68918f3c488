"""The validated, typed shape of a traffic profile.

Everything downstream (payloads, codecs, users, the reference server) reads these frozen
dataclasses and never the raw TOML, so a profile that loaded is a profile that works.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from locust_mlstress.domain.gates import GateSpec

if TYPE_CHECKING:
    from locust_mlstress.domain.plan import LoadPlan

FeatureType = Literal["float", "int", "bool", "category", "text"]
OutputType = Literal["binary", "multiclass", "regression"]
# Open Inference Protocol (v2) tensor datatypes a profile may name
V2Datatype = Literal["FP32", "FP64", "INT32", "INT64", "BOOL", "BYTES"]
V2_DATATYPE_NAMES: tuple[str, ...] = ("FP32", "FP64", "INT32", "INT64", "BOOL", "BYTES")
KINDS: tuple[str, ...] = ("clean", "drifted", "malformed", "oversized")
DriftType = Literal[
    "mean_shift",
    "scale",
    "category_reweight",
    "unseen_category",
    "missing_values",
    "unit_change",
    "outliers",
    "prior_shift",
]


@dataclass(frozen=True)
class Header:
    """An extra request header; `env` names a variable read at load time (for secrets)."""

    name: str
    value: str | None = None
    env: str | None = None
    secret: bool = False

    def __repr__(self) -> str:
        # a secret header's value never reaches a log line, a traceback or a repr(profile)
        value = "'***'" if self.secret else repr(self.value)
        return f"Header(name={self.name!r}, value={value}, env={self.env!r}, secret={self.secret})"


@dataclass(frozen=True)
class Target:
    path: str
    codec: str
    model_name: str = "model"
    headers: tuple[Header, ...] = ()
    connect_timeout: float = 5.0
    timeout: float = 30.0
    batch_size: int = 1
    # codec options, each meaningful to one codec only (see docs/profiles.md)
    v2_layout: Literal["columns", "tensor"] = "columns"
    v2_outputs: tuple[str, ...] = ()
    mlflow_format: Literal["dataframe_split", "dataframe_records", "inputs"] = "dataframe_split"
    signature_name: str | None = None
    body_template: str | None = None
    response_path: str | None = None
    item_path: str | None = None
    # v2: request-level "parameters" (e.g. MLServer's content_type = "pd" for column tensors), as
    # (key, JSON scalar) pairs in profile order; a mapping given here is turned into such pairs
    v2_parameters: tuple[tuple[str, str | int | float | bool], ...] = ()
    v2_input_name: str = "input-0"  # v2 tensor layout: the one input's name
    v2_datatype: V2Datatype = "FP64"  # v2 tensor layout: the one input's datatype

    def __post_init__(self) -> None:
        # kept a tuple so a Target stays hashable and immutable, whatever a caller passed
        if isinstance(self.v2_parameters, dict):
            object.__setattr__(self, "v2_parameters", tuple(self.v2_parameters.items()))


@dataclass(frozen=True)
class Challenger:
    """[challenger]: a second version sent the champion's very bytes (docs/compare.md).

    Only what may differ between two versions of one model is here: where it listens and how
    its answer is read. The encoding settings are the champion's, or the bytes would differ."""

    host: str | None = None  # --ml-challenger wins over it
    path: str | None = None  # None: the champion's path
    headers: tuple[Header, ...] = ()  # replace the champion's headers of the same name
    timeout: float | None = None  # None: the champion's
    share: float = 1.0  # of ML requests mirrored; --ml-challenger-share wins over it
    tolerance: float = 0.0  # regression outputs: a larger difference is a disagreement
    response_path: str | None = None  # generic codec: where the challenger's answer sits
    item_path: str | None = None


@dataclass(frozen=True)
class Distribution:
    """How a parametric source draws one feature; only the fields of its `kind` are set."""

    kind: Literal["normal", "lognormal", "uniform", "int_range", "categorical", "boolean", "text"]
    mean: float = 0.0
    std: float = 1.0
    low: float = 0.0
    high: float = 1.0
    p: float = 0.5
    categories: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()
    vocabulary: tuple[str, ...] = ()
    min_words: int = 1
    max_words: int = 8


@dataclass(frozen=True)
class Feature:
    name: str
    type: FeatureType
    required: bool = True
    # hard domain: a value outside it is malformed (the server must reject it)
    min: float | None = None
    max: float | None = None
    categories: tuple[str, ...] = ()
    distribution: Distribution | None = None
    # the key the model knows the feature by, when it differs from `name` (None: `name`)
    wire: str | None = None
    # v2 columns layout: this feature's tensor datatype (None: from `type`, see codecs.V2_DATATYPES)
    datatype: V2Datatype | None = None

    @property
    def wire_name(self) -> str:
        """The key this feature is sent under: `wire` when given, else `name`."""
        return self.wire if self.wire is not None else self.name


@dataclass(frozen=True)
class Output:
    type: OutputType
    classes: tuple[str, ...] = ()


@dataclass(frozen=True)
class LinearTerm:
    """One term of a label model: coefficient x feature value, or x [feature == category]."""

    feature: str
    weight: float
    category: str | None = None


@dataclass(frozen=True)
class LinearPredictor:
    intercept: float
    terms: tuple[LinearTerm, ...]


@dataclass(frozen=True)
class LabelModel:
    """The ground truth P(y|x): logistic (binary), softmax (multiclass) or linear + noise."""

    type: Literal["logistic", "softmax", "linear"]
    predictors: tuple[LinearPredictor, ...]  # one per class for softmax, else one
    noise_std: float = 0.0


@dataclass(frozen=True)
class DatasetSource:
    path: Path
    format: Literal["csv", "parquet", "jsonl"]
    label_column: str | None = None


@dataclass(frozen=True)
class ParametricSource:
    label_model: LabelModel | None = None


Source = DatasetSource | ParametricSource


@dataclass(frozen=True)
class Schedule:
    """How the share of drifted-kind payloads that carry the drift evolves over run time."""

    type: Literal["constant", "sudden", "gradual", "recurring"] = "constant"
    at: float = 0.0  # sudden: step time; gradual: ramp start (seconds since test start)
    duration: float = 60.0  # gradual: ramp length
    period: float = 60.0  # recurring: sinusoid period
    strength: float = 1.0  # the share at full strength


@dataclass(frozen=True)
class DriftVariant:
    name: str
    type: DriftType
    weight: float
    features: tuple[str, ...]
    labels: Literal["keep", "recompute"]
    schedule: Schedule
    shift: float = 1.0  # mean_shift: in standard deviations
    factor: float = 1.0  # scale, unit_change
    rate: float = 0.2  # missing_values, outliers, unseen_category: per-value probability
    weights: tuple[float, ...] = ()  # category_reweight: new category weights
    tail_scale: float = 10.0  # outliers: Cauchy scale in standard deviations
    positive_rate: float = 0.5  # prior_shift: share of `target_class` among the drifted rows
    target_class: str | None = None  # prior_shift: class whose share is set


@dataclass(frozen=True)
class Expectation:
    """Which statuses count as right for a kind or variant, and whether 2xx must decode."""

    statuses: tuple[str, ...]  # "2xx", "4xx", "5xx" or a three-digit code
    decodable: bool = True

    def allows(self, status: int) -> bool:
        code = str(status)
        return any(p == code or (p[1:] == "xx" and p[0] == code[0]) for p in self.statuses)


@dataclass(frozen=True)
class Variant:
    """A malformed or oversized variant: a stable builder name, its weight and parameters."""

    name: str
    weight: float
    expect: Expectation | None = None  # overrides the kind's expectation
    size: int = 0  # oversized: instances, bytes or features, by variant


@dataclass(frozen=True)
class Profile:
    name: str
    path: Path
    sha256: str
    seed: int
    target: Target
    features: tuple[Feature, ...]
    output: Output
    source: Source
    kind_weights: dict[str, float]
    drift: tuple[DriftVariant, ...]
    malformed: tuple[Variant, ...]
    oversized: tuple[Variant, ...]
    expect: dict[str, Expectation]
    description: str = ""
    consistency: float = 0.0  # share of requests that resend an earlier clean payload
    gates: GateSpec = GateSpec()  # [gates]: SLO checks turned into an exit code (docs/gates.md)
    load: LoadPlan | None = None  # [load]: users and mix over time (domain/plan.py)
    challenger: Challenger | None = None  # [challenger]: a second version (docs/compare.md)
    extra: dict[str, object] = field(default_factory=dict)

    def feature(self, name: str) -> Feature:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)

    def variants(self, kind: str) -> tuple[tuple[str, float], ...]:
        """(variant name, weight) pairs of a kind, in declaration order."""
        if kind == "clean":
            return (("clean", 1.0),)
        by_kind: dict[str, tuple[DriftVariant, ...] | tuple[Variant, ...]] = {
            "drifted": self.drift,
            "malformed": self.malformed,
            "oversized": self.oversized,
        }
        chosen = by_kind[kind]
        return tuple((v.name, v.weight) for v in chosen)

    def expectation(self, kind: str, variant: str) -> Expectation:
        for v in self.malformed if kind == "malformed" else self.oversized if kind == "oversized" else ():
            if v.name == variant and v.expect is not None:
                return v.expect
        return self.expect[kind]
