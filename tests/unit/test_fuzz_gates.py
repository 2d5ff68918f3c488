"""Fuzzed gate expressions: every one parses, or fails with a `GateError` pointing at the culprit.

test_gates_expression.py pins each message and throws random text and near-miss token soups at
the parser. This module generates from the grammar instead, so the properties can be exact:

- any metric, allowed kind, operator and number, spaced any way, parses to those parts;
- a valid expression cut short or edited at random parses again or fails with a position inside
  the text, the text quoted in the first line and a caret under the position;
- a bad operator, an unknown metric or kind, or a bad number fails *at that part*: the position
  falls inside it, never on a part that was right;
- a number parses exactly when it is a finite decimal (Python's float syntax minus underscores).

Hypothesis settings: derandomize=True (the same examples on every run, so CI is reproducible and a
failure reproduces from the test alone), database=None (nothing written to .hypothesis/),
deadline=None (a loaded CI machine must not turn a slow example into a failure). The example
counts keep this module near 3 s; MLSTRESS_FUZZ_SCALE=10 runs ten times as many.
"""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from locust_mlstress.domain.gates import (
    ACCURACY_METRICS,
    CALIBRATION_METRICS,
    COMPARISON_METRICS,
    INTERVAL_METRICS,
    SHIFT_METRICS,
)
from locust_mlstress.gates import KINDS, METRICS, OPERATORS, Gate, GateError, parse_gate, parse_gates

SCALE = float(os.environ.get("MLSTRESS_FUZZ_SCALE", "1"))
SPACE = st.text(" \t", max_size=2)


def fuzz(examples: int) -> settings:
    """The settings of every fuzz module (test_fuzz_profiles and test_fuzz_accumulators use it too)."""
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    )


def allowed(metric: str, kind: str | None) -> bool:
    """The pairs docs/gates.md says the parser refuses: flip_rate off probes, shift/calibration/accuracy
    and comparison figures on them, and a comparison figure with an interval over `all`."""
    if metric == "flip_rate":
        return kind in (None, "probe")
    if metric in COMPARISON_METRICS and kind == "probe":
        return False
    if metric in INTERVAL_METRICS and kind == "all":
        return False
    return not (kind == "probe" and metric in SHIFT_METRICS + CALIBRATION_METRICS + ACCURACY_METRICS)


@st.composite
def parts(draw) -> dict:
    """The pieces of a valid gate and where each starts once joined with random spacing."""
    metric = draw(st.sampled_from(METRICS))
    kind = draw(st.sampled_from([None, *KINDS]).filter(lambda k: allowed(metric, k)))
    number = draw(
        st.one_of(
            st.integers(-(10**6), 10**6).map(str),
            st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
            st.sampled_from(["300", "0.25", ".5", "5.", "+1", "-1", "1e-3", "2.5E+2", "0"]),
        )
    )
    return {"metric": metric, "kind": kind, "op": draw(st.sampled_from(list(OPERATORS))), "number": number,
            "percent": draw(st.booleans()), "spaces": [draw(SPACE) for _ in range(7)]}  # fmt: skip


def join(p: dict) -> tuple[str, dict[str, int]]:
    """The expression text, and the position where its metric, kind, op and number start."""
    s, text, at = p["spaces"], "", {}
    text += s[0]
    at["metric"] = len(text)
    text += p["metric"]
    if p["kind"] is not None:
        text += s[1] + "[" + s[2]
        at["kind"] = len(text)
        text += p["kind"] + s[3] + "]"
    text += s[4]
    at["op"] = len(text)
    text += p["op"] + s[5]
    at["number"] = len(text)
    text += p["number"] + ("%" if p["percent"] else "") + s[6]
    return text, at


def check_error(text: str, err: GateError, label: str = "--ml-gate") -> None:
    """The message shape every GateError has: quoted text, the text, a caret under the position."""
    assert 0 <= err.position <= len(text)
    head, line, caret = str(err).split("\n")
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    assert head.startswith(f"{label} ") and shown in head and err.reason in head
    assert line == f"  {shown}"
    column = len("".join(c if c.isprintable() else repr(c)[1:-1] for c in text[: err.position]))
    assert caret == "  " + " " * column + "^"


@fuzz(300)
@given(p=parts())
def test_any_valid_gate_parses_to_its_parts(p):
    text, _ = join(p)
    gate = parse_gate(text)
    threshold = float(p["number"]) / (100 if p["percent"] else 1)
    assert (gate.metric, gate.kind, gate.op, gate.percent) == (p["metric"], p["kind"], p["op"], p["percent"])
    assert gate.threshold == threshold and gate.text == text.strip(" \t")
    assert parse_gate(gate.text) == gate


