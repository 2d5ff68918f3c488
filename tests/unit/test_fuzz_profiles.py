"""Fuzzed profiles: whatever a user writes, loading it gives a `Profile` or one clear `ProfileError`.

test_profile_errors.py pins the message of each known mistake; this module throws generated ones
at the loader: random edits of the TOML text (broken TOML, bytes that are not UTF-8), random
structural edits of valid profiles (wrong types, out-of-range and huge numbers, deleted keys and
sections, unknown and misspelt keys), and targeted junk in the mix, variant, load-plan and gates
sections. The contract checked on every one:

- `load_profile` returns a `Profile` or raises `ProfileError`; nothing else escapes (a stray
  OverflowError or ValueError would reach the user as a traceback);
- the message starts with the file; when the file is TOML, the error's `field` is a dotted path
  whose root is a key of the file or a section the loader knows (a missing required one), so it
  names the field; when it is not TOML, `field` is empty and the message says so;
- `mlstress validate` on such a file exits 2 with the message on stderr and no traceback.

Hypothesis settings (`FUZZ`): derandomize=True, so every run, locally and in CI, tries the same
examples and a failure reproduces from the test alone; database=None, so nothing is written to
.hypothesis/; deadline=None, because the first load of a data-set profile imports pandas (~0.3 s),
which says nothing about the code under test. max_examples keeps this module near 10 s on a
2-core machine; MLSTRESS_FUZZ_SCALE=10 runs ten times as many for a deeper local search.
"""

from __future__ import annotations

import copy
import datetime
import json
import math
import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from locust_mlstress.cli import main
from locust_mlstress.domain.schema import KINDS, Profile
from locust_mlstress.errors import ProfileError
from locust_mlstress.gates import KINDS as GATE_KINDS
from locust_mlstress.gates import METRICS
from locust_mlstress.payloads.registry import variant_specs
from locust_mlstress.profile import load_profile
from locust_mlstress.profile.load import CODECS
from locust_mlstress.profile.plan import SHAPES, LoadPlan, plan_from_option
from locust_mlstress.profile.sources import DISTRIBUTIONS, FEATURE_TYPES
from locust_mlstress.profile.variants import DRIFT_TYPES
from tests.conftest import PROFILES
from tests.samples import PARAM
from tests.unit.test_fuzz_gates import fuzz

# ---- valid starting points ------------------------------------------------------------------

GATES = """
[gates]
checks = ["p99_ms[clean] < 300", "psi[drifted] < 0.25", "error_rate < 1%"]
min_samples = 150
inconclusive = "pass"
"""
BASES: dict[str, str] = {
    "param": PARAM + GATES,
    "quickstart": (PROFILES / "quickstart.toml").read_text(),
    "router": (PROFILES / "multiclass_router.toml").read_text(),
    "prices": (PROFILES / "regression_prices.toml").read_text(),
    "surge": (PROFILES / "scenario_surge.toml").read_text(),
    # the data file by absolute path, so the profile loads from any folder
    "loans": (PROFILES / "loans_dataset.toml")
    .read_text()
    .replace('"data/loans.csv"', json.dumps(str(PROFILES / "data" / "loans.csv"))),
}
DATA = {name: tomllib.loads(text) for name, text in BASES.items()}
TOP_LEVEL = {"name", "description", "seed", "target", "output", "features", "source", "mix", "drift", "malformed",
             "oversized", "expect", "consistency", "gates", "load", "(top level)"}  # fmt: skip


def _keys(node) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in _keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in _keys(v)}
    return set()


MALFORMED, OVERSIZED = list(variant_specs("malformed")), list(variant_specs("oversized"))
# every word the loader gives a meaning to, so edits often reach the checks behind the first one
WORDS = sorted(
    {*CODECS, *FEATURE_TYPES, *(k for kinds in DISTRIBUTIONS.values() for k in kinds), *DRIFT_TYPES, *SHAPES,
     *MALFORMED, *OVERSIZED, *KINDS, *METRICS, "constant", "sudden", "gradual", "recurring", "keep", "recompute",
     "fail", "pass", "parametric", "dataset", "csv", "parquet", "jsonl", "binary", "multiclass", "regression",
     "logistic", "softmax", "linear", "2xx", "4xx", "413", "4x", "columns", "tensor", "dataframe_records", "/p"}
)  # fmt: skip
PLAN_KEYS = ["shape", "spawn_rate", "users", "up", "hold", "down", "factor", "at", "duration", "total", "min_users",
             "max_users", "period", "step", "step_duration", "slo", "stages"]  # fmt: skip
