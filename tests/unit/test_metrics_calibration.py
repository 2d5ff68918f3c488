"""Calibration metrics against scikit-learn and plain loops; per-bin sums agree with the arrays."""

import math

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss

from locust_mlstress.metrics import (
    Calibration,
    brier_score,
    calibration,
    calibration_bin_index,
    calibration_bins,
    calibration_from_bins,
    expected_calibration_error,
    max_calibration_error,
    multiclass_brier_score,
    top_label,
)


def loop_bins(y, p, n_bins):
    """Bins of sklearn's calibration_curve, written out: (e_k, e_k+1], p = 0 in bin 0."""
    edges = np.linspace(0.0, 1.0, n_bins + 1).tolist()
    groups = [[] for _ in range(n_bins)]
    for yi, pi in zip(y, p, strict=True):
        k = next(k for k in range(n_bins) if pi <= edges[k + 1] or k == n_bins - 1)
        groups[k].append((yi, pi))
    return groups


def loop_ece_mce(y, p, n_bins=10):
    groups = loop_bins(y, p, n_bins)
    ece, mce = 0.0, 0.0
    for g in groups:
        if g:
            gap = abs(sum(yi for yi, _ in g) / len(g) - sum(pi for _, pi in g) / len(g))
            ece += len(g) / len(y) * gap
            mce = max(mce, gap)
    return ece, mce


@pytest.fixture(scope="module")
def predictions():
    rng = np.random.default_rng(9)
    p = rng.beta(2, 3, 1500)
    y = (rng.uniform(size=p.size) < np.clip(p * 1.2, 0, 1)).astype(int)  # under-confident model
    return y, p


EDGE_VALUES = [0.0, 0.1, 0.2, 0.3, 0.30000000000000004, 0.7, 0.9, 1.0, 1e-12, 0.5, 0.6000000000000001]


def test_bin_index_on_edges():
    assert calibration_bin_index([0.0, 0.1, 0.1 + 1e-12, 0.5, 0.95, 1.0]).tolist() == [0, 0, 1, 4, 9, 9]
    # the edge stored by linspace decides: 0.3 sits below the 0.30000000000000004 edge
    assert calibration_bin_index([0.3, 0.30000000000000004, 0.3000000000000001]).tolist() == [2, 2, 3]
    assert calibration_bin_index([0.0, 0.5, 1.0], n_bins=1).tolist() == [0, 0, 0]


@pytest.mark.parametrize("value", EDGE_VALUES)
@pytest.mark.parametrize("n_bins", [5, 10, 15])
def test_bin_assignment_matches_sklearn_behaviour(value, n_bins):
    """Two predictions share a bin for sklearn iff calibration_curve returns one point for them."""
    neighbours = [max(value - 0.5 / n_bins, 0.0), min(value + 0.5 / n_bins, 1.0), value - 1e-9, value + 1e-9]
    for other in neighbours:
        if not 0.0 <= other <= 1.0:
            continue
        prob_true, _ = calibration_curve([0, 1], [value, other], n_bins=n_bins)
        ours = calibration_bin_index([value, other], n_bins=n_bins)
        assert (prob_true.size == 1) == (ours[0] == ours[1]), (value, other)


@pytest.mark.parametrize("n_bins", [3, 10, 20])
def test_bin_means_match_sklearn_calibration_curve(predictions, n_bins):
    y, p = predictions
    p = np.concatenate((p, EDGE_VALUES))
    y = np.concatenate((y, [0, 1] * 5 + [1]))
    prob_true, prob_pred = calibration_curve(y, p, n_bins=n_bins)
    bins = calibration_bins(y, p, n_bins=n_bins)
    full = bins.count > 0
    assert np.allclose(bins.sum_y[full] / bins.count[full], prob_true, rtol=1e-12)
    assert np.allclose(bins.sum_p[full] / bins.count[full], prob_pred, rtol=1e-12)


@pytest.mark.parametrize("n_bins", [1, 7, 10, 25])
def test_ece_and_mce_match_the_loop(predictions, n_bins):
    y, p = predictions
    ece, mce = loop_ece_mce(y.tolist(), p.tolist(), n_bins)
    assert expected_calibration_error(y, p, n_bins=n_bins) == pytest.approx(ece, rel=1e-12)
    assert max_calibration_error(y, p, n_bins=n_bins) == pytest.approx(mce, rel=1e-12)
    assert isinstance(expected_calibration_error(y, p), float)


def test_ece_on_edge_probabilities_matches_the_loop():
    p = [0.0, 0.0, 0.1, 0.1, 0.3, 0.3, 1.0, 1.0, 0.5, 0.55]
    y = [0, 1, 0, 0, 1, 1, 1, 0, 1, 0]
    ece, mce = loop_ece_mce(y, p)
    result = calibration(y, p)
    assert result.ece == pytest.approx(ece, rel=1e-14) and result.mce == pytest.approx(mce, rel=1e-14)
    # by hand: bins {0,0,.1,.1}, {.3,.3}, {.5}, {.55}, {1,1}: gaps 1-.2, 2-.6, .5, .55, 1
    assert result.ece == pytest.approx((0.8 + 1.4 + 0.5 + 0.55 + 1.0) / 10, rel=1e-14)
    assert result.mce == pytest.approx(0.7, rel=1e-14)


