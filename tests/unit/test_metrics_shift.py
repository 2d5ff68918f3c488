"""Shift metrics on raw samples: PSI, JS, KS, Wasserstein against scipy and plain loops."""

import math

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp, wasserstein_distance

from locust_mlstress.metrics import (
    bin_counts,
    bin_index,
    jensen_shannon,
    js_from_counts,
    ks_statistic,
    psi,
    psi_from_counts,
    quantile_edges,
    wasserstein,
)

INF = math.inf


def loop_quantile(values, q):
    """numpy's default (linear) quantile, written out."""
    x = sorted(values)
    h = (len(x) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(x) - 1)
    return x[lo] + (h - lo) * (x[hi] - x[lo])


def loop_edges(reference, bins):
    inner = []
    for k in range(1, bins):
        q = loop_quantile(reference, k / bins)
        if q not in inner:
            inner.append(q)
    return [-INF, *inner, INF]


def loop_counts(values, edges):
    """Right-closed bins (lo, hi], the first bin also holding its left edge."""
    counts = [0] * (len(edges) - 1)
    for x in values:
        for k in range(len(edges) - 1):
            if edges[k] < x <= edges[k + 1] or (k == 0 and x == edges[0]):
                counts[k] += 1
                break
    return counts


def loop_psi(reference, current, edges):
    e_counts, a_counts = loop_counts(reference, edges), loop_counts(current, edges)
    total = 0.0
    for ec, ac in zip(e_counts, a_counts, strict=True):
        e = ec / len(reference) or 1e-4
        a = ac / len(current) or 1e-4
        total += (a - e) * math.log(a / e)
    return total


@pytest.fixture(scope="module")
def samples():
    rng = np.random.default_rng(42)
    return rng.normal(0, 1, 700), rng.normal(0.3, 1.2, 450)


def test_quantile_edges_match_a_plain_computation(samples):
    ref, _ = samples
    assert quantile_edges(ref, bins=10).tolist() == pytest.approx(loop_edges(ref.tolist(), 10), rel=1e-15)
    assert quantile_edges(ref).size == 11


def test_quantile_edges_drop_duplicates():
    ref = [0, 0, 0, 0, 0, 0, 0, 1, 2, 3]
    edges = quantile_edges(ref, bins=10)
    assert edges[0] == -INF and edges[-1] == INF
    assert (np.diff(edges) > 0).all()
    assert edges.tolist() == loop_edges(ref, 10)


def test_psi_matches_the_loop_on_decile_bins(samples):
    ref, cur = samples
    expected = loop_psi(ref.tolist(), cur.tolist(), loop_edges(ref.tolist(), 10))
    assert psi(ref, cur) == pytest.approx(expected, rel=1e-12)
    assert isinstance(psi(ref, cur), float)


def test_psi_with_given_edges_matches_the_loop(samples):
    ref, cur = samples
    edges = [-INF, -1.0, -0.25, 0.0, 0.5, 2.0, INF]
    assert psi(ref, cur, edges=edges) == pytest.approx(loop_psi(ref, cur, edges), rel=1e-12)


def test_values_exactly_on_edges_fall_in_the_bin_below():
    edges = [-INF, 0.0, 1.0, INF]
    assert bin_counts([0.0, 0.0, 1.0, 2.0, -5.0], edges).tolist() == [3, 1, 1]
    assert bin_index([0.0, 1e-300, 1.0, 1.0000000000000002], edges).tolist() == [0, 1, 1, 2]
    # finite outer edges: the first bin is closed on the left too
    assert bin_counts([0.0, 1.0, 1.5, 2.0], [0.0, 1.0, 2.0]).tolist() == [2, 2]
    assert loop_counts([0.0, 1.0, 1.5, 2.0], [0.0, 1.0, 2.0]) == [2, 2]


