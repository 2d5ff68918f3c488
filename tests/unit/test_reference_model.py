"""Reference model: the featurizer, the fits, calibration on clean inputs, and the model knobs."""

from __future__ import annotations

import time
import zlib

import numpy as np
import pytest

from locust_mlstress.domain.schema import Feature, Output
from locust_mlstress.payloads.clean import CleanSampler
from locust_mlstress.servers.reference.features import TEXT_BUCKETS, text_buckets
from locust_mlstress.servers.reference.model import fit_model, sigmoid
from locust_mlstress.servers.reference.training import model_for_profile

FEATURES = (
    Feature("x", "float", min=-100.0, max=100.0),
    Feature("k", "int", min=0.0),
    Feature("flag", "bool"),
    Feature("color", "category", categories=("red", "green", "blue")),
    Feature("note", "text", required=False),
    Feature("opt", "float", required=False),
)
BINARY = Output("binary", ("no", "yes"))
WORDS = np.array(["alpha", "beta", "gamma", "delta"], dtype=object)


def synthetic(rng: np.random.Generator, n: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Columns like a clean sampler's, with the true logit of a logistic label model."""
    columns = {
        "x": rng.normal(10.0, 5.0, n),
        "k": rng.integers(0, 20, n).astype(np.int64),
        "flag": rng.random(n) < 0.3,
        "color": rng.choice(np.array(["red", "green", "blue"], dtype=object), n, p=[0.5, 0.3, 0.2]),
        "note": np.array([" ".join(r) for r in WORDS[rng.integers(0, 4, (n, 3))]], dtype=object),
        "opt": rng.normal(0.0, 1.0, n),
    }
    logit = (
        -1.0
        + 0.2 * (columns["x"] - 10.0)
        - 0.1 * columns["k"]
        + 1.5 * columns["flag"]
        + 0.8 * (columns["color"] == "blue")
        + 0.5 * columns["opt"]
    )
    return columns, logit


def binary_data(seed: int, n: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    columns, logit = synthetic(rng, n)
    p = sigmoid(logit)
    return columns, (rng.random(n) < p).astype(np.int64), p


@pytest.fixture(scope="module")
def binary_model():
    columns, labels, _ = binary_data(1, 20_000)
    return fit_model(FEATURES, BINARY, columns, labels, seed=1)


def calibration_gap(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error over equal-count bins."""
    order = np.argsort(p)
    gaps = [abs(p[i].mean() - y[i].mean()) * len(i) for i in np.array_split(order, bins)]
    return float(sum(gaps) / len(p))


# --- featurizer ---------------------------------------------------------------------------------


def test_numeric_features_are_standardised_on_training_data(binary_model):
    columns, _, _ = binary_data(1, 20_000)
    x, _ = binary_model.encode(columns)
    for enc in binary_model.encoders:
        if enc.type in ("float", "int"):
            block = x[:, enc.offset]
            assert abs(block.mean()) < 1e-9
            assert block.std() == pytest.approx(1.0, abs=1e-9)
    assert np.all(x[:, 0] == 1.0)  # intercept


def test_one_hot_and_unseen_category(binary_model):
    enc = next(e for e in binary_model.encoders if e.name == "color")
    row = {"x": [10.0], "k": [3], "flag": [True], "note": ["alpha"], "opt": [0.0]}
    seen, drifted_seen = binary_model.encode({**row, "color": ["green"]})
    unseen, drifted_unseen = binary_model.encode({**row, "color": ["purple"]})
    assert list(seen[0, enc.offset : enc.offset + enc.width]) == [0.0, 1.0, 0.0]
    assert list(unseen[0, enc.offset : enc.offset + enc.width]) == [0.0, 0.0, 0.0]
    assert not drifted_seen[0] and drifted_unseen[0]


def test_missing_optional_values_are_imputed_and_look_drifted(binary_model):
    enc = {e.name: e for e in binary_model.encoders}
    columns = {"x": [10.0], "k": [3], "flag": [True], "color": ["red"], "note": [None], "opt": [None]}
    x, drifted = binary_model.encode(columns)
    assert x[0, enc["opt"].offset] == 0.0
    assert np.all(x[0, enc["note"].offset : enc["note"].offset + TEXT_BUCKETS] == 0.0)
    assert drifted[0]
    # an absent column is all missing too
    x2, drifted2 = binary_model.encode({k: v for k, v in columns.items() if k != "opt"}, n=1)
    assert np.array_equal(x, x2) and drifted2[0]


def test_far_out_numbers_look_drifted(binary_model):
    base = {"x": [10.0, 10.0], "k": [3, 3], "flag": [True, False], "color": ["red", "red"], "opt": [0.0, 0.0]}
    _, drifted = binary_model.encode({**base, "note": ["a", "b"]})
    assert not drifted.any()
    _, drifted = binary_model.encode({**base, "x": [10.0, 99.0], "note": ["a", "b"]})
    assert list(drifted) == [False, True]


def test_absurd_values_still_give_finite_predictions(binary_model):
    columns = {"x": [1e308], "k": [2**62], "flag": [True], "color": ["red"], "note": ["x"], "opt": [-1e308]}
    assert np.isfinite(binary_model.predict(columns)).all()


def test_text_hashing_is_stable_across_processes():
    # crc32, not hash(): the same words land in the same buckets in every process
    assert text_buckets("Alpha beta") == [zlib.crc32(b"alpha") % 8, zlib.crc32(b"beta") % 8]
    assert text_buckets("") == []


# --- fits ---------------------------------------------------------------------------------------


def test_binary_model_is_calibrated_on_clean_samples(binary_model):
    columns, labels, truth = binary_data(2, 100_000)
    p = binary_model.predict(columns)
    assert p.shape == (100_000,)
    assert abs(p.mean() - labels.mean()) < 0.01
    assert calibration_gap(p, labels) < 0.015
    assert np.abs(p - truth).mean() < 0.02  # well specified: it recovers the true probabilities


def test_temperature_worsens_calibration(binary_model):
    columns, labels, _ = binary_data(3, 50_000)
    calibrated = calibration_gap(binary_model.predict(columns), labels)
    for temperature in (0.4, 3.0):
        p = binary_model.predict(columns, temperature=temperature)
        assert calibration_gap(p, labels) > calibrated + 0.05


def test_drift_degradation_adds_noise_to_drifted_rows_only(binary_model):
    columns = {
        "x": [10.0, 10.0],
        "k": [3, 3],
        "flag": [True, True],
        "color": ["red", "unseen"],
        "note": ["alpha", "alpha"],
        "opt": [0.5, 0.5],
    }
    rng = np.random.default_rng(0)
    plain = binary_model.predict(columns)
    draws = np.array([binary_model.predict(columns, drift_noise=2.0, rng=rng) for _ in range(50)])
    assert np.all(draws[:, 0] == plain[0])
    assert draws[:, 1].std() > 0.1


def test_drift_degradation_makes_the_model_worse_under_drift(binary_model):
    columns, labels, _ = binary_data(4, 20_000)
    columns["opt"] = np.full(20_000, None, dtype=object)  # every row drifted: optional value missing
    rng = np.random.default_rng(0)

    def log_loss(p: np.ndarray) -> float:
        p = np.clip(p, 1e-12, 1 - 1e-12)
        return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))

    assert log_loss(binary_model.predict(columns, drift_noise=2.0, rng=rng)) > log_loss(binary_model.predict(columns))


def test_multiclass_softmax_fit():
    rng = np.random.default_rng(5)
    n = 20_000
    columns, _ = synthetic(rng, n)
    z = np.stack(
        [np.zeros(n), 0.3 * (columns["x"] - 10), -0.2 * columns["k"] + 1.0 * (columns["color"] == "red")],
        axis=1,
    )
    p_true = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    labels = (p_true.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)
    model = fit_model(FEATURES, Output("multiclass", ("a", "b", "c")), columns, labels, seed=5)
    p = model.predict(columns)
    assert p.shape == (n, 3)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert np.allclose(p.mean(axis=0), np.bincount(labels, minlength=3) / n, atol=0.01)
    assert np.abs(p - p_true).mean() < 0.03


def test_multiclass_profile_router(router):
    model = model_for_profile(router)
    batch = CleanSampler(router).draw(np.random.default_rng(11), 30_000)
    p = model.predict(batch.columns)
    assert p.shape == (30_000, len(router.output.classes))
    assert np.allclose(p.mean(axis=0), np.bincount(batch.labels, minlength=p.shape[1]) / 30_000, atol=0.02)
    assert np.abs(p - batch.label_probs).mean() < 0.04


def test_ridge_regression_recovers_a_linear_rule():
    rng = np.random.default_rng(6)
    columns, _ = synthetic(rng, 20_000)
    y = 3.0 + 2.0 * columns["x"] - 0.5 * columns["k"] + rng.normal(0.0, 0.1, 20_000)
    model = fit_model(FEATURES, Output("regression"), columns, y, seed=6)
    fresh, _ = synthetic(np.random.default_rng(7), 1_000)
    expected = 3.0 + 2.0 * fresh["x"] - 0.5 * fresh["k"]
    assert np.abs(model.predict(fresh) - expected).max() < 0.05
    assert model.predict(fresh, temperature=5.0) == pytest.approx(model.predict(fresh))  # no logits to scale


def test_missing_labels_get_a_seeded_synthetic_rule():
    columns, _ = synthetic(np.random.default_rng(8), 5_000)
    a = fit_model(FEATURES, BINARY, columns, None, seed=3)
    b = fit_model(FEATURES, BINARY, columns, None, seed=3)
    c = fit_model(FEATURES, BINARY, columns, None, seed=4)
    assert np.array_equal(a.weights, b.weights)
    assert not np.array_equal(a.weights, c.weights)
    p = a.predict(columns)
    assert p.std() > 0.01 and 0.0 < p.mean() < 1.0


def test_fitting_is_deterministic_and_fast():
    columns, labels, _ = binary_data(9, 20_000)
    start = time.perf_counter()
    a = fit_model(FEATURES, BINARY, columns, labels, seed=9)
    elapsed = time.perf_counter() - start
    b = fit_model(FEATURES, BINARY, columns, labels, seed=9)
    assert np.array_equal(a.weights, b.weights)
    assert elapsed < 1.0


def test_neutral_predictions():
    columns, labels, _ = binary_data(10, 500)
    assert list(fit_model(FEATURES, BINARY, columns, labels, 0).neutral(2)) == [0.5, 0.5]
    multi = fit_model(FEATURES, Output("multiclass", ("a", "b", "c", "d")), columns, labels, 0)
    assert np.allclose(multi.neutral(3), 0.25)
    regression = fit_model(FEATURES, Output("regression"), columns, labels.astype(float) * 10, 0)
    assert regression.neutral(1)[0] == pytest.approx(labels.mean() * 10)


def test_quickstart_model_is_calibrated(quickstart):
    model = model_for_profile(quickstart)
    batch = CleanSampler(quickstart).draw(np.random.default_rng(12), 100_000)
    p = model.predict(batch.columns)
    assert abs(p.mean() - batch.labels.mean()) < 0.015
    assert calibration_gap(p, batch.labels) < 0.02
    assert np.abs(p - batch.label_probs).mean() < 0.02