def test_brier_matches_sklearn(predictions):
    y, p = predictions
    assert brier_score(y, p) == pytest.approx(brier_score_loss(y, p), rel=1e-12)
    assert calibration(y, p).brier == pytest.approx(brier_score_loss(y, p), rel=1e-12)
    assert brier_score([1, 0], [1.0, 0.0]) == 0.0 and brier_score([1, 0], [0.0, 1.0]) == 1.0


def test_single_class_labels():
    p = np.random.default_rng(2).uniform(size=300)
    assert expected_calibration_error(np.zeros(300), p) == pytest.approx(p.mean(), rel=1e-12)
    assert expected_calibration_error(np.ones(300, dtype=bool), p) == pytest.approx(1 - p.mean(), rel=1e-12)
    assert brier_score(np.zeros(300), p) == pytest.approx(brier_score_loss(np.zeros(300), p, labels=[0, 1]))


def test_a_perfect_bin_has_no_gap():
    assert calibration([0, 1], [0.5, 0.5]) == Calibration(0.0, 0.0, 0.25, 2)


def test_per_bin_sums_agree_with_the_arrays(predictions):
    y, p = predictions
    whole = calibration(y, p, n_bins=15)
    # accumulate as a run would: several chunks (workers, windows), summed bin by bin
    parts = [calibration_bins(y[s], p[s], n_bins=15) for s in np.array_split(np.arange(y.size), 7)]
    summed = [sum(getattr(b, f) for b in parts) for f in ("count", "sum_p", "sum_y", "sum_sq_err")]
    merged = calibration_from_bins(*summed)
    assert merged.n == whole.n == y.size
    for name in ("ece", "mce", "brier"):
        assert np.isclose(getattr(merged, name), getattr(whole, name), rtol=1e-12, atol=0)
    b = calibration_bins(y, p, n_bins=15)
    assert calibration_from_bins(b.count, b.sum_p, b.sum_y, b.sum_sq_err) == whole  # one formula


def test_empty_bins_are_skipped_and_no_data_is_nan():
    result = calibration_from_bins([0, 2, 0], [0.0, 0.8, 0.0], [0.0, 1.0, 0.0], [0.0, 0.34, 0.0])
    assert result == pytest.approx((0.1, 0.1, 0.17, 2))
    empty = calibration_from_bins(np.zeros(10), np.zeros(10), np.zeros(10), np.zeros(10))
    assert empty.n == 0 and all(math.isnan(v) for v in (empty.ece, empty.mce, empty.brier))
    with pytest.raises(ValueError, match="sum_y must have one entry per bin"):
        calibration_from_bins([1, 1], [0.5, 0.5], [1.0], [0.25, 0.25])


@pytest.mark.parametrize("fn", [expected_calibration_error, max_calibration_error, brier_score, calibration])
def test_invalid_inputs_are_rejected_clearly(fn):
    with pytest.raises(ValueError, match=r"y_prob contains 1 NaN"):
        fn([0, 1], [0.5, math.nan])
    with pytest.raises(ValueError, match=r"outside \[0, 1\].*not scores or logits"):
        fn([0, 1], [0.5, 1.2])
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        fn([0, 1], [-1e-9, 0.5])
    with pytest.raises(ValueError, match="binary labels 0/1"):
        fn([0, 2], [0.5, 0.5])
    with pytest.raises(ValueError, match="one label per prediction"):
        fn([0, 1, 1], [0.5, 0.5])
    with pytest.raises(ValueError, match="empty"):
        fn([], [])


def test_top_label_and_multiclass_brier_match_loops():
    rng = np.random.default_rng(4)
    probs = rng.dirichlet([1, 2, 3, 1], size=400)
    y = rng.integers(0, 4, 400)
    conf, correct = top_label(y, probs)
    assert conf.tolist() == [max(row) for row in probs.tolist()]
    assert correct.tolist() == [float(int(np.argmax(r)) == t) for r, t in zip(probs, y, strict=True)]
    brier = sum(sum((pk - (k == t)) ** 2 for k, pk in enumerate(r)) for r, t in zip(probs, y, strict=True))
    assert multiclass_brier_score(y, probs) == pytest.approx(brier / 400, rel=1e-12)
    ece, _ = loop_ece_mce(correct.tolist(), conf.tolist())
    assert expected_calibration_error(correct, conf) == pytest.approx(ece, rel=1e-12)


def test_multiclass_brier_is_twice_binary_for_two_classes(predictions):
    y, p = predictions
    two = np.column_stack((1 - p, p))
    assert multiclass_brier_score(y, two) == pytest.approx(2 * brier_score(y, p), rel=1e-12)
    with pytest.raises(ValueError, match="class indices in 0..1"):
        multiclass_brier_score(np.full(y.size, 2), two)
    with pytest.raises(ValueError, match="2-D"):
        top_label(y, p)
