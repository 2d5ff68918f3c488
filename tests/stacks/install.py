"""Each real serving stack in its own virtualenv, installed from PyPI once and cached.

The cache lives in build/stacks/<name>-<key>/ (ignored by git); the key hashes the pinned
requirements and the Python version, so a new pin or a new interpreter gets a fresh venv instead
of a stale one. A marker file is written only after pip succeeded: a half install (killed CI job,
full disk) has no marker and is redone from scratch. An flock on <dir>.lock keeps two pytest
processes from installing the same venv at once.

Runnable on its own (`python -m tests.stacks.install [name ...]`) to warm the cache.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "build" / "stacks"
MARKER = "installed.json"
INSTALL_TIMEOUT_S = 900.0

# Direct pins only; scikit-learn is pinned alike everywhere so the three stacks fit the same model.
# mlflow 3.18.0 is not installable (it needs mlflow-tracing==3.18.0, which PyPI does not have).
STACKS: dict[str, tuple[str, ...]] = {
    "mlserver": ("mlserver==1.7.1", "mlserver-sklearn==1.7.1", "scikit-learn==1.9.1"),
    "mlflow": ("mlflow==3.17.2", "scikit-learn==1.9.1"),
    "kserve": ("kserve==0.21.0", "scikit-learn==1.9.1", "joblib"),
}


class StackUnavailable(RuntimeError):
    """The stack could not be installed; the message says what pip said."""


@dataclass(frozen=True)
class Stack:
    name: str
    venv: Path
    seconds: float  # time this call took: the install when cold, the marker check when cached
    cached: bool

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def bin(self, tool: str) -> str:
        return str(self.venv / "bin" / tool)


def key(name: str) -> str:
    """The cache key: the pins and the interpreter that will run them."""
    text = json.dumps([STACKS[name], sys.version_info[:3], sys.implementation.name])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def venv_dir(name: str) -> Path:
    return CACHE / f"{name}-{key(name)}"


def _lock(f) -> None:
    """Wait for the venv's lock without blocking the process: under pytest, gevent (imported by
    Locust) runs these threads as greenlets, and a blocking flock would stall the other installs."""
    while True:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            time.sleep(1.0)  # another process is installing this venv; its release is what we wait for


def ensure(name: str) -> Stack:
    """The stack's venv, installing it first when there is no finished install."""
    start = time.monotonic()
    venv = venv_dir(name)
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(f"{venv}.lock", "w") as lock:
        _lock(lock)
        if (venv / MARKER).is_file():
            return Stack(name, venv, time.monotonic() - start, True)
        shutil.rmtree(venv, ignore_errors=True)
        log = CACHE / f"{name}-{key(name)}.log"
        steps = [
            [sys.executable, "-m", "venv", str(venv)],
            [str(venv / "bin" / "pip"), "install", "--disable-pip-version-check", *STACKS[name]],
        ]
        with open(log, "w") as out:
            for cmd in steps:
                try:
                    rc = subprocess.run(
                        cmd, stdout=out, stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT_S, cwd=ROOT
                    ).returncode
                except subprocess.TimeoutExpired:
                    rc = f"timeout after {INSTALL_TIMEOUT_S:.0f} s"
                if rc != 0:
                    out.flush()
                    tail = [ln for ln in log.read_text(errors="replace").splitlines() if "ERROR" in ln][-3:]
                    raise StackUnavailable(
                        f"stack {name!r} could not be installed ({' '.join(STACKS[name])}): "
                        f"{cmd[0]} {cmd[1]} exited {rc}; {' | '.join(tail) or 'see the log'} (log: {log})"
                    )
        seconds = time.monotonic() - start
        (venv / MARKER).write_text(json.dumps({"requirements": STACKS[name], "install_s": round(seconds, 1)}))
        return Stack(name, venv, seconds, False)


def ensure_all(names: tuple[str, ...] = tuple(STACKS)) -> dict[str, Future]:
    """Start every install at once (pip mostly waits on the network and the disk, so three run
    side by side on two cores in about the time of the slowest); each future gives a Stack or
    raises StackUnavailable."""
    pool = ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="stack-install")
    futures = {name: pool.submit(ensure, name) for name in names}
    pool.shutdown(wait=False)
    return futures


if __name__ == "__main__":
    wanted = tuple(sys.argv[1:]) or tuple(STACKS)
    t0 = time.monotonic()
    for name, fut in ensure_all(wanted).items():
        try:
            s = fut.result()
            print(f"{name}: {'cached' if s.cached else 'installed'} in {s.seconds:.1f} s -> {s.venv}")
        except StackUnavailable as e:
            print(f"{name}: {e}")
    print(f"all: {time.monotonic() - t0:.1f} s")
