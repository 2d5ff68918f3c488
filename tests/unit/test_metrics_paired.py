import math

import numpy as np
import pytest
from scipy import stats

from locust_mlstress.domain.outcomes import OUTCOMES
from locust_mlstress.metrics.paired import disagreement, mcnemar, worse


@pytest.mark.parametrize(("b", "c"), [(0, 1), (3, 9), (10, 2), (12, 12), (1, 23)])
def test_mcnemar_exact_matches_binomtest(b: int, c: int) -> None:
    r = mcnemar(b, c)
    assert r.method == "exact"
    assert r.p_value == pytest.approx(stats.binomtest(b, b + c, 0.5).pvalue)


def test_mcnemar_chi_square_by_hand() -> None:
    # b=30, c=10: (|30-10|-1)^2/40 = 361/40 = 9.025; p = erfc(sqrt(9.025/2)) for one dof
    r = mcnemar(30, 10)
    assert r.method == "chi2_cc"
    assert r.statistic == pytest.approx(361 / 40)
    assert r.p_value == pytest.approx(math.erfc(math.sqrt(361 / 80)))


@pytest.mark.parametrize(("b", "c"), [(2, 7), (40, 13), (5, 30)])
def test_mcnemar_symmetric(b: int, c: int) -> None:
    assert mcnemar(b, c).p_value == pytest.approx(mcnemar(c, b).p_value)


def test_mcnemar_no_discordant_pairs() -> None:
    assert mcnemar(0, 0).p_value == 1.0


def test_disagreement_interval_coverage() -> None:
    rng = np.random.default_rng(15)
    p, n = 0.03, 500
    hits = 0
    for k in rng.binomial(n, p, size=1000):
        d = disagreement(int(k), n)
        assert d.n == n and d.value == k / n
        hits += d.low <= p <= d.high
    print("coverage", hits / 1000)
    assert 0.93 <= hits / 1000 <= 0.97


def test_worse_table() -> None:
    good = {"ok", "rejected"}
    for a in OUTCOMES:
        for b in OUTCOMES:
            expected = a in good and b not in good
            assert worse(a, b) is expected, (a, b)
    assert worse("rejected", "accepted_malformed")
    assert not worse("timeout", "ok")
    assert not worse("timeout", "server_error")
