"""Clean draws follow their distributions and label model; drift moves them as documented."""

from dataclasses import replace

import numpy as np
import pytest

from locust_mlstress.domain.schema import Schedule
from locust_mlstress.payloads.clean import CleanSampler
from locust_mlstress.payloads.drift import apply_drift, strength

N = 20_000


@pytest.fixture(scope="module")
def sampler(quickstart):
    return CleanSampler(quickstart)


@pytest.fixture(scope="module")
def batch(sampler):
    return sampler.draw(np.random.default_rng(0), N)


def _variant(profile, name):
    return next(v for v in profile.drift if v.name == name)


def test_parametric_columns_follow_their_distributions(batch):
    c = batch.columns
    assert c["age"].dtype == np.int64 and abs(c["age"].mean() - 42) < 0.5
    assert abs(np.log(c["income_k"]).mean() - 3.9) < 0.02
    assert c["tenure_months"].min() >= 0 and c["tenure_months"].max() <= 120
    assert abs((c["plan"] == "premium").mean() - 0.2) < 0.02
    assert abs(c["autopay"].mean() - 0.6) < 0.02
    words = np.array([len(s.split()) for s in c["last_note"]])
    assert words.min() == 1 and words.max() == 6


def test_clean_values_stay_inside_their_domain(batch):
    assert batch.columns["age"].min() >= 18 and batch.columns["monthly_charges"].min() >= 0


def test_labels_follow_the_label_model(batch):
    """Binned by true P(y|x), the observed rate matches the probability: the truth is known."""
    bins = np.digitize(batch.label_probs, np.linspace(0, 1, 6)[1:-1])
    for b in range(5):
        sel = bins == b
        if sel.sum() > 500:
            assert abs(batch.labels[sel].mean() - batch.label_probs[sel].mean()) < 0.03


def test_mean_shift_moves_the_mean_by_shift_standard_deviations(quickstart, sampler, batch):
    v = _variant(quickstart, "older_customers")
    moved = apply_drift(v, batch, sampler, np.random.default_rng(1))
    shift = moved.columns["age"].mean() - batch.columns["age"].mean()
    expected = v.shift * sampler.stats["age"].std
    assert abs(shift - expected) < 0.1 * expected  # clipping at max=100 takes a little off
    assert moved.columns["age"].max() <= 100


def test_recomputed_labels_follow_drifted_features_and_kept_ones_do_not(quickstart, sampler, batch):
    shifted = apply_drift(_variant(quickstart, "older_customers"), batch, sampler, np.random.default_rng(1))
    assert shifted.labels.mean() < batch.labels.mean()  # older customers churn less (weight -0.02)
    kept = apply_drift(_variant(quickstart, "income_in_dollars"), batch, sampler, np.random.default_rng(1))
    assert np.array_equal(kept.labels, batch.labels)
    assert np.allclose(kept.columns["income_k"], batch.columns["income_k"] * 1000)


def test_missing_values_at_their_rate(quickstart, sampler, batch):
    moved = apply_drift(_variant(quickstart, "missing_tickets"), batch, sampler, np.random.default_rng(2))
    missing = np.array([v is None for v in moved.columns["support_tickets"]])
    assert abs(missing.mean() - 0.5) < 0.02
    assert moved.columns["age"] is batch.columns["age"]  # untouched features are not copied


def test_category_reweight(quickstart, sampler, batch):
    v = _variant(quickstart, "premium_surge")
    moved = apply_drift(v, batch, sampler, np.random.default_rng(3))
    assert abs((moved.columns["plan"] == "premium").mean() - v.weights[2] / sum(v.weights)) < 0.02


def test_prior_shift_reaches_its_rate(quickstart, sampler, batch):
    v = _variant(quickstart, "churn_wave")
    moved = apply_drift(v, batch, sampler, np.random.default_rng(4))
    assert abs(moved.labels.mean() - v.positive_rate) < 0.02
    assert moved.labels.mean() > batch.labels.mean() + 0.3


def test_unseen_category_and_outliers(quickstart, sampler, batch):
    base = _variant(quickstart, "premium_surge")
    unseen = replace(base, type="unseen_category", rate=0.3)
    moved = apply_drift(unseen, batch, sampler, np.random.default_rng(5))
    novel = ~np.isin(moved.columns["plan"], ["basic", "standard", "premium"])
    assert abs(novel.mean() - 0.3) < 0.02
    outliers = replace(_variant(quickstart, "older_customers"), type="outliers", rate=0.1, tail_scale=10.0)
    moved = apply_drift(outliers, batch, sampler, np.random.default_rng(6))
    changed = moved.columns["age"] != batch.columns["age"]
    assert 0.05 < changed.mean() <= 0.1


@pytest.mark.parametrize(
    ("schedule", "t", "share"),
    [
        (Schedule("constant", strength=0.4), 99.0, 0.4),
        (Schedule("sudden", at=10.0), 9.9, 0.0),
        (Schedule("sudden", at=10.0), 10.0, 1.0),
        (Schedule("gradual", at=10.0, duration=20.0), 5.0, 0.0),
        (Schedule("gradual", at=10.0, duration=20.0), 20.0, 0.5),
        (Schedule("gradual", at=10.0, duration=20.0), 60.0, 1.0),
        (Schedule("recurring", period=40.0), 0.0, 0.0),
        (Schedule("recurring", period=40.0), 20.0, 1.0),
        (Schedule("recurring", period=40.0, strength=0.5), 10.0, 0.25),
    ],
)
def test_schedule_strength(schedule, t, share):
    assert strength(schedule, t) == pytest.approx(share)


def test_dataset_source_resamples_rows_with_replacement():
    from locust_mlstress.profile import load_profile
    from tests.conftest import PROFILES

    profile = load_profile(PROFILES / "loans_dataset.toml")
    sampler = CleanSampler(profile)
    b = sampler.draw(np.random.default_rng(0), 2000)
    assert set(b.columns) == {f.name for f in profile.features}
    assert b.labels is not None and set(np.unique(b.labels)) == {0, 1}
    assert len({tuple(r) for r in zip(*b.columns.values(), strict=True)}) <= 400  # the file has 400 rows
