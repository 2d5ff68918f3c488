"""The web UI's trend charts: what /ml/trends.json gives static/mltrends.js to draw (each chart's
x, series and colours, computed in Python), the page tags that load uPlot and our script, the
vendored files, and Locust's Reset reaching our figures, table cache and charts.

Real parts: monitors fed by real recorders (tests/unit/test_quality_pair_windows.py), and a real
Locust Environment whose run `lifecycle.start` sets up as a test start does."""

from __future__ import annotations

import json
import random
from argparse import Namespace
from types import SimpleNamespace

import pytest
from locust.env import Environment

from locust_mlstress import MLUser
from locust_mlstress.domain.outcomes import Outcome
from locust_mlstress.plugin import lifecycle
from locust_mlstress.plugin.state import state_of
from locust_mlstress.plugin.webui import (
    PAGE_TAGS,
    PSI_LINES,
    STATIC,
    STATIC_FILES,
    LiveFigures,
    _after_spawning,
    reset_figures,
    spans_widely,
    trend_charts,
    with_trend_charts,
)
from locust_mlstress.quality import QualityMonitor, QualityRecorder
from tests.conftest import PROFILES
from tests.unit.test_quality_pair_windows import QUICKSTART, WINDOW_S, Clock, _kind_traffic, _pairs_into, _run


def _monitor_with_kinds(windows: int = 6) -> QualityMonitor:
    """Clean, drifted and malformed traffic (labelled) over `windows` windows, and one 5xx."""
    clock = Clock()
    monitor = QualityMonitor(QUICKSTART, window_s=WINDOW_S)
    recorder = QualityRecorder(QUICKSTART.output, WINDOW_S, clock, monitor.absorb)
    rng = random.Random(2)
    for w in range(windows):
        _kind_traffic(recorder, clock, rng, w * WINDOW_S + 1, n=150)
    payload = SimpleNamespace(kind="clean", variant="clean", body=b"{}", labels=None)
    recorder.record(payload, SimpleNamespace(outcome=Outcome.SERVER_ERROR, predictions=None, response_time=9.0,
                                             labels_only=False))  # fmt: skip
    recorder.flush()
    return monitor


def _charts(monitor: QualityMonitor) -> dict[str, dict]:
    charts = trend_charts(monitor.trend_rows(), monitor.pair_window_rows(), monitor.kinds())
    json.dumps(charts, allow_nan=False)  # what the page parses: no NaN, no infinity
    return {c["id"]: dict(c) for c in charts}


def test_the_charts_of_a_run_without_a_challenger():
    monitor = _monitor_with_kinds()
    charts = _charts(monitor)
    assert list(charts) == ["ml-trend-psi", "ml-trend-latency", "ml-trend-outcomes", "ml-trend-reliability"]
    x = [w * WINDOW_S for w in range(6)]
    for chart in charts.values():
        assert all(len(s["values"]) == len(chart["x"]) for s in chart["series"])
        assert len({s["label"] for s in chart["series"]}) == len(chart["series"])

    psi = charts["ml-trend-psi"]
    assert psi["x"] == x and psi["lines"] == list(PSI_LINES)
    assert [s["label"] for s in psi["series"]] == ["clean", "drifted"]  # malformed has no predictions
    live = monitor.summary(now=30.0)
    drifted = {r["start_s"]: r["shift"]["psi"] for r in live["windows"] if r["kind"] == "drifted"}
    assert psi["series"][1]["values"] == [drifted[t] for t in x]
    assert min(v for v in psi["series"][1]["values"] if v is not None) > 0.25  # drifted well past "major"

    latency = charts["ml-trend-latency"]
    assert latency["log"] is False  # 1 to 9 ms: a linear axis reads well
    assert [(s["label"], s["dash"]) for s in latency["series"]][:3] == [
        ("clean p50", False), ("drifted p50", False), ("malformed p50", False)]  # fmt: skip
    assert [s["label"] for s in latency["series"]][3:] == ["clean p99", "drifted p99", "malformed p99"]
    assert all(s["dash"] for s in latency["series"][3:])
    clean = next(s for s in latency["series"] if s["label"] == "clean p99")
    assert clean["values"][-1] == next(r["latency_ms"]["p99"] for r in live["windows"]
                                       if r["kind"] == "clean" and r["start_s"] == x[-1])  # fmt: skip

    outcomes = charts["ml-trend-outcomes"]
    assert [s["label"] for s in outcomes["series"]] == ["ok", "rejected", "accepted malformed", "errors"]
    for i in range(len(x)):
        assert sum(s["values"][i] for s in outcomes["series"]) == pytest.approx(100.0)
    errors = outcomes["series"][3]["values"]
    assert errors[-1] > 0 and errors[:-1] == [0.0] * 5  # the one 5xx, in the last window
    rejected = outcomes["series"][1]["values"]
    assert all(20 < share < 45 for share in rejected)  # a third of the traffic is malformed

    reliability = charts["ml-trend-reliability"]
    assert reliability["span_gaps"] and (reliability["ymin"], reliability["ymax"]) == (0.0, 1.0)
    diagonal, *kinds = reliability["series"]
    assert diagonal["values"] == reliability["x"] and diagonal["dash"]
    assert [s["label"] for s in kinds] == ["clean", "drifted"]
    bins = live["kinds"]["clean"]["calibration"]["reliability"]
    points = dict(zip(reliability["x"], kinds[0]["values"], strict=True))
    assert [points[round(b["mean_p"], 6)] for b in bins] == [b["mean_y"] for b in bins]


