"""A proportion with its confidence interval: accuracy against the labels a run knows.

Wilson's score interval rather than the textbook normal one (p ± z·sqrt(p(1−p)/n)): at the
accuracies a served model has (0.9–1.0) and the counts of a short run, the normal interval
runs past 1 and collapses to a point at p = 1, while Wilson's stays inside [0, 1] and keeps
close to its nominal coverage (Brown, Cai and DasGupta 2001).
"""

from __future__ import annotations

import math

from locust_mlstress.metrics import _checks

Z95 = 1.959963984540054  # the standard normal's 0.975 quantile


def wilson_interval(successes: int, n: int, *, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of ``successes`` out of ``n`` (95% with the default ``z``):
    centre ``(p + z²/2n)/(1 + z²/n)``, half-width ``z·sqrt(p(1−p)/n + z²/4n²)/(1 + z²/n)``."""
    n = _checks.positive_int(n, "n")
    if isinstance(successes, bool) or int(successes) != successes or not 0 <= successes <= n:
        raise ValueError(f"successes must be an integer between 0 and n = {n}, got {successes!r}")
    if not (z > 0 and math.isfinite(z)):
        raise ValueError(f"z must be a finite number > 0, got {z!r}")
    p = successes / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return lo, hi
