"""The HTML report: one self-contained page, every plot findable, a note instead of a plot the run
has no data for, and `mlstress report DIR` for a saved run.

Summaries come from a real QualityMonitor fed recorder deltas (the shapes a run produces), plus
the run, gate and stage keys `finish()` adds, and a real manifest."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys

import pytest

from locust_mlstress.cli import main as cli_main
from locust_mlstress.profile import load_profile
from locust_mlstress.quality import KindStats, QualityMonitor, Warmup
from locust_mlstress.report.html import PLOT_IDS, SavedRunError, render_html, rerender
from locust_mlstress.report.manifest import build_manifest
from locust_mlstress.report.plots import render
from locust_mlstress.report.plots_load import draw_stages
from locust_mlstress.report.plots_quality import draw_histograms, draw_psi_over_time, draw_reliability
from tests.conftest import PROFILES, ROOT

MALFORMED = ("invalid_json", "wrong_type", "<b>odd</b>")
OVERSIZED = {"large_batch": 40_000, "huge_string": 260_000, "body_bytes": 2_000_000}


def _figure(page: str, plot_id: str) -> str:
    match = re.search(rf'<figure id="{plot_id}">(.*?)</figure>', page, re.DOTALL)
    assert match, f"no figure {plot_id}"
    return match.group(1)


def _kind_delta(rng: random.Random, kind: str, window: int, *, labels: bool, oversized: bool) -> KindStats | None:
    s = KindStats("binary")
    if kind == "malformed":
        for i in range(30):
            variant = MALFORMED[i % len(MALFORMED)]
            s.record_outcome(variant, "accepted_malformed" if variant == "wrong_type" and i % 2 else "rejected",
                             rng.uniform(1, 3), size=150)  # fmt: skip
        return s
    if kind == "oversized":
        if not oversized:
            return None
        for variant, size in OVERSIZED.items():
            for _ in range(6):
                s.record_outcome(variant, "ok", size / 20_000 + rng.uniform(0, 2), size=size, by_variant=True)
            s.record_predictions([rng.betavariate(2, 5) for _ in range(6)], None)
        return s
    drift = kind == "drifted" and window >= 2
    ps = [rng.betavariate(5, 2) if drift else rng.betavariate(2, 5) for _ in range(120)]
    for _ in ps:
        s.record_outcome(kind, "ok", rng.lognormvariate(1 + 0.2 * window, 0.5), size=200)
    s.record_predictions(ps, [int(rng.random() < p) for p in ps] if labels else None)
    return s


def monitored_summary(*, labels: bool = True, oversized: bool = True, windows: int = 6) -> dict:
    """A summary as `finish()` leaves it, from six 5-second windows of four kinds."""
    profile = load_profile(PROFILES / "quickstart.toml")
    rng = random.Random(11)
    monitor = QualityMonitor(profile, window_s=5.0)
    for w in range(windows):
        deltas = []
        for kind in ("clean", "drifted", "malformed", "oversized"):
            stats = _kind_delta(rng, kind, w, labels=labels, oversized=oversized)
            if stats is not None:
                deltas.append({"window": w, "kind": kind, "stats": stats.to_wire()})
        monitor.absorb(deltas)
        monitor.note_users(5 * w + 1, 4 * (w + 1))
    summary = monitor.summary(now=5.0 * windows)
    summary["duration_s"] = 5.0 * windows
    summary["run"] = {"profile": {"name": profile.name, "path": str(profile.path), "sha256": profile.sha256},
                      "host": "http://127.0.0.1:8080", "model_version": "7"}  # fmt: skip
    summary["gates"] = [
        {"gate": "p95_ms < 500", "value": 12.5, "n": 720, "status": "pass", "message": "p95_ms = 12.5 < 500: pass"},
        {"gate": "accepted_malformed == 0", "value": 30, "n": 180, "status": "fail",
         "message": "accepted_malformed = 30, not == 0: fail"},
    ]  # fmt: skip
    return summary


STEP_VERDICTS = [
    {"index": i, "name": f"{u} users", "users": u, "passed": u < 10,
     "gates": [{"gate": "p95_ms[clean] < 40", "status": "pass" if u < 10 else "fail",
                "message": f"p95_ms[clean] = {4 * u} {'<' if u < 10 else 'not <'} 40"}]}
    for i, u in enumerate((2, 6, 10))
]  # fmt: skip


def with_stages(summary: dict) -> dict:
    summary["stages"] = STEP_VERDICTS
    summary["breaking_point"] = {"last_passing": STEP_VERDICTS[1], "first_failing": STEP_VERDICTS[2],
                                 "broken": [STEP_VERDICTS[2]["gates"][0]["message"]]}  # fmt: skip
    return summary


def manifest_for(summary: dict, *, stages: bool = True) -> dict:
    timeline = [{"index": i, "name": f"{u} users", "started_s": 8.0 * i, "users": u, "mix": None}
                for i, u in enumerate((2, 6, 10, 14))]  # fmt: skip
    return build_manifest(
        load_profile(PROFILES / "quickstart.toml"), argv=["locust", "-f", "x.py", "--ml-html", "r.html"], secrets=[],
        host="http://127.0.0.1:8080", started=1_790_000_000.0, ended=1_790_000_030.0, workers=0,
        stages=timeline if stages else [], gates=summary.get("gates", []), model_version="7",
        files={"ml_summary": "ml_summary.json", "ml_html": "report.html"},
    )  # fmt: skip


@pytest.fixture(scope="module")
def full_page() -> str:
    summary = with_stages(monitored_summary())
    return render_html(summary, manifest_for(summary))


def test_every_plot_is_an_inline_svg_with_a_title(full_page):
    for plot_id in PLOT_IDS:
        figure = _figure(full_page, plot_id)
        assert "Not in this run" not in figure, (plot_id, figure[:300])
        assert re.search(r"<figcaption><h3>[^<]+</h3></figcaption>", figure), plot_id
        svg = figure[figure.index("<svg") :]
        assert re.match(r"<svg[^>]*>\s*<title>[^<]+</title>", svg), plot_id
        assert svg.rstrip().endswith("</svg>")


def test_the_page_is_self_contained(full_page):
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", full_page)
    assert "<script" not in full_page and "@import" not in full_page
    assert not re.search(r"url\((?!#)", full_page)  # only the SVGs' own clip paths, url(#id)
    assert "<link" not in full_page and "<img" not in full_page


def test_tables_hold_the_summary_gates_kinds_stages_and_manifest(full_page):
    assert "http://127.0.0.1:8080" in full_page and "quickstart" in full_page
    assert '<span class="fail">fail</span>' in full_page and "accepted_malformed = 30, not == 0: fail" in full_page
    kinds = full_page[full_page.index('id="kinds"') : full_page.index('id="quality"')]
    for kind in ("clean", "drifted", "malformed"):
        assert f"<td>{kind}</td>" in kinds
    assert '<td>oversized <span class="fixed">(fixed batch)</span></td>' in kinds
    assert '<span class="fixed">fixed batch</span>' in kinds  # no verdict from one batch repeated
    assert '<span class="major">major</span>' in kinds  # drifted from window 2 on
    drifted = re.search(r"<tr><td>drifted</td>(.*?)</tr>", kinds).group(1)
    assert re.search(r"<td class=\"num\">≥ 0\.\d{3} \(≤ 0\.\d{3}\)</td>", drifted)  # KS as a bound
    assert re.search(r"<td class=\"num\">0\.\d{3} \[0\.\d{3}, 0\.\d{3}\]</td>", drifted)  # accuracy, interval
    assert "KS comes from binned predictions" in kinds
    assert "Breaking point: last passing step <strong>6 users</strong>" in full_page
    assert "20261122" in full_page and "--ml-html r.html" in full_page  # the manifest's seed and command


def test_names_from_the_run_are_escaped(full_page):
    assert "<b>odd</b>" not in full_page.replace("&lt;b&gt;odd&lt;/b&gt;", "")
    assert "&lt;b&gt;odd&lt;/b&gt;" in full_page  # the malformed variant's name, in the SVG's text


def test_rendering_is_deterministic(full_page):
    summary = with_stages(monitored_summary())
    assert render_html(summary, manifest_for(summary)) == full_page


def test_each_svg_has_its_own_element_ids(full_page):
    ids = re.findall(r'\sid="([^"]+)"', full_page)
    assert len(ids) == len(set(ids)), "duplicate element ids across inline SVGs"


@pytest.fixture(scope="module")
def bare_page() -> str:
    """No labels, no oversized kind, stage verdicts but no manifest (so no stage timeline)."""
    return render_html(with_stages(monitored_summary(labels=False, oversized=False)), None)


def test_without_labels_or_oversized_payloads_the_page_says_why(bare_page):
    assert "no kind has calibration figures" in _figure(bare_page, "plot-reliability")
    assert "no oversized payloads were sent" in _figure(bare_page, "plot-latency-size")
    for plot_id in ("plot-histograms", "plot-psi", "plot-latency", "plot-variants"):
        assert "<svg" in _figure(bare_page, plot_id), plot_id


def test_stage_verdicts_without_a_manifest_point_to_it(bare_page):
    assert "manifest, which was not given" in _figure(bare_page, "plot-stages")
    assert "No manifest was given" in bare_page
    assert "<td>10 users</td>" in bare_page and "Breaking point" in bare_page


def test_a_run_without_a_load_plan_has_no_stage_timeline():
    summary = monitored_summary(windows=1)
    plot = render("plot-stages", "Stage timeline", draw_stages, summary, manifest_for(summary, stages=False))
    assert plot.svg is None and plot.absent == "the run had no load plan with stages"


ALMOST_NOTHING = {
    "kinds": {"malformed": {"requests": 3, "outcomes": {"rejected": 3}, "variants": {"x": {"rejected": 3}},
                            "shift": None, "calibration": None, "latency_ms": {"p50": 1.0, "n": 3}}},
    "windows": [],
    "baseline": {"mode": "clean", "clean_n": 0, "warmup": {"seconds": 10.0, "predictions": None, "n": 0}},
}  # fmt: skip


def test_a_summary_with_almost_nothing_renders_notes():
    page = render_html(ALMOST_NOTHING)
    absent = [p for p in PLOT_IDS if "Not in this run" in _figure(page, p)]
    assert absent == [p for p in PLOT_IDS if p != "plot-variants"]


def test_a_plot_that_cannot_be_drawn_becomes_a_note_not_a_crash(caplog):
    summary = monitored_summary()
    summary["kinds"]["clean"]["histogram"]["edges"] = [0.0, 1.0]  # 20 counts on one bin: inconsistent
    plot = render("plot-histograms", "Prediction histograms", draw_histograms, summary)
    assert plot.svg is None and plot.absent.startswith("could not be drawn (ValueError")
    assert "plot-histograms" in caplog.text


def test_a_regression_histogram_is_drawn_on_signed_log_bins():
    profile = load_profile(PROFILES / "regression_prices.toml")
    monitor = QualityMonitor(profile, window_s=5.0)
    rng = random.Random(3)
    for w in range(3):
        s = KindStats("regression")
        values = [rng.choice((-1, 1)) * rng.lognormvariate(3 + w, 1) for _ in range(200)]
        for _ in values:
            s.record_outcome("clean", "ok", 2.0, size=100)
        s.record_predictions(values, None)
        monitor.absorb([{"window": w, "kind": "clean", "stats": s.to_wire()}])
    summary = monitor.summary(now=15.0)
    assert summary["kinds"]["clean"]["histogram"]["scale"] == "log"
    svg = render("plot-histograms", "Prediction histograms", draw_histograms, summary).svg
    assert svg is not None and "signed log bins" in svg
    assert re.search(r">-\d", svg), "negative values labelled on the axis"


def test_a_multiclass_run_is_drawn_on_top_class_probabilities():
    profile = load_profile(PROFILES / "multiclass_router.toml")
    n = len(profile.output.classes)
    monitor = QualityMonitor(profile, window_s=5.0)
    rng = random.Random(5)
    for w in range(3):
        s = KindStats("multiclass", n)
        rows = [[rng.random() + (k == 0) for k in range(n)] for _ in range(100)]
        probs = [[x / sum(r) for x in r] for r in rows]
        for _ in probs:
            s.record_outcome("clean", "ok", 2.0, size=100)
        s.record_predictions(probs, [rng.randrange(n) for _ in probs])
        monitor.absorb([{"window": w, "kind": "clean", "stats": s.to_wire()}])
    summary = monitor.summary(now=15.0)
    histograms = render("plot-histograms", "Prediction histograms", draw_histograms, summary).svg
    reliability = render("plot-reliability", "Reliability", draw_reliability, summary).svg
    assert histograms is not None and "top-class probability" in histograms
    assert reliability is not None and "top class correct" in reliability


def test_the_psi_plot_falls_back_to_window_rates_without_traffic_rows():
    summary = monitored_summary()
    del summary["traffic"]
    svg = render("plot-psi", "PSI over time", draw_psi_over_time, summary).svg
    assert svg is not None and "users not recorded" in svg and "requests/s" in svg


def _save(tmp_path, summary: dict, manifest: dict | None = None):
    (tmp_path / "ml_summary.json").write_text(json.dumps(summary))
    if manifest is not None:
        (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


def test_rerender_writes_the_same_page_from_the_saved_files(tmp_path, full_page):
    summary = with_stages(monitored_summary())
    path = rerender(_save(tmp_path, summary, manifest_for(summary)))
    assert path == tmp_path / "report.html"
    assert path.read_text() == full_page


def test_the_report_command_writes_where_asked(tmp_path, capsys):
    _save(tmp_path, ALMOST_NOTHING)
    out = tmp_path / "sub" / "page.html"
    assert cli_main(["report", str(tmp_path), "-o", str(out)]) == 0
    assert out.is_file() and str(out) in capsys.readouterr().out
    assert "No manifest was given" in out.read_text()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "has no ml_summary.json; give the DIR a run wrote with --ml-artifacts DIR"),
        ("{not json", "ml_summary.json is not valid JSON"),
        ("[1, 2]", "holds a JSON list, not an object"),
        ('{"windows": []}', "is not an ML summary (it has no 'kinds' object)"),
        ('{"schema_version": 99, "kinds": {}}', "has schema_version 99, newer than the 1 this locust-mlstress reads"),
    ],
)
def test_the_report_command_explains_a_bad_directory(tmp_path, capsys, content, message):
    if content is not None:
        (tmp_path / "ml_summary.json").write_text(content)
    assert cli_main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    with pytest.raises(SavedRunError):
        rerender(tmp_path)


def test_a_missing_directory_is_named(tmp_path, capsys):
    assert cli_main(["report", str(tmp_path / "nope")]) == 2
    assert "nope is not a directory" in capsys.readouterr().err


def test_runs_without_an_html_report_never_import_matplotlib():
    code = (
        "import sys\n"
        "import locust_mlstress.plugin.lifecycle, locust_mlstress.plugin.outputs, locust_mlstress.cli\n"
        "import locust_mlstress.report.html\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]


def label_only_summary() -> dict:
    """Clean and drifted answers that were class labels (0.0/1.0), through a real monitor; a warm-up
    window of 60 predictions against 1200 after it."""
    profile = load_profile(PROFILES / "quickstart.toml")
    rng = random.Random(5)
    monitor = QualityMonitor(profile, window_s=5.0, warmup=Warmup(seconds=5.0))
    for w in range(4):
        deltas = []
        for kind in ("clean", "drifted"):
            s = KindStats("binary")
            for _ in range(60 if w == 0 else 400):
                p = rng.random()
                s.record_outcome(kind, "ok", 2.0, size=200)
                s.record_predictions([float(p >= 0.5)], [int(rng.random() < p)], labels_only=True)
            deltas.append({"window": w, "kind": kind, "stats": s.to_wire()})
        monitor.absorb(deltas)
    return monitor.summary(now=20.0)


def test_label_answers_show_the_reason_where_ece_would_be_and_a_small_baseline_says_so():
    summary = label_only_summary()
    assert summary["baseline"]["too_small"] is True
    page = render_html(summary)
    kinds = page[page.index('id="kinds"') : page.index('id="quality"')]
    clean = re.search(r"<tr><td>clean</td>(.*?)</tr>", kinds).group(1)
    assert '<span class="reason">not computed: every answer was a class label' in clean
    assert "have the predictor return class probabilities" in clean  # the fix for the quickstart's kserve_v1
    assert '<span class="inconclusive">insufficient</span>' in clean
    need = summary["baseline"]["min_n"]
    assert "The clean baseline holds 60 predictions" in kinds and f"it needs at least {need}" in kinds
    assert "every answer was a class label" in _figure(page, "plot-reliability")


def test_a_small_saved_baseline_points_to_saving_a_larger_one():
    summary = label_only_summary()
    summary["baseline"] = {"mode": "file", "n": 60, "path": "b.json", "too_small": True, "min_n": 90}
    kinds = render_html(summary)
    assert "The clean baseline holds 60 predictions" in kinds and "it needs at least 90: save a baseline" in kinds
    assert "--ml-warmup" not in kinds
