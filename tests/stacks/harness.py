"""Train, serve, probe and replay against the real stacks (see install.py for the venvs).

Everything here talks to 127.0.0.1 only. A server runs in its own process group (its own
session), so stopping it reaches the workers it forks (MLflow's uvicorn, MLServer's pool); the
fixtures stop them in finalizers, whatever the test did.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import requests

from locust_mlstress.domain.summary import RunSummary
from tests.summary_shape import assert_shape

from .install import ROOT, Stack

SCRIPTS = Path(__file__).resolve().parent / "scripts"
READY_DEADLINE_S = 120.0  # a cold MLflow start on a loaded 2-core machine takes ~10-20 s
LOCUST = [sys.executable, "-m", "locust"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train(stack: Stack, flavor: str, out: Path) -> Path:
    """Fit the stack's model with the stack's own scikit-learn (scripts/train.py)."""
    proc = subprocess.run(
        [stack.python, str(SCRIPTS / "train.py"), flavor, str(out)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"training the {flavor} model failed:\n{proc.stderr[-3000:]}"
    return out


@dataclass
class Server:
    """A serving process on 127.0.0.1:port; `ready_url` answers 200 once it serves."""

    name: str
    cmd: list[str]
    port: int
    ready_url: str
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    log: Path | None = None
    started_s: float = 0.0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, deadline_s: float = READY_DEADLINE_S) -> Server:
        self.log = self.cwd / f"{self.name}.server.log"
        t0 = time.monotonic()
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                self.cmd,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                start_new_session=True,
            )
        try:
            self._wait_ready(t0 + deadline_s)
        except BaseException:
            self.stop()
            raise
        self.started_s = time.monotonic() - t0
        return self

    def _wait_ready(self, deadline: float) -> None:
        """Poll the health endpoint until it says 200, the process dies, or the deadline passes."""
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                raise AssertionError(f"{self.name} exited with {rc} before it was ready:\n{self.tail()}")
            try:
                r = requests.get(self.ready_url, timeout=2)
                if r.status_code == 200:
                    return
                last = f"{r.status_code} {r.text[:200]}"
            except requests.RequestException as exc:
                last = type(exc).__name__
            time.sleep(0.2)  # the poll interval; the event waited for is the 200 above
        raise AssertionError(f"{self.name} not ready at {self.ready_url} within the deadline ({last}):\n{self.tail()}")

    def tail(self, n: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log and self.log.exists() else ""

    def stop(self) -> None:
        """SIGTERM to the whole group, SIGKILL after 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass

    def listening_hosts(self) -> set[str]:
        """The local addresses this server's process group listens on (psutil)."""
        import psutil

        hosts = set()
        procs = [psutil.Process(self.proc.pid)]
        procs += procs[0].children(recursive=True)
        for p in procs:
            try:
                conns = p.net_connections(kind="inet")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            hosts |= {c.laddr.ip for c in conns if c.status == psutil.CONN_LISTEN}
        return hosts


def mlserver(stack: Stack, models: Path) -> Server:
    """`mlserver start` on the model repository, bound to 127.0.0.1 (HTTP and gRPC), without the
    separate metrics server and with inference in the main process (parallel_workers 0)."""
    port, grpc = free_port(), free_port()
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": grpc,
        "metrics_endpoint": None,
        "parallel_workers": 0,
        "debug": False,
    }
    (models / "settings.json").write_text(json.dumps(settings))
    cmd = [stack.bin("mlserver"), "start", str(models)]
    return Server("mlserver", cmd, port, f"http://127.0.0.1:{port}/v2/health/ready", models)