KEYS = sorted(set().union(*(_keys(d) for d in DATA.values())) | set(PLAN_KEYS) | {"exclude", "variants", "checks"})


# ---- a small TOML writer (tomllib only reads) ------------------------------------------------


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a TOML basic string
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + "}"


def dump(data: dict) -> str:
    """One `key = value` line per top-level key, tables inline: all TOML allows, in few lines."""
    return "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in data.items())


def test_the_writer_round_trips_every_base():
    for data in DATA.values():
        assert tomllib.loads(dump(data)) == data


# ---- the contract ----------------------------------------------------------------------------


def check(path: Path, data: dict | None) -> Profile | ProfileError:
    """Load `path` (holding `data`, or None when it is not TOML): a Profile, or a clean error."""
    try:
        return load_profile(path)
    except ProfileError as exc:
        message = str(exc)
        assert message.startswith(f"{path}: ") and exc.message, message
        assert "Traceback" not in message
        if data is None:
            assert exc.field == "" and ("is not valid TOML" in message or "is not UTF-8" in message), message
        else:
            assert exc.field, message
            assert _names_a_field(exc.field, data), f"{exc.field!r} names no field of {sorted(data)}: {message}"
        return exc


def _names_a_field(field: str, data: dict) -> bool:
    root = re.split(r"[.\[]", field, maxsplit=1)[0]
    return root in TOP_LEVEL or any(field == k or field.startswith((f"{k}.", f"{k}[")) for k in data)


def _write(folder: Path, text: str | bytes) -> tuple[Path, dict | None]:
    path = folder / "fuzzed.toml"
    raw = text.encode() if isinstance(text, str) else text
    path.write_bytes(raw)
    try:
        return path, tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return path, None


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def test_every_base_loads(folder):
    for text in BASES.values():
        assert isinstance(check(*_write(folder, text)), Profile)


# ---- strategies ------------------------------------------------------------------------------


def typo(word: str) -> st.SearchStrategy[str]:
    """One character inserted, deleted or replaced: a near miss of a name the loader knows."""
    chars = st.sampled_from("abcdefghijklmnopqrstuvwxyz_0123456789 -.")
    return st.integers(0, len(word)).flatmap(
        lambda i: st.one_of(
            chars.map(lambda c: word[:i] + c + word[i:]),
            st.just(word[:i] + word[i + 1 :]),
            chars.map(lambda c: word[:i] + c + word[i + 1 :]),
        )
    )


NUMBERS = st.one_of(
    st.integers(),
    st.sampled_from([0, -1, 1, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 10**30, 10**400]),
    st.floats(),  # with nan, inf, -0.0, subnormals and 1e308
    st.sampled_from([0.0, -0.0, 0.5, 1.5, 1e-320, 1e308, -1e308, math.inf, math.nan]),
)
NAMES = st.one_of(st.sampled_from(WORDS), st.sampled_from(WORDS).flatmap(typo), st.text(max_size=12))
SCALARS = st.one_of(st.booleans(), NUMBERS, NAMES, st.dates())
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner, max_size=4),
    ),
    max_leaves=8,
)
GATE_TEXTS = st.one_of(
    st.builds(
        lambda m, k, op, n: f"{m}{f'[{k}]' if k else ''} {op} {n}",
        st.sampled_from(METRICS),
        st.sampled_from([None, *GATE_KINDS]),
        st.sampled_from(["<", "<=", ">", ">=", "==", "!=", "=", "=<", "<<", "~"]),
        st.sampled_from(["300", "0.25", "1%", "1e-3", ".5", "-1", "1e999", "fast", "1.2.3", ""]),
    ),
    st.text(max_size=20),
)


def _spots(node, found=None) -> list[tuple[object, object]]:
    """(container, key or index) of every value in the tree, depth first."""
    found = [] if found is None else found
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        found.append((node, key))
        _spots(value, found)
    return found


