"""Gate verdicts: pass, fail or inconclusive, then an exit code, a console table and JUnit XML.

A load test is short, and sampling noise alone moves a p99 or a PSI across a threshold when the
sample is small (docs/metrics.md, Significance). So a gate with fewer samples than its metric
needs is *inconclusive*, not passed or failed, and the `inconclusive` policy decides whether CI
treats that as a failure (the default: a gate that could not be checked did not hold) or a pass.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from locust_mlstress.domain.gates import (
    ACCURACY_METRICS,
    CALIBRATION_METRICS,
    COMPARISON_METRICS,
    INTERVAL_METRICS,
    POLICIES,
    SHIFT_METRICS,
    Gate,
)
from locust_mlstress.domain.summary import Figures
from locust_mlstress.gates.observations import Observation, lookup

Status = Literal["pass", "fail", "inconclusive"]
PASS: Status = "pass"
FAIL: Status = "fail"
INCONCLUSIVE: Status = "inconclusive"

EXIT_GATE_FAILED = 3
EXIT_GATE_INCONCLUSIVE = 4

# Samples a figure needs before it means anything: a p99 needs ~100 latencies to be more than the
# maximum; PSI/JS/KS are per side (min of current and reference); an ECE from 200 perfectly
# calibrated predictions is still ~0.07 (docs/metrics.md); an accuracy of 0.9 over 100 labelled
# instances has a 95% interval of ±0.06; a flip rate over 50 resent instances.
DEFAULT_MIN_SAMPLES: dict[str, int] = {
    "p50_ms": 100,
    "p95_ms": 100,
    "p99_ms": 100,
    "psi": 100,
    "js": 100,
    "ks": 100,
    "ece": 200,
    "mce": 200,
    "brier": 200,
    "accuracy": 100,
    "flip_rate": 50,
    "regressions": 1,
    "disagreement": 100,
    "p50_delta_ms": 100,
    "p95_delta_ms": 100,
    "p99_delta_ms": 100,
    "ece_delta": 200,
    "accuracy_delta": 100,
    "error_rate": 1,
    "accepted_malformed": 1,
    "requests": 1,
    "rps": 1,
}
# for these the count *is* the figure: too few requests must fail `requests > 1000`, not make it
# inconclusive, so a profile-wide `min_samples` leaves them at their default
COUNT_METRICS = frozenset({"requests", "rps"})


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict; `inconclusive_passes` records the policy it was judged under."""

    gate: Gate
    value: float | None
    n: int
    status: Status
    message: str
    inconclusive_passes: bool = False
    reason: str = ""  # why inconclusive, or which kind a default or worst-of figure came from

    @property
    def passed(self) -> bool:
        """Whether CI should count this gate as held."""
        return self.status == PASS or (self.status == INCONCLUSIVE and self.inconclusive_passes)


def minimum_samples(metric: str, min_samples: int | None = None) -> int:
    """The samples `metric` needs: `min_samples` when set (except for counts), else its default."""
    if min_samples is None or metric in COUNT_METRICS:
        return DEFAULT_MIN_SAMPLES[metric]
    return min_samples


def _check_policy(inconclusive: str) -> None:
    if inconclusive not in POLICIES:
        raise ValueError(f"inconclusive must be 'fail' or 'pass', got {inconclusive!r}")


def evaluate(
    gates: Iterable[Gate], summary: Figures, *, min_samples: int | None = None, inconclusive: str = "fail"
) -> list[GateResult]:
    """Judge every gate against the ML summary (with its `all` and `duration_s` keys)."""
    _check_policy(inconclusive)
    if min_samples is not None and min_samples < 0:
        raise ValueError(f"min_samples must be >= 0, got {min_samples}")
    return [
        judge(
            gate,
            lookup(summary, gate.metric, gate.kind),
            minimum=minimum_samples(gate.metric, min_samples),
            inconclusive_passes=inconclusive == "pass",
        )
        for gate in gates
    ]


