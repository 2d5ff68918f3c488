"""The reference challenger (`--flip-share`): another class for a fixed, seeded share of inputs.

The champion/challenger figures are checked against this server, so what it does must be exact:
the flipped share is flip_share within binomial noise, a repeated input always gets the same
answer, and a flip is the mirror image of the champion's answer, not a new guess.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import requests
from scipy.stats import binom

from locust_mlstress.payloads import Payload, PayloadFactory
from locust_mlstress.profile import load_profile
from locust_mlstress.servers.reference import ReferenceServer
from locust_mlstress.servers.reference.app import ReferenceApp
from locust_mlstress.servers.reference.cli import build_parser, knobs_from_args, knobs_to_argv, main
from locust_mlstress.servers.reference.flip import flipped_rows
from locust_mlstress.servers.reference.knobs import ServerKnobs, knob_problems
from locust_mlstress.servers.reference.testing import call
from locust_mlstress.servers.reference.training import model_for_profile

PROFILES = Path(__file__).resolve().parents[2] / "profiles"
QUICKSTART = PROFILES / "quickstart.toml"
REGRESSION = PROFILES / "regression_prices.toml"
V1 = "/v1/models/churn:predict"
V2 = "/v2/models/churn/infer"
MLFLOW = "/invocations"
N_INSTANCES = 20_000
SHARE = 0.03
BATCH = 1000  # under the default max_instances (1024)


def clean_instances(profile, n: int, user_id: int = 0) -> list[dict]:
    """`n` distinct clean instances, as the quickstart's users send them (their JSON bodies)."""
    factory = PayloadFactory(profile, user_id, clock=lambda: 0.0)
    seen: dict[str, dict] = {}
    while len(seen) < n:
        payload = factory.next()
        if payload.kind == "clean":
            for row in json.loads(payload.body)["instances"]:
                seen.setdefault(json.dumps(row, sort_keys=True), row)
    return list(seen.values())[:n]


def v1_answers(app: ReferenceApp, instances: list[dict]) -> np.ndarray:
    answers: list[float] = []
    for lo in range(0, len(instances), BATCH):
        reply = call(app, "POST", V1, {"instances": instances[lo : lo + BATCH]})
        assert reply.status == 200, reply.body[:200]
        answers += reply.json()["predictions"]
    return np.array(answers)


@pytest.fixture(scope="module")
def model(quickstart):
    return model_for_profile(quickstart, 2_000)


@pytest.fixture(scope="module")
def instances(quickstart):
    return clean_instances(quickstart, N_INSTANCES)


@pytest.fixture(scope="module")
def champion(model, instances):
    """The plain server's answers to the instances, to compare the challenger's with."""
    return v1_answers(ReferenceApp(model, ServerKnobs(seed=3), "churn"), instances)


def flips_against(champion: np.ndarray, challenger: np.ndarray) -> np.ndarray:
    """Which answers are the champion's mirrored; every other answer must be the champion's own."""
    mirrored = challenger == 1.0 - champion
    same = challenger == champion
    assert not (mirrored & same).any(), "an answer of exactly 0.5 cannot tell a flip apart"
    assert (mirrored | same).all(), "an answer neither equal nor mirrored: a flip is not 1 - p"
    return mirrored


# --- what share flips ------------------------------------------------------------------------------


def test_share_zero_changes_nothing(model, instances, champion):
    explicit = knobs_from_args(build_parser().parse_args(["--profile", "p.toml", "--flip-share", "0", "--seed", "3"]))
    assert explicit == ServerKnobs(seed=3)
    assert np.array_equal(v1_answers(ReferenceApp(model, explicit, "churn"), instances), champion)
    x, _ = model.encode({k: [row.get(k) for row in instances] for k in instances[0]}, len(instances))
    assert not flipped_rows(x, 0.0, 3).any()
    assert flipped_rows(x, 1.0, 3).all()


def test_flipped_share_is_within_the_binomial_band(model, instances, champion):
    assert len({json.dumps(row, sort_keys=True) for row in instances}) == N_INSTANCES
    app = ReferenceApp(model, ServerKnobs(seed=3, flip_share=SHARE, model_version="2"), "churn")
    flipped = flips_against(champion, v1_answers(app, instances))
    lo, hi = binom.interval(0.999, N_INSTANCES, SHARE)
    count = int(flipped.sum())
    print(f"flipped {count} of {N_INSTANCES} = {count / N_INSTANCES:.4f} (99.9% band {lo:.0f}..{hi:.0f})")
    assert lo <= count <= hi
    # the predicted class changes on exactly the flipped rows
    assert np.array_equal((champion >= 0.5) != (v1_answers(app, instances) >= 0.5), flipped)


def test_another_seed_flips_another_set(model, instances, champion):
    """The seed is the hash key: two seeds pick nearly independent sets, overlapping about share²."""
    one = ReferenceApp(model, ServerKnobs(seed=3, flip_share=SHARE), "churn")
    other = ReferenceApp(model, ServerKnobs(seed=4, flip_share=SHARE), "churn")
    first = flips_against(champion, v1_answers(one, instances))
    second = flips_against(champion, v1_answers(other, instances))
    both = int((first & second).sum())
    _, most = binom.interval(0.999, N_INSTANCES, SHARE * SHARE)
    assert both <= most < min(first.sum(), second.sum())


