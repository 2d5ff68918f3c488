"""Gates: SLOs on the ML summary turned into a CI exit code (docs/gates.md).

Pure functions over the summary dict, importable without Locust: the run wiring parses
`--ml-gate` and `[gates]`, calls `evaluate` at quitting, and sets the exit code.
"""

from .expression import KINDS, METRICS, OPERATORS, Gate, GateError, parse_gate
from .figures import Observation, lookup
from .spec import GateSpec, parse_gates
from .verdicts import (
    DEFAULT_MIN_SAMPLES,
    EXIT_GATE_FAILED,
    EXIT_GATE_INCONCLUSIVE,
    GateResult,
    evaluate,
    exit_code,
    format_verdicts,
    judge,
    junit_xml,
    minimum_samples,
)

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
