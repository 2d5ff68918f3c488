"""The HTML report of a real run in a real headless Chromium: no console error, no resource
fetched, and every plot shown (its SVG displayed at a readable size, with its title). A full-page
screenshot goes to build/test-artifacts/html_report.png.

Selenium is imported inside the tests: it imports urllib3, and urllib3 imported before a later
test module imports Locust (gevent's monkey-patching) breaks that import.
"""

from __future__ import annotations

import pytest

from locust_mlstress.report.html import PLOT_IDS
from locust_mlstress.servers.reference.process import ReferenceServer
from tests.integration.conftest import QUICKSTART
from tests.integration.test_html_report import run_with_report

pytestmark = pytest.mark.browser

PLOTS = """
return arguments[0].map(id => {
  const svg = document.querySelector('#' + id + ' svg');
  const caption = document.querySelector('#' + id + ' figcaption');
  if (!svg) return {id, svg: false};
  const box = svg.getBoundingClientRect();
  const title = svg.querySelector(':scope > title');
  return {id, svg: true, width: box.width, height: box.height, caption: caption ? caption.innerText : '',
          title: title ? title.textContent : '', texts: svg.querySelectorAll('text').length};
});
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The report page of a short step-to-failure run of the quickstart."""
    tmp = tmp_path_factory.mktemp("html_report")
    with ReferenceServer(QUICKSTART) as server:
        run, html, _art = run_with_report(server.url, tmp)
    assert run.returncode == 0, run.stderr[-2000:]
    return html


def test_the_report_shows_every_plot_without_console_errors(browser, artifact_dir, report):
    from selenium.webdriver.common.by import By

    browser.get_log("browser")  # forget what earlier pages logged
    browser.get(report.as_uri())
    assert browser.title.startswith("locust-mlstress report: ")
    shown = {p["id"]: p for p in browser.execute_script(PLOTS, list(PLOT_IDS))}
    for plot_id in PLOT_IDS:
        plot = shown[plot_id]
        assert plot["svg"], f"{plot_id}: no <svg>"
        assert browser.find_element(By.CSS_SELECTOR, f"#{plot_id} svg").is_displayed(), plot_id
        assert plot["width"] >= 500 and plot["height"] >= 200, plot  # readable, not a thumbnail
        assert plot["title"] and plot["caption"], plot
        assert plot["texts"] >= 5, plot  # axis labels and ticks drawn as text
    assert not browser.find_elements(By.CSS_SELECTOR, "p.absent")
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []

    size = browser.get_window_size()
    try:
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1400, height + 100)
        browser.save_screenshot(str(artifact_dir / "html_report.png"))
    finally:
        browser.set_window_size(size["width"], size["height"])
