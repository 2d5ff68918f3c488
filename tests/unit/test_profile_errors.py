"""Bad profiles: each one is a small edit of a valid profile, and each error says where and what.

Every case asserts that loading raises `ProfileError` whose message names the file, the dotted
field path and a hint of what is allowed; the CLI prints that message and exits 2, no traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from locust_mlstress.cli import main
from locust_mlstress.errors import ProfileError
from locust_mlstress.profile import load_profile
from tests.samples import PARAM

UNSET_ENV = "MLSTRESS_TEST_SURELY_UNSET_TOKEN"


# A valid dataset-driven profile; its rows come from ROWS, written next to it.
DATASET = """\
seed = 7

[target]
path = "/predict"
codec = "kserve_v1"

[output]
type = "binary"
classes = ["no", "yes"]

[[features]]
name = "x"
type = "float"
min = 0

[[features]]
name = "plan"
type = "category"
categories = ["a", "b"]

[source]
type = "dataset"
path = "rows.csv"
label_column = "y"

[mix]
clean = 1
"""
ROWS = "x,plan,y\n1.0,a,no\n2.0,b,yes\n"

DRIFT = 'type = "mean_shift"\nfeatures = ["x"]\nshift = 1.0'
CODEC = 'codec = "kserve_v1"'
NORMAL = 'kind = "normal", mean = 5, std = 1'
LABEL_MODEL = '[source.label_model]\ntype = "logistic"\nweights = { x = 0.5, "plan=b" = 1.0 }\n'
SOFTMAX = """[source.label_model]
type = "softmax"
[source.label_model.classes.a]
weights = { x = 1 }
[source.label_model.classes.b]
intercept = 1
[source.label_model.classes.d]
"""
MULTICLASS = PARAM.replace('type = "binary"', 'type = "multiclass"\nclasses = ["a", "b", "c"]')
REGRESSION = PARAM.replace('type = "binary"', 'type = "regression"').replace('"logistic"', '"linear"')


MANY_CLASSES = ", ".join(f'"c{i}"' for i in range(10_001))
MANY_DRIFTS = "".join(f'[drift.d{i}]\ntype = "scale"\nfeatures = ["x"]\nfactor = 2\n' for i in range(1001))


def case(name, old, new, field, *hints, base=PARAM, rows=ROWS):
    """One bad profile: `base` with `old` replaced by `new` (or `new` appended when `old` is "")."""
    return pytest.param(base, old, new, rows, field, hints, id=name)


# One row per bad profile: name, the text replaced, its replacement, the field path, then hints.
# fmt: off
CASES = [
    # top level
    case("missing-seed", "seed = 7\n", "", "seed", "is required", "an integer >= 0"),
    case("negative-seed", "seed = 7", "seed = -1", "seed", "must be >= 0"),
    case("seed-not-integer", "seed = 7", "seed = 1.5", "seed", "must be an integer"),
    case("top-level-typo", "seed = 7\n", "seed = 7\ndescripton = 'x'\n", "descripton",
         "did you mean 'description'?", "allowed here:"),
    case("misspelt-required-table", "[mix]", "[mixx]", "mix", "'mixx' a misspelling", "a [mix] table"),
    # [target]
    case("bad-codec", 'codec = "kserve_v1"', 'codec = "kserve_v2"', "target.codec",
         "did you mean 'kserve_v1'?", "kserve_v1, tfserving, v2, mlflow, json"),
    case("path-without-slash", 'path = "/predict"', 'path = "predict"', "target.path", "must start with '/'"),
    case("header-env-not-set", CODEC, f"{CODEC}\nheaders = {{ Authorization = {{ env = '{UNSET_ENV}' }} }}",
         "target.headers.Authorization.env", f"{UNSET_ENV} is not set", "export it"),
    case("header-line-break", CODEC, f'{CODEC}\nheaders = {{ X-Team = "ml\\r\\nInjected: 1" }}',
         "target.headers.X-Team", "line break"),
    case("header-name-space", CODEC, f'{CODEC}\nheaders = {{ "X Team" = "ml" }}', "target.headers.X Team",
         "no spaces"),
    case("header-field-typo", CODEC, f"{CODEC}\nheaders = {{ A = {{ env = 'PATH', secrte = true }} }}",
         "target.headers.A.secrte", "did you mean 'secret'?"),
    case("v2-tensor-with-category", CODEC, 'codec = "v2"\nv2_layout = "tensor"', "target.v2_layout",
         "numbers only", "category or text"),
    case("template-without-placeholder", CODEC, 'codec = "json"\nbody_template = \'{"instances": "rows"}\'',
         "target.body_template", '"$rows"'),
    case("template-not-json", CODEC, 'codec = "json"\nbody_template = \'{"a": \'', "target.body_template",
         "is not JSON"),
    case("timeout-zero", CODEC, f"{CODEC}\ntimeout = 0", "target.timeout", "> 0"),
    # [output]
    case("binary-three-classes", 'type = "binary"', 'type = "binary"\nclasses = ["a", "b", "c"]',
         "output.classes", "2 classes"),
    # [[features]]
    case("duplicate-feature", 'name = "plan"', 'name = "x"', "features[1].name", "names must be unique"),
    case("bad-feature-type", 'type = "float"', 'type = "double"', "features[0].type",
         "float, int, bool, category, text"),
    case("feature-field-typo", "min = 0", "minimum = 0", "features[0].minimum", "did you mean 'min'?"),
    case("std-not-positive", "std = 1 }", "std = 0 }", "features[0].distribution.std", "must be > 0"),
    case("uniform-high-not-above-low", NORMAL, 'kind = "uniform", low = 3, high = 3',
         "features[0].distribution.high", "greater than low"),
    case("distribution-for-type", NORMAL, 'kind = "int_range", low = 0, high = 9',
         "features[0].distribution.kind", "normal, lognormal, uniform"),
    case("int-range-outside-domain", f"min = 0\ndistribution = {{ {NORMAL} }}",
         'min = 0\nmax = 5\ndistribution = { kind = "int_range", low = 0, high = 9 }',
         "features[0].distribution.high", "int_range 0..9", "min = 0, max = 5", "keep low >= min",
         base=PARAM.replace('type = "float"', 'type = "int"')),
    case("categorical-weights-length", 'kind = "categorical"', 'kind = "categorical", weights = [1, 2, 3]',
         "features[1].distribution.weights", "one weight per category (2)"),
    case("text-without-vocabulary", ', vocabulary = ["hi", "there"]', "",
         "features[2].distribution.vocabulary", "is required", "a list of strings"),
    # [source]
    case("distribution-on-dataset", 'type = "float"', f'type = "float"\ndistribution = {{ {NORMAL} }}',
         "features[0].distribution", "only read by a parametric source", base=DATASET),
    case("dataset-file-missing", "rows.csv", "nope.csv", "source.path", "nope.csv does not exist",
         "profile's folder", base=DATASET),
    case("dataset-column-missing", 'name = "x"', 'name = "z"', "source.path", "no column 'z'",
         "columns: ['x', 'plan', 'y']", base=DATASET),
    case("required-column-with-gaps", "", "", "source.path", "1 missing values", "required = false",
         base=DATASET, rows="x,plan,y\n,a,no\n2.0,b,yes\n"),
    case("dataset-value-out-of-domain", "", "", "source.path", "-2 is below min = 0", "fix the data",
         base=DATASET, rows="x,plan,y\n1.0,a,no\n-2.0,b,yes\n"),
    case("label-with-unknown-class", "", "", "source.label_column", "'maybe'", "['no', 'yes']",
         base=DATASET, rows="x,plan,y\n1.0,a,no\n2.0,b,maybe\n"),
    case("dataset-format-unknown", "rows.csv", "rows.txt", "source.format", "csv, parquet or jsonl",
         base=DATASET),
    case("label-model-typo", "[source.label_model]", "[source.label_modle]", "source.label_modle",
         "did you mean 'label_model'?"),
    case("label-model-wrong-type", 'type = "logistic"', 'type = "linear"', "source.label_model.type",
         "binary output needs a 'logistic' label model"),
    case("label-weight-unknown-feature", "x = 0.5,", "y = 0.5,", "source.label_model.weights.y",
         "features: x, plan, note"),
    case("label-weight-on-text", "x = 0.5,", "note = 0.5,", "source.label_model.weights.note",
         "weight its categories as 'note=VALUE'"),
    case("label-weight-unknown-category", '"plan=b"', '"plan=c"', "source.label_model.weights.plan=c",
         "not a category of 'plan': a, b"),
    case("label-weight-category-of-float", '"plan=b"', '"x=b"', "source.label_model.weights.x=b",
         "only category features take '=VALUE'"),
    case("softmax-classes-mismatch", LABEL_MODEL, SOFTMAX, "source.label_model.classes",
         "one table per output class: a, b, c", base=MULTICLASS),
    # [mix]
    case("mix-weight-without-variants", f"[drift.shift]\n{DRIFT}\n", "", "mix.drifted",
         "add [drift.NAME] or set 0"),
    case("mix-all-zero", "clean = 1\ndrifted = 1\nmalformed = 1\noversized = 1", "clean = 0", "mix",
         "positive weight", "clean, drifted, malformed, oversized"),
    case("mix-typo", "clean = 1", "clena = 1", "mix.clena", "did you mean 'clean'?"),
    # [drift.NAME]
    case("drift-unknown-type", 'type = "mean_shift"', 'type = "mean_shfit"', "drift.shift.type",
         "did you mean 'mean_shift'?", "prior_shift"),
    case("missing-values-on-required", DRIFT, 'type = "missing_values"\nfeatures = ["x"]',
         "drift.shift.features", "'x' is required", "required = false"),
    case("mean-shift-on-category", 'features = ["x"]', 'features = ["plan"]', "drift.shift.features",
         "float or int features; 'plan' is category"),
    case("reweight-length", DRIFT, 'type = "category_reweight"\nfeatures = ["plan"]\nweights = [1]',
         "drift.shift.weights", "one weight per category of 'plan' (2)"),
    case("recompute-without-label-model", LABEL_MODEL, "", "drift.shift.labels", "use 'keep'",
         base=PARAM + 'labels = "recompute"\n'),
    case("prior-shift-on-regression", DRIFT, 'type = "prior_shift"\nrate = 0.5', "drift.shift.type",
         "needs class labels", base=REGRESSION),
    case("prior-shift-unknown-class", DRIFT, 'type = "prior_shift"\nrate = 0.5\ntarget_class = "2"',
         "drift.shift.target_class", "choose one of: 0, 1"),
    case("prior-shift-with-labels", DRIFT, 'type = "prior_shift"\nrate = 0.5\nlabels = "keep"',
         "drift.shift.labels", "never changed"),
    case("consistency-above-one", "", "[consistency]\nfraction = 1.5\n", "consistency.fraction", "<= 1"),
    case("drift-weights-all-zero", "shift = 1.0", "shift = 1.0\nweight = 0", "drift", "positive weight"),
    case("gradual-without-duration", "shift = 1.0", 'shift = 1.0\nschedule = { type = "gradual", at = 5 }',
         "drift.shift.schedule.duration", "is required", "a number > 0"),
    case("schedule-strength-above-one", "shift = 1.0", "shift = 1.0\nschedule = { strength = 2 }",
         "drift.shift.schedule.strength", "<= 1"),
    # [malformed] and [oversized]
    case("unknown-malformed-variant", "", "[malformed.variants]\ninvalid_jsn = 1\n",
         "malformed.variants.invalid_jsn", "did you mean 'invalid_json'?", "variants: invalid_json"),
    case("variant-not-for-codec", "", "[malformed.variants]\nwrong_datatype = 1\n",
         "malformed.variants.wrong_datatype", "the kserve_v1 codec has no wrong datatype"),
    case("unknown-excluded-variant", "", '[malformed]\nexclude = ["nan_literl"]\n', "malformed.exclude",
         "did you mean 'nan_literal'?"),
    case("exclude-with-variants", "", '[malformed]\nexclude = ["nan_literal"]\nvariants = { empty_body = 1 }',
         "malformed.exclude", "list just the variants you want"),
    case("size-on-malformed-variant", "", "[malformed.variants]\nempty_body = { size = 3 }\n",
         "malformed.variants.empty_body.size", "allowed here: expect, weight"),
    case("oversized-size-zero", "", "[oversized.variants]\nlarge_batch = { size = 0 }\n",
         "oversized.variants.large_batch.size", ">= 1"),
    case("variant-expect-bad-status", "", '[oversized.variants]\nlarge_batch = { expect = ["41"] }\n',
         "oversized.variants.large_batch.expect", "'413'", "'4xx'"),
    case("all-variant-weights-zero", "", "[oversized.variants]\nlarge_batch = 0\n", "oversized.variants",
         "positive weight"),
    # [expect.KIND]
    case("bad-status-pattern", "", '[expect.malformed]\nstatus = ["4x"]\n', "expect.malformed.status",
         "use a code like '413' or a class like '4xx'"),
    case("expect-unknown-kind", "", '[expect.malfromed]\nstatus = ["4xx"]\n', "expect.malfromed",
         "did you mean 'malformed'?"),
    # limits (profile/limits.py): the field and the maximum
    case("body-bytes-past-limit", "", "[oversized.variants]\nbody_bytes = { size = 10_000_000_000 }\n",
         "oversized.variants.body_bytes.size", "at most 64 MiB", "docs/profiles.md", "10,000,000,000"),
    case("large-batch-past-limit", "", "[oversized.variants]\nlarge_batch = { size = 100_000_001 }\n",
         "oversized.variants.large_batch.size", "at most 100,000"),
    case("batch-size-past-limit", 'codec = "kserve_v1"', 'codec = "kserve_v1"\nbatch_size = 10_001',
         "target.batch_size", "at most 10,000"),
    case("words-per-request", 'codec = "kserve_v1"', 'codec = "kserve_v1"\nbatch_size = 10_000',
         "target.batch_size", "= 2,000,000 words per request", "lower batch_size or max_words",
         base=PARAM.replace('vocabulary = ["hi", "there"] }', 'vocabulary = ["hi"], max_words = 200 }')),
    case("max-words-past-limit", 'vocabulary = ["hi", "there"] }', 'vocabulary = ["hi"], max_words = 100000000 }',
         "features[2].distribution.max_words", "at most 10,000"),
    case("min-words-past-limit", 'vocabulary = ["hi", "there"] }', 'vocabulary = ["hi"], min_words = 10001 }',
         "features[2].distribution.min_words", "at most 10,000"),
    case("too-many-classes", 'type = "binary"', f'type = "multiclass"\nclasses = [{MANY_CLASSES}]',
         "output.classes", "holds 10,001 items; at most 10,000"),
    case("too-many-drift-variants", "", MANY_DRIFTS,
         "drift", "holds 1,002 entries; at most 1,000"),
    case("spike-users-past-limit", "", '[load]\nshape = "soak"\nusers = 1_000_001\nduration = 5\n',
         "load.users", "at most 1,000,000"),
    # control characters: refused, shown escaped
    case("esc-in-profile-name", "seed = 7", 'seed = 7\nname = "a\\u001b[31m"', "name", "holds a control character",
         "\\x1b"),
    case("crlf-in-drift-name", "[drift.shift]", '[drift."shift\\r\\nprofile is valid"]',
         "drift.shift\\r\\nprofile is valid", "the name", "rename it"),
    case("esc-in-a-class", 'type = "binary"', 'type = "binary"\nclasses = ["no", "y\\u001bes"]',
         "output.classes[1]", "control character"),
    case("newline-in-a-stage-name", "", '[load]\nshape = "stages"\n[[load.stages]]\nname = "a\\nb"\nduration = 1\n'
                                        'users = 1\n',
         "load.stages[0].name", "control character"),
    case("esc-in-a-category", 'categories = ["a", "b"]', 'categories = ["a", "\\u001b"]',
         "features[1].categories[1]", "control character"),
]
# fmt: on


def _write(tmp_path: Path, base: str, old: str, new: str, rows: str) -> Path:
    if old:
        assert base.count(old) == 1, f"the edit must hit exactly one place: {old!r}"
        text = base.replace(old, new)
    else:
        text = base + "\n" + new
    (tmp_path / "rows.csv").write_text(rows)
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


@pytest.fixture
def fresh_env(monkeypatch):
    monkeypatch.delenv(UNSET_ENV, raising=False)


@pytest.mark.parametrize(("base", "old", "new", "rows", "field", "hints"), CASES)
def test_bad_profile_names_file_field_and_fix(tmp_path, fresh_env, base, old, new, rows, field, hints):
    path = _write(tmp_path, base, old, new, rows)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert f": {field}: " in message, message
    assert info.value.field == field
    for hint in hints:
        assert hint in message, message


def test_the_bases_are_valid(tmp_path):
    """Every case above fails because of its edit, not because its starting point was broken."""
    for i, base in enumerate((PARAM, DATASET)):
        folder = tmp_path / str(i)
        folder.mkdir()
        assert load_profile(_write(folder, base, "", "", ROWS)).seed == 7


@pytest.mark.parametrize(
    ("content", "hint"),
    [
        pytest.param(None, "file not found", id="missing-file"),
        pytest.param(b"seed = 7\nname = '\xff\xfe'\n", "is not UTF-8", id="not-utf8"),
        pytest.param(b"seed = 7\n[target\n", "is not valid TOML", id="invalid-toml"),
        pytest.param(b"seed = 7\nseed = 8\n", "is not valid TOML", id="duplicate-key"),
    ],
)
def test_unreadable_file(tmp_path, content, hint):
    path = tmp_path / "profile.toml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert str(info.value).startswith(f"{path}: ")
    assert hint in str(info.value)


def test_a_multiline_description_is_allowed_but_not_an_escape(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('description = """two\nlines\tand a tab"""\n' + PARAM)
    assert load_profile(path).description == "two\nlines\tand a tab"
    path.write_text('description = "red \\u001b[31m"\n' + PARAM)
    with pytest.raises(ProfileError, match="description: .* holds a control character"):
        load_profile(path)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("deep = " + "[" * 100_000 + "]" * 100_000 + "\n", "nests tables or arrays too deeply"),  # the parser recursed
        ("[deep" + ".a" * 40 + "]\n", "nests tables or arrays 33 levels deep; at most 32"),  # a repr would recurse
    ],
    ids=["arrays", "dotted-keys"],
)
def test_deep_nesting_is_one_line_not_a_recursion_error(tmp_path, text, hint):
    path = tmp_path / "deep.toml"
    path.write_text(PARAM + text)
    with pytest.raises(ProfileError, match=hint) as info:
        load_profile(path)
    assert info.value.field == "" and "\n" not in str(info.value)


def test_a_fifo_or_a_device_is_refused_without_blocking(tmp_path):
    import os

    fifo = tmp_path / "p.toml"
    os.mkfifo(fifo)  # no writer: an open without O_NONBLOCK, or a read, would block this test forever
    with pytest.raises(ProfileError, match="is not a regular file but a FIFO"):
        load_profile(fifo)
    with pytest.raises(ProfileError, match="is not a regular file but a device"):
        load_profile("/dev/zero")


def test_a_file_past_the_cap_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "big.toml"
    with path.open("wb") as f:
        f.truncate(16 * 2**20 + 1)
    with pytest.raises(ProfileError, match="more than the 16 MiB allowed"):
        load_profile(path)


def test_read_regular_stops_at_the_cap(tmp_path):
    from locust_mlstress.readfile import InputFileError, read_regular

    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert read_regular(path, 100) == b"x" * 100
    with pytest.raises(InputFileError) as info:
        read_regular(path, 99)
    assert info.value.too_large and info.value.size == 100
    with pytest.raises(InputFileError) as info:
        read_regular(tmp_path / "none", 10)
    assert info.value.missing


def test_a_directory_is_not_a_profile(tmp_path):
    with pytest.raises(ProfileError, match="is not a regular file but a directory"):
        load_profile(tmp_path)


def test_cli_prints_the_error_and_exits_2(tmp_path, capsys):
    path = _write(tmp_path, PARAM, "std = 1 }", "std = -1 }", ROWS)
    assert main(["validate", str(path)]) == 2
    out, err = capsys.readouterr()
    assert err.strip() == f"error: {path}: features[0].distribution.std: must be > 0, got -1"
    assert "Traceback" not in out + err


def test_cli_missing_file_exits_2_without_traceback(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.toml")]) == 2
    out, err = capsys.readouterr()
    assert "nope.toml" in err and "file not found" in err
    assert "Traceback" not in out + err


def test_cli_prints_the_mix_of_a_good_profile(tmp_path, capsys):
    path = _write(tmp_path, PARAM, "", "", ROWS)
    assert main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "profile is valid" in out
    lines = {line.split()[1]: line.split() for line in out.splitlines() if line.split()[:1] == ["clean"]}
    assert lines["clean"][2] == "25.0%"
    assert any(line.split()[:3] == ["drifted", "shift", "25.0%"] for line in out.splitlines())
    assert "malformed  invalid_json" in out and "oversized  body_bytes" in out


def test_a_file_name_with_control_characters_is_escaped_in_the_message(tmp_path):
    hostile = tmp_path / "x\x1b[2J\nerror: forged.toml"
    hostile.write_text("name = 1\n")
    with pytest.raises(ProfileError) as caught:
        load_profile(hostile)
    message = str(caught.value)
    assert "\x1b" not in message and "\n" not in message
    assert "\\x1b[2J\\nerror: forged.toml" in message