def test_flipped_binary_answer_is_exactly_one_minus_p(model, instances, champion):
    app = ReferenceApp(model, ServerKnobs(seed=3, flip_share=SHARE), "churn")
    challenger = v1_answers(app, instances[:BATCH])
    flipped = flips_against(champion[:BATCH], challenger)
    assert flipped.any() and not flipped.all()
    assert challenger[flipped].tolist() == [1.0 - p for p in champion[:BATCH][flipped].tolist()]


def test_multiclass_flip_moves_the_argmax(router):
    model = model_for_profile(router, 2_000)
    rows = [json.loads(p.body) for p in _clean_payloads(router, 300)]
    path = f"/v2/models/{router.target.model_name}/infer"

    def answers(knobs: ServerKnobs) -> np.ndarray:
        app = ReferenceApp(model, knobs, router.target.model_name)
        out = []
        for body in rows:
            reply = call(app, "POST", path, body)
            assert reply.status == 200, reply.body[:200]
            (probabilities,) = (o for o in reply.json()["outputs"] if o["name"] == "probabilities")
            out += np.reshape(probabilities["data"], probabilities["shape"]).tolist()
        return np.array(out)

    plain, flipped = answers(ServerKnobs()), answers(ServerKnobs(flip_share=0.3))
    moved = (plain != flipped).any(axis=1)
    assert 0 < moved.sum() < len(moved)
    assert np.array_equal(flipped[moved], np.roll(plain[moved], 1, axis=1))
    assert (flipped[moved].argmax(axis=1) != plain[moved].argmax(axis=1)).all()


def _clean_payloads(profile, n: int) -> list[Payload]:
    factory = PayloadFactory(profile, 0, clock=lambda: 0.0)
    payloads: list[Payload] = []
    while len(payloads) < n:
        payload = factory.next()
        if payload.kind == "clean":
            payloads.append(payload)
    return payloads


# --- the real server: a repeated input gets the same answer, whatever the batch and protocol ------


def test_real_server_answers_a_repeated_input_the_same(instances, champion):
    knobs = ServerKnobs(seed=3, flip_share=SHARE, model_version="2")
    assert "--flip-share" in knobs_to_argv(knobs)
    with ReferenceServer(QUICKSTART, knobs, train_samples=2_000) as server:
        url = f"{server.url}{V1}"
        batch = instances[:200]
        reply = requests.post(url, json={"instances": batch}, timeout=30)
        assert reply.headers["X-Model-Version"] == "2"
        answers = np.array(reply.json()["predictions"])
        flipped = flips_against(champion[:200], answers)  # the subprocess fits the same model
        assert flipped.any() and not flipped.all()
        picks = [int(np.flatnonzero(flipped)[0]), int(np.flatnonzero(~flipped)[0])]
        for i in picks:
            row = batch[i]
            alone = requests.post(url, json={"instances": [row]}, timeout=30).json()["predictions"]
            reversed_batch = requests.post(url, json={"instances": batch[::-1]}, timeout=30).json()["predictions"]
            again = requests.post(url, json={"instances": [batch[i + 1], row, row]}, timeout=30).json()["predictions"]
            mlflow = requests.post(f"{server.url}{MLFLOW}", json={"dataframe_records": [row]}, timeout=30).json()
            assert alone == [answers[i]]
            assert reversed_batch[len(batch) - 1 - i] == answers[i]
            assert again[1:] == [answers[i], answers[i]]
            assert mlflow["predictions"] == [answers[i]]
        assert "Traceback" not in server.stderr()


# --- bad values and models without classes ---------------------------------------------------------


@pytest.mark.parametrize("value", [-0.1, 2.0, math.nan])
def test_a_bad_share_is_one_line_naming_the_knob(value, capsys):
    with pytest.raises(ValueError, match="flip_share must be between 0 and 1"):
        ServerKnobs(flip_share=value)
    (problem,) = knob_problems(_unchecked(flip_share=value))
    assert problem.startswith("flip_share ") and "\n" not in problem
    assert main(["--profile", str(QUICKSTART), "--flip-share", repr(value)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: flip_share must be between 0 and 1"), err


def _unchecked(**values):
    """Knobs that skip __post_init__, to look at knob_problems' list itself."""
    knobs = object.__new__(ServerKnobs)
    for name, value in {**ServerKnobs().__dict__, **values}.items():
        object.__setattr__(knobs, name, value)
    return knobs


def test_a_regression_profile_refuses_to_flip(capsys):
    profile = load_profile(REGRESSION)
    model = model_for_profile(profile, 200)
    with pytest.raises(ValueError, match="flip_share applies to classification models"):
        ReferenceApp(model, ServerKnobs(flip_share=0.1))
    ReferenceApp(model, ServerKnobs())  # the knob, not the model, is refused
    assert main(["--profile", str(REGRESSION), "--flip-share", "0.1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "flip_share applies to classification models" in err and "regression" in err
