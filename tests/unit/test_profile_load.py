"""Good profiles: every shipped one loads, and what a profile leaves out gets its documented default."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from locust_mlstress.cli import describe
from locust_mlstress.domain.schema import DatasetSource, Expectation, ParametricSource
from locust_mlstress.payloads.malformed import MALFORMED
from locust_mlstress.payloads.oversized import OVERSIZED
from locust_mlstress.profile import KINDS, load_profile
from tests.samples import MINIMAL

PROFILES = Path(__file__).resolve().parents[2] / "profiles"
SHIPPED = sorted(PROFILES.glob("*.toml"))


@pytest.fixture
def write(tmp_path):
    """Write `MINIMAL` plus `extra` (or `text` instead of it) and load it."""

    def load(extra: str = "", text: str | None = None, name: str = "p.toml"):
        path = tmp_path / name
        path.write_text((MINIMAL if text is None else text) + "\n" + extra)
        return load_profile(path)

    return load


def test_there_are_shipped_profiles():
    assert len(SHIPPED) >= 1 and PROFILES / "quickstart.toml" in SHIPPED


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_profile_loads(path):
    profile = load_profile(path)
    assert profile.path == path
    assert profile.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert sum(profile.kind_weights.values()) > 0
    for kind in KINDS:
        if profile.kind_weights[kind] > 0:
            assert profile.variants(kind), kind
    assert {v.name for v in profile.malformed} <= set(MALFORMED)
    assert {v.name for v in profile.oversized} <= set(OVERSIZED)
    assert "clean" in describe(profile)


def test_the_shipped_set_covers_each_source_and_output():
    profiles = [load_profile(p) for p in SHIPPED]
    sources = {type(p.source) for p in profiles}
    outputs = {p.output.type for p in profiles}
    if len(profiles) >= 4:  # quickstart, a data set one, a multiclass one, a regression one
        assert sources == {DatasetSource, ParametricSource}
        assert outputs == {"binary", "multiclass", "regression"}


def test_sha256_and_name_are_recorded(write, tmp_path):
    profile = write(name="churn_v2.toml")
    assert profile.sha256 == hashlib.sha256((tmp_path / "churn_v2.toml").read_bytes()).hexdigest()
    assert profile.name == "churn_v2" and profile.description == ""
    named = write(text='name = "named"\ndescription = "d"\n' + MINIMAL, name="n.toml")
    assert (named.name, named.description) == ("named", "d")


def test_default_expectations_per_kind(write):
    profile = write()
    assert profile.expect == {
        "clean": Expectation(("2xx",), True),
        "drifted": Expectation(("2xx",), True),
        "malformed": Expectation(("4xx",), False),
        "oversized": Expectation(("2xx", "413"), True),
    }
    assert profile.expectation("malformed", "invalid_json") == Expectation(("4xx",), False)
    assert profile.expectation("oversized", "large_batch") == Expectation(("2xx", "413"), True)


def test_kind_expectation_override(write):
    profile = write('[expect.malformed]\nstatus = ["400", "422"]\n[expect.oversized]\ndecodable = false\n')
    assert profile.expect["malformed"] == Expectation(("400", "422"), False)
    assert profile.expect["oversized"] == Expectation(("2xx", "413"), False)
    assert profile.expect["clean"] == Expectation(("2xx",), True)


def test_all_applicable_malformed_variants_when_none_listed(write):
    profile = write()
    names = [v.name for v in profile.malformed]
    # kserve_v1 has no datatypes; everything else applies to this schema, in registry order
    assert names == [n for n in MALFORMED if n != "wrong_datatype"]
    assert all(v.weight == 1.0 and v.expect is None and v.size == 0 for v in profile.malformed)


def test_default_set_leaves_out_what_the_schema_cannot_carry(write):
    # v2 with only optional, unbounded features: no required feature, no domain, but datatypes
    text = MINIMAL.replace('codec = "kserve_v1"', 'codec = "v2"').replace("min = 0\n", "required = false\n")
    text = text.replace('type = "category"\n', 'type = "category"\nrequired = false\n')
    names = {v.name for v in write(text=text).malformed}
    assert "wrong_datatype" in names
    assert not names & {"missing_required_feature", "null_required", "out_of_domain"}


def test_exclude_narrows_the_default_set(write):
    profile = write('[malformed]\nexclude = ["deeply_nested", "invalid_utf8"]\n[oversized]\nexclude = ["body_bytes"]\n')
    names = [v.name for v in profile.malformed]
    assert "deeply_nested" not in names and "invalid_utf8" not in names
    assert len(names) == len(MALFORMED) - 3  # and wrong_datatype, which kserve_v1 cannot build
    assert [v.name for v in profile.oversized] == ["large_batch", "huge_string", "many_features"]


def test_listed_variants_replace_the_default_set(write):
    profile = write("[malformed.variants]\nempty_body = 3\ninvalid_json = { weight = 0.5 }\n")
    assert profile.variants("malformed") == (("empty_body", 3.0), ("invalid_json", 0.5))


def test_oversized_defaults_and_sizes(write):
    profile = write("[oversized.variants]\nlarge_batch = { size = 64, weight = 2 }\nbody_bytes = 1\n")
    sizes = {v.name: (v.weight, v.size) for v in profile.oversized}
    assert sizes == {"large_batch": (2.0, 64), "body_bytes": (1.0, OVERSIZED["body_bytes"][2])}
    defaults = {v.name: v.size for v in write(name="d.toml").oversized}
    assert defaults == {name: size for name, (_, _, size) in OVERSIZED.items()}


def test_per_variant_expectation_override(write):
    profile = write(
        "[expect.oversized]\ndecodable = false\n"
        '[malformed.variants]\nempty_body = { expect = ["400"] }\ninvalid_json = 1\n'
        '[oversized.variants]\nlarge_batch = { expect = ["2xx"] }\n'
        'body_bytes = { expect = { status = ["413"], decodable = true } }\nmany_features = 1\n'
    )
    assert profile.expectation("malformed", "empty_body") == Expectation(("400",), False)
    assert profile.expectation("malformed", "invalid_json") == Expectation(("4xx",), False)
    # the short form keeps the kind's `decodable`, here set by [expect.oversized]
    assert profile.expectation("oversized", "large_batch") == Expectation(("2xx",), False)
    assert profile.expectation("oversized", "body_bytes") == Expectation(("413",), True)
    assert profile.expectation("oversized", "many_features") == Expectation(("2xx", "413"), False)


def test_header_from_the_environment_stays_out_of_repr(write, monkeypatch):
    monkeypatch.setenv("MLSTRESS_TEST_TOKEN", "s3cr3t-value-123")
    headers = (
        '[target.headers]\nX-Client = "tests"\nAuthorization = { env = "MLSTRESS_TEST_TOKEN" }\n'
        'X-Trace = { env = "MLSTRESS_TEST_TOKEN", secret = false }'
    )
    profile = write(text=MINIMAL.replace('codec = "kserve_v1"', f'codec = "kserve_v1"\n{headers}'))
    client, auth, trace = profile.target.headers
    assert (client.name, client.value, client.env, client.secret) == ("X-Client", "tests", None, False)
    assert (auth.value, auth.env, auth.secret) == ("s3cr3t-value-123", "MLSTRESS_TEST_TOKEN", True)
    assert trace.secret is False
    shown = repr(profile)
    assert shown.count("s3cr3t-value-123") == 1  # only the header marked secret = false
    assert repr(auth) == "Header(name='Authorization', value='***', env='MLSTRESS_TEST_TOKEN', secret=True)"


def test_target_defaults(write):
    t = write().target
    assert (t.model_name, t.headers, t.connect_timeout, t.timeout, t.batch_size) == (
        "model",
        (),
        5.0,
        30.0,
        1,
    )
    assert (t.v2_layout, t.v2_outputs, t.mlflow_format) == ("columns", (), "dataframe_split")
    assert (t.signature_name, t.body_template, t.response_path, t.item_path) == (None, None, None, None)


def test_feature_and_output_defaults(write):
    profile = write()
    assert profile.output.classes == ("0", "1")
    x, plan, note = profile.features
    assert x.required and x.min == 0.0 and x.max is None
    assert plan.distribution.weights == (1.0, 1.0) and plan.distribution.categories == ("a", "b")
    assert not note.required and (note.distribution.min_words, note.distribution.max_words) == (1, 8)
    model = profile.source.label_model
    assert model.type == "logistic" and model.predictors[0].intercept == 0.0
    assert [(t.feature, t.weight, t.category) for t in model.predictors[0].terms] == [
        ("x", 0.5, None),
        ("plan", 1.0, "b"),
    ]


def test_drift_defaults(write):
    profile = write(
        "[drift.up]\ntype = 'mean_shift'\nfeatures = ['x']\nshift = 2\n"
        "[drift.units]\ntype = 'unit_change'\nfeatures = ['x']\nfactor = 100\n"
        "[drift.gaps]\ntype = 'missing_values'\n"
        "[drift.new_plans]\ntype = 'unseen_category'\n"
        "[drift.wave]\ntype = 'prior_shift'\nrate = 0.9\nschedule = { type = 'recurring', period = 30 }\n"
    )
    up, units, gaps, new_plans, wave = profile.drift
    assert (up.labels, units.labels, gaps.labels, wave.labels) == ("recompute", "keep", "keep", "keep")
    assert up.schedule.type == "constant" and up.schedule.strength == 1.0 and up.weight == 1.0
    assert gaps.features == ("note",) and gaps.rate == 0.5
    assert new_plans.features == ("plan",) and new_plans.rate == 0.3
    assert wave.features == () and wave.target_class == "1" and wave.positive_rate == 0.9
    assert (wave.schedule.type, wave.schedule.period) == ("recurring", 30.0)


def test_dataset_source(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.csv").write_text("x,flag,y\n1.5,true,yes\n2.0,,no\n")
    text = (
        'seed = 1\n[target]\npath = "/p"\ncodec = "mlflow"\n'
        '[output]\ntype = "binary"\nclasses = ["no", "yes"]\n'
        '[[features]]\nname = "x"\ntype = "float"\n'
        '[[features]]\nname = "flag"\ntype = "bool"\nrequired = false\n'
        '[source]\ntype = "dataset"\npath = "data/rows.csv"\nlabel_column = "y"\n[mix]\nclean = 1\n'
    )
    (tmp_path / "p.toml").write_text(text)
    profile = load_profile(tmp_path / "p.toml")
    assert profile.source == DatasetSource((tmp_path / "data" / "rows.csv").resolve(), "csv", "y")

    from locust_mlstress.payloads.dataset import read_dataset

    columns, labels = read_dataset(profile)
    assert labels.tolist() == [1, 0]
    assert columns["flag"].tolist() == [True, None]  # a missing bool stays missing, not True


DOCS = PROFILES.parent / "docs" / "profiles.md"


def test_docs_example_profile_loads(tmp_path, monkeypatch):
    text = DOCS.read_text()
    example = text.split("```toml\n", 1)[1].split("```", 1)[0]
    monkeypatch.setenv("CHURN_API_TOKEN", "t0ken")
    (tmp_path / "example.toml").write_text(example)
    profile = load_profile(tmp_path / "example.toml")
    assert [d.name for d in profile.drift] == ["older", "lost_tickets"]
    assert profile.expectation("oversized", "body_bytes") == Expectation(("413",), True)


def test_docs_name_every_variant_and_drift_type():
    text = DOCS.read_text()
    from locust_mlstress.profile.variants import DRIFT_TYPES

    for name in (*MALFORMED, *OVERSIZED, *DRIFT_TYPES):
        assert f"| `{name}` |" in text, name


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_a_dataset_source_reads_each_format_alike(tmp_path, fmt):
    """The same rows as CSV, Parquet or JSON lines give the same typed columns and labels."""
    import pandas as pd

    from locust_mlstress.payloads.dataset import read_dataset

    frame = pd.read_csv(PROFILES / "data" / "loans.csv")
    data = tmp_path / f"loans.{fmt}"
    {"csv": lambda: frame.to_csv(data, index=False), "parquet": lambda: frame.to_parquet(data),
     "jsonl": lambda: frame.to_json(data, orient="records", lines=True)}[fmt]()  # fmt: skip
    text = (PROFILES / "loans_dataset.toml").read_text().replace('"data/loans.csv"', f'"{data.name}"')
    (tmp_path / "p.toml").write_text(text)
    columns, labels = read_dataset(load_profile(tmp_path / "p.toml"))
    assert columns["credit_score"].dtype.kind == "i" and columns["employed"].dtype == bool
    assert list(columns["purpose"][:3]) == list(frame["purpose"][:3])
    assert labels.tolist() == frame["defaulted"].tolist()


def test_consistency_fraction(write):
    assert write("[consistency]\nfraction = 0.05\n").consistency == 0.05
    assert write("", name="none.toml").consistency == 0.0
