"""Helpers of the input attacks: hostile files, a small TOML writer, and the command lines run as
real processes with a time and address-space bound (a process reading /dev/zero whole would hit
the bound and die with a MemoryError traceback, which the tests look for)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from tests.integration.harness import LOCUST, ROOT

PROFILES = ROOT / "profiles"
QUICKSTART_TOML = PROFILES / "quickstart.toml"
LOANS_TOML = PROFILES / "loans_dataset.toml"
QUICKSTART_PY = ROOT / "locustfiles" / "quickstart.py"
NOWHERE = "http://127.0.0.1:9"  # a host no test reaches: each attack ends before any traffic
MEMORY_CAP = 3 << 30  # address space of each child: numpy and pandas map ~1 GB; reading /dev/zero whole needs more
TIMEOUT = 60.0  # no attack may hang: a FIFO read blocking would end here, as a failure


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string: \\uXXXX escapes included
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def dump(data: dict) -> str:
    """One `key = value` line per top-level key, tables inline."""
    return "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in data.items())


def profile_data(base: Path = QUICKSTART_TOML) -> dict:
    return tomllib.loads(base.read_text())


def write_profile(folder: Path, data: dict, name: str = "attack.toml") -> Path:
    path = folder / name
    path.write_text(dump(data))
    return path


def _cap_memory() -> None:  # runs in the child, before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def run(args: list[str], cwd: Path = ROOT, timeout: float = TIMEOUT, env: dict | None = None) -> Result:
    proc = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, cwd=cwd, preexec_fn=_cap_memory,
        env=dict(os.environ) | (env or {}),
    )  # fmt: skip
    return Result(proc.returncode, proc.stdout, proc.stderr)


def mlstress(*args: str, timeout: float = TIMEOUT) -> Result:
    """`mlstress ARGS` as a process of its own."""
    return run([sys.executable, "-m", "locust_mlstress.cli", *map(str, args)], timeout=timeout)


def locust(*args: str, timeout: float = TIMEOUT) -> Result:
    """A headless `locust` on the quickstart locustfile, toward a host it never reaches."""
    argv = [*LOCUST, "-f", str(QUICKSTART_PY), "--headless", "--host", NOWHERE, "-u", "1", "-t", "2s", *args]
    return run(argv, timeout=timeout)


def one_line_error(result: Result, *words: str) -> str:
    """Exit status 2 and a single stderr line that holds each of `words`, no traceback and no raw
    control character; the line."""
    lines = result.stderr.strip().splitlines()
    assert result.code == 2, (result.code, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert len(lines) == 1, result.stderr[-2000:]
    assert all(c.isprintable() for c in lines[0]), repr(lines[0])
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def locust_refused(result: Result, *words: str) -> str:
    """A locust run stopped before traffic: exit 2, the error logged on one line holding each of
    `words`, no traceback; that line."""
    assert result.code == 2, (result.code, result.stderr[-3000:])
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if all(w in line for w in words)]
    assert lines, result.stderr[-3000:]
    return lines[0]
