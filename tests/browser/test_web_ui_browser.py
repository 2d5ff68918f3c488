"""Locust's web UI in a real headless Chromium, during a run of the quickstart: a bad profile typed
in the start form shows its message and a corrected one starts the run; the ML quality tab shows a
row per payload kind and its figures move with the UI's own polling. Screenshots go to
build/test-artifacts/.

Selenium is imported inside the tests: it imports urllib3, and urllib3 imported before a later
test module imports Locust (gevent's monkey-patching) breaks that import.
"""

from __future__ import annotations

import pytest

from tests.integration.test_web_ui import KINDS, running_web_ui, template_args

pytestmark = pytest.mark.browser

DEADLINE_S = 30
TITLES = ["kind", "requests", "ok %", "rejected %", "failure %", "PSI", "JS", "KS (lower bound)",
          "ECE (* above noise)", "accuracy", "p95 ms", "p99 ms", "verdict", "note"]  # fmt: skip
CELLS = "return [...document.querySelectorAll(arguments[0])].map(r => [...r.children].map(c => c.innerText))"
# the tab's table, not the legends of the trend charts under it (uPlot writes them as tables)
ML_ROWS, ML_HEADERS = "table:not(.u-legend) tbody tr", "table:not(.u-legend) thead tr"


@pytest.fixture(scope="module")
def quickstart_ui(tmp_path_factory):
    """One quickstart web UI for the module (the embedded reference server: no --host)."""
    with running_web_ui(tmp_path_factory.mktemp("web_ui")) as ui:
        yield ui


def _wait(browser, condition, message: str, timeout: float = DEADLINE_S):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.wait import WebDriverWait

    wait = WebDriverWait(browser, timeout, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException,))
    return wait.until(lambda _: condition(), message)


def _replace(field, text: str) -> None:
    from selenium.webdriver.common.keys import Keys

    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.DELETE)
    field.send_keys(text)


def _errors(browser) -> list[str]:
    """Console errors of the page (Chromium reports a failed fetch or a script error as SEVERE)."""
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def test_a_bad_profile_in_the_form_shows_its_message_and_a_corrected_one_starts(browser, artifact_dir, quickstart_ui):
    from selenium.webdriver.common.by import By

    ui = quickstart_ui
    assert ui.stats()["state"] == "ready"
    browser.get(ui.base + "/")
    users = _wait(browser, lambda: browser.find_element(By.NAME, "userCount"), "the start form")
    _replace(users, "20")
    _replace(browser.find_element(By.NAME, "spawnRate"), "20")
    browser.find_element(By.XPATH, "//button[contains(., 'Custom parameters')]").click()
    profile = _wait(browser, lambda: browser.find_element(By.NAME, "mlProfile").is_displayed() and
                    browser.find_element(By.NAME, "mlProfile"), "the ML fields")  # fmt: skip
    profile.send_keys("profiles/missing.toml")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    def alert():
        shown = [a for a in browser.find_elements(By.CSS_SELECTOR, "[role=alert]") if "--ml-" in a.text]
        return shown[0] if shown else None

    message = _wait(browser, alert, "the form's error message")
    assert message.text == "--ml-profile: profiles/missing.toml: file not found; pass the path of a .toml profile"
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", message)
    browser.save_screenshot(str(artifact_dir / "web_ui_bad_profile.png"))
    logs = ui.get("/logs").json()["master"]  # not cached, unlike /stats/requests
    assert any("web UI start refused: --ml-profile: profiles/missing.toml" in line for line in logs)
    assert not any("Ramping to" in line for line in logs)  # nothing started

    _replace(profile, "profiles/quickstart.toml")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait(browser, lambda: browser.find_elements(By.XPATH, "//*[@role='tab' and .='ML quality']"), "the run's tabs")
    # Locust serves /stats/requests from a 2 s cache: wait for the state rather than read it once
    _wait(browser, lambda: ui.stats()["state"] in ("spawning", "running"), "the run to start")
    assert any("Ramping to 20 users" in line for line in ui.get("/logs").json()["master"])  # the form's count
    assert _errors(browser) == []


def test_the_ml_tab_shows_a_row_per_kind_and_refreshes(browser, artifact_dir, quickstart_ui):
    ui = quickstart_ui
    if ui.stats()["state"] == "ready":  # run alone: start the swarm here
        assert ui.swarm(host=template_args(ui.get("/").text)["host"])["success"] is True
    browser.get(ui.base + "/?tab=ml-quality")

    def rows():
        found = browser.execute_script(CELLS, ML_ROWS)
        return found if [r[0] for r in found] == KINDS else None

    first = _wait(browser, rows, "a row per payload kind in the ML quality tab")
    headers = browser.execute_script(CELLS, ML_HEADERS)
    assert headers == [TITLES]
    assert all(len(r) == len(TITLES) for r in first)
    by_kind = {r[0]: dict(zip(TITLES, r, strict=True)) for r in first}
    assert by_kind["malformed"]["rejected %"] == "100.0%"
    assert all(int(r["requests"]) > 0 for r in by_kind.values())

    # the UI polls /stats/requests every 2 s; the table follows without a reload
    later = _wait(browser, lambda: (found := rows()) and found != first and found, "the figures to change")
    grew = {r[0]: int(r[1]) for r in later}
    assert sum(grew.values()) > sum(int(r[1]) for r in first)
    browser.save_screenshot(str(artifact_dir / "web_ui_ml_tab.png"))
    assert _errors(browser) == []
