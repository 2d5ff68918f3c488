"""Reading the user's data file for `mlstress init`, the way the profile loader will read it later.

The frame is read with the same pandas calls as `profile/dataset.py`, so every type and value
init infers from is the one a run will send; a file the loader could not read is refused here,
before anything is written.
"""

from __future__ import annotations

import io
from pathlib import Path

from locust_mlstress.onboard.errors import InitError
from locust_mlstress.readfile import DATASET_MAX_BYTES, InputFileError, display, read_regular, size_text

# The data set is read whole into memory by every Locust process of a run, and inference reads
# it once more: past this size a sample serves both better (the figures do not need millions of rows).
MAX_DATA_BYTES = DATASET_MAX_BYTES
FORMATS = {"csv": "csv", "parquet": "parquet", "pq": "parquet", "jsonl": "jsonl", "ndjson": "jsonl"}


def data_format(path: Path) -> str:
    """The format the profile loader will guess from the suffix (init writes no `format` key)."""
    fmt = FORMATS.get(path.suffix.lower().lstrip("."))
    if fmt is None:
        raise InitError(f"--data {path}: cannot tell the format from the suffix; use .csv, .parquet or .jsonl")
    return fmt


def check_file(path: Path) -> bytes:
    """The content of a regular, non-empty file of a size that can be read whole (readfile.py:
    a FIFO or device is refused without blocking or reading); one clear line otherwise."""
    try:
        raw = read_regular(path, MAX_DATA_BYTES)
    except InputFileError as exc:
        if exc.missing:
            raise InitError(f"--data {display(path)}: no such file") from None
        if exc.too_large:
            raise InitError(
                f"--data {display(path)}: is {size_text(exc.size)}, more than init reads "
                f"({size_text(MAX_DATA_BYTES)}); pass a sample of it "
                "(every Locust process holds the data set in memory)"
            ) from None
        raise InitError(f"--data {display(path)}: {exc.reason}") from None
    if not raw:
        raise InitError(f"--data {display(path)}: is empty; pass a file with a header and rows")
    return raw


def read_frame(path: Path):
    """The data as a pandas DataFrame, read exactly as the dataset source will read it."""
    import pandas as pd  # `mlstress init` on a dataset only: the other subcommands stay light

    raw = io.BytesIO(check_file(path))
    fmt = data_format(path)
    try:
        if fmt == "csv":
            frame = pd.read_csv(raw)
        elif fmt == "parquet":
            frame = pd.read_parquet(raw)
        else:
            frame = pd.read_json(raw, lines=True)
    except ImportError as exc:
        raise InitError(f"--data {path}: reading {fmt} needs an extra package: {exc}") from None
    except Exception as exc:  # pandas raises many parser errors; all mean the same to a user
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InitError(f"--data {path}: cannot be read as {fmt}: {first}") from None
    if len(frame) == 0:
        raise InitError(f"--data {path}: has no rows")
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        raise InitError(f"--data {path}: column names repeat; each column needs its own name")
    frame.columns = names
    return frame
