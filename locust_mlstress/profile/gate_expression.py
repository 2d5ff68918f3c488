"""The gate language: `METRIC [ '[' KIND ']' ] OP NUMBER [%]`, parsed by hand.

Gates arrive from a shell (`--ml-gate`) or a profile, so a mistake must come back as one message
that shows the expression, points at the offending character and says what was expected, never
as a traceback. Hence a tiny tokenizer and a recursive-descent parser instead of `eval` (which
would run arbitrary code) or a regular expression (which cannot say *where* it stopped matching).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from locust_mlstress.domain.gates import (
    ACCURACY_METRICS,
    CALIBRATION_METRICS,
    COMPARISON_METRICS,
    CONSISTENCY_METRICS,
    INTERVAL_METRICS,
    KINDS,
    METRICS,
    OPERATORS,
    SHIFT_METRICS,
    Gate,
    subject,
)

_OPERATOR_LIST = ", ".join(OPERATORS)  # "<, <=, >, >=, ==, !="
_SPACE = " \t\r\n"  # not every str.isspace(): \x0b or \x1c would be invalid in JUnit XML
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# a number-like run, read greedily so that `300ms` or `1.2.3` is reported as one bad number
_NUMBERISH = re.compile(r"[+-]?(?:[0-9.]|(?<=[eE])[+-]|(?<=[0-9A-Za-z_.])[A-Za-z_])+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class GateError(ValueError):
    """A gate expression that cannot be parsed. `str()` is the whole message: the expression,
    a caret under the offending character, and what was expected there."""

    def __init__(self, text: str, position: int, reason: str, *, label: str = "--ml-gate"):
        self.text = text
        self.position = position
        self.reason = reason
        self.label = label
        super().__init__(_render(text, position, reason, label))


def _render(text: str, position: int, reason: str, label: str) -> str:
    # control characters are shown escaped, and the caret counts the escaped width
    shown = [c if c.isprintable() else repr(c)[1:-1] for c in text]
    line = "".join(shown)
    column = len("".join(shown[:position]))
    return f"{label} {_quote(line)}: {reason}\n  {line}\n  {' ' * column}^"


def _quote(text: str) -> str:
    return f"'{text}'" if "'" not in text else f'"{text}"'


@dataclass(frozen=True)
class _Token:
    kind: str  # name, number, op, bad_op, lbracket, rbracket, percent, junk, end
    text: str
    pos: int


def tokenize(text: str) -> list[_Token]:
    """Every token with its position; characters that fit nothing become `junk` tokens so the
    parser, which knows what it wanted there, writes the message."""
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c in _SPACE:
            i += 1
            continue
        two = text[i : i + 2]
        if two in OPERATORS:
            tokens.append(_Token("op", two, i))
            i += 2
            continue
        if c in "<>":
            tokens.append(_Token("op", c, i))
        elif c in "=!":
            tokens.append(_Token("bad_op", c, i))
        elif c in "[]%":
            tokens.append(_Token({"[": "lbracket", "]": "rbracket", "%": "percent"}[c], c, i))
        elif (name := _NAME.match(text, i)) is not None:
            tokens.append(_Token("name", name.group(), i))
            i = name.end()
            continue
        elif (number := _NUMBERISH.match(text, i)) is not None and any(ch.isdigit() for ch in number.group()):
            tokens.append(_Token("number", number.group(), i))
            i = number.end()
            continue
        else:
            tokens.append(_Token("junk", c, i))
        i += 1
    tokens.append(_Token("end", "", len(text)))
    return tokens


def parse_gate(text: str, *, label: str = "--ml-gate") -> Gate:
    """Parse one gate; raise `GateError` (its message prefixed with `label`) if it is not one."""
    return _Parser(text, label).gate()


class _Parser:
    def __init__(self, text: str, label: str):
        self.text = text
        self.label = label
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    def fail(self, position: int, reason: str) -> GateError:
        return GateError(self.text, position, reason, label=self.label)

    def gate(self) -> Gate:
        first = self.peek()
        if first.kind == "end":
            raise self.fail(first.pos, "empty gate; expected something like 'p99_ms[clean] < 300'")
        metric = self.metric()
        kind = self.kind(metric) if self.peek().kind == "lbracket" else None
        op = self.operator(subject(metric, kind))
        threshold, percent = self.number(op)
        extra = self.peek()
        if extra.kind != "end":
            raise self.fail(extra.pos, f"unexpected {_show(extra)} after the threshold; a gate ends with its number")
        return Gate(self.text.strip(_SPACE), metric, kind, op, threshold, percent)

    def metric(self) -> str:
        token = self.take()
        if token.kind != "name":
            raise self.fail(token.pos, f"expected a metric name such as p99_ms, got {_show(token)}")
        if token.text in METRICS:
            return token.text
        if token.text.lower() in METRICS:
            near = [token.text.lower()]
        else:
            near = difflib.get_close_matches(token.text.lower(), METRICS, n=1, cutoff=0.5)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise self.fail(token.pos, f"unknown metric {token.text!r}; {hint}expected one of: {', '.join(METRICS)}")

    def kind(self, metric: str) -> str:
        self.take()  # the '['
        token = self.take()
        if token.kind != "name":
            raise self.fail(token.pos, f"expected a kind inside [ ] ({', '.join(KINDS)}), got {_show(token)}")
        if token.text not in KINDS:
            near = difflib.get_close_matches(token.text.lower(), KINDS, n=1, cutoff=0.5)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise self.fail(token.pos, f"unknown kind {token.text!r}; {hint}expected one of: {', '.join(KINDS)}")
        close = self.take()
        if close.kind != "rbracket":
            raise self.fail(close.pos, f"expected ']' after the kind {token.text!r}, got {_show(close)}")
        self.check_pair(metric, token)
        return token.text

    def check_pair(self, metric: str, kind: _Token) -> None:
        """Pairs the summary can never fill: refused now rather than inconclusive forever."""
        if metric in CONSISTENCY_METRICS and kind.text != "probe":
            raise self.fail(
                kind.pos, f"{metric} is measured on consistency probes only; write {metric} or {metric}[probe]"
            )
        if kind.text == "probe" and metric in COMPARISON_METRICS:
            raise self.fail(kind.pos, f"probes are not sent to a challenger; {metric} is judged on another kind")
        if kind.text == "all" and metric in INTERVAL_METRICS:
            raise self.fail(kind.pos, f"{metric} is judged per kind: write {metric}[clean] or another kind")
        if kind.text == "probe" and metric in SHIFT_METRICS + CALIBRATION_METRICS + ACCURACY_METRICS:
            raise self.fail(kind.pos, f"probes resend earlier payloads and carry no {metric}; use another kind")

    def operator(self, subject: str) -> str:
        token = self.take()
        if token.kind == "op":
            return token.text
        if token.kind == "bad_op":
            after = self.peek()
            if token.text == "=" and after.kind == "op" and after.pos == token.pos + 1 and after.text in "<>":
                hint = f"did you mean '{after.text}='?"
            else:
                hint = "did you mean '=='?" if token.text == "=" else "did you mean '!='?"
            raise self.fail(token.pos, f"{token.text!r} is not an operator; {hint} (operators: {_OPERATOR_LIST})")
        raise self.fail(
            token.pos, f"expected a comparison operator ({_OPERATOR_LIST}) after {subject!r}, got {_show(token)}"
        )

    def number(self, op: str) -> tuple[float, bool]:
        token = self.take()
        if token.kind != "number":
            raise self.fail(token.pos, f"expected a number after the operator {op!r}, got {_show(token)}")
        valid = _NUMBER.match(token.text)
        if valid is None or valid.end() != len(token.text):
            at = token.pos + (valid.end() if valid else 0)
            raise self.fail(at, f"{token.text!r} is not a number; expected an integer, decimal or 1e-3 form")
        value = float(token.text)
        if not math.isfinite(value):
            raise self.fail(token.pos, f"{token.text!r} is too large; expected a finite number")
        if self.peek().kind == "percent":
            self.take()
            return value / 100, True
        return value, False


def _show(token: _Token) -> str:
    return "the end of the expression" if token.kind == "end" else repr(token.text)


def parse_gates(texts: Iterable[str], *, label: str = "--ml-gate") -> tuple[Gate, ...]:
    """Parse several expressions; the first bad one raises its `GateError`."""
    return tuple(parse_gate(text, label=label) for text in texts)
