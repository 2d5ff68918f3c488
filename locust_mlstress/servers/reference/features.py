"""Turning a profile's feature columns into the model's design matrix.

The encoding is learned once at fit time (means, standard deviations, category lists) and frozen
into `Encoder`s, so the server's per-request path is a handful of vectorised numpy operations.
The same pass flags rows that *look* drifted (far-out numbers, unseen categories, missing optional
values), which is what the `drift_degradation` knob keys on: the model can only react to drift it
can see in its inputs.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from locust_mlstress.domain.schema import Feature

TEXT_BUCKETS = 8
DRIFT_Z = 3.0  # a standardised value beyond this looks drifted
Z_CLIP = 1e6  # valid but absurd numbers (1e308) must still give finite predictions
MAX_LEARNED_CATEGORIES = 256  # when a category feature declares none, keep the most frequent seen

Columns = Mapping[str, Sequence[object] | np.ndarray]


@dataclass(frozen=True)
class Encoder:
    """One feature's frozen encoding: where its block sits in the design matrix and its statistics."""

    name: str
    type: str
    required: bool
    offset: int  # first design-matrix column of this feature
    width: int
    mean: float = 0.0  # float/int: standardisation; bool: the imputed share of True
    std: float = 1.0
    categories: tuple[str, ...] = ()
    index: dict[str, int] = field(default_factory=dict, compare=False)


def fit_encoders(features: Sequence[Feature], columns: Columns) -> tuple[Encoder, ...]:
    """Learn each feature's encoding from training columns; design column 0 is the intercept."""
    encoders: list[Encoder] = []
    offset = 1
    for feature in features:
        column = columns.get(feature.name)
        if feature.type in ("float", "int"):
            values = _as_float(column, 0)
            finite = values[np.isfinite(values)]
            mean = float(finite.mean()) if finite.size else 0.0
            std = float(finite.std()) if finite.size else 1.0
            encoder = Encoder(feature.name, feature.type, feature.required, offset, 1, mean, std or 1.0)
        elif feature.type == "bool":
            values = _as_float(column, 0)
            finite = values[np.isfinite(values)]
            share = float(finite.mean()) if finite.size else 0.5
            encoder = Encoder(feature.name, "bool", feature.required, offset, 1, mean=share)
        elif feature.type == "category":
            categories = tuple(feature.categories) or _learn_categories(column)
            index = {c: i for i, c in enumerate(categories)}
            encoder = Encoder(
                feature.name,
                "category",
                feature.required,
                offset,
                len(categories),
                0.0,
                1.0,
                categories,
                index,
            )
        elif feature.type == "text":
            encoder = Encoder(feature.name, "text", feature.required, offset, TEXT_BUCKETS)
        else:
            raise ValueError(f"feature {feature.name!r}: unsupported type {feature.type!r}")
        encoders.append(encoder)
        offset += encoder.width
    return tuple(encoders)


def design_width(encoders: Sequence[Encoder]) -> int:
    return 1 + sum(e.width for e in encoders)


@dataclass(frozen=True)
class Layout:
    """The encoders regrouped for speed: every numeric feature is encoded in one vectorised pass.

    Per-feature numpy calls on a one-row batch cost more than the maths, so the per-request path
    stacks all numeric columns and standardises them together.
    """

    encoders: tuple[Encoder, ...]
    width: int
    numeric: tuple[Encoder, ...]  # float, int and bool, in schema order
    offsets: np.ndarray  # their design columns
    means: np.ndarray  # bool: 0 (no standardising)
    stds: np.ndarray  # bool: 1
    impute: np.ndarray  # value of a missing entry: 0 (standardised), the training share (bool)
    checks_z: np.ndarray  # bool mask: standardised features, whose |z| > DRIFT_Z looks drifted
    optional: np.ndarray  # bool mask: optional features, whose missing values look drifted
    others: tuple[Encoder, ...]  # category and text


