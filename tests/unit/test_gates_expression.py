"""The gate language: what parses into what, and what a mistake's message shows.

Every bad expression must come back as one `GateError` naming the expression, with a caret under
the offending character and what was expected there; random text never raises anything else.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from locust_mlstress.domain.schema import KINDS as PROFILE_KINDS
from locust_mlstress.gates import KINDS, METRICS, Gate, GateError, parse_gate

GOOD = [
    # text, metric, kind, op, threshold, percent
    ("p99_ms[clean] < 300", "p99_ms", "clean", "<", 300.0, False),
    ("p50_ms<=2.5", "p50_ms", None, "<=", 2.5, False),
    ("  p95_ms [ drifted ]  >=  1e2 ", "p95_ms", "drifted", ">=", 100.0, False),
    ("psi[drifted] < 0.25", "psi", "drifted", "<", 0.25, False),
    ("js[all] < .1", "js", "all", "<", 0.1, False),
    ("ks < 5E-2", "ks", None, "<", 0.05, False),
    ("accepted_malformed == 0", "accepted_malformed", None, "==", 0.0, False),
    ("accepted_malformed[malformed] != 3", "accepted_malformed", "malformed", "!=", 3.0, False),
    ("ece[clean] < 0.05", "ece", "clean", "<", 0.05, False),
    ("mce[oversized] <= 0.4", "mce", "oversized", "<=", 0.4, False),
    ("brier < 0.25", "brier", None, "<", 0.25, False),
    ("rps > 100", "rps", None, ">", 100.0, False),
    ("requests[probe] >= 50", "requests", "probe", ">=", 50.0, False),
    ("error_rate < 1%", "error_rate", None, "<", 0.01, True),
    ("error_rate[oversized] < 2.5 %", "error_rate", "oversized", "<", 0.025, True),
    ("flip_rate < 0.5%", "flip_rate", None, "<", 0.005, True),
    ("flip_rate[probe] <= 0.01", "flip_rate", "probe", "<=", 0.01, False),
    ("p99_ms[probe] < 50", "p99_ms", "probe", "<", 50.0, False),
    ("rps > +1.", "rps", None, ">", 1.0, False),
    ("psi > -1", "psi", None, ">", -1.0, False),
    ("p99_ms\t<\t300", "p99_ms", None, "<", 300.0, False),
    ("p99_ms[clean]<300", "p99_ms", "clean", "<", 300.0, False),
]


@pytest.mark.parametrize("text, metric, kind, op, threshold, percent", GOOD)
def test_good_expressions(text, metric, kind, op, threshold, percent):
    gate = parse_gate(text)
    assert (gate.metric, gate.kind, gate.op, gate.percent) == (metric, kind, op, percent)
    assert gate.threshold == pytest.approx(threshold)
    assert gate.text == text.strip()


def test_every_metric_and_kind_parses():
    for metric in METRICS:
        assert parse_gate(f"{metric} < 1").metric == metric
    for kind in ("clean", "drifted", "malformed", "oversized", "all"):
        assert parse_gate(f"p99_ms[{kind}] < 1").kind == kind


def test_gate_kinds_are_the_profile_kinds_plus_probe_and_all():
    assert (*PROFILE_KINDS, "probe", "all") == KINDS


def test_subject_and_holds():
    gate = parse_gate("p99_ms[clean] <= 300")
    assert gate.subject == "p99_ms[clean]"
    assert gate.holds(300.0) and gate.holds(12.0) and not gate.holds(300.5)
    assert parse_gate("rps > 1").subject == "rps"
    assert parse_gate("accepted_malformed == 0").holds(0.0)
    assert parse_gate("accepted_malformed != 0").holds(1.0)


def test_gates_are_frozen_and_comparable():
    assert parse_gate("rps>1") == Gate("rps>1", "rps", None, ">", 1.0)
    with pytest.raises(AttributeError):
        parse_gate("rps > 1").threshold = 2  # type: ignore[misc]


BAD = [
    # text, caret position, a fragment of the message
    ("p99_ms[clean] << 300", 15, "expected a number after the operator '<'"),
    ("", 0, "empty gate"),
    ("   ", 3, "empty gate"),
    ("p99 < 300", 0, "unknown metric 'p99'; did you mean 'p99_ms'?"),
    ("latency < 3", 0, "unknown metric 'latency'"),
    ("P99_MS < 3", 0, "did you mean 'p99_ms'?"),
    ("p99_ms[clena] < 300", 7, "unknown kind 'clena'; did you mean 'clean'?"),
    ("p99_ms[everything] < 300", 7, "unknown kind 'everything'"),
    ("p99_ms[] < 300", 7, "expected a kind inside [ ]"),
    ("p99_ms[clean < 300", 13, "expected ']' after the kind 'clean'"),
    ("p99_ms[clean] 300", 14, "expected a comparison operator"),
    ("p99_ms[clean]", 13, "expected a comparison operator (<, <=, >, >=, ==, !=) after 'p99_ms[clean]'"),
    ("p99_ms = 300", 7, "'=' is not an operator; did you mean '=='?"),
    ("p99_ms =< 300", 7, "did you mean '<='?"),
    ("p99_ms => 300", 7, "did you mean '>='?"),
    ("p99_ms ! 300", 7, "did you mean '!='?"),
    ("p99_ms <", 8, "expected a number after the operator '<', got the end of the expression"),
    ("p99_ms < fast", 9, "expected a number after the operator '<', got 'fast'"),
    ("p99_ms < 300ms", 12, "'300ms' is not a number"),
    ("p99_ms < 1.2.3", 12, "'1.2.3' is not a number"),
    ("p99_ms < 1e", 10, "'1e' is not a number"),
    ("p99_ms < 1_000", 10, "'1_000' is not a number"),
    ("p99_ms < 1e999", 9, "too large"),
    ("p99_ms < 300 and rps > 1", 13, "unexpected 'and' after the threshold"),
    ("error_rate < 1%%", 15, "unexpected '%' after the threshold"),
    ("p99_ms < 300;", 12, "unexpected ';' after the threshold"),
    ("< 300", 0, "expected a metric name such as p99_ms, got '<'"),
    ("300 > p99_ms", 0, "expected a metric name"),
    ("flip_rate[clean] < 0.1", 10, "flip_rate is measured on consistency probes only"),
    ("psi[probe] < 0.1", 4, "probes resend earlier payloads and carry no psi"),
    ("ece[probe] < 0.1", 4, "carry no ece"),
    ("p99_ms < %", 9, "expected a number after the operator '<', got '%'"),
    ("p99_ms\u00e9 < 1", 6, "expected a comparison operator"),
]


@pytest.mark.parametrize("text, position, fragment", BAD)
def test_bad_expressions_point_at_the_problem(text, position, fragment):
    with pytest.raises(GateError) as info:
        parse_gate(text)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.position == position, str(err)
    assert fragment in str(err)
    head, line, caret = str(err).split("\n")
    assert head.startswith(f"--ml-gate '{text}': ")
    assert line == f"  {text}"
    assert caret == "  " + " " * position + "^"


def test_the_documented_message_verbatim():
    with pytest.raises(GateError) as info:
        parse_gate("p99_ms[clean] << 300")
    assert str(info.value) == (
        "--ml-gate 'p99_ms[clean] << 300': expected a number after the operator '<', got '<'\n"
        "  p99_ms[clean] << 300\n"
        "                 ^"
    )


def test_label_and_escaped_control_characters_keep_the_caret_aligned():
    with pytest.raises(GateError) as info:
        parse_gate("rps\t> 5\n;", label="check")
    head, line, caret = str(info.value).split("\n")
    assert head.startswith("check 'rps\\t> 5\\n;': unexpected ';'")
    assert line == "  rps\\t> 5\\n;"
    assert caret.index("^") == line.index(";")


def test_a_quote_in_the_expression_switches_the_quotes():
    with pytest.raises(GateError) as info:
        parse_gate("rps > '5'")
    assert str(info.value).startswith("--ml-gate \"rps > '5'\": ")


def test_vertical_tab_is_not_whitespace():
    # it is not valid in the JUnit XML the gate's text ends up in
    with pytest.raises(GateError, match="unexpected"):
        parse_gate("rps > 5\x0b")


def test_the_gates_package_imports_without_locust():
    code = "import sys, locust_mlstress.gates, locust_mlstress.profile.gates; print('locust' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def _check_outcome(text: str) -> None:
    try:
        gate = parse_gate(text)
    except GateError as err:
        lines = str(err).split("\n")
        assert len(lines) == 3
        assert lines[2].endswith("^") and len(lines[2]) <= len(lines[1]) + 1
        assert 0 <= err.position <= len(text)
        return
    assert gate.metric in METRICS and (gate.kind is None or gate.kind in KINDS)
    assert parse_gate(gate.text) == gate


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_random_text_only_ever_raises_gate_error(text):
    _check_outcome(text)


GRAMMAR = ["p99_ms", "psi", "error_rate", "flip_rate", "rps", "[", "]", "clean", "probe", "all", "<", "<=", "=", "!",
           "==", ">", " ", "\t", "\n", "300", "1e-3", ".5", "-", "+", "%", "e", "x", "1.2.3", "'", "\x00"]  # fmt: skip


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(GRAMMAR), max_size=8))
def test_near_miss_expressions_only_ever_raise_gate_error(pieces):
    _check_outcome("".join(pieces))