def _tables(node, found=None) -> list[dict]:
    found = [] if found is None else found
    if isinstance(node, dict):
        found.append(node)
    for value in node.values() if isinstance(node, dict) else node if isinstance(node, list) else ():
        _tables(value, found)
    return found


@st.composite
def structural_edits(draw) -> dict:
    """A base profile with 1-3 edits: a value replaced, a key or item deleted, a key added or renamed."""
    data = copy.deepcopy(DATA[draw(st.sampled_from(sorted(DATA)))])
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["replace", "replace", "delete", "add", "rename"]))
        spots = _spots(data)
        if op == "add" or not spots:
            table = draw(st.sampled_from(_tables(data)))
            table[draw(st.one_of(st.sampled_from(KEYS), NAMES))] = draw(VALUES)
            continue
        container, key = draw(st.sampled_from(spots))
        if op == "replace":
            container[key] = draw(VALUES)
        elif op == "delete":
            del container[key]
        elif isinstance(container, dict):  # rename: a misspelt key, or another known one
            container[draw(st.one_of(typo(key), st.sampled_from(KEYS)))] = container.pop(key)
    return data


@st.composite
def text_edits(draw) -> str | bytes:
    """A base's text with 1-3 raw edits: what a bad merge, a stray keystroke or a cut file leaves."""
    text = BASES[draw(st.sampled_from(sorted(BASES)))]
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 40)))
        lines = text.split("\n")
        k = draw(st.integers(0, len(lines) - 1))
        bits = st.lists(st.sampled_from(['"', "'", "[", "]", "[[", "=", "{", "}", ",", "\n", "#", ".", " ", "x",
                                         "1", "-", "e", "nan", "inf", "true", '"""', "\\"]), max_size=6)  # fmt: skip
        op = draw(st.sampled_from(["delete", "insert", "insert", "line", "duplicate", "truncate"]))
        if op == "delete":
            text = text[:i] + text[j:]
        elif op == "insert":
            text = text[:i] + "".join(draw(bits)) + text[i:]
        elif op == "line":
            lines[k] = draw(st.one_of(st.text(max_size=30), bits.map("".join)))
            text = "\n".join(lines)
        elif op == "duplicate":
            text = "\n".join(lines[: k + 1] + lines[k:])
        else:
            text = text[:i]
    if draw(st.integers(0, 9)) == 0:  # now and then, bytes that are not UTF-8
        raw = text.encode()
        i = draw(st.integers(0, len(raw)))
        return raw[:i] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"])) + raw[i:]
    return text


# ---- the properties --------------------------------------------------------------------------


@fuzz(250)
@given(text=text_edits())
def test_raw_text_edits_load_or_fail_cleanly(folder, text):
    check(*_write(folder, text))


@fuzz(300)
@given(data=structural_edits())
@example(data={**DATA["param"], "seed": 10**400})
@example(data={**DATA["param"], "seed": 2**63})
@example(data={**DATA["param"], "features": [{**DATA["param"]["features"][0], "min": -(10**30) * 10**300}]})
@example(data={**DATA["loans"], "source": {**DATA["loans"]["source"], "path": "rows\x00.csv"}})
@example(data={**DATA["param"], "target": {"path": "/p", "codec": "json", "body_template": "[" * 100_000}})
def test_structural_edits_load_or_fail_cleanly(folder, data):
    check(*_write(folder, dump(data)))


@fuzz(100)
@given(mix=st.dictionaries(st.one_of(st.sampled_from(KINDS), NAMES), st.one_of(NUMBERS, VALUES), max_size=5),
       weight=st.one_of(NUMBERS, VALUES), weights=st.one_of(st.lists(NUMBERS, max_size=4), VALUES))  # fmt: skip
def test_bad_weights_fail_cleanly(folder, mix, weight, weights):
    """The [mix], a drift variant's weight and a categorical distribution's weights."""
    data = copy.deepcopy(DATA["param"])
    data["mix"], data["drift"]["shift"]["weight"] = mix, weight
    data["features"][1]["distribution"]["weights"] = weights
    check(*_write(folder, dump(data)))


VARIANT_NAMES = st.one_of(st.sampled_from(MALFORMED + OVERSIZED), st.sampled_from(MALFORMED + OVERSIZED).flatmap(typo),
                          NAMES)  # fmt: skip
