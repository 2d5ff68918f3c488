"""The champion/challenger outputs: the console's comparison table (kinds, intervals, verdict and
reasons, notes within 120 columns, "-" where a figure is missing), and the HTML report's section
(verdict, per-kind table, transition matrices with regressions marked, the two plots), which a
run without a challenger never shows.

The comparison block is a realistic end-of-run one, laid on a summary from a real QualityMonitor
(tests/unit/test_html_report.py's `monitored_summary`), where a run puts it."""

from __future__ import annotations

import bisect
import copy
import random
import re

import pytest

from locust_mlstress.quality.histograms import LogHistogram, key_bounds
from locust_mlstress.report.console import COMPARE, WIDTH, format_comparison, pair_cells, share_interval
from locust_mlstress.report.html import COMPARISON_CSS, COMPARISON_PLOT_IDS, render_html
from locust_mlstress.report.plots import render
from locust_mlstress.report.plots_compare import coarse_bins, draw_disagreement, draw_latency_delta, symlog_ticks
from tests.unit.test_html_report import monitored_summary


def _interval(value, low, high) -> dict:
    return {"value": value, "ci": None if low is None else [low, high]}


def _latency(p50, p95, p99) -> dict:
    return {q: _interval(v, None if v is None else v * 0.9, None if v is None else v * 1.1)
            for q, v in (("p50", p50), ("p95", p95), ("p99", p99))}  # fmt: skip


def _version(p50: float, accuracy: float | None, ece: float | None, brier: float | None, reason: str) -> dict:
    return {"latency_ms": _latency(p50, 2 * p50, 3 * p50), "n": 9000, "accuracy": accuracy, "ece": ece,
            "ece_noise": None if ece is None else 0.006, "brier": brier, "n_calibration": 9000 if ece else 0,
            "psi": None, "shift_reason": reason}  # fmt: skip


SHIFT_REASON = (
    "clean's baseline is the champion's own warm-up: give both versions a saved baseline (--ml-baseline) to "
    "compare their clean shift"
)
# Signed log bins of the per-request difference, a bin of zeros in the middle (the recorder's shape).
DELTA_BINS = [[-2.0, -1.0, 400], [-1.0, -0.5, 1200], [-0.5, 0.5, 5000], [0.5, 1.0, 1500], [1.0, 2.0, 890],
              [4.0, 8.0, 10]]  # fmt: skip


def comparison() -> dict:
    """The block at the end of a run: clean labelled with a 3% disagreement and two more transitions
    (one a regression, one an improvement); malformed with no prediction from both and 3 regressions."""
    return {
        "challenger": "http://127.0.0.1:8081",
        "share": 1.0,
        "model_versions": {"champion": "1", "challenger": "2"},
        "verdict": "rollback",
        "reasons": [
            "disagreement[clean] < 1%: interval [2.6%, 3.4%] lies above 1%: fail (n=9000)",
            "regressions == 0: 7 regressions (clean/clean: 4, malformed/missing_required: 3): fail; "
            + "a reason long enough to need wrapping " * 3,
        ],
        "kinds": {
            "clean": {
                "n_pairs": 9000, "n_compared": 8996, "disagreement": 0.0301, "disagreement_ci": [0.0267, 0.0337],
                "mean_abs_diff": 0.021, "transitions": {"ok->ok": 8990, "ok->server_error": 4, "server_error->ok": 6},
                "regressions": 4, "regressions_by_variant": {"clean": 4},
                "latency_delta_ms": {**_latency(0.1, 2.1, 5.0), "n": 9000, "histogram": DELTA_BINS},
                "percentile_delta_ms": _latency(0.05, 0.3, 1.2),
                "n_labelled": 9000, "accuracy_delta": _interval(-0.012, -0.016, -0.008), "mcnemar_p": 0.00001,
                "versions": {"champion": _version(3.0, 0.87, 0.011, 0.09, SHIFT_REASON),
                             "challenger": _version(3.1, 0.858, 0.03, 0.1, SHIFT_REASON)},
            },
            "malformed": {
                "n_pairs": 500, "n_compared": 0, "disagreement": None, "disagreement_ci": None, "mean_abs_diff": None,
                "transitions": {"rejected->rejected": 497, "rejected->accepted_malformed": 3},
                "regressions": 3, "regressions_by_variant": {"missing_required": 3},
                "latency_delta_ms": {**_latency(0.0, 1.0, None), "n": 500, "histogram": [[-0.5, 0.5, 500]]},
                "percentile_delta_ms": _latency(0.0, 0.1, None),
                "n_labelled": 0, "accuracy_delta": _interval(None, None, None), "mcnemar_p": None,
                "versions": {"champion": _version(1.0, None, None, None, "no predictions"),
                             "challenger": _version(1.0, None, None, None, "no predictions")},
            },
        },
    }  # fmt: skip


