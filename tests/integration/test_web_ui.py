"""The quickstart in Locust's web UI, over HTTP: the ML fields of the start form, the ML quality
table in the polled statistics, the CSV downloads, bad form values refused with a message, a
master fed by a worker, the routes behind --web-login, and the ML comparison tab of a run with a
challenger (absent without one)."""

from __future__ import annotations

import csv
import http.cookiejar
import io
import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from locust_mlstress.report.formats import WINDOW_COLUMNS
from tests.integration.conftest import QUICKSTART as QUICKSTART_PROFILE
from tests.integration.harness import LOCUST, LOCUSTFILES, ROOT, free_port, locust_env

# Plain urllib here: importing requests/urllib3 into the test process before a later test module
# imports Locust (gevent's monkey-patching) breaks that import; for the same reason webui.py,
# which imports Locust, is not imported here.
DEADLINE = 60.0
QUICKSTART = ROOT / "locustfiles" / "quickstart.py"
KINDS = ["clean", "drifted", "malformed", "oversized"]
TAB_KEY = "ml-quality"
COMPARE_TAB_KEY = "ml-comparison"
VERDICT_ROW = "verdict so far"
GATE_COLUMNS = ["gate", "metric", "kind", "op", "threshold", "value", "n", "status", "counts_as", "detail", "message"]


def wait_for(predicate, what: str, deadline: float = DEADLINE):
    """Poll until `predicate()` returns a truthy value; bounded by `deadline` seconds."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            value = predicate()
        except OSError:  # not listening yet
            value = None
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    def json(self):
        return json.loads(self.text)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args, **_kwargs):
        return None  # a redirect is the answer under test


def browser_like() -> urllib.request.OpenerDirector:
    """An HTTP client that keeps cookies (a login session) and returns redirects instead of following them."""
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirects)


def fetch(url: str, form: dict | None = None, opener: urllib.request.OpenerDirector | None = None) -> Reply:
    """GET, or POST `form` urlencoded; any status comes back as a Reply."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    try:
        with (opener or browser_like()).open(url, data=data, timeout=10) as resp:
            return Reply(resp.status, dict(resp.headers), resp.read().decode())
    except urllib.error.HTTPError as err:
        return Reply(err.code, dict(err.headers), err.read().decode())


@dataclass
class WebUI:
    base: str
    proc: subprocess.Popen
    log: Path

    def get(self, path: str, opener: urllib.request.OpenerDirector | None = None) -> Reply:
        return fetch(self.base + path, opener=opener)

    def swarm(self, opener: urllib.request.OpenerDirector | None = None, **fields) -> dict:
        return fetch(self.base + "/swarm", {"user_count": 20, "spawn_rate": 20} | fields, opener).json()

    def stats(self) -> dict:
        return self.get("/stats/requests").json()

    def ml_rows(self, key: str = TAB_KEY) -> list[dict]:
        (table,) = [t for t in self.stats()["extended_stats"] if t["key"] == key]
        return table["data"]

    def stderr(self) -> str:
        return self.log.read_text()


@contextmanager
def running_web_ui(tmp_path: Path, *extra: str, locustfile: Path = QUICKSTART) -> Iterator[WebUI]:
    """A locust process serving its web UI on a free 127.0.0.1 port (output to a file: a pipe
    nobody reads would block it); no Traceback in its output once stopped."""
    port = free_port()
    log = tmp_path / f"locust_{port}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*LOCUST, "-f", str(locustfile), "--web-host", "127.0.0.1", "--web-port", str(port), *extra],
            env=locust_env(tmp_path), stdout=out, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        )  # fmt: skip
    ui = WebUI(f"http://127.0.0.1:{port}", proc, log)
    try:
        wait_for(lambda: ui.get("/").status, "the web UI")
        yield ui
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert "Traceback" not in ui.stderr()


def template_args(page: str) -> dict:
    return json.loads(page.split("window.templateArgs = ", 1)[1].split("\n", 1)[0])


