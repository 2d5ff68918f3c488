"""`--ml-prometheus-port` read back through a real Prometheus (Debian's `prometheus`) scraping real
Locust runs: what Prometheus stored at the end equals the `--ml-json` summary (docs/observe.md)."""

from __future__ import annotations

import contextlib
import json
import math
import re
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from locust_mlstress.profile import load_profile
from tests.integration.conftest import QUICKSTART
from tests.integration.harness import finish_distributed, free_port, run_local, start_distributed
from tests.observe_expect import expected_series, names

DOCS = Path(__file__).resolve().parents[2] / "docs"
pytestmark = pytest.mark.skipif(shutil.which("prometheus") is None, reason="Debian's prometheus is not installed")

SCRAPE = "1s"
LINGER = "20"  # > a few scrape intervals: the run waits until one scrape has read its final figures


class Prometheus:
    """A Prometheus on 127.0.0.1 scraping the given jobs' ports every second."""

    def __init__(self, folder: Path, jobs: dict[str, int]):
        self.port = free_port()
        config = folder / "prometheus.yml"
        scrapes = "\n".join(
            f"  - job_name: {job}\n    static_configs:\n      - targets: ['127.0.0.1:{port}']"
            for job, port in jobs.items()
        )
        config.write_text(
            f"global:\n  scrape_interval: {SCRAPE}\n  scrape_timeout: {SCRAPE}\nscrape_configs:\n{scrapes}\n"
        )
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self._until(lambda: self._get("/-/ready") is not None, 30, "Prometheus did not get ready")

    def _get(self, path: str) -> bytes | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as response:
                return response.read()
        except OSError:
            return None

    @staticmethod
    def _until(ok, seconds: float, message: str) -> None:
        deadline = time.monotonic() + seconds
        while not ok():
            assert time.monotonic() < deadline, message
            time.sleep(0.2)

    def last(self, name: str, job: str) -> dict[frozenset, float]:
        """The last sample of every series of `name` in `job` (staleness markers after the target
        went away are skipped by a range selector), keyed by labels without job and instance."""
        query = urllib.parse.quote(f'last_over_time({name}{{job="{job}"}}[10m])')
        body = self._get(f"/api/v1/query?query={query}")
        assert body is not None, f"query of {name} failed"
        result = json.loads(body)["data"]["result"]
        return {
            frozenset((k, v) for k, v in r["metric"].items() if k not in ("job", "instance", "__name__")): float(
                r["value"][1]
            )
            for r in result
        }

    def query(self, query: str, at: float) -> list:
        """An instant query's result at time `at`."""
        body = self._get(f"/api/v1/query?query={urllib.parse.quote(query)}&time={at}")
        assert body is not None, f"query failed: {query}"
        return json.loads(body)["data"]["result"]

    def last_scrape(self, name: str, job: str) -> float:
        """When the last sample of `name` in `job` was scraped (a range selector gives raw samples)."""
        (series,) = self.query(f'{name}{{job="{job}"}}[10m]', time.time())
        return float(series["values"][-1][0])

    def wait_for(self, name: str, job: str, value: float) -> None:
        self._until(lambda: self.last(name, job).get(frozenset()) == value, 30, f"{name} never reached {value}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@contextlib.contextmanager
def socket_bound() -> Iterator[int]:
    """A port something else already listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.fixture(scope="module")
def ports() -> dict[str, int]:
    return {"local": free_port(), "master": free_port()}


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory, ports) -> Iterator[Prometheus]:
    p = Prometheus(tmp_path_factory.mktemp("prometheus"), ports)
    yield p
    p.stop()


def assert_stored(prometheus: Prometheus, job: str, summary: dict) -> int:
    """Every expected series is in Prometheus with the summary's exact value; the count checked."""
    prometheus.wait_for("mlstress_run_duration_seconds", job, summary["duration_s"])
    expected = expected_series(summary)
    stored: dict = {}
    for name in names(expected):
        stored |= {(name, labels): v for labels, v in prometheus.last(name, job).items()}
    for key, value in expected.items():
        assert key in stored, f"{key} not in Prometheus"
        assert stored[key] == value or math.isclose(stored[key], value, rel_tol=1e-15), (key, stored[key], value)
    return len(expected)


@pytest.fixture(scope="module")
def local_run(server, prometheus, ports, tmp_path_factory) -> tuple[object, dict]:
    """One local run with gates and a challenger, scraped to the end: (the run, its --ml-json)."""
    out = tmp_path_factory.mktemp("local")
    summary_path = out / "summary.json"
    run = run_local(QUICKSTART, server.url, out / "out", "-u", "4", "-t", "6s",
                    "--ml-prometheus-port", str(ports["local"]), "--ml-prometheus-linger", LINGER,
                    "--ml-json", str(summary_path), "--ml-challenger", server.url,
                    "--ml-gate", "p99_ms[clean] < 5000", "--ml-gate", "error_rate[clean] < 0.5")  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(summary_path.read_text())
    prometheus.wait_for("mlstress_run_duration_seconds", "local", summary["duration_s"])
    return run, summary


def test_a_local_run_with_gates_and_a_challenger_reads_back_as_its_summary(prometheus, local_run):
    run, summary = local_run
    assert "no scrape of the final figures" not in run.stderr  # type: ignore[attr-defined]
    assert assert_stored(prometheus, "local", summary) > 40
    (labels,) = prometheus.last("mlstress_run_info", "local")
    assert dict(labels)["profile"] == "quickstart" and dict(labels)["seed"] == str(load_profile(QUICKSTART).seed)
    assert dict(labels)["run_id"] == summary["run"]["run_id"]
    # the histogram holds every request of the kind, and its buckets are cumulative
    buckets = prometheus.last("mlstress_request_duration_seconds_bucket", "local")
    clean = sorted((float(dict(k)["le"]), v) for k, v in buckets.items() if dict(k)["kind"] == "clean")
    assert [v for _, v in clean] == sorted(v for _, v in clean)
    assert clean[-1] == (math.inf, summary["kinds"]["clean"]["latency_ms"]["n"])


def test_every_promql_of_the_docs_and_the_dashboard_answers_on_a_real_run(prometheus, local_run):
    """docs/observe.md's PromQL blocks and the Grafana dashboard's panels, evaluated at the
    run's last scrape: each returns data, so neither names a metric or label that is not there."""
    queries = re.findall(r"```promql\n(.*?)\n```", (DOCS / "observe.md").read_text(), re.S)
    dashboard = json.loads((DOCS / "grafana" / "mlstress-dashboard.json").read_text())
    queries += [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(queries) > 15
    at = prometheus.last_scrape("mlstress_run_duration_seconds", "local")
    for query in queries:
        filled = query.replace("$job", "local").replace("$__rate_interval", "1m")
        result = prometheus.query(filled, at)  # a query Prometheus cannot parse fails here
        # a figure may be there for every kind; the table of figures left out is then empty
        assert result or query.startswith("mlstress_figure_unavailable"), f"no data: {query}"


def test_a_distributed_run_is_exported_by_the_master_with_the_merged_figures(server, prometheus, ports, tmp_path):
    summary_path = tmp_path / "summary.json"
    master, workers = start_distributed(QUICKSTART, server.url, tmp_path / "out", 2, "-u", "4", "-t", "6s",
                                        "--ml-prometheus-port", str(ports["master"]),
                                        "--ml-prometheus-linger", LINGER, "--ml-json", str(summary_path))  # fmt: skip
    run = finish_distributed(master, workers, tmp_path / "out")
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(summary_path.read_text())
    assert len(summary["received"]) == 2
    assert assert_stored(prometheus, "master", summary) > 30


def test_a_port_in_use_stops_the_run_before_traffic_with_one_line(server, tmp_path):
    with socket_bound() as port:
        run = run_local(QUICKSTART, server.url, tmp_path, "-u", "1", "-t", "3s", "--ml-prometheus-port", str(port))
    assert run.returncode == 2
    lines = [line for line in run.stderr.splitlines() if "--ml-prometheus-port" in line]
    assert len(lines) == 1 and "choose a free port" in lines[0], run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    assert not any(r.get("sent") for r in run.records)
