"""The ML tab's live trend charts in a real headless Chromium, over one quickstart run with a
challenger (the embedded reference server as both versions) and 1-second windows: the charts draw
under the table, gain points as windows pass, empty on Locust's Reset button and fill again, stay
through Stop, and follow a new test started from the New button; no console error. Screenshot:
build/test-artifacts/web_ui_trends.png.

The page's state is read from `window.mlstressTrends` (static/mltrends.js keeps it for this) and
from the canvases' pixels: a chart "draws" when its lines' colours are on its canvas.
"""

from __future__ import annotations

import pytest

from tests.browser.test_web_ui_browser import _errors, _wait
from tests.integration.test_web_ui import running_web_ui, template_args, wait_for

pytestmark = pytest.mark.browser

CHARTS = ["ml-trend-psi", "ml-trend-latency", "ml-trend-outcomes", "ml-trend-reliability", "ml-trend-disagreement"]
SOLO = [c for c in CHARTS if c != "ml-trend-disagreement"]
ALWAYS = ("ml-trend-latency", "ml-trend-outcomes", "ml-trend-reliability", "ml-trend-disagreement")
# Per chart: its x values, the labels of its lines, how many pixels of its lines' colours its canvas
# holds (within a few levels: antialiasing; lines on top of each other hide the ones below), and
# whether it is in the page.
STATE = """
var s = window.mlstressTrends;
if (!s || !s.last || !s.host || !s.host.isConnected) return null;
var out = {updates: s.updates, charts: {}};
s.last.charts.forEach(function (chart) {
  var entry = s.charts[chart.id];
  if (!entry) return;
  var plot = entry.plot, canvas = plot.ctx.canvas;
  var colours = chart.series.map(function (line) {
    return [1, 3, 5].map(function (i) { return parseInt(line.colour.substr(i, 2), 16); });
  });
  var px = plot.ctx.getImageData(0, 0, canvas.width, canvas.height).data, ink = 0;
  for (var i = 0; i < px.length; i += 4) {
    for (var c = 0; c < colours.length; c++) {
      var rgb = colours[c];
      if (px[i + 3] > 200 && Math.abs(px[i] - rgb[0]) < 12 && Math.abs(px[i + 1] - rgb[1]) < 12 &&
          Math.abs(px[i + 2] - rgb[2]) < 12) { ink++; break; }
    }
  }
  out.charts[chart.id] = {x: plot.data[0].slice(), lines: chart.series.map(function (l) { return l.label; }),
                          ink: ink, shown: document.body.contains(canvas) && canvas.width > 0};
});
return out;
"""


@pytest.fixture(scope="module")
def paired_ui(tmp_path_factory):
    """One quickstart web UI with 1-second windows (the embedded reference server: no --host)."""
    with running_web_ui(tmp_path_factory.mktemp("web_ui_trends"), "--ml-window", "1") as ui:
        yield ui


def _button(browser, text: str):
    """Locust's header button of that name; None while the UI does not show it."""
    from selenium.webdriver.common.by import By

    found = browser.find_elements(By.XPATH, f"//button[normalize-space(.)='{text}']")
    return found[0] if found else None


def _ml_requests(ui) -> int:
    """The ML quality table's requests, summed over the kinds, as the UI's polling reads them."""
    return sum(row["requests"] for row in ui.ml_rows())


