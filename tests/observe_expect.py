"""What an export must say, read straight from an `--ml-json` summary.

Written apart from observe/samples.py on purpose: the exports are checked against the summary's
own fields, by their documented names (docs/observe.md), not against the function that made them.
Keys are (Prometheus name, frozenset of labels); latencies in seconds (the summary's ms / 1000).
"""

from __future__ import annotations

Key = tuple[str, frozenset]


def _key(name: str, **labels: str) -> Key:
    return name, frozenset(labels.items())


def expected_series(summary: dict) -> dict[Key, float]:
    out: dict[Key, float] = {_key("mlstress_run_duration_seconds"): summary["duration_s"]}
    for kind, k in summary["kinds"].items():
        for outcome, n in k["outcomes"].items():
            out[_key("mlstress_requests_total", kind=kind, outcome=outcome)] = n
        for name, q in (("p50", "0.5"), ("p95", "0.95"), ("p99", "0.99")):
            if k["latency_ms"][name] is not None:
                out[_key("mlstress_request_duration_percentile_seconds", kind=kind, quantile=q)] = (
                    k["latency_ms"][name] / 1000
                )
        out[_key("mlstress_request_duration_seconds_count", kind=kind)] = k["latency_ms"]["n"]
        shift = k["shift"]
        if shift is not None:
            for field, name in (("psi", "mlstress_psi"), ("js", "mlstress_js"), ("ks", "mlstress_ks")):
                if shift[field] is not None:
                    out[_key(name, kind=kind)] = shift[field]
            out[_key("mlstress_shift_samples", kind=kind)] = shift["n"]
        calibration = k["calibration"]
        if calibration is not None:
            out[_key("mlstress_calibration_samples", kind=kind)] = calibration["n"]
            for field, name in (("ece", "mlstress_ece"), ("brier", "mlstress_brier")):
                if calibration[field] is not None:
                    out[_key(name, kind=kind)] = calibration[field]
        if k["accuracy"] is not None:
            out[_key("mlstress_accuracy_ratio", kind=kind)] = k["accuracy"]["accuracy"]
    for gate in summary.get("gates", []):
        for status in ("pass", "fail", "inconclusive"):
            out[_key("mlstress_gate_status", gate=gate["gate"], status=status)] = int(gate["status"] == status)
    comparison = summary.get("comparison")
    if comparison is not None:
        for kind, p in comparison["kinds"].items():
            out[_key("mlstress_pairs_total", kind=kind)] = p["n_pairs"]
            out[_key("mlstress_pair_regressions_total", kind=kind)] = p["regressions"]
            if p["disagreement"] is not None:
                out[_key("mlstress_pair_disagreement_ratio", kind=kind)] = p["disagreement"]
        for verdict in ("promote", "hold", "rollback"):
            out[_key("mlstress_comparison_verdict", verdict=verdict)] = int(comparison["verdict"] == verdict)
    generator = summary.get("generator")
    if generator is not None:
        out[_key("mlstress_generator_bottleneck")] = int(generator["bottleneck"])
        out[_key("mlstress_generator_saturated_seconds")] = generator["saturated_s"]
        for source, p in generator["processes"].items():
            out[_key("mlstress_generator_process_saturated_seconds", process=source)] = p["saturated_s"]
            out[_key("mlstress_generator_cpu_max_ratio", process=source)] = p["cpu_max"]
            out[_key("mlstress_generator_loop_lag_max_seconds", process=source)] = p["loop_lag_ms_max"] / 1000
    return out


def names(expected: dict[Key, float]) -> set[str]:
    return {name for name, _ in expected}
