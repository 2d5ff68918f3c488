"""Where each gate metric is read from in the ML summary (docs/reports.md), with its sample count.

The summaries are written by hand in the documented shape, with the two keys the run wiring adds:
`all` (requests, outcomes and latency of every kind but probe) and `duration_s`.
"""

from __future__ import annotations

import copy

import pytest

from locust_mlstress.domain.gates import COMPARISON_METRICS
from locust_mlstress.gates import METRICS, lookup


def shift(psi, js, ks, n, n_reference):
    return {"psi": psi, "js": js, "ks": ks, "ks_upper": ks, "wasserstein": 0.003, "wasserstein_bounds": [0.001, 0.005],
            "n": n, "n_reference": n_reference, "bins": 10, "psi_noise": 0.0096, "psi_threshold": 0.0233,
            "ks_threshold": 0.0521, "significant": psi is not None and psi > 0.1, "verdict": "stable"}  # fmt: skip


def calibration(ece, mce, brier, n):
    return {"ece": ece, "mce": mce, "brier": brier, "n": n, "ece_noise": 0.0139, "ece_threshold": 0.0241,
            "significant": False, "reliability": []}  # fmt: skip


def accuracy(value, n):
    return {"accuracy": value, "error_rate": 1 - value, "n": n, "interval": [value - 0.01, value + 0.01]}


def kind(requests, outcomes, latency, *, shift=None, calibration=None, consistency=None, n=None):
    p50, p95, p99 = latency
    return {"requests": requests, "outcomes": outcomes, "variants": {}, "shift": shift, "calibration": calibration,
            "latency_ms": {"p50": p50, "p95": p95, "p99": p99, "n": requests if n is None else n},
            "consistency": consistency, "classes": None,
            "accuracy": accuracy(0.9, calibration["n"]) if calibration else None}  # fmt: skip


def summary() -> dict:
    """A two-minute quickstart run, as the monitor would report it, plus `all` and `duration_s`."""
    return {
        "kinds": {
            "clean": kind(
                7318,
                {"ok": 7318},
                (1.7, 4.5, 12.9),
                shift=shift(0.0103, 0.0502, 0.0213, 6219, 1099),
                calibration=calibration(0.0158, 0.0702, 0.1989, 7318),
            ),
            "drifted": kind(
                2458,
                {"ok": 2450, "server_error": 8},
                (1.7, 3.0, 9.3),
                shift=shift(0.591, 0.340, 0.310, 2458, 1099),
                calibration=calibration(0.177, 0.412, 0.251, 2458),
            ),
            "malformed": kind(1854, {"rejected": 1850, "accepted_malformed": 4}, (1.6, 3.7, 14.1)),
            "oversized": kind(
                603,
                {"ok": 374, "rejected": 229},
                (6.1, 10.0, 53.0),
                shift=shift(0.021, 0.061, 0.038, 65128, 1099),
                calibration=calibration(0.077, 0.163, 0.167, 65128),
            ),
            "probe": kind(
                120,
                {"ok": 119, "timeout": 1},
                (1.8, 4.0, 9.0),
                consistency={
                    "probes": 120,
                    "instances": 240,
                    "flip_rate": 0.025,
                    "max_abs_diff": 0.31,
                    "mean_abs_diff": 0.004,
                },
            ),
        },  # fmt: skip
        "windows": [],
        "baseline": {
            "mode": "clean",
            "clean_n": 7318,
            "warmup": {"seconds": 10.0, "predictions": None, "windows": [0], "n": 1099},
        },  # fmt: skip
        "window_s": 10.0,
        "received": {"local": 12353},
        "run": {
            "profile": {"name": "quickstart", "path": "...", "sha256": "..."},
            "host": "http://127.0.0.1:8080",
            "model_version": "1",
        },  # fmt: skip
        "workers": {"reported": [], "missing": []},
        "all": {
            "requests": 12233,
            "outcomes": {"ok": 10142, "rejected": 2079, "accepted_malformed": 4, "server_error": 8},
            "latency_ms": {"p50": 1.7, "p95": 5.1, "p99": 14.0, "n": 12233},
        },
        "duration_s": 120.0,
    }


def test_the_sample_summary_adds_up():
    s = summary()
    traffic = [k for name, k in s["kinds"].items() if name != "probe"]
    assert s["all"]["requests"] == sum(k["requests"] for k in traffic) == sum(s["all"]["outcomes"].values())