def test_the_trend_charts_draw_update_reset_and_survive_stop_and_start(browser, artifact_dir, paired_ui):
    ui = paired_ui
    host = template_args(ui.get("/").text)["host"]
    assert ui.swarm(host=host, ml_challenger=host)["success"] is True  # A/A: the same server twice
    # the session's browser may still show an earlier module's page, polling a server now gone:
    # leave it and forget its console, so the errors read at the end are this page's
    browser.get("about:blank")
    browser.get_log("browser")
    browser.get(ui.base + "/?tab=ml-quality")

    def state():
        return browser.execute_script(STATE)

    def drawn(points: int, inked: tuple[str, ...] = tuple(CHARTS)):
        """Every chart in the page, with at least `points` windows, and those `inked` with their
        lines on their canvas (PSI has no line until a window holds 20 predictions of a kind
        past the warm-up, which a reset and a new test start again)."""
        found = state()
        if not found or sorted(found["charts"]) != sorted(CHARTS):
            return None
        charts = found["charts"]
        ok = all(c["shown"] for c in charts.values()) and all(
            charts[i]["lines"] and charts[i]["ink"] > 20 for i in inked
        )
        return found if ok and len(charts["ml-trend-outcomes"]["x"]) >= points else None

    first = _wait(browser, lambda: drawn(2), "every trend chart drawn under the table")
    charts = first["charts"]
    assert charts["ml-trend-outcomes"]["lines"] == ["ok", "rejected", "accepted malformed", "errors"]
    assert charts["ml-trend-reliability"]["lines"] == ["calibrated", "clean", "drifted"]
    assert set(charts["ml-trend-disagreement"]["lines"]) <= {"clean", "drifted", "malformed", "oversized"}
    assert browser.execute_script(  # below the tab's table, in the same page column
        "var t = document.querySelector('table'), h = document.getElementById('ml-trends');"
        "return t.getBoundingClientRect().bottom <= h.getBoundingClientRect().top"
    )

    # the charts follow the windows as they pass, without a reload
    points = len(charts["ml-trend-outcomes"]["x"])
    grown = _wait(browser, lambda: drawn(points + 4), "the charts to gain windows")
    before = grown["charts"]["ml-trend-outcomes"]["x"]
    browser.find_element("id", "ml-trends").location_once_scrolled_into_view  # noqa: B018 - scrolls
    browser.save_screenshot(str(artifact_dir / "web_ui_trends.png"))

    # Locust's Reset button: our figures, table and charts count afresh from the current window
    requests_before = _ml_requests(ui)
    _wait(browser, lambda: _button(browser, "Reset"), "the Reset button").click()
    # read from the JSON the table is drawn from, polled faster than the UI does: the first answer
    # after the reset holds a second or two of traffic, far fewer than the run's first seconds
    wait_for(lambda: _ml_requests(ui) < requests_before / 2, "the table to count afresh", deadline=10)

    def after_reset():
        found = state()
        x = found and found["charts"].get("ml-trend-outcomes", {}).get("x")
        return found if x and x[0] > before[-2] else None  # only windows from the reset on

    reset = _wait(browser, after_reset, "the charts to start again at the reset")
    assert len(reset["charts"]["ml-trend-outcomes"]["x"]) < len(before)
    assert any("ML figures reset" in line for line in ui.get("/logs").json()["master"])
    refilled = _wait(browser, lambda: drawn(3, ALWAYS), "the charts to fill again after the reset")
    assert refilled["charts"]["ml-trend-outcomes"]["x"][0] > before[-2]

    # Stop: the charts stay as they are
    _wait(browser, lambda: _button(browser, "Stop"), "the Stop button").click()
    _wait(browser, lambda: ui.stats()["state"] == "stopped", "the run to stop")
    stopped = _wait(browser, lambda: drawn(3, ALWAYS), "the charts to stay after the stop")
    updates = stopped["updates"]
    _wait(browser, lambda: state()["updates"] > updates, "a poll after the stop")
    assert state()["charts"]["ml-trend-outcomes"]["x"] == stopped["charts"]["ml-trend-outcomes"]["x"]

    # New, then Start in its form: a new test, whose windows start at 0 again
    from selenium.common.exceptions import TimeoutException

    try:
        new = _wait(browser, lambda: _button(browser, "New"), "the New button", timeout=8)
    except TimeoutException:
        # Locust's UI polls its statistics only while its state is spawning or running: a poll
        # that reads the runner's short "cleanup" state on the way to "stopped" stops the polling,
        # and the header stays at "cleanup" until the page is loaded again (Locust 2.47). Load it.
        assert ui.stats()["state"] == "stopped"
        browser.refresh()
        new = _wait(browser, lambda: _button(browser, "New"), "the New button after a reload")
    new.click()
    from selenium.webdriver.common.by import By

    submit = _wait(browser, lambda: browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"),
                   "the New test form")  # fmt: skip
    submit.click()
    _wait(browser, lambda: ui.stats()["state"] in ("spawning", "running"), "the new test to start")

    def new_run():
        """The new test's charts: its form named no challenger, so no disagreement chart."""
        found = state()
        if not found or sorted(found["charts"]) != sorted(SOLO):
            return None
        charts = found["charts"]
        drawn = all(charts[i]["shown"] and charts[i]["ink"] > 20 for i in SOLO if i != "ml-trend-psi")
        x = charts["ml-trend-outcomes"]["x"]
        return found if drawn and len(x) >= 2 and x[0] == 0 else None

    _wait(browser, new_run, "the charts to show the new test")
    assert _errors(browser) == []
