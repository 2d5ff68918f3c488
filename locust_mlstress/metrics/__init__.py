"""Pure metric functions for ML-aware load tests: shift, calibration, their binned forms, noise.

Conventions are documented in ``docs/metrics.md`` ("Metric functions", "Significance").
Every public function takes data first, options keyword-only, and returns plain Python
floats/ints (or small named tuples of them), safe to send through Locust's msgpack messages.
"""

from locust_mlstress.metrics.binned import (
    PSI_FLOOR,
    BoundedEstimate,
    Bounds,
    js_from_counts,
    ks_from_counts,
    psi_from_counts,
    wasserstein_from_counts,
)
from locust_mlstress.metrics.binning import bin_counts, bin_index, coarse_edges, quantile_edges, regroup
from locust_mlstress.metrics.calibration import (
    Calibration,
    CalibrationBins,
    TopLabel,
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
from locust_mlstress.metrics.noise import (
    PSI_MAJOR,
    PSI_MODERATE,
    ece_noise,
    ece_threshold,
    ks_threshold,
    psi_min_reference,
    psi_noise,
    psi_threshold,
    verdict,
)
from locust_mlstress.metrics.paired import McNemarResult, Proportion, disagreement, mcnemar, worse
from locust_mlstress.metrics.proportion import wilson_interval
from locust_mlstress.metrics.shift import jensen_shannon, ks_statistic, psi, wasserstein

__all__ = [
    "PSI_FLOOR",
    "PSI_MAJOR",
    "PSI_MODERATE",
    "BoundedEstimate",
    "Bounds",
    "Calibration",
    "CalibrationBins",
    "TopLabel",
    "bin_counts",
    "bin_index",
    "brier_score",
    "calibration",
    "calibration_bin_index",
    "calibration_bins",
    "calibration_from_bins",
    "coarse_edges",
    "ece_noise",
    "ece_threshold",
    "expected_calibration_error",
    "jensen_shannon",
    "js_from_counts",
    "ks_from_counts",
    "ks_statistic",
    "ks_threshold",
    "max_calibration_error",
    "multiclass_brier_score",
    "psi",
    "psi_from_counts",
    "psi_min_reference",
    "psi_noise",
    "psi_threshold",
    "quantile_edges",
    "regroup",
    "top_label",
    "verdict",
    "wasserstein",
    "wasserstein_from_counts",
    "wilson_interval",
    "McNemarResult",
    "Proportion",
    "disagreement",
    "mcnemar",
    "worse",
]
