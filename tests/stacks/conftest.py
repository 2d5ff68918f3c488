"""The stacks tier: real MLServer, MLflow and KServe, each from PyPI in its own cached venv.

The first stacks test starts all three installs at once (see install.py); each stack's fixture
waits for its own. A stack that cannot be installed FAILS its tests with pip's error: a silent
skip would let CI pass without having proved anything on that stack.

Timings (install cold or cached, training, server start, init, each run) are gathered in
build/test-artifacts/stacks/timings.json (the per-endpoint figures in figures.json beside it) and
printed at the end of the session.
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import Future
from pathlib import Path

import pytest

from .harness import Server, served, train
from .install import Stack, StackUnavailable, ensure_all

HERE = Path(__file__).resolve().parent
TIMINGS: dict[str, float | str] = {}
ARTIFACTS = HERE.parents[1] / "build" / "test-artifacts" / "stacks"
TIMINGS_FILE = ARTIFACTS / "timings.json"


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.stacks)


def timed(label: str, seconds: float) -> None:
    TIMINGS[label] = round(seconds, 1)


def pytest_terminal_summary(terminalreporter):
    if not TIMINGS:
        return
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    TIMINGS_FILE.write_text(json.dumps(TIMINGS, indent=1))
    (ARTIFACTS / "figures.json").write_text(json.dumps(FIGURES, indent=1, default=str))
    terminalreporter.write_sep("-", "stacks tier timings (s)")
    for label, value in TIMINGS.items():
        terminalreporter.write_line(f"{label:42} {value}")


@pytest.fixture(scope="session")
def installs() -> dict[str, Future]:
    t0 = time.monotonic()
    futures = ensure_all()
    for name, fut in futures.items():
        fut.add_done_callback(lambda f, name=name: _record_install(name, f, t0))
    return futures


def _record_install(name: str, fut: Future, t0: float) -> None:
    if fut.exception() is None:
        stack: Stack = fut.result()
        timed(f"install {name} ({'cached' if stack.cached else 'cold'})", stack.seconds)
    timed(f"install {name} ready after", time.monotonic() - t0)


def need(installs: dict[str, Future], name: str) -> Stack:
    """The stack, or a failed test that says it could not be installed (never a skip)."""
    try:
        return installs[name].result()
    except StackUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


def trained(stack: Stack, flavor: str, folder: Path) -> Path:
    t0 = time.monotonic()
    train(stack, flavor, folder)
    timed(f"train {flavor}", time.monotonic() - t0)
    return folder


def serving(servers: list[Server]):
    """Start the servers (readiness polled), record how long each took, stop them afterwards."""
    gen = served(servers)
    started = next(gen)
    for s in started:
        timed(f"start {s.name}", s.started_s)
    try:
        yield started
    finally:
        gen.close()


FIGURES: dict[str, dict] = {}
MALFORMED_S = 10
USERS, SECONDS = 6, 20  # ~170 clean requests per endpoint; see docs/stacks.md on the seeded sample


class EndpointRun:
    """One endpoint: `mlstress init` against it (optionally edited), then one headless run.
    Several tests assert on the same run, so it is made once per endpoint and kept."""

    def __init__(self, name: str, server: Server, path: str, data: Path, edit=None):
        from .harness import locust
        from .profiles import run_init

        self.name, self.server, self.path, self.data = name, server, path, data
        out = ARTIFACTS / name
        out.mkdir(parents=True, exist_ok=True)
        self.made = run_init(data / "data.csv", self.url, data / f"{name}.toml", "--force")
        timed(f"init {name}", self.made.seconds)
        self.profile = self.made.path
        if edit is not None:
            self.profile.write_text(edit(self.profile.read_text()))
        (out / "profile.toml").write_text(self.profile.read_text())
        (out / "init.txt").write_text(self.made.output)
        self.run = locust(self.profile, server.base, out / "run", users=USERS, seconds=SECONDS)
        timed(f"run {name} ({USERS} users, {SECONDS} s)", self.run.seconds)
        self.figures = FIGURES.setdefault(name, {})
        self._malformed = None

    @property
    def url(self) -> str:
        return self.server.base + self.path

    def malformed_only(self):
        """A second, shorter run of the same profile with `[mix]` set to malformed only, so every
        malformed variant is sent (the init'd mix sends 10% malformed: ~23 requests over 19
        variants in a 20 s run, which leaves some out). Made once."""
        if self._malformed is None:
            from .harness import locust

            edited, n = re.subn(r"(?m)^\[mix\]\n(?:\w+ = .*\n)+", "[mix]\nmalformed = 1.0\n", self.profile.read_text())
            assert n == 1, f"no [mix] table in {self.profile}"
            self.malformed_profile = self.profile.with_name(f"{self.name}-malformed.toml")
            self.malformed_profile.write_text(edited)
            out = ARTIFACTS / self.name / "malformed-run"
            self._malformed = locust(self.malformed_profile, self.server.base, out, users=USERS, seconds=MALFORMED_S)
            timed(f"run {self.name} malformed only ({USERS} users, {MALFORMED_S} s)", self._malformed.seconds)
        return self._malformed


@pytest.fixture(scope="session")
def endpoint_runs() -> dict[str, EndpointRun]:
    return {}