def read_csv(reply: Reply) -> tuple[list[str], list[dict]]:
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in reply.headers["Content-Disposition"]
    reader = csv.DictReader(io.StringIO(reply.text))
    return list(reader.fieldnames or []), list(reader)


def test_ml_tab_table_and_downloads_during_a_quickstart(tmp_path):
    with running_web_ui(tmp_path) as ui:
        args = template_args(ui.get("/").text)
        # the form offers our three ML fields and nothing else of ours (no header secrets, no paths)
        ours = sorted(k for k in args["extra_options"] if k.startswith("ml_"))
        assert ours == ["ml_baseline", "ml_challenger", "ml_gate", "ml_profile"]
        assert args["extended_tabs"] == [{"title": "ML quality", "key": TAB_KEY}]
        (table,) = args["extended_tables"]
        assert table["key"] == TAB_KEY and [c["key"] for c in table["structure"]][:2] == ["kind", "requests"]
        assert [f["href"] for f in args["extended_csv_files"]] == ["./ml/windows.csv", "./ml/gates.csv"]
        host = args["host"]
        assert host.startswith("http://127.0.0.1:")  # the embedded server, started at init

        # the page loads uPlot and our chart script from the package (no CDN)
        page = ui.get("/").text
        assert page.index("./ml/static/uPlot.iife.min.js") < page.index("./ml/static/mltrends.js")
        script = ui.get("/ml/static/mltrends.js")
        assert script.status == 200 and "javascript" in script.headers["Content-Type"]
        assert ui.get("/ml/static/uPlot.iife.min.js").text.startswith("/*! https://github.com/leeoniya/uPlot")
        assert ui.get("/ml/static/webui.py").status == 404  # only the files the page loads

        # before any test: an empty table, no charts and header-only downloads, not errors
        assert ui.ml_rows() == []
        assert ui.get("/ml/trends.json").json() == {"charts": []}
        assert read_csv(ui.get("/ml/windows.csv")) == (list(WINDOW_COLUMNS), [])
        assert read_csv(ui.get("/ml/gates.csv")) == (GATE_COLUMNS, [])

        gates = "p99_ms[clean] < 300; error_rate < 1%"
        assert ui.swarm(host=host, ml_profile="", ml_gate=gates, ml_baseline="")["success"] is True

        def all_kinds():
            rows = ui.ml_rows()
            return rows if [r["kind"] for r in rows] == KINDS else None

        rows = {r["kind"]: r for r in wait_for(all_kinds, "an ML row for every kind")}
        assert rows["malformed"]["rejected"] == "100.0%"  # the strict reference server rejects them all
        assert rows["malformed"]["psi"] == "-"  # no predictions to compare
        assert rows["clean"]["failed"] == "0.0%"
        assert all(isinstance(r["requests"], int) and r["requests"] > 0 for r in rows.values())
        locust_names = {s["name"] for s in ui.stats()["stats"]}
        assert {f"POST /v1/models/churn:predict [{k}]" for k in KINDS} <= locust_names

        columns, windows = read_csv(ui.get("/ml/windows.csv"))
        assert columns == list(WINDOW_COLUMNS)
        assert {w["kind"] for w in windows} == set(KINDS)
        assert all(int(w["requests"]) > 0 for w in windows)

        charts = {c["id"]: c for c in ui.get("/ml/trends.json").json()["charts"]}
        assert list(charts)[:3] == ["ml-trend-psi", "ml-trend-latency", "ml-trend-outcomes"]
        assert [s["label"] for s in charts["ml-trend-outcomes"]["series"]][:2] == ["ok", "rejected"]

        columns, verdicts = read_csv(ui.get("/ml/gates.csv"))
        assert columns == GATE_COLUMNS
        assert [v["gate"] for v in verdicts] == ["p99_ms[clean] < 300", "error_rate < 1%"]  # the field, split
        error_rate = verdicts[1]
        assert error_rate["metric"] == "error_rate" and float(error_rate["threshold"]) == 0.01
        assert error_rate["status"] == ("pass" if float(error_rate["value"]) < 0.01 else "fail")

        # Locust's Reset: our figures count afresh at once (a local runner drops its open window)
        def ml_requests() -> int:
            return sum(r["requests"] for r in ui.ml_rows())

        before = wait_for(lambda: (n := ml_requests()) > 100 and n, "a hundred ML requests")
        assert fetch(ui.base + "/stats/reset", {}).text == "ok"
        assert ml_requests() < before / 4  # a few ms of traffic since
        wait_for(lambda: len(ui.ml_rows()) == len(KINDS), "every kind counted again after the reset")

        assert fetch(ui.base + "/stop", {}).json()["success"] is True