def judge(gate: Gate, seen: Observation, *, minimum: int, inconclusive_passes: bool = False) -> GateResult:
    """The verdict of one gate on one observation: a pure function, for live checks too."""
    subject, source = gate.subject, ""
    worst_of = SHIFT_METRICS + CALIBRATION_METRICS + ACCURACY_METRICS
    if gate.kind in (None, "all") and gate.metric in worst_of and seen.kind:
        subject, source = f"{subject} ({seen.kind})", f"from {seen.kind}"  # which kind was read
    if seen.value is None:
        reason = f"no value ({seen.why})" if seen.why else "no value"
        message = f"{subject}: {reason}: inconclusive"
        return GateResult(gate, None, seen.n, INCONCLUSIVE, message, inconclusive_passes, reason)
    if seen.unreliable:  # measured, but not the server's alone: neither a pass nor a fail
        message = f"{subject} = {_show(seen.value, gate.percent)}: {seen.unreliable}: inconclusive (n={seen.n})"
        return GateResult(gate, seen.value, seen.n, INCONCLUSIVE, message, inconclusive_passes, seen.unreliable)
    if seen.n < minimum:
        reason = f"{'1 sample' if seen.n == 1 else f'{seen.n} samples'}, fewer than {minimum}"
        message = f"{subject}: {reason}: inconclusive"
        return GateResult(gate, seen.value, seen.n, INCONCLUSIVE, message, inconclusive_passes, reason)
    value, threshold = _show(seen.value, gate.percent), _show(gate.threshold, gate.percent)
    if gate.metric in INTERVAL_METRICS:
        return _judge_interval(gate, seen, subject, value, threshold, inconclusive_passes)
    if gate.holds(seen.value):
        message = f"{subject} = {value} {gate.op} {threshold}: pass (n={seen.n})"
        return GateResult(gate, seen.value, seen.n, PASS, message, inconclusive_passes, source)
    message = f"{subject} = {value}, not {gate.op} {threshold}: fail (n={seen.n})"
    return GateResult(gate, seen.value, seen.n, FAIL, message, inconclusive_passes, source)


def _judge_interval(
    gate: Gate, seen: Observation, subject: str, value: str, threshold: str, inconclusive_passes: bool
) -> GateResult:
    """A comparison gate holds when its whole 95% interval does, fails when none of it does, and
    is inconclusive when the interval straddles the threshold: two versions that differ only by
    noise are never rolled back (docs/compare.md)."""
    if seen.interval is None:
        reason = seen.why or "no interval"
        return GateResult(gate, seen.value, seen.n, INCONCLUSIVE, f"{subject} = {value}: {reason}: inconclusive",
                          inconclusive_passes, reason)  # fmt: skip
    low, high = seen.interval
    shown = f"{subject} = {value} [{_show(low, gate.percent)}, {_show(high, gate.percent)}]"
    held = gate.holds(low), gate.holds(high)
    if all(held):
        return GateResult(gate, seen.value, seen.n, PASS, f"{shown} {gate.op} {threshold}: pass (n={seen.n})",
                          inconclusive_passes)  # fmt: skip
    if not any(held):
        return GateResult(gate, seen.value, seen.n, FAIL, f"{shown}, not {gate.op} {threshold}: fail (n={seen.n})",
                          inconclusive_passes)  # fmt: skip
    reason = f"the 95% interval straddles {threshold}"
    return GateResult(gate, seen.value, seen.n, INCONCLUSIVE, f"{shown}: {reason}: inconclusive (n={seen.n})",
                      inconclusive_passes, reason)  # fmt: skip


Verdict = Literal["promote", "hold", "rollback"]


def comparison_verdict(results: Iterable[GateResult]) -> tuple[Verdict, list[str]]:
    """What to do with the challenger, and why: `rollback` when a comparison gate failed,
    `hold` when one could not be judged (too few pairs, an interval across its threshold),
    `promote` when every one held. The other gates judge the champion's run, not the choice."""
    judged = [r for r in results if r.gate.metric in COMPARISON_METRICS]
    if not judged:
        return "hold", ["no comparison gate was judged"]
    failed = [r.message for r in judged if r.status == FAIL]
    if failed:
        return "rollback", failed
    open_ = [r.message for r in judged if r.status == INCONCLUSIVE]
    if open_:
        return "hold", open_
    return "promote", [r.message for r in judged]


