"""Reading the user's data file for `mlstress init`, the way the profile loader will read it later.

The frame is read with the same pandas calls as `profile/dataset.py`, so every type and value
init infers from is the one a run will send; a file the loader could not read is refused here,
before anything is written.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import InitError

# The data set is read whole into memory by every Locust process of a run, and inference reads
# it once more: past this size a sample serves both better (the figures do not need millions of rows).
MAX_DATA_BYTES = 256 * 1024 * 1024
FORMATS = {"csv": "csv", "parquet": "parquet", "pq": "parquet", "jsonl": "jsonl", "ndjson": "jsonl"}


def data_format(path: Path) -> str:
    """The format the profile loader will guess from the suffix (init writes no `format` key)."""
    fmt = FORMATS.get(path.suffix.lower().lstrip("."))
    if fmt is None:
        raise InitError(f"--data {path}: cannot tell the format from the suffix; use .csv, .parquet or .jsonl")
    return fmt


def check_file(path: Path) -> None:
    """A regular, non-empty file of a size that can be read whole: one clear line otherwise."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InitError(f"--data {path}: no such file") from None
    except OSError as exc:
        raise InitError(f"--data {path}: cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise InitError(f"--data {path}: is not a regular file (a directory, pipe or device); pass a data file")
    if info.st_size == 0:
        raise InitError(f"--data {path}: is empty; pass a file with a header and rows")
    if info.st_size > MAX_DATA_BYTES:
        raise InitError(
            f"--data {path}: is {_size(info.st_size)}, more than init reads ({_size(MAX_DATA_BYTES)}); "
            "pass a sample of it (every Locust process holds the data set in memory)"
        )


def _size(n: int) -> str:
    return f"{n / 2**20:.0f} MiB" if n >= 2**20 else f"{n} bytes"


def read_frame(path: Path):
    """The data as a pandas DataFrame, read exactly as the dataset source will read it."""
    import pandas as pd

    check_file(path)
    fmt = data_format(path)
    try:
        if fmt == "csv":
            frame = pd.read_csv(path)
        elif fmt == "parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_json(path, lines=True)
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
