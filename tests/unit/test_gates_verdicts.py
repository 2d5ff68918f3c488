"""Verdicts: pass, fail or inconclusive per gate, the exit code, the console table and JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from locust_mlstress.domain.gates import INTERVAL_METRICS
from locust_mlstress.gates import (
    DEFAULT_MIN_SAMPLES,
    EXIT_GATE_FAILED,
    EXIT_GATE_INCONCLUSIVE,
    METRICS,
    GateResult,
    Observation,
    evaluate,
    exit_code,
    format_verdicts,
    judge,
    junit_xml,
    minimum_samples,
    parse_gate,
)
from tests.unit.test_gates_figures import summary


def result(text: str, status: str, *, passes: bool = False) -> GateResult:
    return GateResult(parse_gate(text), 1.0 if status != "inconclusive" else None, 500, status, f"{text}: {status}",
                      inconclusive_passes=passes)  # fmt: skip


OPERATORS = [
    # op, value, status against a threshold of 10
    ("<", 9.9, "pass"),
    ("<", 10.0, "fail"),
    ("<=", 10.0, "pass"),
    ("<=", 10.1, "fail"),
    (">", 10.1, "pass"),
    (">", 10.0, "fail"),
    (">=", 10.0, "pass"),
    (">=", 9.9, "fail"),
    ("==", 10.0, "pass"),
    ("==", 10.000001, "fail"),
    ("!=", 3.0, "pass"),
    ("!=", 10.0, "fail"),
]


@pytest.mark.parametrize("op, value, status", OPERATORS)
def test_each_operator(op, value, status):
    verdict = judge(parse_gate(f"p99_ms {op} 10"), Observation(value, 1000), minimum=100)
    assert verdict.status == status
    assert (verdict.value, verdict.n) == (value, 1000)


@pytest.mark.parametrize("op, value, status", OPERATORS)
def test_each_operator_is_inconclusive_below_the_minimum_and_without_a_value(op, value, status):
    gate = parse_gate(f"p99_ms {op} 10")
    assert judge(gate, Observation(value, 99), minimum=100).status == "inconclusive"
    assert judge(gate, Observation(None, 5000), minimum=100).status == "inconclusive"


def test_default_minimum_samples_per_metric():
    assert set(DEFAULT_MIN_SAMPLES) == set(METRICS)
    expected = {"p50_ms": 100, "p95_ms": 100, "p99_ms": 100, "psi": 100, "js": 100, "ks": 100, "ece": 200,
                "mce": 200, "brier": 200, "accuracy": 100, "flip_rate": 50, "error_rate": 1, "accepted_malformed": 1,
                "requests": 1, "rps": 1, "regressions": 1, "disagreement": 100, "p50_delta_ms": 100,
                "p95_delta_ms": 100, "p99_delta_ms": 100, "ece_delta": 200, "accuracy_delta": 100}  # fmt: skip
    assert expected == DEFAULT_MIN_SAMPLES


@pytest.mark.parametrize("metric", METRICS)
def test_each_metric_needs_its_minimum(metric):
    gate = parse_gate(f"{metric}[clean] >= 0" if metric in INTERVAL_METRICS else f"{metric} >= 0")
    need = minimum_samples(metric)
    interval = (0.4, 0.6) if metric in INTERVAL_METRICS else None  # comparison figures are judged on theirs
    assert judge(gate, Observation(0.5, need, interval=interval), minimum=need).status == "pass"
    assert judge(gate, Observation(0.5, need - 1, interval=interval), minimum=need).status == "inconclusive"


def test_a_global_minimum_overrides_all_but_the_counts():
    assert minimum_samples("p99_ms", 5000) == 5000
    assert minimum_samples("ece", 10) == 10
    assert minimum_samples("requests", 5000) == 1
    assert minimum_samples("rps", 5000) == 1
    gates = [parse_gate(t) for t in ("p99_ms[clean] < 300", "p99_ms[drifted] < 300", "requests > 100000")]
    statuses = [r.status for r in evaluate(gates, summary(), min_samples=5000)]
    assert statuses == ["pass", "inconclusive", "fail"]  # 7318 and 2458 latencies; 12233 requests


def test_evaluate_a_realistic_run():
    checks = ["p99_ms[clean] < 300", "psi[drifted] < 0.25", "accepted_malformed == 0", "ece[clean] < 0.05",
              "rps > 100", "error_rate < 1%", "flip_rate < 5%", "psi[malformed] < 0.1"]  # fmt: skip
    results = evaluate([parse_gate(c) for c in checks], summary())
    assert [r.status for r in results] == ["pass", "fail", "fail", "pass", "pass", "pass", "pass", "inconclusive"]
    assert results[0].message == "p99_ms[clean] = 12.9 < 300: pass (n=7318)"
    assert results[1].message == "psi[drifted] = 0.591, not < 0.25: fail (n=1099)"
    assert results[2].message == "accepted_malformed = 4, not == 0: fail (n=12233)"
    assert results[5].message == "error_rate = 0.0981% < 1%: pass (n=12233)"
    assert results[7].message == "psi[malformed]: no value (no predictions to compare): inconclusive"
    assert exit_code(results) == EXIT_GATE_FAILED


def test_the_documented_messages():
    s = summary()
    s["kinds"]["clean"]["latency_ms"] = {"p50": 3.0, "p95": 80.0, "p99": 212.4, "n": 5120}
    s["kinds"]["drifted"]["shift"].update(psi=0.41, n=2458, n_reference=5120)
    s["kinds"]["clean"]["calibration"]["n"] = 87
    texts = ["p99_ms[clean] < 300", "psi[drifted] < 0.25", "ece[clean] < 0.05"]
    messages = [r.message for r in evaluate([parse_gate(t) for t in texts], s)]
    assert messages == [
        "p99_ms[clean] = 212.4 < 300: pass (n=5120)",
        "psi[drifted] = 0.41, not < 0.25: fail (n=2458)",
        "ece[clean]: 87 samples, fewer than 200: inconclusive",
    ]


def test_a_default_or_worst_kind_is_named():
    results = evaluate([parse_gate("psi < 0.25"), parse_gate("ece < 0.05"), parse_gate("ks[all] < 0.5")], summary())
    assert results[0].message == "psi (drifted) = 0.591, not < 0.25: fail (n=1099)"
    assert results[0].reason == "from drifted"
    assert results[1].message == "ece (clean) = 0.0158 < 0.05: pass (n=7318)"
    assert results[2].message.startswith("ks[all] (drifted) = 0.31 < 0.5")


def test_the_inconclusive_policy_is_recorded():
    gates = [parse_gate("ece[drifted] < 0.5")]
    s = summary()
    s["kinds"]["drifted"]["calibration"]["n"] = 1
    strict, lenient = evaluate(gates, s)[0], evaluate(gates, s, inconclusive="pass")[0]
    assert strict.status == lenient.status == "inconclusive"
    assert strict.message == "ece[drifted]: 1 sample, fewer than 200: inconclusive"
    assert not strict.passed and lenient.passed
    assert exit_code([strict]) == EXIT_GATE_INCONCLUSIVE
    assert exit_code([lenient]) == 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="inconclusive"):
        evaluate([], summary(), inconclusive="ignore")
    with pytest.raises(ValueError, match="min_samples"):
        evaluate([], summary(), min_samples=-1)
    with pytest.raises(ValueError, match="inconclusive"):
        exit_code([result("rps > 1", "pass")], inconclusive="maybe")


EXIT_CODES = [
    # statuses, policy, code
    ([], "fail", None),
    ([], "pass", None),
    (["pass"], "fail", 0),
    (["pass", "pass"], "pass", 0),
    (["fail"], "fail", EXIT_GATE_FAILED),
    (["fail"], "pass", EXIT_GATE_FAILED),
    (["pass", "fail"], "fail", EXIT_GATE_FAILED),
    (["inconclusive"], "fail", EXIT_GATE_INCONCLUSIVE),
    (["inconclusive"], "pass", 0),
    (["pass", "inconclusive"], "fail", EXIT_GATE_INCONCLUSIVE),
    (["pass", "inconclusive"], "pass", 0),
    (["fail", "inconclusive"], "fail", EXIT_GATE_FAILED),
    (["inconclusive", "fail"], "pass", EXIT_GATE_FAILED),
    (["pass", "fail", "inconclusive"], "fail", EXIT_GATE_FAILED),
    (["pass", "fail", "inconclusive"], "pass", EXIT_GATE_FAILED),
]


@pytest.mark.parametrize("statuses, policy, code", EXIT_CODES)
def test_exit_code(statuses, policy, code):
    judged = [result(f"rps > {i}", s, passes=policy == "pass") for i, s in enumerate(statuses)]
    assert exit_code(judged) == code  # the policy the results were judged under
    assert exit_code(judged, inconclusive=policy) == code
    neutral = [result(f"rps > {i}", s) for i, s in enumerate(statuses)]
    assert exit_code(neutral, inconclusive=policy) == code  # an explicit policy wins


def test_exit_code_constants():
    assert (EXIT_GATE_FAILED, EXIT_GATE_INCONCLUSIVE) == (3, 4)


def test_format_verdicts():
    s = summary()
    s["kinds"]["clean"]["calibration"]["n"] = 87
    checks = ["p99_ms[clean] < 300", "psi[drifted] < 0.25", "ece[clean] < 0.05", "error_rate < 1%", "rps > 100"]
    text = format_verdicts(evaluate([parse_gate(c) for c in checks], s))
    lines = text.splitlines()
    assert lines[0] == "ML gates"
    assert lines[1].split() == ["gate", "value", "n", "status", "detail"]
    assert set(lines[2]) == {"-"}
    assert lines[-1] == "gates: 3 passed, 1 failed, 1 inconclusive"
    rows = dict(zip(checks, lines[3:-1], strict=True))
    assert rows["p99_ms[clean] < 300"].split() == ["p99_ms[clean]", "<", "300", "12.9", "7318", "pass"]
    assert "0.591" in rows["psi[drifted] < 0.25"] and " fail" in rows["psi[drifted] < 0.25"]
    assert "inconclusive (counted as fail)" in rows["ece[clean] < 0.05"]
    assert "87 samples, fewer than 200" in rows["ece[clean] < 0.05"]
    assert "0.0981%" in rows["error_rate < 1%"]
    lenient = format_verdicts(evaluate([parse_gate("ece[clean] < 0.05")], s, inconclusive="pass"))
    assert "inconclusive (counted as pass)" in lenient
    assert format_verdicts([]).splitlines()[-1] == "gates: 0 passed, 0 failed, 0 inconclusive"


def test_a_missing_value_shows_as_a_dash():
    text = format_verdicts(evaluate([parse_gate("psi[malformed] < 0.1")], summary()))
    assert text.splitlines()[3].split()[3:6] == ["-", "0", "inconclusive"]


def _junit(policy: str = "fail") -> tuple[list[GateResult], ET.Element]:
    s = summary()
    s["kinds"]["clean"]["calibration"]["n"] = 87
    checks = ["p99_ms[clean] < 300", "psi[drifted] < 0.25", "ece[clean] < 0.05", "rps > 100"]
    results = evaluate([parse_gate(c) for c in checks], s, inconclusive=policy)
    return results, ET.fromstring(junit_xml(results))


def test_junit_xml_counts_and_names():
    results, suite = _junit()
    assert suite.tag == "testsuite"
    assert suite.get("name") == "locust-mlstress gates"
    counts = [suite.get(a) for a in ("tests", "failures", "skipped", "errors")]
    assert counts == ["4", "2", "0", "0"]
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [r.gate.text for r in results]
    assert {c.get("classname") for c in cases} == {"mlstress.gates"}
    assert cases[0].find("failure") is None and cases[0].find("skipped") is None
    failure = cases[1].find("failure")
    assert failure is not None and failure.get("message") == "psi[drifted] = 0.591, not < 0.25: fail (n=1099)"
    assert failure.get("type") != "inconclusive"
    inconclusive = cases[2].find("failure")
    assert inconclusive is not None and inconclusive.get("type") == "inconclusive"
    assert inconclusive.get("message") == "ece[clean]: 87 samples, fewer than 200: inconclusive"
    assert cases[3].findtext("system-out") == results[3].message


def test_junit_xml_skips_an_inconclusive_gate_that_counts_as_a_pass():
    _, suite = _junit("pass")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "1")
    skipped = suite.findall("testcase")[2].find("skipped")
    assert skipped is not None and "fewer than 200" in (skipped.get("message") or "")
    assert suite.findall("testcase")[2].find("failure") is None


def test_junit_xml_escapes_and_custom_suite():
    results = evaluate([parse_gate("p99_ms[clean] <= 300"), parse_gate("error_rate < 1%")], summary())
    text = junit_xml(results, suite='gates & "checks" <nightly>')
    assert 'name="p99_ms[clean] &lt;= 300"' in text
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    suite = ET.fromstring(text)
    assert suite.get("name") == 'gates & "checks" <nightly>'
    assert [c.get("name") for c in suite.findall("testcase")] == ["p99_ms[clean] <= 300", "error_rate < 1%"]


def test_junit_xml_replaces_characters_xml_cannot_hold():
    bad = GateResult(parse_gate("rps > 1"), 0.5, 10, "fail", "rps \x01 = 0.5, not > 1: fail", False)
    failure = ET.fromstring(junit_xml([bad], suite="a\x00b")).find("testcase/failure")
    assert failure is not None and failure.get("message") == "rps \ufffd = 0.5, not > 1: fail"


def test_junit_xml_without_gates():
    suite = ET.fromstring(junit_xml([]))
    assert (suite.get("tests"), suite.get("failures"), suite.findall("testcase")) == ("0", "0", [])
