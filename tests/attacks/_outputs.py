"""Helpers for the outputs, secrets and stopping attacks: real Locust processes whose stderr is
read while they run (to signal them at a logged moment), tmpfs mounts for a full or read-only
disk, and the files a run left behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.integration.harness import LOCUST, LOCUSTFILES, ROOT, free_port, locust_args, locust_env


class Watched:
    """A running process whose stderr lines are collected by a thread; `wait_for` blocks until a
    line holding some text has been printed (an event, not a sleep)."""

    def __init__(self, args: list[str], env: dict[str, str], new_session: bool = False) -> None:
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                     start_new_session=new_session)  # fmt: skip
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._stdout: list[str] = []
        self._out_reader = threading.Thread(target=lambda: self._stdout.extend(self.proc.stdout), daemon=True)
        self._out_reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            with self._seen:
                self.lines.append(line)
                self._seen.notify_all()
        with self._seen:
            self._seen.notify_all()

    def wait_for(self, text: str, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        with self._seen:
            while not any(text in line for line in self.lines):
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    return False
                self._seen.wait(min(left, 0.5))
        return True

    def interrupt(self) -> None:
        self.proc.send_signal(signal.SIGINT)

    def finish(self, timeout: float = 60) -> int:
        try:
            code = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        self._reader.join(10)
        self._out_reader.join(10)
        return code

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    @property
    def stdout(self) -> str:
        return "".join(self._stdout)


def local(profile: Path, host: str, out: Path, *extra: str, new_session: bool = False) -> Watched:
    """A headless local run of the integration tests' locustfile; `new_session` makes it the
    leader of its own process group (signalled as a terminal's Ctrl-C would: all at once)."""
    out.mkdir(parents=True, exist_ok=True)
    return Watched(locust_args(profile, host, "--headless", *extra), locust_env(out), new_session)


def distributed(profile: Path, host: str, out: Path, workers: int, *extra: str) -> tuple[Watched, list[Watched]]:
    """A headless master on a free port and `workers` worker processes."""
    out.mkdir(parents=True, exist_ok=True)
    port = str(free_port())
    env = locust_env(out)
    master = Watched(
        locust_args(profile, host, "--headless", "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port",
                    port, "--expect-workers", str(workers), *extra),
        env,
    )  # fmt: skip
    worker_args = [*LOCUST, "-f", str(LOCUSTFILES / "fast.py"), "--worker", "--master-host", "127.0.0.1"]
    return master, [Watched([*worker_args, "--master-port", port], env) for _ in range(workers)]


def wait_until(condition, timeout: float = 60, step: float = 0.05) -> bool:
    """Poll a condition on files another process writes (no event to wait on across processes)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


def locust_total(json_file: Path) -> int:
    """Locust's final request count, from its --json-file (written after its final tables)."""
    return sum(entry["num_requests"] for entry in json.loads(json_file.read_text()))


def ml_total(summary: dict) -> int:
    return sum(kind["requests"] for kind in summary["kinds"].values())


@contextmanager
def tmpfs(path: Path, *options: str) -> Iterator[Path]:
    """A tmpfs mounted at `path` (a small one is a disk that fills up; `ro` a read-only one);
    skips the test where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    opts = ",".join(options)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def no_traceback(text: str) -> bool:
    return "Traceback" not in text