def make_layout(encoders: Sequence[Encoder]) -> Layout:
    numeric = tuple(e for e in encoders if e.type in ("float", "int", "bool"))
    scaled = [e.type != "bool" for e in numeric]
    return Layout(
        encoders=tuple(encoders),
        width=design_width(encoders),
        numeric=numeric,
        offsets=np.array([e.offset for e in numeric], dtype=np.intp),
        means=np.array([e.mean if s else 0.0 for e, s in zip(numeric, scaled, strict=True)]),
        stds=np.array([e.std if s else 1.0 for e, s in zip(numeric, scaled, strict=True)]),
        impute=np.array([0.0 if s else e.mean for e, s in zip(numeric, scaled, strict=True)]),
        checks_z=np.array(scaled, dtype=bool),
        optional=np.array([not e.required for e in numeric], dtype=bool),
        others=tuple(e for e in encoders if e.type in ("category", "text")),
    )


def design_matrix(layout: Layout, columns: Columns, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Encode `n` rows into (design matrix [n, D], drifted-looking mask [n]).

    A column absent from `columns` counts as all missing, and missing values (None, NaN) are
    imputed: 0 after standardising, the training share for a bool, zeros for one-hot and text.
    """
    x = np.zeros((n, layout.width))
    x[:, 0] = 1.0
    drifted = np.zeros(n, dtype=bool)
    if layout.numeric:
        missing_column = [np.nan] * n
        stacked = [columns.get(e.name, missing_column) for e in layout.numeric]
        z = (np.array(stacked, dtype=float).T - layout.means) / layout.stds
        missing = np.isnan(z)
        drifted |= (np.abs(z[:, layout.checks_z]) > DRIFT_Z).any(axis=1)
        drifted |= missing[:, layout.optional].any(axis=1)
        z = np.clip(z, -Z_CLIP, Z_CLIP)
        x[:, layout.offsets] = np.where(missing, layout.impute, z)
    flagged: list[int] = []
    for enc in layout.others:
        column = columns.get(enc.name)
        if enc.type == "category":
            _one_hot(enc, column, x, flagged)
        else:
            _hash_text(enc, column, x, flagged)
    if flagged:
        drifted[flagged] = True
    return x, drifted


def _as_float(column: Sequence[object] | np.ndarray | None, n: int) -> np.ndarray:
    """Numbers as float64 with NaN for missing; None converts to NaN under dtype=float."""
    if column is None:
        return np.full(n, np.nan)
    return np.asarray(column, dtype=float)


def _absent(enc: Encoder, column: object, x: np.ndarray, flagged: list[int]) -> bool:
    """A column left out of the request: every row is flagged when the feature was optional."""
    if column is not None:
        return False
    if not enc.required:
        flagged.extend(range(x.shape[0]))
    return True


def _one_hot(enc: Encoder, column: Sequence[object] | np.ndarray | None, x: np.ndarray, flagged: list[int]) -> None:
    """One-hot into `x`; rows with an unseen category (or a missing optional one) go to `flagged`."""
    if _absent(enc, column, x, flagged):
        return
    assert column is not None  # _absent is True for a None column
    index = enc.index
    for row, value in enumerate(column):
        position = index.get(value) if isinstance(value, str) else None
        if position is not None:
            x[row, enc.offset + position] = 1.0
        elif not enc.required or not (value is None or (isinstance(value, float) and value != value)):
            flagged.append(row)


def _hash_text(enc: Encoder, column: Sequence[object] | np.ndarray | None, x: np.ndarray, flagged: list[int]) -> None:
    """Word counts per hash bucket into `x`; rows missing an optional text go to `flagged`."""
    if _absent(enc, column, x, flagged):
        return
    assert column is not None  # _absent is True for a None column
    for row, value in enumerate(column):
        if isinstance(value, str):
            for bucket in text_buckets(value):
                x[row, enc.offset + bucket] += 1.0
        elif not enc.required:
            flagged.append(row)


def text_buckets(text: str) -> list[int]:
    """Bucket of each word; crc32 because Python's str hash changes between processes."""
    return [zlib.crc32(word.encode("utf-8", "surrogatepass")) % TEXT_BUCKETS for word in text.lower().split()]


def _learn_categories(column: Sequence[object] | np.ndarray | None) -> tuple[str, ...]:
    if column is None:
        return ()
    counts = Counter(v for v in column if isinstance(v, str))
    return tuple(sorted(c for c, _ in counts.most_common(MAX_LEARNED_CATEGORIES)))
