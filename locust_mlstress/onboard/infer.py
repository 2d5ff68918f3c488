"""From a data frame and its label column to features, an output and drift variants.

Every choice is a plain rule over the data (stated in `notes`, which become the profile's
header comment), with no randomness and ties broken by column order, so the same file always
gives the same profile. Domains are kept loose on purpose: a value the profile calls malformed
can never be sent as clean, so a bound only goes where the data itself draws one (no negative
value at all -> `min = 0`); a unit change then stays valid input, as it would in production.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from locust_mlstress.onboard.errors import InitError

# a text column with at most this many distinct values is a category (a label column: classes)
MAX_CATEGORIES = 50
# an integer label with at most this many distinct values is a class label, not a quantity
MAX_CLASSES = 20
TOP_SHIFTED = 3  # mean shift on at most this many numeric columns
MIN_ASSOCIATION = 1e-9  # a column with no association at all is never "most associated"


@dataclass(frozen=True)
class FeatureGuess:
    name: str
    type: str  # float, int, bool, category, text
    required: bool
    min: float | None = None
    categories: tuple[str, ...] = ()
    shares: tuple[float, ...] = ()  # category shares, in `categories` order
    missing: float = 0.0  # share of missing values
    association: float = 0.0  # |correlation| with the label (0 without labels or for non-numbers)
    why: str = ""


@dataclass(frozen=True)
class OutputGuess:
    type: str  # binary, multiclass, regression
    classes: tuple[str, ...]
    shares: tuple[float, ...]  # class shares, in `classes` order
    why: str


@dataclass(frozen=True)
class DriftGuess:
    name: str
    table: dict  # the [drift.NAME] table, TOML-ready
    why: str


@dataclass
class Inference:
    rows: int
    label: str
    features: list[FeatureGuess]
    output: OutputGuess
    drift: list[DriftGuess] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _whole(values: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))


def _is_bool_series(series) -> bool:
    if series.dtype == bool:
        return True
    present = series.dropna()
    return series.dtype == object and len(present) > 0 and all(type(v) is bool for v in present.tolist())


def guess_feature(series, name: str) -> FeatureGuess:
    """Type, requiredness, domain and categories of one column, with the reason in words."""
    import pandas as pd  # loaded only when a dataset is read: the other subcommands stay light

    n = len(series)
    missing_n = int(series.isna().sum())
    missing = missing_n / n
    required = missing_n == 0
    if missing_n == n:
        raise InitError(f"--data: column {name!r} has no values at all; drop it from the data (or fill it)")
    if _is_bool_series(series):
        return FeatureGuess(name, "bool", required, missing=missing, why="true/false values")
    if pd.api.types.is_numeric_dtype(series.dtype):
        values = series.dropna().to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(values)):
            raise InitError(f"--data: column {name!r} holds infinite values; clean rows must be finite numbers")
        integer = pd.api.types.is_integer_dtype(series.dtype) or (missing_n > 0 and _whole(values))
        kind = "int" if integer else "float"
        low = 0.0 if values.min() >= 0 else None
        why = "whole numbers" if integer else "numbers"
        if integer and not pd.api.types.is_integer_dtype(series.dtype):
            why = "whole numbers (read as floats only because of the gaps)"
        return FeatureGuess(name, kind, required, min=low, missing=missing, why=why)
    present = series.dropna().astype(str)
    counts = present.value_counts()
    if len(counts) <= MAX_CATEGORIES:
        categories = tuple(sorted(counts.index.tolist()))
        total = float(counts.sum())
        shares = tuple(float(counts[c]) / total for c in categories)
        why = f"{len(categories)} distinct values"
        return FeatureGuess(name, "category", required, categories=categories, shares=shares, missing=missing, why=why)
    return FeatureGuess(name, "text", required, missing=missing, why=f"{len(counts)} distinct values: free text")


def _sort_key(value: object) -> tuple:
    # numbers in numeric order (2 before 10, as a model's predict_proba columns are), others as text
    if isinstance(value, bool):
        return (0, float(value), "")
    if isinstance(value, int | float | np.integer | np.floating):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def guess_output(series, label: str) -> OutputGuess:
    """Binary, multiclass or regression from the label values; classes sorted as the model sorts them."""
    import pandas as pd  # loaded only when a dataset is read: the other subcommands stay light

    if series.isna().any():
        raise InitError(f"--label {label}: the column has {int(series.isna().sum())} missing labels; fill or drop them")
    values = series.tolist()
    numeric = pd.api.types.is_numeric_dtype(series.dtype) and series.dtype != bool
    distinct = sorted(set(values), key=_sort_key)
    if numeric:
        array = series.to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(array)):
            raise InitError(f"--label {label}: the column holds infinite values")
        if not _whole(array) or len(distinct) > MAX_CLASSES:
            return OutputGuess("regression", (), (), f"numeric labels with {len(distinct)} distinct values")
    elif len(distinct) > MAX_CATEGORIES:
        raise InitError(
            f"--label {label}: {len(distinct)} distinct non-numeric labels; a class output takes at most "
            f"{MAX_CATEGORIES} (is {label!r} the label column?)"
        )
    if len(distinct) < 2:
        raise InitError(f"--label {label}: every label is {distinct[0]!r}; a model needs at least 2 classes")
    # the text the dataset loader compares labels by: str(v), booleans lower-cased
    classes = tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in distinct)
    counts = {c: 0 for c in classes}
    for v in values:
        counts[str(v).lower() if isinstance(v, bool) else str(v)] += 1
    shares = tuple(counts[c] / len(values) for c in classes)
    kind = "binary" if len(classes) == 2 else "multiclass"
    why = f"{len(classes)} distinct labels, sorted as the model orders its class probabilities"
    return OutputGuess(kind, classes, shares, why)


def _label_targets(series, output: OutputGuess) -> list[np.ndarray]:
    """The label as numbers to correlate with: the value, P(positive) indicator, or one per class."""
    if output.type == "regression":
        return [series.to_numpy(dtype=np.float64)]
    text = np.array([str(v).lower() if isinstance(v, bool) else str(v) for v in series.tolist()], dtype=object)
    classes = output.classes[1:] if output.type == "binary" else output.classes
    return [(text == c).astype(np.float64) for c in classes]


def _association(column: np.ndarray, targets: list[np.ndarray]) -> float:
    """Largest |Pearson correlation| of a numeric column with the label (over its indicators)."""
    present = ~np.isnan(column)
    if present.sum() < 3:
        return 0.0
    x = column[present]
    if np.std(x) == 0:
        return 0.0
    best = 0.0
    for y in targets:
        yy = y[present]
        if np.std(yy) == 0:
            continue
        r = float(np.corrcoef(x, yy)[0, 1])
        if math.isfinite(r):
            best = max(best, abs(r))
    return best


def infer(frame, label: str) -> Inference:
    """Features (every column but the label, in file order), the output and the drift variants."""
    if label not in frame.columns:
        raise InitError(f"--label {label}: no such column; columns: {', '.join(map(repr, frame.columns))}")
    if len(frame.columns) < 2:
        raise InitError(f"--data: the only column is the label {label!r}; the model needs feature columns")
    output = guess_output(frame[label], label)
    targets = _label_targets(frame[label], output)
    features = []
    for name in frame.columns:
        if name == label:
            continue
        f = guess_feature(frame[name], name)
        if f.type in ("float", "int"):
            assoc = _association(frame[name].to_numpy(dtype=np.float64, na_value=np.nan), targets)
            f = FeatureGuess(f.name, f.type, f.required, f.min, f.categories, f.shares, f.missing, assoc, f.why)
        features.append(f)
    inference = Inference(len(frame), label, features, output)
    inference.drift = drift_variants(inference)
    return inference


def _round(x: float, digits: int = 3) -> float:
    return float(round(x, digits))


def drift_variants(inf: Inference) -> list[DriftGuess]:
    """Mean shift on the most label-associated numbers, a unit change, missing values where the data
    has gaps, a category reweight and a prior shift, each only when the data allows it."""
    out: list[DriftGuess] = []
    numeric = [f for f in inf.features if f.type in ("float", "int")]
    # stable sort: ties (and columns with no association) keep file order
    ranked = sorted(numeric, key=lambda f: -f.association)
    top = [f for f in ranked if f.association > MIN_ASSOCIATION][:TOP_SHIFTED] or ranked[:1]
    if top:
        names = [f.name for f in top]
        figures = ", ".join(f"{f.name} {f.association:.2f}" for f in top)
        why = (
            f"+1 std on the {len(top)} numeric column(s) most associated with the label (|correlation|: {figures})"
            if top[0].association > MIN_ASSOCIATION
            else "+1 std on the first numeric column (no column correlates with the label)"
        )
        out.append(DriftGuess("mean_shift", {"type": "mean_shift", "features": names, "shift": 1.0}, why))
        floats = [f for f in ranked if f.type == "float"] or ranked
        unit = floats[0]
        out.append(
            DriftGuess(
                "unit_change",
                {"type": "unit_change", "features": [unit.name], "factor": 1000.0},
                f"{unit.name} sent x1000 (a unit mix-up, say k$ -> $): the top-ranked {unit.type} column",
            )
        )
    optional = [f.name for f in inf.features if not f.required]
    if optional:
        out.append(
            DriftGuess(
                "missing_values",
                {"type": "missing_values", "features": optional, "rate": 0.5},
                f"half the values of the column(s) with gaps in the data go missing: {', '.join(optional)}",
            )
        )
    categorical = [f for f in inf.features if f.type == "category" and len(f.categories) >= 2]
    if categorical:
        cat = categorical[0]
        # the shares swapped end for end: the most common category becomes the rarest, and so on
        order = sorted(range(len(cat.categories)), key=lambda i: (-cat.shares[i], i))
        weights = [0.0] * len(cat.categories)
        for i, j in zip(order, reversed(order), strict=True):
            weights[i] = _round(max(cat.shares[j], 0.01))
        out.append(
            DriftGuess(
                "category_reweight",
                {"type": "category_reweight", "features": [cat.name], "weights": weights},
                f"{cat.name}'s category shares reversed (the most common becomes the rarest)",
            )
        )
    if inf.output.type != "regression":
        rare = min(range(len(inf.output.classes)), key=lambda i: (inf.output.shares[i], i))
        share = inf.output.shares[rare]
        rate = _round(min(0.9, max(0.5, 2 * share)), 2)
        target = inf.output.classes[rare]
        out.append(
            DriftGuess(
                "prior_shift",
                {"type": "prior_shift", "target_class": target, "rate": rate},
                f"class {target!r} (the rarest, {share:.1%} of the data) becomes {rate:.0%} of the rows",
            )
        )
    return out
