"""From numpy columns to the list of row dicts a codec encodes, once per block of payloads."""

from __future__ import annotations

import numpy as np


def column_values(col: np.ndarray) -> list:
    """Plain Python values; NaN (a missing float) becomes None, as JSON null."""
    values = col.tolist()
    if col.dtype.kind == "f" and np.isnan(col).any():
        return [None if v != v else v for v in values]
    return values


def to_rows(columns: dict[str, np.ndarray], n: int) -> list[dict[str, object]]:
    names = list(columns)
    lists = [column_values(columns[name]) for name in names]
    return [dict(zip(names, values, strict=True)) for values in zip(*lists, strict=True)] if n else []
