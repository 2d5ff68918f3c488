"""mlstress init, inference: from a data frame to features, an output and drift variants."""

import numpy as np
import pandas as pd
import pytest

from locust_mlstress.onboard.errors import InitError
from locust_mlstress.onboard.infer import guess_feature, guess_output, infer


def _frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    strong = rng.normal(0, 1, n)
    frame = pd.DataFrame(
        {
            "weak": rng.normal(5, 1, n),
            "count": rng.integers(0, 20, n),
            "with gaps": np.where(rng.random(n) < 0.2, np.nan, rng.integers(1, 5, n)),
            "plan": rng.choice(["basic", "pro", "team"], n, p=[0.6, 0.3, 0.1]),
            "note": [f"note number {i}" for i in range(n)],
            "flag": rng.random(n) < 0.5,
            "strong.signal": strong,
            "negative": -rng.random(n),
        }
    )
    frame["y"] = (strong + 0.3 * rng.normal(0, 1, n) > 0.5).astype(int)
    return frame


def test_types_requiredness_domains_and_categories():
    inf = infer(_frame(), "y")
    by = {f.name: f for f in inf.features}
    assert [f.name for f in inf.features] == ["weak", "count", "with gaps", "plan", "note", "flag", "strong.signal",
                                             "negative"]  # fmt: skip
    assert (by["weak"].type, by["count"].type, by["flag"].type) == ("float", "int", "bool")
    # whole numbers that pandas read as floats only because of the gaps
    assert by["with gaps"].type == "int" and not by["with gaps"].required
    assert 0.1 < by["with gaps"].missing < 0.3
    assert by["plan"].type == "category" and by["plan"].categories == ("basic", "pro", "team")
    assert by["note"].type == "text"  # 300 distinct values: free text, not a category
    assert by["count"].min == 0.0 and by["weak"].min == 0.0
    assert by["negative"].min is None  # negative values: no bound the data does not draw itself
    assert all(f.required for f in inf.features if f.name != "with gaps")


def test_output_types_and_class_order():
    assert guess_output(pd.Series([0, 1, 1, 0]), "y").classes == ("0", "1")
    multi = guess_output(pd.Series([10, 2, 2, 1, 10]), "y")
    assert (multi.type, multi.classes) == ("multiclass", ("1", "2", "10"))  # numeric order, as predict_proba's
    assert guess_output(pd.Series(["yes", "no", "no"]), "y").classes == ("no", "yes")
    assert guess_output(pd.Series([True, False]), "y").classes == ("false", "true")
    assert guess_output(pd.Series(np.linspace(0, 1, 50)), "y").type == "regression"
    assert guess_output(pd.Series(np.arange(100)), "y").type == "regression"  # too many integers for classes


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([1, 1, 1], "every label is 1"),
        ([0, None, 1], "missing labels"),
        ([f"c{i}" for i in range(60)], "60 distinct non-numeric labels"),
    ],
)
def test_bad_label_columns_are_named(labels, message):
    with pytest.raises(InitError, match=message):
        guess_output(pd.Series(labels), "y")


def test_missing_label_column_lists_the_columns():
    with pytest.raises(InitError, match=r"--label nope: no such column; columns: 'weak'"):
        infer(_frame(), "nope")


def test_an_all_missing_column_is_refused():
    with pytest.raises(InitError, match="'empty' has no values"):
        guess_feature(pd.Series([np.nan, np.nan]), "empty")


def test_drift_variants_follow_the_data():
    inf = infer(_frame(), "y")
    drift = {d.name: d.table for d in inf.drift}
    assert list(drift) == ["mean_shift", "unit_change", "missing_values", "category_reweight", "prior_shift"]
    assert drift["mean_shift"]["features"][0] == "strong.signal"  # the label depends on it
    assert len(drift["mean_shift"]["features"]) == 3
    assert drift["missing_values"]["features"] == ["with gaps"]
    shares = dict(zip(("basic", "pro", "team"), drift["category_reweight"]["weights"], strict=True))
    assert shares["team"] > shares["pro"] > shares["basic"]  # the most common becomes the rarest
    assert drift["prior_shift"]["target_class"] == "1" or drift["prior_shift"]["target_class"] == "0"
    assert 0.5 <= drift["prior_shift"]["rate"] <= 0.9


def test_no_drift_the_data_cannot_support():
    frame = pd.DataFrame({"x": np.linspace(0, 1, 40), "y": np.linspace(0, 2, 40)})  # regression, complete
    names = [d.name for d in infer(frame, "y").drift]
    assert names == ["mean_shift", "unit_change"]  # no gaps, no category, no classes


def test_breast_cancer_columns_with_spaces_and_top_correlations():
    sklearn = pytest.importorskip("sklearn.datasets")
    frame = sklearn.load_breast_cancer(as_frame=True).frame
    inf = infer(frame, "target")
    assert [f.name for f in inf.features] == [c for c in frame.columns if c != "target"]
    assert all(f.type == "float" and f.required for f in inf.features)
    expected = frame.drop(columns="target").corrwith(frame["target"]).abs().sort_values(ascending=False)
    shift = next(d for d in inf.drift if d.name == "mean_shift")
    assert shift.table["features"] == list(expected.index[:3])
    assert inf.output.classes == ("0", "1")
