"""The `[drift.*]`, `[malformed]` and `[oversized]` sections: which variants, how much, what to expect."""

from __future__ import annotations

import difflib
from typing import get_args

from locust_mlstress.domain.schema import (
    DatasetSource,
    DriftType,
    DriftVariant,
    Expectation,
    Profile,
    Schedule,
    Variant,
)
from locust_mlstress.payloads.registry import variant_specs
from locust_mlstress.profile.expectations import read_expectation, read_statuses
from locust_mlstress.profile.fields import Table
from locust_mlstress.profile.limits import MAX_DRIFT_VARIANTS, MAX_FEATURES, MAX_OVERSIZED_SIZE

DRIFT_TYPES: tuple[str, ...] = get_args(DriftType)
NUMERIC_DRIFT = ("mean_shift", "scale", "unit_change", "outliers")
# labels follow the drifted features when the population really moved; they stay put when only
# the representation or the measurement changed (the truth behind the row is the same)
DEFAULT_LABELS = {"mean_shift": "recompute", "scale": "recompute", "category_reweight": "recompute"}


def read_drift(t: Table, profile: Profile) -> tuple[DriftVariant, ...]:
    out = []
    for name in t.names(max_items=MAX_DRIFT_VARIANTS):
        out.append(_drift_variant(t.table(name), name, profile))
    if out and sum(v.weight for v in out) <= 0:  # as for [malformed] and [oversized]
        raise t.error("", "needs at least one [drift.NAME] with a positive weight")
    return tuple(out)


def _drift_variant(t: Table, name: str, profile: Profile) -> DriftVariant:
    kind = t.str("type", choices=DRIFT_TYPES)
    by_name = {f.name: f for f in profile.features}
    has_labels = (
        isinstance(profile.source, DatasetSource)
        and profile.source.label_column
        or (not isinstance(profile.source, DatasetSource) and profile.source.label_model is not None)
    )
    can_recompute = not isinstance(profile.source, DatasetSource) and profile.source.label_model is not None
    labels_default = DEFAULT_LABELS.get(kind, "keep") if can_recompute else "keep"
    if kind == "prior_shift" and t.has("labels"):
        raise t.error("labels", "prior_shift draws whole labelled rows; their labels are never changed")
    labels = t.str("labels", labels_default, choices=("keep", "recompute"))
    if labels == "recompute" and not can_recompute:
        raise t.error("labels", "'recompute' needs a parametric source with a label_model; use 'keep'")

    wanted: tuple[str, ...] | None
    default: tuple[str, ...] | None
    if kind in NUMERIC_DRIFT:
        wanted, default = ("float", "int"), None
    elif kind in ("category_reweight", "unseen_category"):
        wanted, default = ("category",), tuple(f.name for f in profile.features if f.type == "category")
    elif kind == "missing_values":
        wanted, default = None, tuple(f.name for f in profile.features if not f.required)
    else:
        wanted, default = None, ()
    if kind == "prior_shift":
        if t.has("features"):
            raise t.error("features", "prior_shift resamples whole rows by label; it takes no features")
        features: tuple[str, ...] = ()
    else:
        features = (
            t.strings("features", default, nonempty=True, max_items=MAX_FEATURES)
            if default is None
            else t.strings("features", default, max_items=MAX_FEATURES)
        )
        if not features:
            raise t.error("features", f"{kind} needs at least one suitable feature and the schema has none")
    for fname in features:
        f = by_name.get(fname)
        if f is None:
            raise t.error("features", f"no feature named {fname!r}; features: {', '.join(by_name)}")
        if wanted is not None and f.type not in wanted:
            raise t.error("features", f"{kind} applies to {' or '.join(wanted)} features; {fname!r} is {f.type}")
        if kind == "missing_values" and f.required:
            raise t.error(
                "features",
                f"{fname!r} is required, so a missing value is malformed, not drift; "
                "set required = false on it, or use the malformed variant null_required",
            )

    params: dict = {}
    if kind == "mean_shift":
        params["shift"] = t.number("shift")
    elif kind in ("scale", "unit_change"):
        params["factor"] = t.number("factor", above=0)
    elif kind in ("missing_values", "unseen_category"):
        params["rate"] = t.number("rate", 0.5 if kind == "missing_values" else 0.3, min=0, max=1)
    elif kind == "outliers":
        params["rate"] = t.number("rate", 0.1, min=0, max=1)
        params["tail_scale"] = t.number("tail_scale", 10.0, above=0)
    elif kind == "category_reweight":
        if len(features) != 1:
            raise t.error("features", "category_reweight takes exactly one category feature")
        cats = by_name[features[0]].categories
        weights = t.numbers("weights")
        if len(weights) != len(cats):
            raise t.error(
                "weights",
                f"needs one weight per category of {features[0]!r} ({len(cats)}), got {len(weights)}",
            )
        params["weights"] = weights
    elif kind == "prior_shift":
        if not has_labels or profile.output.type == "regression":
            raise t.error("type", "prior_shift needs class labels: a label_model or label_column and a class output")
        classes = profile.output.classes
        params["target_class"] = t.str(
            "target_class", classes[-1] if profile.output.type == "binary" else classes[0], choices=classes
        )
        params["positive_rate"] = t.number("rate", min=0, max=1)
    variant = DriftVariant(
        name=name, type=kind, weight=t.number("weight", 1.0, min=0), features=features, labels=labels,
        schedule=_schedule(t.table("schedule")), **params,
    )  # fmt: skip
    t.finish()
    return variant