def mlflow(stack: Stack, model: Path) -> Server:
    port = free_port()
    cmd = [stack.bin("mlflow"), "models", "serve", "-m", str(model), "-h", "127.0.0.1", "-p", str(port)]
    cmd += ["--env-manager", "local", "-w", "1"]
    # mlflow execs `uvicorn` by name: the venv's bin must come first on PATH, as when activated.
    env = {"PATH": f"{stack.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    return Server(model.name, cmd, port, f"http://127.0.0.1:{port}/ping", model.parent, env)


def kserve(stack: Stack, model_dir: Path) -> Server:
    port = free_port()
    cmd = [stack.python, str(SCRIPTS / "kserve_server.py"), str(model_dir), str(port)]
    return Server("kserve", cmd, port, f"http://127.0.0.1:{port}/v2/models/cancer/ready", model_dir)


def post(url: str, body: bytes, content_type: str = "application/json", timeout: float = 30) -> requests.Response:
    return requests.post(url, data=body, headers={"Content-Type": content_type}, timeout=timeout)


def served(servers: list[Server]) -> Iterator[list[Server]]:
    """Start them all, yield, stop them all (a generator for fixtures)."""
    started: list[Server] = []
    try:
        for s in servers:
            started.append(s.start())
        yield started
    finally:
        for s in started:
            s.stop()


def offline(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """(P(positive) per row of data.csv as the model computed it offline, the labels)."""
    d = json.loads((folder / "offline.json").read_text())
    return np.asarray(d["p"], dtype=np.float64), np.asarray(d["y"], dtype=np.float64)


def bootstrap(p: np.ndarray, y: np.ndarray, n: int, draws: int = 2000, level: float = 0.99, seed: int = 0) -> dict:
    """The offline ECE and Brier a run of n clean rows resampled uniformly from data.csv would show:
    central `level` intervals over `draws` resamples of n rows (the dataset source resamples the
    file with replacement, so this is the run's own sampling distribution)."""
    from locust_mlstress.metrics.calibration import calibration

    rng = np.random.default_rng(seed)
    ece, brier = np.empty(draws), np.empty(draws)
    for i in range(draws):
        idx = rng.integers(0, len(p), n)
        c = calibration(y[idx], p[idx])
        ece[i], brier[i] = c.ece, c.brier
    q = [(1 - level) / 2, 1 - (1 - level) / 2]
    return {
        "ece": tuple(float(v) for v in np.quantile(ece, q)),
        "brier": tuple(float(v) for v in np.quantile(brier, q)),
        "n": n,
        "draws": draws,
        "ece_rank": lambda v: float((ece < v).mean()),
        "brier_rank": lambda v: float((brier < v).mean()),
    }


@dataclass
class LocustRun:
    returncode: int
    stdout: str
    stderr: str
    out: Path
    seconds: float

    @property
    def summary(self) -> dict:
        path = self.out / "ml_summary.json"
        assert path.exists(), f"the run wrote no summary (exit {self.returncode}):\n{self.stderr[-4000:]}"
        summary = json.loads(path.read_text())
        assert_shape(summary, RunSummary)  # a real stack's answers fit the documented schema too
        return summary

    def traces(self) -> list[dict]:
        path = self.out / "traces.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def locust(profile: Path, host: str, out: Path, users: int = 4, seconds: int = 20, timeout: float = 180) -> LocustRun:
    """A headless run of locustfiles/any_profile.py with every request traced (--ml-trace-rate 1),
    so each malformed request can be rebuilt and replayed by its request id."""
    shutil.rmtree(out, ignore_errors=True)  # a file left by an earlier run must not pass for this run's
    out.mkdir(parents=True)
    args = [*LOCUST, "-f", str(ROOT / "locustfiles" / "any_profile.py"), "--ml-profile", str(profile)]
    args += ["--host", host, "--headless", "-u", str(users), "-r", str(users), "-t", f"{seconds}s"]
    args += ["--ml-artifacts", str(out), "--ml-trace-rate", "1", "--ml-json", str(out / "out.json"), "--only-summary"]
    t0 = time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    (out / "locust.stdout").write_text(proc.stdout)
    (out / "locust.stderr").write_text(proc.stderr)
    return LocustRun(proc.returncode, proc.stdout, proc.stderr, out, time.monotonic() - t0)
