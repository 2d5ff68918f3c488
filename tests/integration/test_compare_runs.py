"""Champion and challenger in real Locust runs against real reference servers (docs/compare.md)."""

from collections import Counter

import pytest

from locust_mlstress.servers.reference.knobs import ServerKnobs
from locust_mlstress.servers.reference.process import ReferenceServer
from tests.integration.conftest import QUICKSTART
from tests.integration.harness import run_distributed, run_local

FLIP = 0.03


@pytest.fixture(scope="module")
def flipped():
    """The reference challenger: the champion's model, answering the other class for 3% of inputs."""
    with ReferenceServer(QUICKSTART, ServerKnobs(flip_share=FLIP, model_version="2")) as s:
        yield s


def _pairs(record: dict) -> Counter:
    """(kind, champion outcome, challenger outcome) counts the locustfile's own listener saw."""
    return Counter({(k, a, b): n for k, a, b, n in record["pairs"]})


def _transitions(comparison: dict) -> Counter:
    return Counter(
        {(kind, *t.split("->")): n for kind, f in comparison["kinds"].items() for t, n in f["transitions"].items()}
    )


def test_the_same_server_as_both_versions_never_disagrees_and_is_never_rolled_back(server, tmp_path):
    run = run_local(QUICKSTART, server.url, tmp_path, "-u", "4", "-r", "4", "-t", "6s",
                    "--ml-challenger", server.url)  # fmt: skip
    assert run.returncode in (0, 4), run.stderr[-3000:]  # promoted, or held for too few pairs: never 3
    record = run.record()
    comparison = record["summary"]["comparison"]
    assert comparison["verdict"] in ("promote", "hold")
    compared = 0
    for kind, f in comparison["kinds"].items():
        assert f["regressions"] == 0, kind
        assert all(a == b for a, b in (t.split("->") for t in f["transitions"])), f["transitions"]
        if f["n_compared"]:
            assert f["disagreement"] == 0 and f["mean_abs_diff"] == 0, kind
            compared += f["n_compared"]
    assert compared > 500
    # every payload went to both (share 1): the locustfile's own count, the summary's, Locust's rows
    assert _transitions(comparison) == _pairs(record)
    for kind, f in comparison["kinds"].items():
        champion = record["by_name"][f"POST /v1/models/churn:predict [{kind}]"][0]
        challenger = record["by_name"][f"challenger POST /v1/models/churn:predict [{kind}]"][0]
        # a user stopped between its two sends leaves its last payload unpaired: at most one per user
        assert f["n_pairs"] <= champion <= f["n_pairs"] + 4 and f["n_pairs"] <= challenger <= f["n_pairs"] + 4, kind
    assert comparison["challenger"] == server.url and comparison["share"] == 1.0


def test_a_challenger_that_flips_three_percent_is_measured_so_and_rolled_back(server, flipped, tmp_path):
    junit = tmp_path / "gates.xml"
    run = run_local(QUICKSTART, server.url, tmp_path, "-u", "4", "-r", "4", "-t", "15s",
                    "--ml-challenger", flipped.url, "--ml-junit", str(junit),
                    "--ml-version-header", "X-Model-Version", timeout=120)  # fmt: skip
    summary = run.record()["summary"]
    comparison = summary["comparison"]
    clean = comparison["kinds"]["clean"]
    low, high = clean["disagreement_ci"]
    assert low <= FLIP <= high and high - low <= 0.03, clean
    assert clean["regressions"] == 0 and set(clean["transitions"]) == {"ok->ok"}
    assert comparison["model_versions"] == {"champion": "1", "challenger": "2"}
    # the 1% disagreement gate fails outright: the whole interval is above it
    assert comparison["verdict"] == "rollback", comparison["reasons"]
    assert any(r.startswith("disagreement[clean]") for r in comparison["reasons"])
    assert run.returncode == 3, run.stderr[-3000:]
    assert 'name="disagreement[clean] &lt; 1%"' in junit.read_text() and "<failure" in junit.read_text()
    assert "verdict: ROLLBACK" in run.stderr


def test_a_share_mirrors_that_share_of_payloads_chosen_by_request_id(server, tmp_path):
    run = run_local(QUICKSTART, server.url, tmp_path, "-u", "2", "-r", "2", "-t", "4s",
                    "--ml-challenger", server.url, "--ml-challenger-share", "0.25")  # fmt: skip
    assert run.returncode in (0, 4), run.stderr[-3000:]
    record = run.record()
    pairs = sum(f["n_pairs"] for f in record["summary"]["comparison"]["kinds"].values())
    sent = record["summary"]["all"]["requests"]
    sd = (sent * 0.25 * 0.75) ** 0.5
    assert abs(pairs - 0.25 * sent) < 5 * sd, (pairs, sent)
    assert record["summary"]["comparison"]["share"] == 0.25


