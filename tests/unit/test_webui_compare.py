"""The web UI's ML comparison tab: its columns are the console's comparison table under keys that
Locust's UI can camel-case, its rows are the console's text, and its last row is the verdict the
run's gates give on the figures so far (hold below the minimum sample, never rollback); the tab is
added only when the options or the profile name a challenger.

The figures are real: PairStats fed pairs, judged by the real default comparison gates."""

from __future__ import annotations

import re
from argparse import Namespace
from pathlib import Path

import pytest
from locust.env import Environment

from locust_mlstress import MLUser
from locust_mlstress.domain.gates import DEFAULT_COMPARISON_GATES, GateSpec
from locust_mlstress.domain.summary import Figures, PairFigures, no_figures
from locust_mlstress.gates import parse_gates
from locust_mlstress.plugin.webui import (
    COMPARE_TABLE,
    VERDICT_ROW,
    comparison_rows,
    live_comparison,
    names_challenger,
)
from locust_mlstress.quality.kindstats import KindStats
from locust_mlstress.quality.pairs import PairStats, version_figures
from locust_mlstress.report.console import COMPARE, pair_cells
from tests.conftest import PROFILES

SPEC = GateSpec(checks=parse_gates(DEFAULT_COMPARISON_GATES))


class Kind:
    """One payload kind's pairs and each version's own stats over them, recorded as the recorder
    does (quality/recorder.py): the pair, then each answer into its version's KindStats."""

    def __init__(self) -> None:
        self.pairs = PairStats()
        self.versions = {"champion": KindStats("binary", 0), "challenger": KindStats("binary", 0)}

    def add(self, variant: str, outcomes: tuple[str, str], preds: tuple[list | None, list | None], ms: float) -> None:
        self.pairs.record(variant, *outcomes, *preds, ms, ms, None, "binary", 0.0)
        for stats, outcome, pred in zip(self.versions.values(), outcomes, preds, strict=True):
            stats.record_outcome(variant, outcome, ms)
            if pred is not None:
                stats.record_predictions(pred, None)

    def figures(self) -> PairFigures:
        why = "no baseline in this test"
        return self.pairs.figures({v: version_figures(s, None, why) for v, s in self.versions.items()})


def _clean(n: int, flipped: int) -> Kind:
    """`n` clean pairs answered alike but for `flipped` of them, each pair as fast on both sides."""
    kind = Kind()
    for i in range(n):
        kind.add("base", ("ok", "ok"), ([0.8], [0.2] if i < flipped else [0.8]), 5.0 + i % 7)
    return kind


def _malformed(n: int) -> Kind:
    """Both versions reject every malformed payload: pairs, nothing to compare."""
    kind = Kind()
    for _ in range(n):
        kind.add("missing_required", ("rejected", "rejected"), (None, None), 1.0)
    return kind


def _figures(**kinds: Kind) -> Figures:
    figures = no_figures(10.0)
    figures["comparison"] = {
        "challenger": "http://127.0.0.1:1",
        "share": 1.0,
        "model_versions": {},
        "kinds": {name: kind.figures() for name, kind in kinds.items()},
    }
    return figures


def test_the_columns_are_the_console_comparison_table_under_keys_the_ui_keeps():
    names = [name for name, _ in COMPARE_TABLE]
    assert names == [c.name for c in COMPARE] + ["verdict", "note"]
    keys = [key for _, key in COMPARE_TABLE]
    assert len(set(keys)) == len(keys)
    # Locust's UI camel-cases `_x` in the table's keys: a key without underscores stays as it is
    assert all(re.fullmatch(r"[a-z][a-z0-9]*", key) for key in keys), keys


def test_rows_are_the_console_text_and_the_verdict_comes_last():
    live = live_comparison(SPEC, _figures(clean=_clean(1000, 0), malformed=_malformed(300)))
    assert live is not None
    rows = comparison_rows(live)
    assert [r["kind"] for r in rows] == ["clean", "malformed", VERDICT_ROW]
    for row in rows[:-1]:
        p = live.kinds[row["kind"]]
        cells = pair_cells(row["kind"], p)
        for name, key in COMPARE_TABLE[: len(COMPARE)]:
            if key not in ("pairs", "compared"):
                assert row[key] == cells[name], (row["kind"], key)
        assert (row["pairs"], row["compared"]) == (p["n_pairs"], p["n_compared"])  # numbers: they sort
        assert row["verdict"] == ""
    clean, malformed, verdict = rows
    assert clean["disagreement"].startswith("0.00% [0.00–") and clean["regressions"] == "0"
    assert clean["note"] == ""
    assert malformed["disagreement"] == "-" and malformed["note"] == "no payload had a prediction from both versions"
    # the same server twice, 1000 clean pairs: every default comparison gate holds
    assert verdict["verdict"] == live.verdict == "promote"
    assert verdict["note"] == live.reasons[0]
    assert all(verdict[key] == "" for _, key in COMPARE_TABLE if key not in ("kind", "verdict", "note"))


def test_a_challenger_that_disagrees_is_rolled_back_with_the_gate_as_the_note():
    rows = comparison_rows(live_comparison(SPEC, _figures(clean=_clean(1000, 100))))
    verdict = rows[-1]
    assert verdict["verdict"] == "rollback"
    assert verdict["note"].startswith("disagreement[clean] ") and "fail" in verdict["note"], verdict["note"]
    assert rows[0]["disagreement"].startswith("10.0% ")


def test_too_few_pairs_hold_even_when_half_of_them_disagree():
    verdict = comparison_rows(live_comparison(SPEC, _figures(clean=_clean(20, 10))))[-1]
    assert verdict["verdict"] == "hold", verdict


def test_no_comparison_no_rows_and_no_gates_hold():
    assert live_comparison(SPEC, None) is None
    assert live_comparison(SPEC, no_figures(3.0)) is None  # a run without pairs yet
    assert comparison_rows(None) == []
    live = live_comparison(None, _figures(clean=_clean(1000, 0)))  # before a run has set its gates
    assert live is not None and live.verdict == "hold" and live.reasons == ["no comparison gate was judged"]


def _start_up(profile: Path, challenger: str | None) -> Environment:
    class Model(MLUser):
        pass

    Model.profile = profile
    options = Namespace(ml_challenger=challenger, ml_challenger_share=None, ml_profile=None)
    return Environment(user_classes=[Model], parsed_options=options)


@pytest.mark.parametrize(
    ("table", "option", "expected"),
    [
        ("", None, False),
        ("", "http://127.0.0.1:9", True),
        ('[challenger]\nhost = "http://127.0.0.1:8081"\n', None, True),
        ('[challenger]\npath = "/v2:predict"\n', None, False),  # a table without a host names no challenger
    ],
)
def test_the_tab_comes_when_the_options_or_the_profile_name_a_challenger(tmp_path, table, option, expected):
    profile = tmp_path / "p.toml"
    profile.write_text(f"{(PROFILES / 'quickstart.toml').read_text()}\n{table}")
    assert names_challenger(_start_up(profile, option)) is expected
