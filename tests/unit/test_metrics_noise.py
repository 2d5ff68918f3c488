"""Noise levels and thresholds under no real effect, checked by seeded simulation; verdict words."""

import math
import time

import numpy as np
import pytest
from scipy.stats import chi2, kstwobign

from locust_mlstress.metrics import (
    calibration_bins,
    calibration_from_bins,
    ece_noise,
    ece_threshold,
    ks_statistic,
    ks_threshold,
    psi,
    psi_noise,
    psi_threshold,
    verdict,
)


def calibrated(rng, n):
    """A perfectly calibrated model: p ~ Uniform(0, 1), y ~ Bernoulli(p)."""
    p = rng.uniform(size=n)
    return (rng.uniform(size=n) < p).astype(float), p


def test_psi_noise_formula():
    assert psi_noise(100, 100) == pytest.approx(0.18)
    assert psi_noise(500, 2000, bins=5) == pytest.approx(4 * (1 / 500 + 1 / 2000))
    assert psi_threshold(100, 100) == pytest.approx(0.02 * chi2.ppf(0.99, 9))
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        psi_noise(0, 10)
    with pytest.raises(ValueError, match="alpha"):
        psi_threshold(10, 10, alpha=1.5)


@pytest.fixture(scope="module")
def null_psi():
    """2000 PSIs of n = m = 500 drawn from one distribution."""
    rng = np.random.default_rng(2024)
    return np.array([psi(rng.normal(size=500), rng.normal(size=500)) for _ in range(2000)])


def test_mean_psi_without_shift_is_the_noise_level(null_psi):
    assert null_psi.mean() == pytest.approx(psi_noise(500, 500), rel=0.05)  # 0.036


def test_psi_threshold_is_exceeded_about_alpha_of_the_time(null_psi):
    for alpha in (0.01, 0.05):
        share = float(np.mean(null_psi > psi_threshold(500, 500, alpha=alpha)))
        assert abs(share - alpha) < 3 * math.sqrt(alpha * (1 - alpha) / null_psi.size) + 0.002, alpha


def test_psi_at_100_vs_100_reads_moderate_from_noise_alone():
    rng = np.random.default_rng(5)
    values = np.array([psi(rng.normal(size=100), rng.normal(size=100)) for _ in range(1000)])
    assert values.mean() == pytest.approx(0.18, rel=0.1)
    assert np.mean(values > 0.1) > 0.8  # a "moderate" rule of thumb would cry wolf


def test_ks_threshold_is_the_asymptotic_critical_value():
    c = math.sqrt(-math.log(0.005) / 2)
    assert ks_threshold(400, 100) == pytest.approx(c * math.sqrt(500 / 40_000))
    assert ks_threshold(10**6, 10**6, alpha=0.05) * math.sqrt(10**6 / 2) == pytest.approx(kstwobign.ppf(0.95), rel=1e-3)
    rng = np.random.default_rng(8)
    d = np.array([ks_statistic(rng.normal(size=300), rng.normal(size=400)) for _ in range(2000)])
    assert np.mean(d > ks_threshold(300, 400)) <= 0.015  # ~alpha, conservative when discrete


def test_ece_noise_predicts_the_mean_ece_of_a_calibrated_model():
    rng = np.random.default_rng(11)
    eces, noises = [], []
    for _ in range(2000):
        b = calibration_bins(*calibrated(rng, 200))
        eces.append(calibration_from_bins(b.count, b.sum_p, b.sum_y, b.sum_sq_err).ece)
        noises.append(ece_noise(b.count, b.sum_p, b.sum_p2))
    # n = 200, 10 bins, p ~ U(0, 1): ECE ~0.070 with nothing wrong with the model
    assert np.mean(eces) == pytest.approx(0.070, abs=0.003)
    assert np.mean(noises) == pytest.approx(np.mean(eces), rel=0.03)


def test_ece_noise_by_hand():
    # one bin of 4 predictions at 0.5: Var = 4·0.25 = 1, E|S| = sqrt(2/π), ECE = that / 4
    assert ece_noise([4], [2.0], [1.0]) == pytest.approx(math.sqrt(2 / math.pi) / 4)
    assert ece_noise([3, 0], [3.0, 0.0], [3.0, 0.0]) == 0.0  # p = 1: no noise
    assert math.isnan(ece_noise([0, 0], [0.0, 0.0], [0.0, 0.0]))
    assert math.isnan(ece_threshold([0, 0], [0.0, 0.0], [0.0, 0.0]))


def test_ece_threshold_is_exceeded_about_alpha_of_the_time():
    rng = np.random.default_rng(13)
    exceed = []
    for _ in range(2000):
        b = calibration_bins(*calibrated(rng, 200))
        ece = calibration_from_bins(b.count, b.sum_p, b.sum_y, b.sum_sq_err).ece
        exceed.append(ece > ece_threshold(b.count, b.sum_p, b.sum_p2, alpha=0.05))
    assert np.mean(exceed) == pytest.approx(0.05, abs=0.015)


def test_ece_threshold_is_seeded_and_fast():
    b = calibration_bins(*calibrated(np.random.default_rng(1), 200))
    first = ece_threshold(b.count, b.sum_p, b.sum_p2)
    assert first == ece_threshold(b.count, b.sum_p, b.sum_p2) and isinstance(first, float)
    assert first != ece_threshold(b.count, b.sum_p, b.sum_p2, rng_seed=1)
    assert ece_noise(b.count, b.sum_p, b.sum_p2) < first < 0.2
    timings = []
    for _ in range(20):
        start = time.perf_counter()
        ece_threshold(b.count, b.sum_p, b.sum_p2)
        timings.append(time.perf_counter() - start)
    assert min(timings) < 0.005


@pytest.mark.parametrize(
    ("value", "significant", "word"),
    [
        (0.0, True, "stable"),
        (0.0999, True, "stable"),
        (0.1, True, "moderate"),
        (0.25, True, "moderate"),
        (0.2501, True, "major"),
        (3.0, True, "major"),
        (3.0, False, "stable"),
        (0.2, False, "stable"),
    ],
)
def test_verdict_words(value, significant, word):
    assert verdict(value, significant=significant) == word


def test_verdict_rejects_nonsense():
    with pytest.raises(ValueError, match="non-negative"):
        verdict(math.nan, significant=True)
    with pytest.raises(TypeError):
        verdict(0.3, True)  # significant is keyword-only