def test_with_a_challenger_disagreement_over_time_is_charted():
    monitor = _run(workers=2)
    charts = _charts(monitor)
    chart = charts["ml-trend-disagreement"]
    rows = monitor.pair_window_rows()
    assert [s["label"] for s in chart["series"]] == ["clean", "drifted"]
    clean = {r["start_s"]: r["disagreement"] for r in rows if r["kind"] == "clean"}
    assert chart["series"][0]["values"] == [100 * clean[t] for t in chart["x"]]
    values = chart["series"][0]["values"]
    assert max(values[:6]) < 15 < min(values[6:])  # the challenger going wrong half-way


def test_latency_spanning_more_than_thirty_times_gets_a_log_axis():
    """A cold first window (hundreds of ms) beside steady answers of a few ms: on a linear axis
    the steady line would lie flat on 0."""
    steady = {"label": "clean p50", "values": [None, 2.0, 3.0], "colour": "#000000", "dash": False}
    cold = {"label": "clean p99", "values": [240.0, 4.0, None], "colour": "#000000", "dash": True}
    assert spans_widely([steady, cold]) and not spans_widely([steady]) and not spans_widely([])


def test_no_charts_before_the_first_window():
    assert trend_charts([], [], None) == []


def test_the_page_loads_uplot_then_our_script_once():
    page = "<html><head><title>Locust</title></head><body><div id=root></div></body></html>"
    once = with_trend_charts(page)
    assert (
        once.index("uPlot.min.css")
        < once.index("uPlot.iife.min.js")
        < once.index("mltrends.js")
        < once.index("</head>")
    )
    assert with_trend_charts(once) == once
    assert with_trend_charts("not a page") == "not a page"
    assert "http" not in PAGE_TAGS  # relative: no CDN, and under --web-base-path too


def test_the_vendored_files_are_there_and_named():
    for name in STATIC_FILES:
        assert (STATIC / name).is_file(), name
    assert (STATIC / "uPlot.iife.min.js").read_text().startswith("/*! https://github.com/leeoniya/uPlot (v1.6.32) */")
    assert "MIT License" in (STATIC / "uPlot.LICENSE").read_text()
    script = (STATIC / "mltrends.js").read_text()
    assert "../trends.json" in script and "https://" not in script


def _environment() -> Environment:
    class Model(MLUser):
        profile = PROFILES / "quickstart.toml"

    options = Namespace(ml_window=WINDOW_S, ml_warmup="10s", ml_baseline=None, ml_artifacts=None, ml_profile=None,
                        ml_challenger=None, ml_challenger_share=None, ml_gate=[])  # fmt: skip
    return Environment(user_classes=[Model], parsed_options=options)


def test_reset_empties_the_figures_the_table_and_the_charts_and_the_run_goes_on():
    environment = _environment()
    run = lifecycle.start(environment)
    try:
        assert run.monitor is not None and run.recorder is not None
        rng = random.Random(4)
        clock = Clock()
        run.recorder.clock = clock  # the test chooses the windows
        for w in range(4):
            _kind_traffic(run.recorder, clock, rng, w * WINDOW_S + 1)
        _pairs_into(run.recorder, clock, rng, 4 * WINDOW_S + 1, 20, 0.1)
        figures = LiveFigures(environment, max_age_s=60.0)  # only a reset makes it compute again
        assert figures.trends() and figures.kinds()
        before = figures.kinds()
        assert before is not None and before["clean"]["requests"] > 0

        reset_figures(environment, figures)
        assert figures.trends() == [] and figures.kinds() == {}
        assert state_of(environment).run is run  # the same run goes on
        assert run.monitor.origin == int(state_of(environment).clock()() // WINDOW_S)

        clock.t = 5 * WINDOW_S + 1  # traffic after the reset: counted from nothing
        _kind_traffic(run.recorder, clock, rng, clock.t, n=30)
        fresh = LiveFigures(environment, max_age_s=0.0)
        after = fresh.kinds()
        assert after is not None and sum(k["requests"] for k in after.values()) == 30
        charts = {c["id"]: c for c in fresh.trends()}
        assert charts["ml-trend-outcomes"]["x"] == [5 * WINDOW_S]
        assert "ml-trend-disagreement" not in charts  # the pairs came before the reset
    finally:
        run.stop()


def test_reset_before_any_test_does_nothing():
    environment = _environment()
    figures = LiveFigures(environment)
    reset_figures(environment, figures)
    assert lifecycle.reset(environment) is False
    assert figures.trends() == []


@pytest.mark.parametrize("reset_stats", [True, False])
def test_reset_stats_resets_the_figures_and_the_tab_once_spawning_completes(reset_stats):
    environment = _environment()
    environment.reset_stats = reset_stats
    run = lifecycle.start(environment)
    try:
        assert run.recorder is not None
        clock = Clock()
        run.recorder.clock = clock
        _kind_traffic(run.recorder, clock, random.Random(6), 1)
        figures = LiveFigures(environment, max_age_s=60.0)
        assert figures.kinds()
        # as Locust fires it; the listeners are the ones plugin.register and the tab add
        lifecycle_listener = lambda **_kw: lifecycle.reset_after_spawning(environment)  # noqa: E731
        environment.events.spawning_complete.add_listener(lifecycle_listener)
        environment.events.spawning_complete.add_listener(lambda **_kw: _after_spawning(environment, figures))
        environment.events.spawning_complete.fire(user_count=4)
        assert (figures.kinds() == {}) is reset_stats
    finally:
        run.stop()
