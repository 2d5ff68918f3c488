"""Gates: SLOs on the ML summary turned into a CI exit code (docs/gates.md).

Pure functions over the summary dict, importable without Locust: the run wiring parses
`--ml-gate` and `[gates]`, calls `evaluate` at quitting, and sets the exit code.
"""

from locust_mlstress.domain.gates import KINDS, METRICS, OPERATORS, Gate, GateSpec
from locust_mlstress.gates.observations import Observation, lookup
from locust_mlstress.gates.verdicts import (
    DEFAULT_MIN_SAMPLES,
    EXIT_GATE_FAILED,
    EXIT_GATE_INCONCLUSIVE,
    GateResult,
    comparison_verdict,
    evaluate,
    exit_code,
    format_verdicts,
    judge,
    junit_xml,
    minimum_samples,
)
from locust_mlstress.profile.gate_expression import GateError, parse_gate, parse_gates

__all__ = [
    "DEFAULT_MIN_SAMPLES",
    "EXIT_GATE_FAILED",
    "EXIT_GATE_INCONCLUSIVE",
    "KINDS",
    "METRICS",
    "OPERATORS",
    "Gate",
    "GateError",
    "GateResult",
    "GateSpec",
    "Observation",
    "comparison_verdict",
    "evaluate",
    "exit_code",
    "format_verdicts",
    "judge",
    "junit_xml",
    "lookup",
    "minimum_samples",
    "parse_gate",
    "parse_gates",
]