def test_values_outside_finite_edges_are_an_error():
    with pytest.raises(ValueError, match=r"outside the bin edges.*-inf/\+inf"):
        bin_counts([0.5, 2.5], [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="outside"):
        psi([0.5], [-0.1], edges=[0.0, 1.0])


def test_psi_on_edge_values_matches_the_loop():
    ref = [0.0, 1.0, 1.0, 2.0, 2.0, 2.0, 3.0]
    cur = [1.0, 1.0, 1.0, 3.0, 3.0, 0.5]
    edges = [0.0, 1.0, 2.0, 3.0]
    assert psi(ref, cur, edges=edges) == pytest.approx(loop_psi(ref, cur, edges), rel=1e-14)
    default = loop_edges(ref, 4)
    assert psi(ref, cur, bins=4) == pytest.approx(loop_psi(ref, cur, default), rel=1e-14)


def test_zero_shares_are_floored_without_renormalising():
    expected = 2 * (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    assert psi_from_counts([5, 5, 0], [0, 5, 5]) == pytest.approx(expected, rel=1e-14)
    assert psi_from_counts([5, 0, 5], [5, 0, 5]) == 0.0  # empty on both sides: no term


def test_identical_inputs_give_zero(samples):
    ref, _ = samples
    assert psi(ref, ref) == 0.0
    assert jensen_shannon(ref, ref) == 0.0
    assert ks_statistic(ref, ref) == 0.0
    assert wasserstein(ref, ref) == 0.0
    shuffled = np.random.default_rng(1).permutation(ref)
    assert psi(ref, shuffled) == 0.0 and ks_statistic(ref, shuffled) == 0.0


def test_psi_is_exactly_psi_from_counts_and_counts_merge(samples):
    ref, cur = samples
    edges = quantile_edges(ref)
    assert psi(ref, cur, edges=edges) == psi_from_counts(bin_counts(ref, edges), bin_counts(cur, edges))
    assert psi(ref, cur) == psi(ref, cur, edges=edges)
    # per-worker histograms add up to the pooled one, so the figure is the pooled figure
    parts = np.array_split(cur, 3)
    merged = sum(bin_counts(p, edges) for p in parts)
    assert psi_from_counts(bin_counts(ref, edges), merged) == psi(ref, cur, edges=edges)
    assert jensen_shannon(ref, cur, edges=edges) == js_from_counts(bin_counts(ref, edges), merged)


@pytest.mark.parametrize("base", [2, math.e, 10])
def test_js_matches_scipy_on_the_binned_shares(samples, base):
    ref, cur = samples
    edges = quantile_edges(ref, bins=8)
    p, q = bin_counts(ref, edges), bin_counts(cur, edges)
    expected = jensenshannon(p / p.sum(), q / q.sum(), base=base)
    assert jensen_shannon(ref, cur, bins=8, base=base) == pytest.approx(expected, rel=1e-12)


def test_js_handles_empty_bins_and_disjoint_supports():
    expected = jensenshannon([0.75, 0, 0.25], [0, 0.5, 0.5], base=2)
    assert js_from_counts([3, 0, 1], [0, 2, 2]) == pytest.approx(expected, rel=1e-14)
    assert js_from_counts([1, 0], [0, 1]) == pytest.approx(1.0)  # base 2: disjoint is the maximum
    with pytest.raises(ValueError, match="base"):
        js_from_counts([1, 1], [1, 1], base=1)


def test_ks_matches_scipy_exactly_including_ties():
    rng = np.random.default_rng(3)
    for _ in range(200):
        a = rng.integers(0, 15, size=rng.integers(1, 400)).astype(float)
        b = rng.normal(7, 4, size=rng.integers(1, 400)).round(1)
        assert ks_statistic(a, b) == ks_2samp(a, b).statistic
    a, b = rng.normal(size=20_000), rng.normal(0.02, 1, size=15_000)  # scipy's asymptotic mode
    assert ks_statistic(a, b) == pytest.approx(ks_2samp(a, b).statistic, rel=1e-14)


def test_ks_plain_definition():
    a, b = [1.0, 2.0, 2.0, 5.0], [2.0, 3.0, 9.0]
    points = sorted(set(a + b))
    expected = max(abs(sum(x <= t for x in a) / 4 - sum(x <= t for x in b) / 3) for t in points)
    assert ks_statistic(a, b) == pytest.approx(expected, rel=1e-15)
    assert ks_statistic([0.0], [1.0]) == 1.0


def test_wasserstein_matches_scipy():
    rng = np.random.default_rng(5)
    for _ in range(100):
        a = rng.gamma(2.0, size=rng.integers(1, 300))
        b = rng.integers(0, 6, size=rng.integers(1, 300)).astype(float)
        assert wasserstein(a, b) == pytest.approx(wasserstein_distance(a, b), rel=1e-12, abs=1e-15)


def test_wasserstein_reads_in_data_units():
    x = np.random.default_rng(6).normal(size=1000)
    assert wasserstein(x, x + 2.5) == pytest.approx(2.5, rel=1e-12)
    assert wasserstein([0.0, 1.0, 3.0], [5.0, 6.0, 8.0]) == pytest.approx(5.0)


@pytest.mark.parametrize("fn", [psi, jensen_shannon, ks_statistic, wasserstein])
def test_nan_and_empty_inputs_are_rejected_clearly(fn):
    with pytest.raises(ValueError, match="reference contains 1 NaN value.*filter them out"):
        fn([1.0, math.nan, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="current contains 2 NaN"):
        fn([1.0, 2.0], [math.nan, math.nan])
    with pytest.raises(ValueError, match="current is empty"):
        fn([1.0, 2.0], [])
    with pytest.raises(ValueError, match="one-dimensional"):
        fn([[1.0, 2.0]], [1.0])


def test_infinite_values_are_rejected_where_they_make_no_sense():
    with pytest.raises(ValueError, match="infinite"):
        wasserstein([1.0, INF], [1.0])
    with pytest.raises(ValueError, match="infinite"):
        psi([1.0, INF], [1.0])  # no quantile edges from an infinite reference
    assert psi([1.0, 2.0], [INF, 2.0], edges=[-INF, 1.5, INF]) > 0
    assert ks_statistic([1.0, INF], [1.0, 2.0]) == 0.5


def test_bad_edges_are_rejected():
    with pytest.raises(ValueError, match="strictly increasing"):
        psi([1.0], [1.0], edges=[0.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="at least 2 edges"):
        psi([1.0], [1.0], edges=[0.0])
    with pytest.raises(ValueError, match="bins must be an integer"):
        psi([1.0], [1.0], bins=0)
