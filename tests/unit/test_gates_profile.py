"""The profile's `[gates]` table: what loads, its defaults, and the errors that stop a run early."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from locust_mlstress.domain.schema import Profile
from locust_mlstress.errors import ProfileError
from locust_mlstress.gates import KINDS, METRICS, GateSpec, parse_gate, parse_gates
from locust_mlstress.profile import load_profile
from tests.samples import PARAM

FULL = """
[gates]
checks = ["p99_ms[clean] < 300", "psi[drifted] < 0.25", "accepted_malformed == 0", "ece[clean] < 0.05",
          "rps > 100", "error_rate < 1%"]
min_samples = 150
inconclusive = "pass"
abort_on_fail = true
grace_s = 45
interval_s = 5.5
"""


@pytest.fixture
def load(tmp_path):
    def load(extra: str) -> Profile:
        path = tmp_path / "p.toml"
        path.write_text(PARAM + extra)
        return load_profile(path)

    return load


def test_a_full_gates_table_loads(load):
    spec = load(FULL).gates
    assert [g.text for g in spec.checks] == ["p99_ms[clean] < 300", "psi[drifted] < 0.25", "accepted_malformed == 0",
                                             "ece[clean] < 0.05", "rps > 100", "error_rate < 1%"]  # fmt: skip
    assert spec.checks[5] == parse_gate("error_rate < 1%")
    assert (spec.min_samples, spec.inconclusive, spec.abort_on_fail) == (150, "pass", True)
    assert (spec.grace_s, spec.interval_s) == (45.0, 5.5)


def test_without_a_gates_table_the_spec_is_empty(load):
    spec = load("").gates
    assert spec == GateSpec()
    assert spec.checks == () and spec.min_samples is None and spec.inconclusive == "fail"
    assert (spec.abort_on_fail, spec.grace_s, spec.interval_s) == (False, 30.0, 10.0)


def test_defaults_of_a_partial_table(load):
    spec = load('[gates]\nchecks = ["rps > 1"]\n').gates
    assert spec == GateSpec(checks=(parse_gate("rps > 1"),))


def test_the_shipped_profiles_load_with_their_gates():
    for path in sorted((Path(__file__).resolve().parents[2] / "profiles").glob("*.toml")):
        assert isinstance(load_profile(path).gates, GateSpec)


def test_a_bad_check_names_its_index_and_shows_the_caret(load, tmp_path):
    with pytest.raises(ProfileError) as info:
        load('[gates]\nchecks = ["rps > 1", "error_rate < 1%", "p99_ms[clean] << 300"]\n')
    err = info.value
    assert err.field == "gates.checks[2]"
    assert err.file == str(tmp_path / "p.toml")
    assert str(err) == (
        f"{tmp_path / 'p.toml'}: gates.checks[2]: check 'p99_ms[clean] << 300': "
        "expected a number after the operator '<', got '<'\n"
        "  p99_ms[clean] << 300\n"
        "                 ^"
    )


def test_an_unknown_metric_in_a_check(load):
    with pytest.raises(ProfileError, match=r"gates\.checks\[0\]: check 'p99 < 3': unknown metric 'p99'"):
        load('[gates]\nchecks = ["p99 < 3"]\n')


BAD = [
    ("checks = 'rps > 1'", "gates.checks", "must be a list of strings"),
    ('checks = ["rps > 1", "rps > 1"]', "gates.checks", "must not repeat a value"),
    ("min_samples = 0", "gates.min_samples", "must be >= 1"),
    ("min_samples = 10.5", "gates.min_samples", "must be an integer"),
    ('inconclusive = "skip"', "gates.inconclusive", "choose one of: fail, pass"),
    ('inconclusive = "pas"', "gates.inconclusive", "did you mean 'pass'?"),
    ("abort_on_fail = 1", "gates.abort_on_fail", "must be true or false"),
    ("grace_s = -1", "gates.grace_s", "must be >= 0"),
    ("interval_s = 0", "gates.interval_s", "must be > 0"),
    ("check = ['rps > 1']", "gates.check", "unknown field (did you mean 'checks'?)"),
    ("min_sample = 10", "gates.min_sample", "did you mean 'min_samples'?"),
]


@pytest.mark.parametrize("line, field, fragment", BAD)
def test_bad_gates_fields(load, line, field, fragment):
    with pytest.raises(ProfileError) as info:
        load(f"[gates]\n{line}\n")
    assert info.value.field == field
    assert fragment in str(info.value)


def test_gates_must_be_a_table(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(PARAM.replace("seed = 7\n", 'seed = 7\ngates = ["rps > 1"]\n'))
    with pytest.raises(ProfileError, match="gates: must be a table"):
        load_profile(path)


def test_with_checks_adds_command_line_gates_once():
    spec = GateSpec(checks=parse_gates(["rps > 1", "error_rate < 1%"], label="check"), inconclusive="pass")
    merged = spec.with_checks(parse_gates(["error_rate < 0.01", "p99_ms < 300", "p99_ms < 300"]))
    assert [g.text for g in merged.checks] == ["rps > 1", "error_rate < 1%", "p99_ms < 300"]
    assert merged.inconclusive == "pass"
    assert spec.checks == parse_gates(["rps > 1", "error_rate < 1%"])  # unchanged


DOCS = Path(__file__).resolve().parents[2] / "docs" / "gates.md"


def test_the_docs_examples_parse_and_load(load):
    text = DOCS.read_text()
    shown = re.findall(r"--ml-gate '([^']*)'", text)
    good = [t for t in shown if "<<" not in t and not t.startswith("p99 ")]  # the two error examples
    assert len(good) >= 8
    parse_gates(good)
    block = re.search(r"```toml\n(\[gates\].*?)```", text, re.S)
    assert block is not None
    assert len(load(block.group(1)).gates.checks) == 6


def test_the_docs_name_every_metric_and_kind():
    text = DOCS.read_text()
    for word in (*METRICS, *KINDS):
        assert f"`{word}`" in text, word