@fuzz(300)
@given(p=parts(), data=st.data())
def test_edited_or_cut_gates_parse_or_point_inside_the_text(p, data):
    text, at = join(p)
    i = data.draw(st.integers(0, len(text)), label="at")
    edit = data.draw(st.sampled_from(["cut", "delete", "insert", "replace", "swap"]), label="edit")
    char = data.draw(st.one_of(st.sampled_from("[]<>=!%.eE+-_ 0x\t\n\x00'\"é"), st.characters()), label="char")
    edited = {
        "cut": text[:i],
        "delete": text[:i] + text[i + 1 :],
        "insert": text[:i] + char + text[i:],
        "replace": text[:i] + char + text[i + 1 :],
        "swap": text[:i] + text[i + 1 : i + 2] + text[i : i + 1] + text[i + 2 :],
    }[edit]
    cut_number = edit == "cut" and i <= at["number"]  # the number is gone: this cannot be a gate
    try:
        gate = parse_gate(edited)
    except GateError as err:
        check_error(edited, err)
        if cut_number and i >= at["op"] + len(p["op"]):  # cut after the whole operator: blame the end
            assert err.position == len(edited) and "got the end of the expression" in err.reason, str(err)
        return
    assert not cut_number, edited
    assert gate.metric in METRICS and allowed(gate.metric, gate.kind) and gate.op in OPERATORS
    assert parse_gate(gate.text) == gate


BAD_OPERATORS = st.text("=!<>~^&|", min_size=1, max_size=3).filter(lambda s: s not in OPERATORS)


@fuzz(200)
@given(p=parts(), op=BAD_OPERATORS)
def test_a_bad_operator_is_blamed_on_the_operator(p, op):
    text, at = join({**p, "op": op})
    with pytest.raises(GateError) as info:
        parse_gate(text)
    check_error(text, info.value)
    assert at["op"] <= info.value.position <= at["op"] + len(op), (text, str(info.value))


IDENTIFIERS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)


def _blamed(p: dict, part: str, name: str) -> None:
    """`name` in place of the expression's metric or kind: the error points at it and names it."""
    text, at = join({**p, part: name})
    with pytest.raises(GateError) as info:
        parse_gate(text)
    check_error(text, info.value)
    assert info.value.position == at[part] and f"unknown {part} {name!r}" in info.value.reason


@fuzz(200)
@given(p=parts(), name=IDENTIFIERS.filter(lambda s: s not in METRICS))
def test_an_unknown_metric_is_blamed_on_the_metric(p, name):
    _blamed(p, "metric", name)


@fuzz(200)
@given(p=parts(), name=IDENTIFIERS.filter(lambda s: s not in KINDS))
def test_an_unknown_kind_is_blamed_on_the_kind(p, name):
    _blamed(p, "kind", name)


@pytest.mark.parametrize("metric", METRICS)
def test_every_metric_and_kind_pair_parses_exactly_when_the_summary_can_fill_it(metric):
    for kind in (None, *KINDS):
        text, at = join({"metric": metric, "kind": kind, "op": "<", "number": "1", "percent": False,
                         "spaces": [" "] * 7})  # fmt: skip
        if allowed(metric, kind):
            assert parse_gate(text).kind == kind
        else:
            with pytest.raises(GateError) as info:
                parse_gate(text)
            assert info.value.position == at["kind"]


NUMBERISH = st.one_of(st.text("0123456789.eE+-_x", max_size=8), st.sampled_from(["9" * 400, "1e999", "1_000", "5."]))


def is_number(s: str) -> bool:
    """The documented grammar, independently: Python's float syntax, minus underscores, finite."""
    try:
        value = float(s)
    except ValueError:
        return False
    return "_" not in s and value not in (float("inf"), float("-inf")) and re.fullmatch(r"[0-9.eE+-]+", s) is not None


@fuzz(400)
@given(p=parts(), number=NUMBERISH)
def test_a_number_parses_exactly_when_it_is_a_finite_decimal(p, number):
    text, at = join({**p, "number": number})
    try:
        gate = parse_gate(text)
    except GateError as err:
        check_error(text, err)
        assert not is_number(number), (text, str(err))
        assert err.position >= at["number"], (text, str(err))  # never blamed on the metric, kind or operator
        return
    assert is_number(number), text
    assert gate.threshold == float(number) / (100 if p["percent"] else 1)


@fuzz(100)
@given(texts=st.lists(st.one_of(parts().map(lambda p: join(p)[0]), st.text(max_size=12)), max_size=5))
def test_a_list_of_gates_fails_on_its_first_bad_one(texts):
    first_bad = None
    for i, text in enumerate(texts):
        try:
            parse_gate(text)
        except GateError:
            first_bad = i
            break
    try:
        gates = parse_gates(texts, label="check")
    except GateError as err:
        assert first_bad is not None and err.text == texts[first_bad]
        check_error(texts[first_bad], err, label="check")
        return
    assert first_bad is None and all(isinstance(g, Gate) for g in gates) and len(gates) == len(texts)