def test_bad_form_values_are_refused_naming_the_field(tmp_path, server):
    # The form reads files only under the working directory (ROOT here) and the locustfile's folder.
    broken = ROOT / "build" / "test-artifacts" / f"broken-{tmp_path.name}.toml"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text("[target\n")
    outside = tmp_path / "broken.toml"
    outside.write_text("[target\n")
    host = server.url
    with running_web_ui(tmp_path, "--host", host) as ui:
        refused = {
            "ml_profile": ("profiles/missing.toml", "--ml-profile: profiles/missing.toml: file not found"),
            "ml_gate": ("p99_ms[clean] << 300", "--ml-gate 'p99_ms[clean] << 300': expected a number"),
            "ml_baseline": (str(ROOT / "README.md"), "--ml-baseline: is not a baseline file"),
        }
        for field, (value, message) in refused.items():
            answer = ui.swarm(host=host, **{field: value})
            assert answer["success"] is False, field
            assert message in answer["message"], answer["message"]
            assert "\n" not in answer["message"]  # the UI shows one line; the caret line is dropped
        answer = ui.swarm(host=host, ml_profile=str(broken))
        assert answer["success"] is False
        assert answer["message"].startswith(f"--ml-profile: {broken}: is not valid TOML")
        answer = ui.swarm(host=host, ml_profile=str(outside))  # exists, but outside: not opened, not described
        assert answer["success"] is False
        assert "form reads files only in the working directory" in answer["message"], answer["message"]
        assert "TOML" not in answer["message"]
        answer = ui.swarm(host=host.removeprefix("http://"))
        assert answer["success"] is False
        assert answer["message"].startswith(f"--host: host '{host.removeprefix('http://')}' is not an http://")
        assert ui.stats()["state"] == "ready"  # nothing started, nothing sent
        assert ui.ml_rows() == []

        # the corrected values start a run that sends every kind, with the form's gates
        answer = ui.swarm(host=host, ml_profile="profiles/quickstart.toml", ml_gate="requests > 1, error_rate < 5%")
        assert answer["success"] is True, answer
        wait_for(lambda: len(ui.ml_rows()) == len(KINDS), "an ML row for every kind")
        _, verdicts = read_csv(ui.get("/ml/gates.csv"))
        assert [v["gate"] for v in verdicts] == ["requests > 1", "error_rate < 5%"]
    log = ui.stderr()
    assert "web UI start refused: --ml-profile: profiles/missing.toml: file not found" in log
    assert "ML gates" in log  # the gates from the form were judged at the end, from the list


