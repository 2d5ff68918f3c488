"""From numpy columns to the list of row dicts a codec encodes, once per block of payloads."""

from __future__ import annotations

import numpy as np


def column_values(col: np.ndarray) -> list:
    """Plain Python values; NaN (a missing float) becomes None, as JSON null."""
    values = col.tolist()
    if col.dtype.kind == "f" and np.isnan(col).any():
        return [None if v != v else v for v in values]
    return values


def columns_of(columns: dict[str, np.ndarray], n: int) -> list[list]:
    """Each column as a list of plain values, in the columns' order."""
    return [column_values(col) for col in columns.values()] if n else [[] for _ in columns]


def to_rows(columns: dict[str, np.ndarray], n: int) -> list[dict[str, object]]:
    names = list(columns)
    lists = columns_of(columns, n)
    return [dict(zip(names, values, strict=True)) for values in zip(*lists, strict=True)] if n else []
