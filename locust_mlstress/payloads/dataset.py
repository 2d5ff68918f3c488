"""A data set file as the source of clean rows, read once and checked against the schema.

The profile loader reads it too, to check the columns before any traffic; `profile_file` names
the profile in its errors."""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import numpy as np

from locust_mlstress.domain.schema import DatasetSource, Feature, Output, Profile
from locust_mlstress.errors import ProfileError
from locust_mlstress.readfile import DATASET_MAX_BYTES, InputFileError, display, read_regular

Columns = dict[str, np.ndarray]


def read_dataset(profile: Profile) -> tuple[Columns, np.ndarray | None]:
    source = profile.source
    assert isinstance(source, DatasetSource)
    return read_dataset_file(source, profile.features, profile.output, None)


def read_dataset_file(
    source: DatasetSource, features: tuple[Feature, ...], output: Output, profile_file: Path | None
) -> tuple[Columns, np.ndarray | None]:
    """Columns typed as the schema says, and labels as class indices (or values for regression).

    Cached per file version (path and modification time), so users share one copy in memory.
    """
    try:
        version = source.path.stat().st_mtime_ns
    except OSError:
        version = None  # _read reports the missing file
    return _read(source, version, features, output, profile_file)


@lru_cache(maxsize=8)
def _read(source: DatasetSource, version, features, output: Output, file) -> tuple[Columns, np.ndarray | None]:
    import pandas as pd  # only profiles with a [dataset] pay its import (about a second)

    def fail(field: str, message: str) -> ProfileError:
        return ProfileError(file, f"source.{field}", message)

    try:  # read by us, not pandas: a FIFO or a device must not block or fill memory (readfile.py)
        raw = io.BytesIO(read_regular(source.path, DATASET_MAX_BYTES))
    except InputFileError as exc:
        if exc.missing:
            where = "a relative path starts at the profile's folder"
            raise fail("path", f"{display(source.path)} does not exist ({where})") from None
        raise fail("path", f"{display(source.path)} {exc.reason} (a data set is read whole by every process)") from None
    try:
        if source.format == "csv":
            frame = pd.read_csv(raw)
        elif source.format == "parquet":
            frame = pd.read_parquet(raw)
        else:
            frame = pd.read_json(raw, lines=True)
    except ImportError as exc:
        raise fail("format", f"reading {source.format} needs an extra package: {exc}") from None
    except Exception as exc:  # pandas raises many parser errors; all mean the same to a user
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise fail("path", f"{display(source.path)} cannot be read as {source.format}: {first}") from None
    if len(frame) == 0:
        raise fail("path", f"{source.path} has no rows")
    columns: Columns = {}
    for f in features:
        if f.name not in frame.columns:
            raise fail(
                "path",
                f"{source.path} has no column {f.name!r} (feature {f.name}); columns: {list(frame.columns)}",
            )
        series = frame[f.name]
        missing = int(series.isna().sum())
        if missing and f.required:
            raise fail(
                "path",
                f"column {f.name!r} has {missing} missing values but the feature is required; "
                "set required = false on it or fill the gaps",
            )
        columns[f.name] = _typed(series, f, fail)
    labels = _labels(frame, source, output, fail) if source.label_column else None
    return columns, labels


def _typed(series, f: Feature, fail) -> np.ndarray:
    if f.type in ("float", "int"):
        try:
            values = series.astype("float64").to_numpy()
        except (TypeError, ValueError):
            raise fail("path", f"column {f.name!r} must be numeric for a {f.type} feature") from None
        _check_domain(values, f, fail)
        if f.type == "int" and not np.isnan(values).any():
            return values.astype(np.int64)
        return values
    if f.type == "bool":
        if series.dtype != bool and not set(series.dropna().unique()) <= {0, 1}:  # True == 1, False == 0
            raise fail("path", f"column {f.name!r} must hold true/false or 0/1 for a bool feature")
        if series.isna().any():  # astype(bool) would turn a missing value into True
            return np.array([None if v is None or v != v else bool(v) for v in series.tolist()], dtype=object)
        return series.astype(bool).to_numpy()
    values = series.astype(object).where(series.notna(), None).to_numpy(dtype=object)
    return np.array([None if v is None else str(v) for v in values], dtype=object)


def _check_domain(values: np.ndarray, f: Feature, fail) -> None:
    """Clean rows must be valid: a value the schema calls malformed cannot be sent as clean."""
    present = ~np.isnan(values)
    problems = [(~np.isfinite(values) & present, "is not finite")]
    if f.type == "int":
        problems.append((present & (values != np.round(values)), "is not a whole number"))
    if f.min is not None:
        problems.append((present & (values < f.min), f"is below min = {f.min:g}"))
    if f.max is not None:
        problems.append((present & (values > f.max), f"is above max = {f.max:g}"))
    for bad, what in problems:
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise fail(
                "path",
                f"column {f.name!r}: {int(bad.sum())} value(s) outside the feature's domain (row {row}: "
                f"{float(values[row]):g} {what}); clean rows must be valid, so fix the data or the feature's "
                "type, min and max",
            )


def _labels(frame, source: DatasetSource, output: Output, fail) -> np.ndarray:
    name = source.label_column
    if name not in frame.columns:
        raise fail("label_column", f"{name!r} is not a column of {source.path}")
    series = frame[name]
    if series.isna().any():
        raise fail("label_column", f"column {name!r} has missing labels")
    if output.type == "regression":
        try:
            return series.astype("float64").to_numpy()
        except (TypeError, ValueError):
            raise fail("label_column", f"column {name!r} must be numeric for a regression output") from None
    index = {c: i for i, c in enumerate(output.classes)}
    out = np.empty(len(series), dtype=np.int64)
    for i, v in enumerate(series.tolist()):
        key = str(v).lower() if isinstance(v, bool) else str(v)
        if key in index:
            out[i] = index[key]
        elif output.type == "binary" and key in ("0", "1", "false", "true"):
            out[i] = int(key in ("1", "true"))
        else:
            raise fail(
                "label_column",
                f"label {v!r} in row {i} is not one of the output classes {list(output.classes)}",
            )
    return out