def _rows(text: str) -> dict[str, str]:
    """The comparison table's rows by kind."""
    lines = text.splitlines()
    start = lines.index("champion and challenger per payload kind") + 3
    end = lines.index("", start)
    return {line.split()[0]: line for line in lines[start:end]}


def test_the_console_table_has_a_row_per_kind_with_its_interval_and_the_verdict_with_reasons():
    block = comparison()
    text = format_comparison(block)
    rows = _rows(text)
    assert set(rows) == set(block["kinds"])
    clean = block["kinds"]["clean"]
    low, high = clean["disagreement_ci"]
    assert f"{100 * clean['disagreement']:.1f}% [{100 * low:.1f}–{100 * high:.1f}]" in rows["clean"]
    assert f"{clean['n_pairs']}" in rows["clean"]
    assert f"+{clean['percentile_delta_ms']['p99']['value']:.2f}" in rows["clean"]
    assert f"{clean['accuracy_delta']['value']:.3f}" in rows["clean"]
    assert "1e-05" in rows["clean"] and "0.000" not in rows["clean"]  # a tiny p in exponent form, not rounded to 0
    verdict = text.splitlines().index("verdict: ROLLBACK")
    reasons = "\n".join(text.splitlines()[verdict + 1 :])
    for reason in block["reasons"]:
        words = reason.split()
        assert re.search(r"\s+".join(map(re.escape, words[:8])), reasons), reason  # each listed, wrapped if long
    assert all(len(line) <= WIDTH for line in text.splitlines())


def test_a_kind_without_disagreement_shows_a_dash_and_says_why():
    text = format_comparison(comparison())
    cells = pair_cells("malformed", comparison()["kinds"]["malformed"])
    assert cells["disagreement 95%"] == "-" and cells["mean |Δ|"] == "-"
    assert cells["Δaccuracy"] == "-" and cells["McNemar p"] == "-"  # not labelled
    assert cells["Δp99 ms"] == "-" and cells["regressions"] == "3"
    assert "malformed: disagreement -: no payload had a prediction from both versions" in text


def test_the_notes_list_changed_transitions_with_regressions_marked_and_each_version():
    text = " ".join(format_comparison(comparison()).split())  # the notes unwrapped
    assert "clean transitions, champion->challenger: server_error->ok 6, ok->server_error 4 (regression)" in text
    assert "malformed transitions, champion->challenger: rejected->accepted_malformed 3 (regression)" in text
    assert "ok->ok" not in text and "rejected->rejected" not in text  # no change, no note
    assert "malformed regressions by variant: missing_required 3" in text
    assert "clean by version: champion (1) accuracy 0.870, ECE 0.011 (noise 0.006), Brier 0.090" in text
    assert "challenger (2) accuracy 0.858, ECE 0.030" in text
    assert text.count(SHIFT_REASON) == 1 and "PSI of both not computed: " + SHIFT_REASON in text


def test_a_live_block_has_no_verdict_line_and_missing_figures_do_not_crash():
    block = comparison()
    del block["verdict"], block["reasons"]
    block["kinds"]["clean"]["versions"]["challenger"]["shift_reason"] = "its own reason"
    text = format_comparison(block)
    assert "verdict:" not in text
    assert "PSI not computed: its own reason" in text and "PSI of both" not in text.split("clean by version")[1][:300]


def test_no_figure_size_or_name_length_runs_a_column_into_the_next():
    block = comparison()
    huge = copy.deepcopy(block["kinds"]["clean"])
    huge |= {"n_pairs": 12_345_678_901, "n_compared": 12_345_678_900, "disagreement": 0.999999,
             "disagreement_ci": [0.99, 1.0], "mean_abs_diff": 123_456.789, "regressions": 10**13}  # fmt: skip
    huge["percentile_delta_ms"]["p50"]["value"] = -98_765_432.1
    huge["accuracy_delta"]["value"] = -0.999
    block["kinds"]["a-kind-name-longer-than-twelve"] = huge
    block["kinds"]["tiny"] = copy.deepcopy(block["kinds"]["clean"]) | {
        "disagreement": 0.0,
        "disagreement_ci": [0, 0.0004],
    }
    text = format_comparison(block)
    assert all(len(line) <= WIDTH for line in text.splitlines())
    spans, at = [], 0
    for i, c in enumerate(COMPARE):
        at += c.gap if i else 0
        spans.append((at, at + c.width))
        at += c.width
    lines = text.splitlines()
    start = lines.index("champion and challenger per payload kind") + 1
    for line in [lines[start]] + lines[start + 2 : lines.index("", start)]:
        padded = line.ljust(spans[-1][1])
        for (_, end), (begin, _) in zip(spans, spans[1:], strict=False):
            assert padded[end:begin] == " ", f"columns touch in {line!r}"
        assert all(padded[s:e].strip() for s, e in spans), f"an empty cell in {line!r}"
    assert "0.00% [0.00–0.04]" in text  # under 1%, two decimals: 0.04% is not shown as 0.0
    cell = pair_cells("x", huge)["Δp50 ms"]  # too wide for its column: exponent form, sign and size kept
    assert cell.startswith("-") and float(cell) == pytest.approx(-98_765_432.1, rel=0.2)


