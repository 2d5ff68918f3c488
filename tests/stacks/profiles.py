"""`mlstress init` against a live endpoint: the profile every stack run uses, written unedited
(one endpoint, mlserver-labels, removes one line on purpose: see test_stacks.py)."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .install import ROOT

MLSTRESS = Path(sys.executable).parent / "mlstress"  # the console script of the venv running pytest


@dataclass
class Made:
    path: Path
    seconds: float
    output: str  # what init printed: what it tried, what it chose and why


def run_init(data: Path, url: str, out: Path, *extra: str) -> Made:
    """`mlstress init --data data.csv --label target --url URL -o out`: it must succeed."""
    t0 = time.monotonic()
    cmd = [str(MLSTRESS), "init", "--data", str(data), "--label", "target", "--url", url, "-o", str(out), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=180)
    assert proc.returncode == 0 and out.exists(), (
        f"mlstress init failed on {url} (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return Made(out, time.monotonic() - t0, proc.stdout + proc.stderr)