def test_distributed_pairs_add_up_to_what_the_workers_sent(server, flipped, tmp_path):
    run = run_distributed(QUICKSTART, server.url, tmp_path, 2, "-u", "4", "-r", "4", "-t", "6s",
                          "--ml-challenger", flipped.url, "--ml-version-header", "X-Model-Version")  # fmt: skip
    workers = run.workers()
    assert len(workers) == 2
    comparison = run.record("MasterRunner")["summary"]["comparison"]
    sent = sum((_pairs(w) for w in workers), start=Counter())
    assert _transitions(comparison) == sent and sum(sent.values()) > 200
    assert comparison["model_versions"]["challenger"] == "2"


def test_http_users_pair_too(server, tmp_path):
    run = run_local(QUICKSTART, server.url, tmp_path, "-u", "2", "-r", "2", "-t", "3s",
                    "--ml-challenger", server.url, user="http")  # fmt: skip
    record = run.record()
    comparison = record["summary"]["comparison"]
    assert _transitions(comparison) == _pairs(record) and comparison["kinds"]["clean"]["disagreement"] == 0


def test_a_bad_challenger_url_stops_the_run_before_traffic(server, tmp_path):
    run = run_local(QUICKSTART, server.url, tmp_path, "-u", "1", "-t", "2s", "--ml-challenger", "ftp://x")
    assert run.returncode == 2
    errors = [line for line in run.stderr.splitlines() if "--ml-challenger" in line]
    assert errors and "http://" in errors[0] and "Traceback" not in run.stderr


def test_a_server_whose_scores_jitter_under_load_is_not_rolled_back(tmp_path):
    # one server as both versions, its logits moved by noise that grows with the requests in flight
    with ReferenceServer(QUICKSTART, ServerKnobs(load_noise=0.02, seed=5)) as jittery:
        run = run_local(QUICKSTART, jittery.url, tmp_path, "-u", "6", "-r", "6", "-t", "6s",
                        "--ml-challenger", jittery.url)  # fmt: skip
    comparison = run.record()["summary"]["comparison"]
    clean = comparison["kinds"]["clean"]
    assert clean["mean_abs_diff"] > 0  # the answers did move
    assert clean["disagreement"] < 0.02 and clean["regressions"] == 0
    assert comparison["verdict"] != "rollback" and run.returncode != 3, comparison["reasons"]


def test_open_model_arrivals_send_each_payload_to_both(server, flipped, tmp_path):
    run = run_local(QUICKSTART, server.url, tmp_path, "-u", "1", "-t", "5s", "--ml-arrival-rate", "100",
                    "--ml-challenger", flipped.url, locustfile="arrivals.py")  # fmt: skip
    record = run.record()
    comparison = record["summary"]["comparison"]
    pairs = sum(f["n_pairs"] for f in comparison["kinds"].values())
    assert _transitions(comparison) == _pairs(record) and 350 <= pairs <= 520  # ~100/s for 5 s
    assert comparison["kinds"]["clean"]["latency_delta_ms"]["n"] == comparison["kinds"]["clean"]["n_pairs"]


def test_a_staged_plan_pairs_in_every_stage_and_reports_both(server, flipped, tmp_path):
    profile = tmp_path / "staged.toml"
    stage = '[[load.stages]]\nname = "{}"\nduration = 3\nusers = {}\ngates = ["error_rate < 5%"]\n'
    plan = '\n[load]\nshape = "stages"\nspawn_rate = 10\n' + stage.format("a", 2) + stage.format("b", 4)
    profile.write_text(QUICKSTART.read_text() + plan)
    html = tmp_path / "report.html"
    run = run_local(profile, server.url, tmp_path / "out", "--ml-challenger", flipped.url, "--ml-html", str(html),
                    locustfile="shaped.py")  # fmt: skip
    summary = run.record()["summary"]
    assert [s["name"] for s in summary["stages"]] == ["a", "b"]
    assert sum(f["n_pairs"] for f in summary["comparison"]["kinds"].values()) > 100
    page = html.read_text()
    assert "Champion and challenger" in page and summary["comparison"]["verdict"] in page


def test_the_challengers_credentials_reach_no_file(server, tmp_path):
    secret = "chall3nger-s3cret"
    url = server.url.replace("http://", f"http://ops:{secret}@")
    out = tmp_path / "record"
    run = run_local(QUICKSTART, server.url, tmp_path / "run", "-u", "2", "-r", "2", "-t", "3s",
                    "--ml-challenger", url, "--ml-artifacts", str(out), "--ml-trace-rate", "1")  # fmt: skip
    assert run.record()["summary"]["comparison"]["challenger"] == server.url.replace("http://", "http://ops:***@")
    written = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"manifest.json", "ml_summary.json", "report.html", "traces.jsonl"}
    assert not [p.name for p in written if secret in p.read_text(errors="replace")]
