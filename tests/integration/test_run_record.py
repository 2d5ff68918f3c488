"""The run record: --ml-artifacts gathers everything, and no secret is written anywhere."""

import json

from tests.integration.conftest import QUICKSTART
from tests.integration.harness import run_distributed, run_local

OPTION_SECRET = "opt-s3cret-value-123"
ENV_SECRET = "env-s3cret-value-456"


def _profile_with_env_header(tmp_path):
    profile = tmp_path / "secret.toml"
    profile.write_text(
        QUICKSTART.read_text().replace(
            '"X-Client" = "locust-mlstress"',
            '"X-Client" = "locust-mlstress"\n"X-Api-Token" = { env = "MLSTRESS_TEST_TOKEN", secret = true }',
        )
    )
    return profile


def test_artifacts_hold_the_run_record_and_no_secret(server, tmp_path):
    profile = _profile_with_env_header(tmp_path)
    art = tmp_path / "artifacts"
    run = run_local(
        profile, server.url, tmp_path / "out", "-u", "4", "-r", "4", "-t", "5s", "--ml-artifacts", str(art),
        "--ml-trace-rate", "0.2", "--ml-header", f"Authorization: Bearer {OPTION_SECRET}",
        env={"MLSTRESS_TEST_TOKEN": ENV_SECRET},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    manifest = json.loads((art / "manifest.json").read_text())
    assert manifest["seed"] == 20261122 and manifest["profile"]["sha256"]
    assert manifest["versions"]["locust"].startswith("2.47") and manifest["versions"]["python"]
    assert manifest["host"] == server.url and manifest["started"] and manifest["ended"]
    assert "--ml-artifacts" in manifest["command"] and "***" in manifest["command"]
    for name in ("ml_summary.json", "ml_windows.csv", "locust_stats.csv", "locust_report.html", "traces.jsonl"):
        assert (art / name).stat().st_size > 0, name
    traces = [json.loads(line) for line in (art / "traces.jsonl").read_text().splitlines()]
    assert manifest["traces"]["written"] == len(traces) > 20
    assert {"request_id", "kind", "variant", "status", "latency_ms", "predictions"} <= traces[0].keys()
    for path in art.iterdir():
        text = path.read_text(errors="replace")
        assert OPTION_SECRET not in text and ENV_SECRET not in text, path.name
    assert OPTION_SECRET not in run.stdout + run.stderr and ENV_SECRET not in run.stdout + run.stderr


def test_a_distributed_run_gathers_the_workers_traces(server, tmp_path):
    art = tmp_path / "artifacts"
    run = run_distributed(QUICKSTART, server.url, tmp_path / "out", 2, "-u", "4", "-r", "4", "-t", "6s",
                          "--ml-artifacts", str(art), "--ml-trace-rate", "0.1")  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    traces = [json.loads(line) for line in (art / "traces.jsonl").read_text().splitlines()]
    users = {int(t["request_id"].split("-")[1], 16) for t in traces}
    assert users == {0, 1, 2, 3}  # traces from every user, on both workers
    assert json.loads((art / "manifest.json").read_text())["workers"] == 2
