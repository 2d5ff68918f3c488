"""Figures for comparing two model versions on the same requests (champion/challenger, issue 15).

Each request goes to both versions, so the comparisons are paired: the test of a difference in
accuracy uses only the discordant pairs (McNemar), and the share of disagreeing predictions is a
proportion with Wilson's interval, reused from :mod:`locust_mlstress.metrics.proportion`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from scipy import stats

from locust_mlstress.domain.outcomes import SUCCESSES
from locust_mlstress.metrics.proportion import wilson_interval

MCNEMAR_EXACT_BELOW = 25  # discordant pairs under which the exact binomial test is used


class McNemarResult(NamedTuple):
    statistic: float
    p_value: float
    method: str  # "exact", "chi2_cc" or "none"


class Proportion(NamedTuple):
    value: float
    low: float
    high: float
    n: int


def mcnemar(b: int, c: int) -> McNemarResult:
    """McNemar's test of equal accuracy from the discordant pairs: ``b`` pairs only the champion
    got right, ``c`` only the challenger. Concordant pairs carry no information about the
    difference, so they are not arguments.

    Rule: with fewer than 25 discordant pairs the chi-square approximation is poor, so the exact
    two-sided binomial test of ``b`` out of ``b + c`` at 1/2 is used (statistic = ``b``);
    otherwise the chi-square with Edwards' continuity correction, ``(|b − c| − 1)² / (b + c)`` on
    one degree of freedom. With no discordant pair there is no evidence either way: p = 1.
    """
    for name, v in (("b", b), ("c", c)):
        if isinstance(v, bool) or int(v) != v or v < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
    b, c = int(b), int(c)
    n = b + c
    if n == 0:
        return McNemarResult(0.0, 1.0, "none")
    if n < MCNEMAR_EXACT_BELOW:
        p = float(stats.binomtest(b, n, 0.5).pvalue)
        return McNemarResult(float(b), min(1.0, p), "exact")
    statistic = (abs(b - c) - 1) ** 2 / n if b != c else 0.0
    p = float(stats.chi2.sf(statistic, 1))
    return McNemarResult(float(statistic), p, "chi2_cc")


def disagreement(disagree: int, n: int) -> Proportion:
    """Share of compared instances on which the versions disagree, with Wilson's 95% interval:
    small shares near 0 are the usual case, where the normal interval would cross 0."""
    low, high = wilson_interval(disagree, n)
    return Proportion(disagree / n if n else math.nan, low, high, n)


def accuracy_delta(b: int, c: int, n: int, z: float = 1.959963984540054) -> Proportion:
    """Challenger's accuracy minus the champion's over `n` paired instances, with a 95% Wald
    interval for paired proportions: ``(c − b) / n ± z·sqrt(b + c − (c − b)²/n) / n``. Only the
    discordant pairs carry the difference, so with none the interval is exactly [0, 0]: the two
    versions were right on the very same instances."""
    if n <= 0:
        return Proportion(math.nan, math.nan, math.nan, 0)
    d = (c - b) / n
    half = z * math.sqrt(max(0.0, b + c - (c - b) ** 2 / n)) / n
    return Proportion(d, max(-1.0, d - half), min(1.0, d + half), n)


def quantile_ranks(n: int, q: float, confidence: float = 0.95) -> tuple[int, int] | None:
    """1-based ranks (low, high) of the order statistics that bracket the `q` quantile of `n`
    values with at least `confidence`, whatever the distribution (the count of values below a
    quantile is binomial(n, q)); None when `n` is too small for such an interval (a p99 of 100
    values has none: the largest value is not above the p99 often enough)."""
    if n <= 0 or not 0 < q < 1:
        return None
    tail = (1 - confidence) / 2
    low = int(stats.binom.ppf(tail, n, q))  # P(X <= low - 1) <= tail: the low-th value is at or below
    high = int(stats.binom.ppf(1 - tail, n, q)) + 1
    if low < 1 or high > n:
        return None
    return low, high


def worse(champion: str, challenger: str) -> bool:
    """Whether the pair's outcome transition is a regression for the challenger.

    A regression is a success (ok, rejected) for the champion turning into a non-success for the
    challenger; that covers rejected → accepted_malformed, since accepting malformed input is not
    a success. Non-success → success is an improvement, same → same is neither, and a change
    between two non-successes (say timeout → server_error) is counted as neither: both failed,
    and ranking kinds of failure is a judgement this figure does not make.
    """
    return champion in SUCCESSES and challenger not in SUCCESSES