LOOKUPS = [
    # metric, kind, value, n
    ("p50_ms", "clean", 1.7, 7318),
    ("p95_ms", "oversized", 10.0, 603),
    ("p99_ms", "drifted", 9.3, 2458),
    ("p99_ms", "probe", 9.0, 120),
    ("p99_ms", None, 14.0, 12233),  # no kind: all
    ("p99_ms", "all", 14.0, 12233),
    ("error_rate", None, 12 / 12233, 12233),  # accepted_malformed and server_error, not rejected
    ("error_rate", "drifted", 8 / 2458, 2458),
    ("error_rate", "malformed", 4 / 1854, 1854),
    ("error_rate", "oversized", 0.0, 603),  # 413s on oversized are expected rejections
    ("error_rate", "probe", 1 / 120, 120),
    ("requests", None, 12233, 12233),
    ("requests", "malformed", 1854, 1854),
    ("requests", "probe", 120, 120),
    ("rps", None, 12233 / 120, 12233),
    ("rps", "clean", 7318 / 120, 7318),
    ("accepted_malformed", None, 4, 12233),
    ("accepted_malformed", "malformed", 4, 1854),
    ("accepted_malformed", "clean", 0, 7318),
    ("psi", "clean", 0.0103, 1099),  # n: the smaller side
    ("psi", "drifted", 0.591, 1099),
    ("js", "oversized", 0.061, 1099),
    ("ks", "drifted", 0.310, 1099),
    ("psi", None, 0.591, 1099),  # no kind: the worst kind (drifted)
    ("psi", "all", 0.591, 1099),
    ("ece", None, 0.0158, 7318),  # no kind: clean
    ("ece", "clean", 0.0158, 7318),
    ("ece", "drifted", 0.177, 2458),
    ("ece", "all", 0.177, 2458),  # all: the worst kind
    ("mce", "oversized", 0.163, 65128),
    ("brier", None, 0.1989, 7318),
    ("accuracy", None, 0.9, 7318),  # no kind: clean
    ("accuracy", "oversized", 0.9, 65128),
    ("flip_rate", None, 0.025, 240),  # n: resent instances
    ("flip_rate", "probe", 0.025, 240),
]


@pytest.mark.parametrize("metric, kind_, value, n", LOOKUPS)
def test_lookup(metric, kind_, value, n):
    seen = lookup(summary(), metric, kind_)
    assert seen.value == pytest.approx(value)
    assert seen.n == n


def test_every_metric_is_looked_up():
    for metric in METRICS:
        seen = lookup(summary(), metric, None)
        if metric in COMPARISON_METRICS:  # this run had no challenger: tests/unit/test_gates_compare.py
            assert seen.value is None and "no challenger" in seen.why, metric
        else:
            assert seen.value is not None, metric


def test_the_worst_shift_names_its_kind_and_follows_the_largest_value():
    s = summary()
    assert lookup(s, "psi", None).kind == "drifted"
    s["kinds"]["oversized"]["shift"]["ks"] = 0.9
    worst = lookup(s, "ks", None)
    assert (worst.value, worst.n, worst.kind) == (0.9, 1099, "oversized")


def test_the_worst_shift_skips_kinds_without_a_figure():
    s = summary()
    s["kinds"]["drifted"]["shift"]["psi"] = None  # insufficient
    del s["kinds"]["oversized"]
    seen = lookup(s, "psi", None)
    assert (seen.value, seen.kind) == (0.0103, "clean")


def test_the_worst_shift_is_none_when_no_kind_has_one():
    s = summary()
    for entry in s["kinds"].values():
        entry["shift"] = None
    seen = lookup(s, "psi", None)
    assert (seen.value, seen.n) == (None, 0)
    assert "no kind" in seen.why


def test_probe_shift_is_never_the_worst():
    s = summary()
    s["kinds"]["probe"]["shift"] = shift(5.0, 1.0, 1.0, 500, 500)
    assert lookup(s, "psi", None).kind == "drifted"


ABSENT = [
    ("p99_ms", "drifted"),
    ("error_rate", "drifted"),
    ("requests", "drifted"),
    ("rps", "drifted"),
    ("accepted_malformed", "drifted"),
    ("psi", "drifted"),
    ("ece", "drifted"),
]


@pytest.mark.parametrize("metric, kind_", ABSENT)
def test_an_absent_kind_gives_none_and_zero(metric, kind_):
    s = summary()
    del s["kinds"][kind_]
    seen = lookup(s, metric, kind_)
    assert (seen.value, seen.n) == (None, 0)
    assert "no 'drifted' traffic" in seen.why


def test_an_absent_probe_kind_or_consistency_gives_no_flip_rate():
    s = summary()
    s["kinds"]["probe"]["consistency"] = None
    assert (lookup(s, "flip_rate", None).value, lookup(s, "flip_rate", None).n) == (None, 0)
    del s["kinds"]["probe"]
    assert (lookup(s, "flip_rate", "probe").value, lookup(s, "flip_rate", "probe").n) == (None, 0)


