"""What the figures look like with no real effect, and the verdict words.

Sampling noise alone makes PSI and ECE positive: two samples from *one* distribution never
have identical bin shares, and a perfectly calibrated model never has Σy = Σp in every bin.
At the sample sizes of a short load test this noise is of the same size as the rules of
thumb (PSI 0.18 at 100 vs 100 on 10 bins, above the 0.1 "moderate" line), so a gate must
compare a figure with its noise level before calling it a shift.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import chi2

from locust_mlstress.metrics import _checks

PSI_MODERATE = 0.1
"""PSI at or above this (and up to ``PSI_MAJOR``) reads "moderate" shift (industry rule of thumb)."""
PSI_MAJOR = 0.25
"""PSI above this reads "major" shift (industry rule of thumb)."""


def _sizes(n, m) -> float:
    n = _checks.positive_int(n, "n")
    m = _checks.positive_int(m, "m")
    return 1.0 / n + 1.0 / m


def psi_noise(n: int, m: int, *, bins: int = 10) -> float:
    """Mean PSI between samples of sizes ``n`` and ``m`` from one distribution: ``(bins−1)(1/n + 1/m)``.

    Why: for small differences ``(a − e)·ln(a/e) ≈ (a − e)²/e``, and with independent
    multinomial shares ``Σ_k (a_k − e_k)²/p_k ≈ (1/n + 1/m)·χ²(bins − 1)``, whose mean is
    ``bins − 1``. With 10 bins and n = m = 100 that is 0.18.
    """
    bins = _checks.positive_int(bins, "bins", minimum=2)
    return float((bins - 1) * _sizes(n, m))


def psi_threshold(n: int, m: int, *, bins: int = 10, alpha: float = 0.01) -> float:
    """PSI exceeded with probability ~``alpha`` when nothing shifted: ``(1/n + 1/m)·χ²_{1−α}(bins−1)``.

    A PSI above this is unlikely to be sampling noise. The χ² approximation is good once every
    bin expects a handful of values (n/bins >= ~5); below that the 1e-4 floor distorts PSI.
    """
    bins = _checks.positive_int(bins, "bins", minimum=2)
    alpha = _checks.probability(alpha, "alpha")
    return float(_sizes(n, m) * chi2.ppf(1.0 - alpha, bins - 1))


def ks_threshold(n: int, m: int, *, alpha: float = 0.01) -> float:
    """Asymptotic critical KS D: ``sqrt(−ln(α/2)/2)·sqrt((n + m)/(n·m))``.

    The Kolmogorov distribution's tail ``P(√(nm/(n+m))·D > c) ≈ 2·exp(−2c²)``, solved for c.
    Slightly conservative for small samples (D is discrete).
    """
    alpha = _checks.probability(alpha, "alpha")
    return float(math.sqrt(-math.log(alpha / 2.0) / 2.0) * math.sqrt(_sizes(n, m)))


def _bin_variances(count, sum_p, sum_p2) -> tuple[np.ndarray, float]:
    c = _checks.counts(count, "count", allow_empty=True)
    sp = np.asarray(sum_p, dtype=np.float64)
    sp2 = np.asarray(sum_p2, dtype=np.float64)
    if sp.shape != c.shape or sp2.shape != c.shape:
        raise ValueError(f"sum_p and sum_p2 must have one entry per bin ({c.size})")
    # Σ p(1 − p) = Σp − Σp²; clip the rounding of nearly deterministic bins.
    return np.maximum(sp - sp2, 0.0), float(c.sum())


def ece_noise(count, sum_p, sum_p2) -> float:
    """Expected ECE of a *perfectly calibrated* model with these bins.

    In bin b, ``Σy − Σp`` has mean 0 and variance ``Σ p(1 − p) = Σp − Σp²`` when y ~ Bernoulli(p);
    with the normal approximation ``E|Σy − Σp| = sqrt(2/π · Var)``, so
    ``E[ECE] ≈ (1/N)·Σ_b sqrt(2/π · (Σp_b − Σp²_b))``. It shrinks like ``1/sqrt(N)`` and is what
    an observed ECE should be compared with. N = 0 gives NaN.
    """
    var, n = _bin_variances(count, sum_p, sum_p2)
    if n == 0:
        return float("nan")
    return float(np.sum(np.sqrt(2.0 / math.pi * var)) / n)


def ece_threshold(count, sum_p, sum_p2, *, alpha: float = 0.01, rng_seed: int = 0, draws: int = 2000) -> float:
    """``1 − alpha`` quantile of ECE under perfect calibration, by seeded Monte Carlo.

    Each draw sets ``Σy_b ~ Normal(Σp_b, Σp_b − Σp²_b)`` independently per bin (the normal
    approximation of a sum of Bernoullis) and computes ECE; the result is deterministic for a
    given seed. An ECE above it is unlikely (< alpha) for a calibrated model. N = 0 gives NaN.
    """
    alpha = _checks.probability(alpha, "alpha")
    draws = _checks.positive_int(draws, "draws")
    var, n = _bin_variances(count, sum_p, sum_p2)
    if n == 0:
        return float("nan")
    z = np.random.default_rng(rng_seed).standard_normal((draws, var.size))
    simulated = np.abs(z) @ np.sqrt(var) / n
    return float(np.quantile(simulated, 1.0 - alpha))


def verdict(psi_value: float, *, significant: bool) -> str:
    """The word for a PSI: "stable" < 0.1 <= "moderate" <= 0.25 < "major".

    The thresholds are the industry rules of thumb (``PSI_MODERATE``, ``PSI_MAJOR``), which
    assume large samples. So the verdict is "stable" whenever ``significant`` is false (for
    instance PSI below ``psi_threshold``): a large PSI from a small sample is not evidence.
    """
    value = float(psi_value)
    if math.isnan(value) or value < 0:
        raise ValueError(f"psi_value must be a non-negative number, got {psi_value!r}")
    if not significant or value < PSI_MODERATE:
        return "stable"
    return "moderate" if value <= PSI_MAJOR else "major"


def psi_min_reference(m: int, *, bins: int = 10, alpha: float = 0.01, psi: float = PSI_MODERATE) -> int | None:
    """The smallest reference size n with ``psi_threshold(n, m) <= psi``: below it, a shift of
    ``psi`` (the "moderate" line by default) hides inside the noise, so "stable" cannot be said.

    Why: a warm-up of 70 predictions against 2000 has a threshold of 0.32, so a clean PSI of
    0.15 is neither a shift nor evidence of stability. Solving ``(1/n + 1/m)·q <= psi`` with
    ``q = χ²_{1−α}(bins − 1)`` gives ``n >= 1/(psi/q − 1/m)``; 217 at ``m → ∞`` on 10 bins.
    None when no n suffices: ``m`` alone is too small (``1/m >= psi/q``).
    """
    m = _checks.positive_int(m, "m")
    bins = _checks.positive_int(bins, "bins", minimum=2)
    alpha = _checks.probability(alpha, "alpha")
    if not (psi > 0 and math.isfinite(psi)):
        raise ValueError(f"psi must be a finite number > 0, got {psi!r}")
    room = psi / float(chi2.ppf(1.0 - alpha, bins - 1)) - 1.0 / m
    if room <= 0:
        return None
    n = max(1, math.ceil(1.0 / room))
    while psi_threshold(n, m, bins=bins, alpha=alpha) > psi:  # the float rounding of the division
        n += 1
    while n > 1 and psi_threshold(n - 1, m, bins=bins, alpha=alpha) <= psi:
        n -= 1
    return n