VARIANT_VALUES = st.one_of(
    NUMBERS,
    st.fixed_dictionaries(
        {}, optional={"weight": NUMBERS, "size": NUMBERS, "expect": st.one_of(VALUES, st.lists(NAMES, max_size=3))}
    ),
    VALUES,
)


@fuzz(80)
@given(kind=st.sampled_from(["malformed", "oversized"]),
       section=st.fixed_dictionaries({}, optional={
           "variants": st.dictionaries(VARIANT_NAMES, VARIANT_VALUES, max_size=4),
           "exclude": st.one_of(st.lists(VARIANT_NAMES, max_size=3), VALUES),
           "bogus": VALUES}))  # fmt: skip
def test_bad_variant_sections_fail_cleanly(folder, kind, section):
    data = copy.deepcopy(DATA["param"])
    data[kind] = section
    check(*_write(folder, dump(data)))


STAGE = st.fixed_dictionaries(
    {"duration": NUMBERS, "users": NUMBERS},
    optional={"name": NAMES, "spawn_rate": NUMBERS, "ramp": st.one_of(st.booleans(), VALUES), "rate": NUMBERS,
              "mix": st.dictionaries(st.sampled_from(KINDS), NUMBERS, max_size=4),
              "gates": st.lists(GATE_TEXTS, max_size=2), "bogus": VALUES},
)  # fmt: skip
# small positive numbers often enough that plans get past their first check
PLAN_NUMBER = st.one_of(st.integers(0, 50), NUMBERS)


@fuzz(120)
@given(plan=st.fixed_dictionaries(
    {"shape": st.one_of(st.sampled_from(SHAPES), NAMES)},
    optional={**{k: PLAN_NUMBER for k in PLAN_KEYS if k not in ("shape", "slo", "stages")},
              "slo": st.one_of(st.lists(GATE_TEXTS, max_size=3), VALUES),
              "stages": st.one_of(st.lists(STAGE, max_size=3), VALUES), "bogus": VALUES}))  # fmt: skip
@example(plan={"shape": "step", "users": 1, "step": 1, "max_users": 2**62, "step_duration": 1, "slo": ["rps > 1"]})
@example(plan={"shape": "seasonal", "min_users": 0, "max_users": 9, "period": 1e300, "duration": 1e300})
@example(plan={"shape": "spike", "users": 2**62, "factor": 1e300, "at": 0, "duration": 1, "total": 2})
def test_bad_load_plans_fail_cleanly(folder, plan):
    data = copy.deepcopy(DATA["param"])
    data["load"] = plan
    result = check(*_write(folder, dump(data)))
    if isinstance(result, Profile) and result.load is not None:
        assert len(result.load.stages) > 0 and math.isfinite(result.load.duration)


@fuzz(200)
@given(words=st.lists(st.one_of(st.sampled_from(SHAPES), st.builds(
    "{}={}".format, st.sampled_from(PLAN_KEYS), st.one_of(st.integers(-5, 100).map(str), NAMES,
                                                          st.sampled_from(["1e400", "1" * 5000, "rps>1,p99_ms<3"]))),
    NAMES), max_size=7))  # fmt: skip
def test_bad_shape_options_fail_cleanly(words):
    """`--ml-shape 'spike users=4 ...'`: the same plan reader, from one command-line string."""
    text = " ".join(words)
    try:
        plan = plan_from_option(text)
    except ProfileError as exc:
        assert exc.file is None and exc.field.startswith("--ml-shape") and exc.message, str(exc)
        return
    assert isinstance(plan, LoadPlan) and plan.stages


GATES_SECTION = st.fixed_dictionaries(
    {},
    optional={
        "checks": st.one_of(st.lists(GATE_TEXTS, max_size=4), VALUES),
        "min_samples": NUMBERS,
        "inconclusive": st.one_of(st.sampled_from(["fail", "pass"]), NAMES),
        "abort_on_fail": st.one_of(st.booleans(), VALUES),
        "grace_s": NUMBERS,
        "interval_s": NUMBERS,
        "bogus": VALUES,
    },
)