def test_null_figures_give_none_and_zero():
    s = summary()
    s["kinds"]["drifted"]["shift"] = {"n": 12, "n_reference": 1099, "psi": None, "js": None, "ks": None,
                                      "wasserstein": None, "significant": False, "verdict": "insufficient"}  # fmt: skip
    s["kinds"]["clean"]["calibration"]["mce"] = None
    s["kinds"]["oversized"]["latency_ms"] = {"p50": None, "p95": None, "p99": None, "n": 0}
    s["kinds"]["probe"]["consistency"]["flip_rate"] = None
    for metric, kind_ in [("psi", "drifted"), ("ks", "drifted"), ("mce", "clean"), ("p95_ms", "oversized"),
                          ("flip_rate", None), ("psi", "malformed"), ("ece", "malformed")]:  # fmt: skip
        seen = lookup(s, metric, kind_)
        assert (seen.value, seen.n) == (None, 0), (metric, kind_)
        assert seen.why


def test_no_requests_means_no_error_rate():
    s = summary()
    s["kinds"]["clean"] = kind(0, {}, (None, None, None))
    assert (lookup(s, "error_rate", "clean").value, lookup(s, "error_rate", "clean").n) == (None, 0)
    assert (lookup(s, "requests", "clean").value, lookup(s, "requests", "clean").n) == (0.0, 0)


def test_without_all_or_duration():
    s = summary()
    del s["all"], s["duration_s"]
    for metric in ("p99_ms", "error_rate", "requests", "accepted_malformed"):
        seen = lookup(s, metric, None)
        assert (seen.value, seen.n) == (None, 0), metric
    assert lookup(s, "rps", "clean").value is None  # no duration
    assert lookup(s, "requests", "clean").value == 7318  # a kind's own count does not need them
    s["duration_s"] = 0.0
    assert lookup(s, "rps", "clean").value is None


def test_lookup_does_not_modify_the_summary():
    s = summary()
    before = copy.deepcopy(s)
    for metric in METRICS:
        for kind_ in (None, "clean", "all", "probe", "drifted"):
            lookup(s, metric, kind_)
    assert s == before


def test_the_worst_accuracy_is_the_smallest():
    s = summary()
    s["kinds"]["drifted"]["accuracy"]["accuracy"] = 0.7
    seen = lookup(s, "accuracy", "all")
    assert (seen.value, seen.n, seen.kind) == (0.7, 2458, "drifted")


def test_a_fixed_batch_is_never_read_and_says_why():
    s = summary()
    s["kinds"]["oversized"]["fixed_batch"] = True
    s["kinds"]["oversized"]["shift"]["psi"] = 9.0  # would be the worst
    for metric in ("psi", "ece", "accuracy"):
        seen = lookup(s, metric, "oversized")
        assert seen.value is None and seen.why.startswith("fixed batch"), metric
    assert lookup(s, "psi", None).kind == "drifted"
    assert lookup(s, "p99_ms", "oversized").value == 53.0  # latency and outcomes stand


def test_calibration_of_label_answers_is_missing_with_the_reason():
    s = summary()
    s["kinds"]["clean"]["calibration"] = None
    s["kinds"]["clean"]["calibration_reason"] = "every answer was a class label — ask for probabilities"
    seen = lookup(s, "brier", None)
    assert (seen.value, seen.n) == (None, 0) and seen.why == s["kinds"]["clean"]["calibration_reason"]


@pytest.mark.parametrize("metric", ["psi", "js"])
def test_an_underpowered_shift_judges_no_gate_and_names_the_baseline_it_needs(metric):
    """Clean PSI 0.12 on a 150-prediction baseline: the console calls it "insufficient" (noise
    alone crosses 0.1 about one run in nine at these counts), so `psi[clean] < 0.1` is
    inconclusive, never a fail, and says which baseline would do."""
    from locust_mlstress.gates import EXIT_GATE_INCONCLUSIVE, evaluate, exit_code, parse_gate

    s = summary()
    s["kinds"]["clean"]["shift"] = {"psi": 0.12, "js": 0.03, "ks": 0.05, "ks_upper": 0.06, "n": 3000,
                                    "n_reference": 150, "underpowered": True, "min_n_reference": 1200,
                                    "significant": False, "verdict": "insufficient"}  # fmt: skip
    seen = lookup(s, metric, "clean")
    assert seen.value is None and "n=150" in seen.why and "min_n_reference=1200" in seen.why
    assert "--ml-warmup=1200" in seen.why and lookup(s, "ks", "clean").value == 0.05  # KS is read as before
    results = evaluate([parse_gate(f"{metric}[clean] < 0.1")], s)
    assert results[0].status == "inconclusive" and exit_code(results) == EXIT_GATE_INCONCLUSIVE
    s["kinds"]["clean"]["shift"]["underpowered"] = False  # a powered comparison is judged as before
    assert evaluate([parse_gate("psi[clean] < 0.1")], s)[0].status == "fail"
