"""Real Locust processes for integration tests: run them, wait for them, read what they wrote."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from locust_mlstress.domain.summary import RunSummary
from tests.summary_shape import assert_shape

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILES = Path(__file__).resolve().parent / "locustfiles"
LOCUST = [sys.executable, "-m", "locust"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def outcome_counts(record: dict) -> Counter:
    """A record's (or a worker report's) request counts by (kind, variant, outcome)."""
    return Counter({(k, v, o): n for k, v, o, n in record["outcomes"]})


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    records: list[dict]
    out: Path | None = None

    def path(self, name: str) -> Path:
        assert self.out is not None
        return self.out / name

    def record(self, role: str = "LocalRunner") -> dict:
        return next(r for r in self.records if r["role"] == role)

    def workers(self) -> list[dict]:
        """The worker processes' records."""
        return [r for r in self.records if r["role"] == "WorkerRunner"]

    def outcomes(self, role: str = "LocalRunner") -> Counter:
        return outcome_counts(self.record(role))

    def summary_outcomes(self, role: str = "LocalRunner") -> Counter:
        """The library's own counts, from the ML summary of the local runner or master."""
        c: Counter = Counter()
        for kind, figures in self.record(role)["summary"]["kinds"].items():
            for variant, outcomes in figures["variants"].items():
                for outcome, n in outcomes.items():
                    c[(kind, variant, outcome)] = n
        return c

    def by_kind(self, role: str = "LocalRunner") -> Counter:
        c: Counter = Counter()
        for (k, _v, _o), n in self.outcomes(role).items():
            c[k] += n
        return c


def locust_env(out: Path, user: str = "fast") -> dict[str, str]:
    env = dict(os.environ)
    env["MLSTRESS_TEST_OUT"] = str(out)
    env["MLSTRESS_TEST_USER"] = user
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), str(LOCUSTFILES), env.get("PYTHONPATH")) if p)
    return env


def locust_args(profile: Path, host: str, *extra: str, locustfile: str = "fast.py") -> list[str]:
    return [
        *LOCUST,
        "-f",
        str(LOCUSTFILES / locustfile),
        "--ml-profile",
        str(profile),
        "--host",
        host,
        *extra,
    ]


def run_local(
    profile: Path,
    host: str,
    out: Path,
    *extra: str,
    timeout: float = 90,
    user: str = "fast",
    env: dict | None = None,
    locustfile: str = "fast.py",
) -> Run:
    out.mkdir(parents=True, exist_ok=True)
    args = locust_args(profile, host, "--headless", *extra, locustfile=locustfile)
    environ = locust_env(out, user) | (env or {})
    proc = subprocess.run(args, env=environ, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    return Run(proc.returncode, proc.stdout, proc.stderr, read_records(out), out)


def read_records(out: Path) -> list[dict]:
    """The processes' records; every ML summary among them checked against the documented schema
    (domain/summary.py RunSummary): each run a test makes also tests that the two agree."""
    records = [json.loads(p.read_text()) for p in sorted(out.glob("[0-9]*.json"))]
    for record in records:
        if record.get("summary") is not None:
            assert_shape(record["summary"], RunSummary)
    return records


def master_command(profile: Path, host: str, port: int, workers: int, *extra: str, locustfile: str = "fast.py"):
    """A headless master's command line: bound to 127.0.0.1:`port`, starting once `workers` are in."""
    return locust_args(profile, host, "--headless", "--master", "--master-bind-host", "127.0.0.1",
                       "--master-bind-port", str(port), "--expect-workers", str(workers), *extra,
                       locustfile=locustfile)  # fmt: skip


def start_worker(port: int, env: dict[str, str], locustfile: str = "fast.py", log: Path | None = None):
    """One `locust --worker` process for the master on 127.0.0.1:`port`; its output piped, or
    written to `log` (a test that leaves a worker's pipes unread past 64 KiB would block it)."""
    args = [*LOCUST, "-f", str(LOCUSTFILES / locustfile), "--worker", "--master-host", "127.0.0.1",
            "--master-port", str(port)]  # fmt: skip
    if log is None:
        return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    with log.open("wb") as sink:  # the child holds its own descriptor
        return subprocess.Popen(args, env=env, stdout=sink, stderr=subprocess.STDOUT, cwd=ROOT)


def start_distributed(
    profile: Path, host: str, out: Path, workers: int, *extra: str, env: dict | None = None, locustfile: str = "fast.py"
):
    """A headless master and `workers` worker processes, all on 127.0.0.1, started; `env` adds
    to every process's environment."""
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = locust_env(out) | (env or {})
    master = subprocess.Popen(
        master_command(profile, host, port, workers, *extra, locustfile=locustfile),
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    procs = [start_worker(port, env, locustfile) for _ in range(workers)]
    return master, procs


def finish_distributed(master, procs, out: Path, timeout: float = 90) -> Run:
    try:
        stdout, stderr = master.communicate(timeout=timeout)
        for p in procs:
            p.communicate(timeout=30)
    finally:
        for p in [master, *procs]:
            if p.poll() is None:
                p.kill()
    return Run(master.returncode, stdout, stderr, read_records(out), out)


def run_distributed(profile: Path, host: str, out: Path, workers: int, *extra: str, timeout: float = 90) -> Run:
    master, procs = start_distributed(profile, host, out, workers, *extra)
    return finish_distributed(master, procs, out, timeout)


@dataclass
class Cluster:
    """A master and workers started one by one, as pods would be, all on 127.0.0.1. Every
    process's output goes to a file in `out` (master.out, master.err, worker-<n>.log), so a test
    can poll the master's log while the run goes; `add_worker` starts one more at any time."""

    master: subprocess.Popen
    port: int
    env: dict[str, str]
    out: Path
    locustfile: str
    workers: list[subprocess.Popen]

    def add_worker(self) -> subprocess.Popen:
        worker = start_worker(self.port, self.env, self.locustfile, self.out / f"worker-{len(self.workers)}.log")
        self.workers.append(worker)
        return worker

    def master_log(self) -> str:
        return (self.out / "master.err").read_text(errors="replace")

    def kill(self) -> None:
        """End every process of the cluster still running (a test that fails midway)."""
        for p in [self.master, *self.workers]:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)

    def finish(self, timeout: float = 90) -> Run:
        """Wait for the master to end the run, then for each worker (a killed one is reaped)."""
        try:
            self.master.wait(timeout=timeout)
            for worker in self.workers:
                worker.wait(timeout=30)
        finally:
            self.kill()
        stdout = (self.out / "master.out").read_text(errors="replace")
        return Run(self.master.returncode, stdout, self.master_log(), read_records(self.out), self.out)


def start_cluster(
    profile: Path, host: str, out: Path, workers: int, *extra: str, env: dict | None = None, locustfile: str = "fast.py"
) -> Cluster:
    """A headless master expecting `workers`, and that many workers, each its own process."""
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    environ = locust_env(out) | (env or {})
    with (out / "master.out").open("wb") as stdout, (out / "master.err").open("wb") as stderr:
        master = subprocess.Popen(master_command(profile, host, port, workers, *extra, locustfile=locustfile),
                                  env=environ, stdout=stdout, stderr=stderr, cwd=ROOT)  # fmt: skip
    cluster = Cluster(master, port, environ, out, locustfile, [])
    for _ in range(workers):
        cluster.add_worker()
    return cluster
