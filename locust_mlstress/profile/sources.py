"""The input schema and the parametric generator: features, their distributions, the label model."""

from __future__ import annotations

import unicodedata

from locust_mlstress.domain.schema import (
    V2_DATATYPE_NAMES,
    Distribution,
    Feature,
    LabelModel,
    LinearPredictor,
    LinearTerm,
    Output,
    V2Datatype,
)
from locust_mlstress.profile.fields import Table
from locust_mlstress.profile.limits import MAX_CATEGORIES, MAX_CLASSES, MAX_FEATURES, MAX_VOCABULARY, MAX_WORDS

FEATURE_TYPES = ("float", "int", "bool", "category", "text")
# which distribution kinds can draw which feature type
DISTRIBUTIONS = {
    "float": ("normal", "lognormal", "uniform"),
    "int": ("int_range", "normal", "uniform"),
    "bool": ("boolean",),
    "category": ("categorical",),
    "text": ("text",),
}
# which v2 datatypes can carry a feature type's clean values (codecs coerce them to the JSON form)
DATATYPES_FOR = {
    "float": ("FP32", "FP64"),
    "int": ("INT32", "INT64", "FP32", "FP64"),
    "bool": ("BOOL", "INT32", "INT64", "FP32", "FP64"),
    "category": ("BYTES",),
    "text": ("BYTES",),
}


def name_problem(name: str) -> str | None:
    """Why a feature or wire name cannot be used, or None. Models name columns as they please
    (sklearn's 'mean radius', MLflow signatures with dots), so only what no key should hold is out."""
    if not name.strip():
        return "must not be empty or only spaces"
    for c in name:
        if unicodedata.category(c) == "Cc":
            return f"{name!r} holds a control character ({c!r}); names may hold any other character"
    return None


def _wire_and_datatype(t: Table, name: str, ftype: str) -> tuple[str | None, V2Datatype | None]:
    wire = t.str("wire", None)
    if wire is not None and (problem := name_problem(wire)):
        raise t.error("wire", problem)
    datatype = t.str("datatype", None, choices=V2_DATATYPE_NAMES)
    if datatype is not None and datatype not in DATATYPES_FOR[ftype]:
        allowed = ", ".join(DATATYPES_FOR[ftype])
        raise t.error("datatype", f"{datatype} cannot carry {ftype} feature {name!r}; use one of: {allowed}")
    return (None if wire == name else wire), datatype


def read_features(tables: list[Table], *, parametric: bool) -> tuple[Feature, ...]:
    features: list[Feature] = []
    seen: dict[str, int] = {}
    on_wire: dict[str, int] = {}
    for i, t in enumerate(tables):
        name = t.str("name")
        if problem := name_problem(name):
            raise t.error("name", problem)
        if name in seen:
            first = f"features[{seen[name]}]"
            raise t.error("name", f"{name!r} is already the name of {first}; names must be unique")
        seen[name] = i
        ftype = t.str("type", choices=FEATURE_TYPES)
        wire, datatype = _wire_and_datatype(t, name, ftype)
        key = wire if wire is not None else name
        if key in on_wire:
            raise t.error(
                "wire" if wire is not None else "name",
                f"{key!r} is already sent for features[{on_wire[key]}]; each feature needs its own wire key",
            )
        on_wire[key] = i
        numeric = ftype in ("float", "int")
        lo = t.number("min", None) if numeric else None
        hi = t.number("max", None) if numeric else None
        if lo is not None and hi is not None and lo >= hi:
            raise t.error("max", f"must be greater than min ({lo:g}), got {hi:g}")
        categories = t.strings("categories", nonempty=True, max_items=MAX_CATEGORIES) if ftype == "category" else ()
        distribution = None
        if parametric:
            distribution = _distribution(t.table("distribution", required=True), ftype, categories)
            # int_range draws are sent as drawn (other kinds are clipped to min..max), so a range
            # reaching outside the domain would send clean values the server must reject
            d = distribution
            if d.kind == "int_range" and (lo is not None and d.low < lo or hi is not None and d.high > hi):
                where = "low" if lo is not None and d.low < lo else "high"
                domain = ", ".join(f"{k} = {v:g}" for k, v in (("min", lo), ("max", hi)) if v is not None)
                raise t.error(
                    f"distribution.{where}",
                    f"int_range {d.low:g}..{d.high:g} reaches outside the feature's domain ({domain}); "
                    "keep low >= min and high <= max",
                )
        elif t.has("distribution"):
            raise t.error("distribution", "is only read by a parametric source; remove it for a dataset source")
        required = t.boolean("required", True)
        features.append(Feature(name, ftype, required, lo, hi, categories, distribution, wire, datatype))
        t.finish()
    return tuple(features)


