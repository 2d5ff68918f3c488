"""Binned (streaming) metrics: exact PSI/JS through coarse bins, and proven KS/Wasserstein bounds."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ks_2samp, wasserstein_distance

from locust_mlstress.metrics import (
    bin_counts,
    coarse_edges,
    jensen_shannon,
    js_from_counts,
    ks_from_counts,
    ks_statistic,
    psi,
    psi_from_counts,
    regroup,
    wasserstein,
    wasserstein_from_counts,
)

INF = math.inf
FINE = np.linspace(-6.0, 6.0, 241)  # what an accumulator might keep: 240 fine bins of 0.05


def draw(seed, n, shift=0.0, scale=1.0):
    return np.clip(np.random.default_rng(seed).normal(shift, scale, n), -6.0, 6.0)


def test_coarse_edges_sit_near_the_reference_deciles():
    ref = draw(0, 5000)
    edges = coarse_edges(FINE, bin_counts(ref, FINE))
    assert edges[0] == -INF and edges[-1] == INF and edges.size == 11
    assert set(edges[1:-1]) <= set(FINE[1:-1])
    shares = bin_counts(ref, edges) / ref.size
    assert np.abs(shares - 0.1).max() < 0.025  # within one fine bin of each decile


def test_coarse_edges_pick_the_closest_cumulative_share_plainly():
    fine = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    counts = [1, 5, 0, 3, 1]  # cumulative shares at interior edges 1..4: 0.1, 0.6, 0.6, 0.9
    # quartiles: 0.25 -> edge 1; 0.5 -> edge 2 (edges 2 and 3 tie: the lower wins); 0.75 is
    # equally far from 0.6 and 0.9 on paper, so let a plain loop decide, rounding included
    cum = np.cumsum(counts)[:-1] / 10
    expected = set()
    for k in range(1, 4):
        dist = [abs(c - k / 4) for c in cum]
        expected.add(fine[1 + dist.index(min(dist))])
    assert coarse_edges(fine, counts, bins=4).tolist() == [-INF, *sorted(expected), INF]


def test_coarse_edges_degenerate_cases():
    assert coarse_edges([0.0, 1.0], [7]).tolist() == [-INF, INF]
    # all the mass in one fine bin: the best split keeps that bin whole
    assert coarse_edges([0.0, 1.0, 2.0, 3.0], [0, 9, 0]).tolist() == [-INF, 1.0, 2.0, INF]
    with pytest.raises(ValueError, match="reference_counts has 2 bins, expected 3"):
        coarse_edges([0.0, 1.0, 2.0, 3.0], [1, 2])
    with pytest.raises(ValueError, match="empty"):
        coarse_edges([0.0, 1.0, 2.0], [0, 0])


def test_regroup_sums_fine_bins_plainly():
    fine = [0.0, 1.0, 2.0, 3.0, 4.0]
    assert regroup([1, 2, 3, 4], fine, [-INF, 1.0, 3.0, INF]).tolist() == [1, 5, 4]
    assert regroup([1, 2, 3, 4], fine, [0.0, 2.0, 4.0]).tolist() == [3, 7]
    assert regroup(np.array([0.5, 0.25, 0.25, 0.0]), fine, [-INF, INF]).tolist() == [1.0]
    with pytest.raises(ValueError, match=r"\[2.5\] are not interior fine edges"):
        regroup([1, 2, 3, 4], fine, [-INF, 2.5, INF])
    with pytest.raises(ValueError, match="outer edges"):
        regroup([1, 2, 3, 4], fine, [1.0, 2.0, INF])
    with pytest.raises(ValueError, match="not interior"):
        regroup([1, 2, 3, 4], fine, [-INF, 0.0, INF])


@pytest.mark.parametrize("shift", [0.0, 0.1, 0.5])
def test_psi_from_regrouped_fine_counts_equals_raw_psi_exactly(shift):
    ref, cur = draw(1, 3000), draw(2, 1700, shift=shift)
    ref_fine, cur_fine = bin_counts(ref, FINE), bin_counts(cur, FINE)
    coarse = coarse_edges(FINE, ref_fine)
    streamed = psi_from_counts(regroup(ref_fine, FINE, coarse), regroup(cur_fine, FINE, coarse))
    assert streamed == psi(ref, cur, edges=coarse)
    js_streamed = js_from_counts(regroup(ref_fine, FINE, coarse), regroup(cur_fine, FINE, coarse))
    assert js_streamed == jensen_shannon(ref, cur, edges=coarse)
    assert streamed == pytest.approx(psi(ref, cur), abs=0.02)  # and close to decile PSI


def test_regroup_is_exact_for_values_on_fine_edges():
    ref = np.round(draw(3, 2000), 1)  # many values exactly on fine edges (multiples of 0.05)
    cur = np.round(draw(4, 2000, shift=0.2), 1)
    ref_fine, cur_fine = bin_counts(ref, FINE), bin_counts(cur, FINE)
    coarse = coarse_edges(FINE, ref_fine)
    assert psi_from_counts(regroup(ref_fine, FINE, coarse), regroup(cur_fine, FINE, coarse)) == psi(
        ref, cur, edges=coarse
    )


def loop_ks_bounds(ref_counts, cur_counts):
    n, m = sum(ref_counts), sum(cur_counts)
    fa = fb = 0.0
    lower, upper = 0.0, 0.0
    for a, b in zip(ref_counts, cur_counts, strict=True):
        d = fa - fb
        upper = max(upper, d + a / n, b / m - d)
        fa, fb = fa + a / n, fb + b / m
        lower = max(lower, abs(fa - fb))
    return lower, max(upper, lower)


@pytest.mark.parametrize("seed", range(5))
def test_ks_from_counts_brackets_the_true_d(seed):
    rng = np.random.default_rng(seed)
    ref, cur = draw(seed, 800), draw(seed + 100, 600, shift=rng.uniform(0, 0.4), scale=rng.uniform(0.8, 1.3))
    edges = np.linspace(-6, 6, rng.integers(5, 60))
    rc, cc = bin_counts(ref, edges), bin_counts(cur, edges)
    bounds = ks_from_counts(rc, cc)
    true_d = ks_2samp(ref, cur).statistic
    assert bounds.lower <= true_d <= bounds.upper
    assert (bounds.lower, bounds.upper) == pytest.approx(loop_ks_bounds(rc.tolist(), cc.tolist()), rel=1e-12)
    most_one_bin_hides = max((rc / rc.sum()).max(), (cc / cc.sum()).max())
    assert bounds.upper <= bounds.lower + most_one_bin_hides + 1e-15


def test_ks_from_counts_upper_bound_is_attained():
    edges = [0.0, 1.0]  # one bin: the histograms say nothing, and D can be anything up to 1
    assert ks_from_counts([5], [3]) == (0.0, 1.0)
    assert ks_statistic([0.01] * 5, [0.99] * 3) == 1.0
    assert bin_counts([0.01] * 5, edges).tolist() == [5]
    rc, cc = bin_counts(draw(7, 5000), FINE), bin_counts(draw(8, 5000, shift=0.2), FINE)
    fine = ks_from_counts(rc, cc)
    # fine bins: a tight interval, at most the largest bin share (~2% for 0.05-wide bins here)
    assert fine.upper - fine.lower <= max(rc.max() / rc.sum(), cc.max() / cc.sum()) < 0.025


def test_identical_histograms():
    assert ks_from_counts([3, 0, 5], [6, 0, 10]).lower == 0.0
    w = wasserstein_from_counts([0.0, 1.0, 2.0, 3.0], [3, 0, 5], [6, 0, 10])
    assert w.estimate == 0.0 and w.lower == 0.0 and w.upper > 0.0
    assert psi_from_counts([3, 0, 5], [6, 0, 10]) == 0.0 and js_from_counts([3, 0, 5], [6, 0, 10]) == 0.0


def test_wasserstein_from_counts_simple_case_and_sharp_bounds():
    # reference in [0, 1], current in (1, 2]: uniform spreading says 1; the data could say
    # almost 0 (both near 1) or 2 (reference at 0, current at 2)
    w = wasserstein_from_counts([0.0, 1.0, 2.0], [4, 0], [0, 4])
    assert w == pytest.approx((1.0, 0.0, 2.0))
    assert wasserstein([1.0], [1.0 + 1e-9]) < 1e-8 and wasserstein([0.0], [2.0]) == 2.0


@pytest.mark.parametrize("seed", range(6))
def test_wasserstein_from_counts_brackets_the_true_distance(seed):
    rng = np.random.default_rng(seed)
    ref = draw(seed, 900, scale=rng.uniform(0.5, 1.5))
    cur = draw(seed + 50, 700, shift=rng.uniform(-0.5, 0.5), scale=rng.uniform(0.5, 1.5))
    edges = np.sort(np.concatenate(([-6.0, 6.0], rng.uniform(-6, 6, rng.integers(3, 40)))))
    rc, cc = bin_counts(ref, edges), bin_counts(cur, edges)
    w = wasserstein_from_counts(edges, rc, cc)
    true_w = wasserstein_distance(ref, cur)
    assert w.lower <= true_w <= w.upper
    widths = np.diff(edges)
    slack = float(np.sum(widths * (rc / rc.sum() + cc / cc.sum()) / 2))
    assert abs(true_w - w.estimate) <= slack <= widths.max() + 1e-12
    assert w.lower <= w.estimate <= w.upper


def test_wasserstein_from_counts_is_close_with_fine_bins():
    ref, cur = draw(11, 20_000), draw(12, 20_000, shift=0.3)
    w = wasserstein_from_counts(FINE, bin_counts(ref, FINE), bin_counts(cur, FINE))
    assert w.estimate == pytest.approx(wasserstein(ref, cur), abs=0.005)
    assert w.upper - w.lower <= 2 * 0.05


def test_wasserstein_from_counts_infinite_bins():
    edges = [-INF, 0.0, 1.0, INF]
    assert wasserstein_from_counts(edges, [0, 3, 0], [0, 3, 0]).estimate == 0.0
    with pytest.raises(ValueError, match="infinite width holds values"):
        wasserstein_from_counts(edges, [1, 3, 0], [0, 3, 0])
    with pytest.raises(ValueError, match="counts have 2 bins but edges define 3"):
        wasserstein_from_counts(edges, [1, 3], [0, 3])


@pytest.mark.parametrize("fn", [psi_from_counts, js_from_counts, ks_from_counts])
def test_bad_counts_are_rejected(fn):
    with pytest.raises(ValueError, match="current_counts has 2 bins, expected 3"):
        fn([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="non-negative"):
        fn([1, -2, 3], [1, 2, 3])
    with pytest.raises(ValueError, match="reference_counts is empty"):
        fn([0, 0], [1, 2])


values = st.lists(st.floats(-100, 100, allow_nan=False), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(values, values, st.lists(st.floats(-100, 100), min_size=1, max_size=12, unique=True))
def test_binned_bounds_always_hold(ref, cur, inner):
    edges = np.array([-100.0, *sorted(x for x in inner if -100 < x < 100), 100.0])
    edges = np.unique(edges)
    rc, cc = bin_counts(ref, edges), bin_counts(cur, edges)
    ks = ks_from_counts(rc, cc)
    assert ks.lower - 1e-12 <= ks_statistic(ref, cur) <= ks.upper + 1e-12
    w = wasserstein_from_counts(edges, rc, cc)
    true_w = wasserstein(ref, cur)
    assert w.lower - 1e-9 <= true_w <= w.upper + 1e-9
    assert psi_from_counts(rc, cc) >= 0 and 0 <= js_from_counts(rc, cc) <= 1


@settings(max_examples=100, deadline=None)
@given(values, values, st.integers(1, 12))
def test_coarse_psi_from_fine_counts_is_exact(ref, cur, bins):
    fine = np.linspace(-100, 100, 81)
    rf, cf = bin_counts(ref, fine), bin_counts(cur, fine)
    coarse = coarse_edges(fine, rf, bins=bins)
    streamed = psi_from_counts(regroup(rf, fine, coarse), regroup(cf, fine, coarse))
    assert streamed == psi(ref, cur, edges=coarse)


def test_results_are_plain_python_numbers():
    """Figures go into msgpack messages and JSON: numpy scalars there break Locust workers."""
    ref, cur = draw(20, 300), draw(21, 200, shift=0.3)
    rc, cc = bin_counts(ref, FINE), bin_counts(cur, FINE)
    figures = [
        psi(ref, cur),
        jensen_shannon(ref, cur),
        ks_statistic(ref, cur),
        wasserstein(ref, cur),
        psi_from_counts(rc, cc),
        js_from_counts(rc, cc),
        *ks_from_counts(rc, cc),
        *wasserstein_from_counts(FINE, rc, cc),
    ]
    assert all(type(v) is float for v in figures)