def test_a_master_web_ui_shows_what_its_worker_reports(tmp_path, server):
    master_port = free_port()
    worker_log = tmp_path / "worker.log"
    with worker_log.open("w") as out:  # started first: it retries until the master listens
        worker = subprocess.Popen(
            [*LOCUST, "-f", str(QUICKSTART), "--worker", "--master-host", "127.0.0.1",
             "--master-port", str(master_port)],
            env=locust_env(tmp_path), stdout=out, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        )  # fmt: skip
    master = ("--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(master_port))
    try:
        with running_web_ui(tmp_path, "--host", server.url, *master) as ui:
            wait_for(lambda: ui.get("/worker-count").json()["worker_count"] == 1, "the worker to connect")
            assert ui.swarm(host=server.url)["success"] is True
            rows = wait_for(lambda: [r for r in ui.ml_rows() if r["kind"] == "clean"], "clean rows from the worker")
            assert rows[0]["requests"] > 0
            _, windows = read_csv(ui.get("/ml/windows.csv"))
            assert any(w["kind"] == "clean" for w in windows)
            # Reset on a master: its figures count afresh; the worker (not told) goes on reporting
            assert fetch(ui.base + "/stats/reset", {}).text == "ok"
            assert any("ML figures reset" in line for line in ui.get("/logs").json()["master"])
            wait_for(lambda: [r for r in ui.ml_rows() if r["kind"] == "clean"], "clean rows again after the reset")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert "Traceback" not in worker_log.read_text()


LOGIN_PLUGIN = """
from flask_login import UserMixin, login_user
from locust import events

from locustfiles.quickstart import ChurnModel  # noqa: F401


class Tester(UserMixin):
    id = "tester"


@events.init.add_listener
def _login(environment, **_kwargs):
    app = environment.web_ui.app
    app.config["SECRET_KEY"] = "test only"
    environment.web_ui.login_manager.user_loader(lambda user_id: Tester() if user_id == "tester" else None)

    @app.route("/test-login")
    def test_login():
        login_user(Tester())
        return "logged in"
"""


def test_ml_routes_are_behind_the_web_login(tmp_path, server):
    locustfile = tmp_path / "with_login.py"
    locustfile.write_text(LOGIN_PLUGIN)
    with running_web_ui(tmp_path, "--web-login", "--host", server.url, locustfile=locustfile) as ui:
        for path in ("/ml/windows.csv", "/ml/gates.csv", "/ml/trends.json", "/ml/static/mltrends.js"):
            refused = ui.get(path)
            assert refused.status == 302 and "/login" in refused.headers["Location"], path
            assert "window," not in refused.text
        refused = fetch(ui.base + "/swarm", {"ml_profile": "x.toml"})
        assert refused.status == 302  # neither judged nor started before the login

        session = browser_like()
        assert ui.get("/test-login", session).text == "logged in"
        assert read_csv(ui.get("/ml/windows.csv", session))[0] == list(WINDOW_COLUMNS)
        assert ui.get("/ml/trends.json", session).json() == {"charts": []}
        assert ui.get("/ml/static/mltrends.js", session).status == 200
        answer = ui.swarm(session, ml_profile="x.toml")
        assert answer["message"].startswith("--ml-profile: x.toml: file not found")


def fast_run(server_url: str, *extra: str) -> tuple[str, ...]:
    """A run that starts at once (--autostart) with 4 users sending without waiting (the test
    locustfile, tests/integration/locustfiles/fast.py) the quickstart mix to `server_url`."""
    return ("--ml-profile", str(QUICKSTART_PROFILE), "--host", server_url, "--autostart", "-u", "4", "-r", "4", *extra)


def test_the_comparison_tab_shows_the_same_server_agreeing_with_itself_live(tmp_path, server):
    fast = LOCUSTFILES / "fast.py"
    with running_web_ui(tmp_path, *fast_run(server.url, "--ml-challenger", server.url), locustfile=fast) as ui:
        args = template_args(ui.get("/").text)
        assert args["extended_tabs"] == [
            {"title": "ML quality", "key": TAB_KEY},
            {"title": "ML comparison", "key": COMPARE_TAB_KEY},
        ]
        (table,) = [t for t in args["extended_tables"] if t["key"] == COMPARE_TAB_KEY]
        keys = [c["key"] for c in table["structure"]]
        assert keys[:4] == ["kind", "pairs", "compared", "disagreement"] and keys[-2:] == ["verdict", "note"]
        assert all("_" not in k for k in keys)  # the UI camel-cases `_x`: the rows' keys would not match

        def agreeing_clean_row():
            # A/A: the same server answers the same bytes the same; "0.00%" (two decimals) once the
            # interval's upper end is under 1%, that is a few hundred clean instances compared
            rows = ui.ml_rows(COMPARE_TAB_KEY)
            clean = [r for r in rows if r["kind"] == "clean"]
            return rows if clean and clean[0]["disagreement"].startswith("0.00% [0.00–") else None

        started = time.monotonic()
        rows = {r["kind"]: r for r in wait_for(agreeing_clean_row, "a clean row agreeing to 0.00%", deadline=20)}
        seconds = time.monotonic() - started
        assert set(rows) - {VERDICT_ROW} <= set(KINDS) and VERDICT_ROW in rows
        assert list(rows)[-1] == VERDICT_ROW  # the verdict comes after the kinds
        clean = rows["clean"]
        assert isinstance(clean["pairs"], int) and clean["pairs"] > 0 and clean["compared"] > 0
        assert clean["meandiff"] == "0.000"
        for kind in set(rows) - {VERDICT_ROW}:
            assert rows[kind]["regressions"] == "0", rows[kind]  # the same server never does worse than itself
        charts = {c["id"]: c for c in ui.get("/ml/trends.json").json()["charts"]}
        (clean_line,) = [line for line in charts["ml-trend-disagreement"]["series"] if line["label"] == "clean"]
        assert {v for v in clean_line["values"] if v is not None} == {0.0}  # A/A: no window disagrees
        verdict = rows[VERDICT_ROW]
        assert verdict["verdict"] in ("promote", "hold"), verdict  # never rollback under the null
        assert verdict["note"], verdict
        assert all(verdict[k] == "" for k in keys if k not in ("kind", "verdict", "note"))

        # the ML quality tab, read from the same figures, goes on beside it; Locust shows both versions
        assert "clean" in {r["kind"] for r in ui.ml_rows()}
        names = {s["name"] for s in ui.stats()["stats"]}
        assert {"POST /v1/models/churn:predict [clean]", "challenger POST /v1/models/churn:predict [clean]"} <= names
    print(f"comparison tab: clean at 0.00% after {seconds:.1f} s, {clean['pairs']} pairs, verdict {verdict}")


def test_no_comparison_tab_without_a_challenger_until_the_form_names_one(tmp_path, server):
    fast = LOCUSTFILES / "fast.py"
    with running_web_ui(tmp_path, *fast_run(server.url), locustfile=fast) as ui:
        args = template_args(ui.get("/").text)
        assert [t["key"] for t in args["extended_tabs"]] == [TAB_KEY]
        assert [t["key"] for t in args["extended_tables"]] == [TAB_KEY]
        wait_for(lambda: [r for r in ui.ml_rows() if r["kind"] == "clean"], "clean rows", deadline=20)
        assert [t["key"] for t in ui.stats()["extended_stats"]] == [TAB_KEY]
        assert not any(s["name"].startswith("challenger ") for s in ui.stats()["stats"])
        assert [t["key"] for t in template_args(ui.get("/").text)["extended_tabs"]] == [TAB_KEY]  # still none

        # a new run whose challenger is typed in the form: its rows at once, the tab on the next page load
        assert fetch(ui.base + "/stop", {}).json()["success"] is True
        assert ui.swarm(host=server.url, user_count=4, spawn_rate=4, ml_challenger=server.url)["success"] is True
        rows = wait_for(lambda: [r["kind"] for r in ui.ml_rows(COMPARE_TAB_KEY)], "comparison rows", deadline=20)
        assert "clean" in rows and rows[-1] == VERDICT_ROW
        tabs = template_args(ui.get("/").text)["extended_tabs"]
        assert [t["key"] for t in tabs] == [TAB_KEY, COMPARE_TAB_KEY]