@pytest.mark.parametrize(
    ("value", "ci", "width", "shown"),
    [(0.0301, [0.0267, 0.0337], 20, "3.0% [2.7–3.4]"), (0.002, [0.001, 0.004], 20, "0.20% [0.10–0.40]"),
     (0.5, None, 20, "50.0%"), (None, None, 20, "-"), (0.9999, [0.9991, 1.0], 14, "100% [100–100]")],
)  # fmt: skip
def test_a_share_and_its_interval_in_percent(value, ci, width, shown):
    assert share_interval(value, ci, width) == shown


@pytest.fixture(scope="module")
def pages() -> tuple[str, str]:
    """The same run rendered without a challenger and with one."""
    summary = monitored_summary(windows=3)
    without = render_html(summary)
    return without, render_html(summary | {"comparison": comparison()})


def _section(page: str) -> str:
    match = re.search(r'<section id="comparison">.*?</section>', page, re.DOTALL)
    assert match, "no comparison section"
    return match.group(0)


def test_the_html_section_appears_only_with_a_comparison_and_leaves_the_rest_as_it_was(pages):
    without, with_ = pages
    assert 'id="comparison"' not in without and "Champion and challenger" not in without
    assert COMPARISON_CSS not in without and not any(f'id="{p}"' in without for p in COMPARISON_PLOT_IDS)
    section = _section(with_)
    # Take the section, its link and its style out of the page with a challenger: the page without one.
    rest = with_.replace(section + "\n", "").replace('<a href="#comparison">Comparison</a>', "")
    assert rest.replace(COMPARISON_CSS, "") == without


def test_the_html_section_holds_the_verdict_reasons_and_per_kind_figures(pages):
    section = _section(pages[1])
    block = comparison()
    assert '<p class="verdict">Verdict: <span class="rollback">rollback</span></p>' in section
    for reason in block["reasons"]:
        assert f"<li>{reason.replace('<', '&lt;')}</li>" in section
    clean = re.search(r"<tr><td>clean</td>(.*?)</tr>", section).group(1)
    low, high = block["kinds"]["clean"]["disagreement_ci"]
    assert f"[{100 * low:.2f}%, {100 * high:.2f}%]" in clean
    assert "+1.20 [+1.08, +1.32]" in clean  # the gates' Δp99 (percentile difference) with its interval
    malformed = re.search(r"<tr><td>malformed</td>(.*?)</tr>", section).group(1)
    assert "not computed: no payload had a prediction from both versions" in malformed
    assert "<td>malformed</td><td>challenger (2)</td>" in section  # each version's own figures
    assert "not computed: no predictions" in section


def _matrix(section: str, kind: str) -> str:
    match = re.search(rf"<h3>{kind}</h3>(<table class=\"matrix\">.*?</table>)", section, re.DOTALL)
    assert match, f"no matrix for {kind}"
    return match.group(1)


def test_the_transition_matrix_marks_only_regression_cells(pages):
    section = _section(pages[1])
    malformed = _matrix(section, "malformed")
    header = re.findall(r'<th scope="col">([^<]+)</th>', malformed)[1:]
    assert header == ["rejected", "accepted_malformed"]  # square: every outcome either version had
    row = re.search(r'<tr><th scope="row">rejected</th>(.*?)</tr>', malformed).group(1)
    cells = re.findall(r'<td class="([^"]+)"[^>]*>(\d+)</td>', row)
    assert cells == [("num same", "497"), ("num regression", "3")]
    clean = _matrix(section, "clean")
    marked = re.findall(r'<tr><th scope="row">(\w+)</th>(?:(?!</tr>).)*?class="num regression"', clean)
    assert marked == ["ok"]  # ok -> server_error; server_error -> ok is an improvement, not marked
    assert re.search(r'<td class="num regression" title="regression: ok → server_error">4</td>', clean)
    assert "Regressions by variant: missing_required 3" in section