def _distribution(t: Table, ftype: str, categories: tuple[str, ...]) -> Distribution:
    kind = t.str("kind", choices=DISTRIBUTIONS[ftype])
    if kind in ("normal", "lognormal"):
        d = Distribution(kind, mean=t.number("mean"), std=t.number("std", above=0))
    elif kind in ("uniform", "int_range"):
        low, high = t.number("low"), t.number("high")
        if high <= low:
            raise t.error("high", f"must be greater than low ({low:g}), got {high:g}")
        if kind == "int_range" and (low != int(low) or high != int(high)):
            raise t.error("low", "int_range bounds must be whole numbers")
        d = Distribution(kind, low=low, high=high)
    elif kind == "boolean":
        d = Distribution(kind, p=t.number("p", 0.5, min=0, max=1))
    elif kind == "categorical":
        weights = t.numbers("weights", (1.0,) * len(categories))
        if len(weights) != len(categories):
            raise t.error("weights", f"needs one weight per category ({len(categories)}), got {len(weights)}")
        d = Distribution(kind, categories=categories, weights=weights)
    else:
        vocabulary = t.strings("vocabulary", nonempty=True, max_items=MAX_VOCABULARY)
        lo, hi = t.integer("min_words", 1, min=1, max=MAX_WORDS), t.integer("max_words", 8, min=1, max=MAX_WORDS)
        if hi < lo:
            raise t.error("max_words", f"must be >= min_words ({lo}), got {hi}")
        d = Distribution(kind, vocabulary=vocabulary, min_words=lo, max_words=hi)
    t.finish()
    return d


def read_label_model(t: Table, features: tuple[Feature, ...], output: Output) -> LabelModel:
    expected = {"binary": "logistic", "multiclass": "softmax", "regression": "linear"}[output.type]
    kind = t.str("type", expected, choices=("logistic", "softmax", "linear"))
    if kind != expected:
        raise t.error("type", f"a {output.type} output needs a {expected!r} label model, got {kind!r}")
    noise = t.number("noise_std", 0.0, min=0) if kind == "linear" else 0.0
    if kind == "softmax":
        classes = t.table("classes", required=True)
        names = list(classes.names(max_items=MAX_CLASSES))
        if set(names) != set(output.classes):
            raise classes.error("", f"needs one table per output class: {', '.join(output.classes)}")
        predictors = tuple(_predictor(classes.sub(c), features) for c in output.classes)
    else:
        predictors = (_predictor(t, features),)
    t.finish()
    return LabelModel(kind, predictors, noise)


def _predictor(t: Table, features: tuple[Feature, ...]) -> LinearPredictor:
    by_name = {f.name: f for f in features}
    intercept = t.number("intercept", 0.0)
    w = t.table("weights")
    terms = []
    for key in w.names(max_items=MAX_FEATURES * 10):
        feature, category = _weight_key(key, by_name)
        f = by_name.get(feature)
        if f is None:
            raise w.error(key, f"no feature named {feature!r}; features: {', '.join(by_name)}")
        if category:
            if f.type != "category":
                raise w.error(key, f"{feature!r} is a {f.type} feature; only category features take '=VALUE'")
            if category not in f.categories:
                raise w.error(key, f"{category!r} is not a category of {feature!r}: {', '.join(f.categories)}")
        elif f.type not in ("float", "int", "bool"):
            raise w.error(key, f"{feature!r} is a {f.type} feature; weight its categories as '{feature}=VALUE'")
        terms.append(LinearTerm(feature, w.number(key), category or None))
    w.finish()
    t.finish()
    return LinearPredictor(intercept, tuple(terms))


def _weight_key(key: str, by_name: dict[str, Feature]) -> tuple[str, str]:
    """(feature, category or '') of a weight key: 'NAME' or 'NAME=VALUE'. A feature name may hold
    '=' itself, so a whole-key match wins, then a split whose left side is a category feature
    holding the right side, then the first '=' (whose error names what is wrong)."""
    if key in by_name:
        return key, ""
    at = key.find("=")
    while at >= 0:
        f = by_name.get(key[:at])
        if f is not None and f.type == "category" and key[at + 1 :] in f.categories:
            return key[:at], key[at + 1 :]
        at = key.find("=", at + 1)
    feature, _, category = key.partition("=")
    return feature, category