@fuzz(80)
@given(gates=GATES_SECTION)
def test_bad_gates_sections_fail_cleanly(folder, gates):
    data = copy.deepcopy(DATA["param"])
    data["gates"] = gates
    result = check(*_write(folder, dump(data)))
    field = isinstance(result, ProfileError) and re.fullmatch(r"gates\.checks\[\d+\]", result.field)
    if field and "control character" not in result.message:  # those are refused before parsing
        # a bad check carries the parser's message: the expression, then a caret under the problem
        head, line, caret = result.message.split("\n")
        assert head.startswith("check ") and caret.strip() == "^" and len(caret) <= len(line) + 1


@fuzz(25)
@given(data=structural_edits())
def test_validate_command_exits_2_with_the_message(folder, capsys, data):
    path, parsed = _write(folder, dump(data))
    expected = check(path, parsed)
    capsys.readouterr()
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if isinstance(expected, ProfileError):
        assert code == 2 and out == "" and err.strip() == f"error: {expected}"
    else:
        assert code == 0 and err == "" and "profile is valid" in out


# ---- what fuzzing found: each was a traceback (or a hang) before its fix ---------------------

STEP = {"shape": "step", "users": 1, "step": 1, "step_duration": 1, "slo": ["rps > 1"]}
SEASONAL = {"shape": "seasonal", "min_users": 0, "max_users": 9, "period": 60}
SPIKE = {"shape": "spike", "factor": 1e300, "at": 0, "duration": 1, "total": 2}


def _edit(base: str, section: str, value) -> dict:
    data = copy.deepcopy(DATA[base])
    data[section] = value
    return data


def _feature(i: int, **changes) -> list[dict]:
    features = copy.deepcopy(DATA["param"]["features"])
    features[i].update(changes)
    return features


FOUND = [
    # a TOML integer beyond 64 bits: OverflowError in float arithmetic
    ("huge-int-number", _edit("param", "features", _feature(0, min=10**400)), "features[0].min",
     "outside TOML's 64-bit integer range"),
    ("huge-int-integer", _edit("param", "seed", 2**63), "seed", "outside TOML's 64-bit integer range"),
    ("huge-int-weight", _edit("param", "features", _feature(1, distribution={"kind": "categorical",
                                                                            "weights": [1, 10**400]})),
     "features[1].distribution.weights", "non-negative numbers"),
    ("spike-users-times-factor", _edit("param", "load", {**SPIKE, "users": 2**62}), "load.users",
     "must be at most 1,000,000"),
    ("spike-peak-past-the-limit", _edit("param", "load", {**SPIKE, "users": 10**6}), "load.factor",
     "at most 1,000,000"),
    # a NUL in a data file's path: ValueError from pathlib
    ("nul-in-dataset-path", _edit("loans", "source", {**DATA["loans"]["source"], "path": "rows\x00.csv"}),
     "source.path", "holds a control character ('\\x00')"),
    # a template nesting deeper than the JSON parser recurses: RecursionError
    ("deep-body-template", _edit("param", "target", {"path": "/p", "codec": "json", "body_template": "[" * 10**5}),
     "target.body_template", "nests too deeply"),
    # plans of billions of stages: the loader built them all (a hang)
    ("step-plan-too-long", _edit("param", "load", {**STEP, "max_users": 10**6}), "load.step", "more than 10000"),
    ("step-plan-users-past-the-limit", _edit("param", "load", {**STEP, "max_users": 2**62}), "load.max_users",
     "at most 1,000,000"),
    ("seasonal-plan-too-long", _edit("param", "load", {**SEASONAL, "duration": 1e300, "step": 1}), "load.step",
     "more than 10000"),
    # and a step plan whose top is below its start had no stage at all: a run that stopped at once
    ("step-plan-empty", _edit("param", "load", {**STEP, "users": 10, "max_users": 5}), "load.max_users",
     "must be >= users (10), got 5"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "field", "hint"), [pytest.param(*c[1:], id=c[0]) for c in FOUND])
def test_what_fuzzing_found_is_a_clear_error(folder, data, field, hint):
    path = _write(folder, dump(data))[0]
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert info.value.field == field and hint in info.value.message, str(info.value)
    assert len(str(info.value)) < 300  # a 400-digit number is shortened, not printed whole


def test_a_step_plan_of_the_limit_still_loads(folder):
    data = _edit("param", "load", {**STEP, "max_users": 10_000})
    profile = load_profile(_write(folder, dump(data))[0])
    assert len(profile.load.stages) == 10_000 and profile.load.stages[-1].users == 10_000