def test_both_comparison_figures_are_embedded_as_svg(pages):
    section = _section(pages[1])
    for plot_id in COMPARISON_PLOT_IDS:
        figure = re.search(rf'<figure id="{plot_id}">(.*?)</figure>', section, re.DOTALL).group(1)
        assert "Not in this run" not in figure and re.search(r"<svg[^>]*>\s*<title>[^<]+</title>", figure), plot_id
    ids = re.findall(r'\sid="([^"]+)"', pages[1])
    assert len(ids) == len(set(ids))


def test_the_disagreement_plot_shows_the_interval_and_why_a_kind_has_none():
    summary = {"kinds": {}, "comparison": comparison()}
    svg = render("plot-disagreement", "Disagreement", draw_disagreement, summary).svg
    assert svg is not None
    assert "3.0% [2.7–3.4], n=8996" in svg and "not computed: no prediction from both (n=500 pairs)" in svg


def test_the_latency_difference_plot_marks_p50_and_p99_on_a_signed_axis():
    summary = {"kinds": {}, "comparison": comparison()}
    svg = render("plot-latency-delta", "Latency difference", draw_latency_delta, summary).svg
    assert svg is not None
    assert "p50 +0.1 ms" in svg and "p99 +5 ms" in svg and "p50 +0 ms" in svg
    assert re.search(r">−?-?2<", svg) and ">5<" in svg  # ticks on both sides of 0, in plain numbers
    assert "clean (n=9000)" in svg and "malformed (n=500)" in svg


def test_plots_without_a_challenger_say_so():
    for draw in (draw_disagreement, draw_latency_delta):
        plot = render("plot-x", "x", draw, {"kinds": {}})
        assert plot.svg is None and plot.absent == "no challenger ran (--ml-challenger)"
    block = comparison()
    for p in block["kinds"].values():
        p["disagreement"] = p["disagreement_ci"] = None
        p["latency_delta_ms"]["histogram"] = []
    assert render("plot-x", "x", draw_disagreement, {"kinds": {}, "comparison": block}).absent == (
        "no payload had a prediction from both versions"
    )
    assert render("plot-x", "x", draw_latency_delta, {"kinds": {}, "comparison": block}).absent == (
        "no pair recorded a latency from both versions"
    )


@pytest.mark.parametrize(
    ("low", "high", "linthresh"), [(-2.3, 8.8, 0.5), (-1000.0, 2000.0, 0.001), (-0.6, 0.6, 0.5), (0.0, 30.0, 1.0)]
)
def test_symlog_ticks_are_few_signed_and_within_the_axis(low, high, linthresh):
    ticks = symlog_ticks(low, high, linthresh)
    assert ticks == sorted(ticks) and all(low <= t <= high for t in ticks)
    assert (0.0 in ticks) == (low <= 0 <= high)
    for side in (-1, 1):
        mine = [abs(t) for t in ticks if t * side > 0]
        assert len(mine) <= 4 and all(t >= linthresh * (1 - 1e-9) for t in mine)
    assert any(t > 0 for t in ticks) and (low >= -linthresh or any(t < 0 for t in ticks))


def test_the_recorders_fine_signed_bins_regroup_into_contiguous_display_bins_that_keep_every_pair():
    rng = random.Random(7)
    h = LogHistogram()
    values = [rng.gauss(0.3, 1.5) for _ in range(3000)] + [0.0] * 200 + [rng.expovariate(0.02) for _ in range(60)]
    for v in values:
        h.add(v)
    fine = [[*key_bounds(key), float(n)] for key, n in h.items()]
    assert len(fine) > 300  # 1% bins: slivers
    linthresh = 0.05
    edges, counts = coarse_bins(fine, linthresh)
    assert len(counts) == len(edges) - 1 < len(fine) / 4
    assert all(a < b for a, b in zip(edges, edges[1:], strict=False))
    assert sum(counts) == len(values)
    for low, high, n in fine:  # each fine bin's pairs sit in the display bin holding its middle
        middle = (low + high) / 2
        assert counts[bisect.bisect_right(edges, middle) - 1] >= n
    zero = bisect.bisect_right(edges, 0.0) - 1
    assert edges[zero] < 0 < edges[zero + 1] and counts[zero] >= 200
    assert -linthresh in [pytest.approx(e) for e in edges] and linthresh in [pytest.approx(e) for e in edges]