def _schedule(t: Table) -> Schedule:
    kind = t.str("type", "constant", choices=("constant", "sudden", "gradual", "recurring"))
    strength = t.number("strength", 1.0, min=0, max=1)
    at = t.number("at", 0.0, min=0) if kind in ("sudden", "gradual") else 0.0
    duration = t.number("duration", above=0) if kind == "gradual" else 60.0
    period = t.number("period", above=0) if kind == "recurring" else 60.0
    t.finish()
    return Schedule(kind, at, duration, period, strength)


def read_variants(t: Table, kind: str, profile: Profile) -> tuple[Variant, ...]:
    """Malformed or oversized variants: all that apply by default, or the ones listed."""
    specs = variant_specs(kind)
    exclude = t.strings("exclude", ())
    for name in exclude:
        _check_name(t, "exclude", name, specs)
    listed = t.table("variants")
    if exclude and listed.data:
        raise t.error(
            "exclude",
            f"narrows the default set only; with [{listed.path}] given, list just the variants you want",
        )
    out = []
    names = list(listed.names()) if listed.data else [n for n in specs if n not in exclude]
    for name in names:
        _check_name(listed, name, name, specs)
        reason = specs[name].unavailable(profile)
        if reason and not listed.data:
            continue  # an inapplicable variant is silently left out of the default set
        if reason:
            raise listed.error(name, f"cannot be built for this profile: {reason}")
        raw = listed.raw(name) if listed.data else None
        weight, size, expect = 1.0, specs[name].default_size, None
        if isinstance(raw, dict):
            v = listed.sub(name)
            weight = v.number("weight", 1.0, min=0)
            size = v.integer("size", size, min=1, max=MAX_OVERSIZED_SIZE.get(name)) if size else 0
            default = profile.expect[kind]
            if isinstance(v.raw("expect"), dict):  # { status = [...], decodable = ... }, as [expect.KIND]
                expect = read_expectation(v.table("expect"), default)
            elif v.has("expect"):  # the short form: just the statuses
                expect = Expectation(read_statuses(v, "expect", default.statuses), default.decodable)
            v.finish()
        elif raw is not None:
            weight = listed.number(name, min=0)
        out.append(Variant(name, weight, expect, size))
    listed.finish()
    t.finish()
    if names and not out:
        raise t.error("", f"no {kind} variant applies to this profile")
    if out and sum(v.weight for v in out) <= 0:
        raise t.error("variants", "needs at least one variant with a positive weight")
    return tuple(out)


def _check_name(t: Table, field: str, name: str, specs: dict) -> None:
    if name not in specs:
        hint = difflib.get_close_matches(name, list(specs), n=1)
        did = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise t.error(field, f"{name!r} is not a variant{did}; variants: {', '.join(specs)}")