def _show(value: float, percent: bool = False) -> str:
    """Short and exact enough to compare with a threshold: 212.4, 0.0103, 5120, 0.32%."""
    if percent:
        return f"{_show(value * 100)}%"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    if abs(value) >= 1000:
        return f"{value:.1f}"
    return f"{value:.4g}"


def exit_code(results: list[GateResult], *, inconclusive: str | None = None) -> int | None:
    """None without gates (Locust's own code stands); 0 when every gate held; 3 when one failed;
    else 4 when one was inconclusive and inconclusive counts as failing. `inconclusive` overrides
    the policy the results were judged under."""
    if not results:
        return None
    if inconclusive is not None:
        _check_policy(inconclusive)
    if any(r.status == FAIL for r in results):
        return EXIT_GATE_FAILED
    for r in results:
        passes = r.inconclusive_passes if inconclusive is None else inconclusive == "pass"
        if r.status == INCONCLUSIVE and not passes:
            return EXIT_GATE_INCONCLUSIVE
    return 0


def tally(results: list[GateResult]) -> dict[str, int]:
    """Counts per status, every status present."""
    counts: dict[str, int] = {PASS: 0, FAIL: 0, INCONCLUSIVE: 0}
    for r in results:
        counts[r.status] += 1
    return counts


def summary_line(results: list[GateResult]) -> str:
    c = tally(results)
    return f"gates: {c[PASS]} passed, {c[FAIL]} failed, {c[INCONCLUSIVE]} inconclusive"


def format_verdicts(results: list[GateResult]) -> str:
    """A console table, one row per gate, and a final tally line."""
    header = ("gate", "value", "n", "status", "detail")
    rows = [header]
    for r in results:
        value = "-" if r.value is None else _show(r.value, r.gate.percent)
        status = str(r.status)
        if r.status == INCONCLUSIVE:
            status += " (counted as pass)" if r.inconclusive_passes else " (counted as fail)"
        rows.append((r.gate.text, value, str(r.n), status, r.reason))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["ML gates"]
    for row in rows:
        cells = [
            row[0].ljust(widths[0]),
            row[1].rjust(widths[1]),
            row[2].rjust(widths[2]),
            row[3].ljust(widths[3]),
            row[4],
        ]
        lines.append("  ".join(cells).rstrip())
    lines.insert(2, "-" * len(lines[1]))
    lines.append(summary_line(results))
    return "\n".join(lines)


def junit_xml(results: list[GateResult], *, suite: str = "locust-mlstress gates") -> str:
    """JUnit XML for CI test reporters: one test case per gate. A failed gate is a `<failure>`;
    an inconclusive one is `<skipped>` when it counts as a pass, else a failure of type
    `inconclusive`, so the report and the exit code agree."""
    failures = sum(1 for r in results if not r.passed)
    skipped = sum(1 for r in results if r.status == INCONCLUSIVE and r.inconclusive_passes)
    root = ET.Element(
        "testsuite",
        {
            "name": _xml_safe(suite),
            "tests": str(len(results)),
            "failures": str(failures),
            "errors": "0",
            "skipped": str(skipped),
            "time": "0",
        },
    )
    for r in results:
        case = ET.SubElement(
            root, "testcase", {"classname": "mlstress.gates", "name": _xml_safe(r.gate.text), "time": "0"}
        )
        message = _xml_safe(r.message)
        if r.status == FAIL:
            ET.SubElement(case, "failure", {"message": message, "type": "threshold"}).text = message
        elif r.status == INCONCLUSIVE and r.inconclusive_passes:
            ET.SubElement(case, "skipped", {"message": message})
        elif r.status == INCONCLUSIVE:
            ET.SubElement(case, "failure", {"message": message, "type": "inconclusive"}).text = message
        ET.SubElement(case, "system-out").text = message
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _xml_safe(text: str) -> str:
    """ElementTree escapes <, & and quotes but writes control characters XML 1.0 forbids."""
    return "".join(c if _xml_char(c) else "\ufffd" for c in text)


def _xml_char(c: str) -> bool:
    return c in "\t\n\r" or (" " <= c <= "\ud7ff") or ("\ue000" <= c <= "\ufffd") or c >= "\U00010000"
