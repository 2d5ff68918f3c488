"""The quickstart in Locust's web UI: the --ml-profile option is in the form, and a swarm
started through the UI sends every payload kind to the embedded reference server."""

import json
import subprocess
import time
import urllib.parse
import urllib.request

from tests.integration.harness import LOCUST, ROOT, free_port, locust_env

DEADLINE = 60.0


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.read().decode()


def _wait_for(predicate, what: str):
    """Poll until `predicate()` returns a truthy value; bounded by DEADLINE."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        try:
            value = predicate()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def test_quickstart_in_the_web_ui(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    locustfile = str(ROOT / "locustfiles" / "quickstart.py")
    proc = subprocess.Popen(
        [*LOCUST, "-f", locustfile, "--web-host", "127.0.0.1", "--web-port", str(port)],
        env=locust_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        page = _wait_for(lambda: _get(base + "/"), "the web UI")
        assert '"ml_profile"' in page  # our option is offered in the start form
        host = json.loads(page.split('"host": ', 1)[1].split(",", 1)[0])
        assert host.startswith("http://127.0.0.1:")  # the embedded server, started at init
        form = urllib.parse.urlencode({"user_count": 4, "spawn_rate": 4, "host": host, "ml_profile": ""}).encode()
        with urllib.request.urlopen(base + "/swarm", data=form, timeout=5) as resp:
            assert json.loads(resp.read())["success"] is True

        def all_kinds():
            stats = json.loads(_get(base + "/stats/requests"))["stats"]
            names = {s["name"]: s for s in stats if s["name"] != "Aggregated"}
            kinds = {n.rsplit("[", 1)[1].rstrip("]") for n in names}
            return names if kinds == {"clean", "drifted", "malformed", "oversized"} else None

        names = _wait_for(all_kinds, "requests of every kind")
        assert names["POST /v1/models/churn:predict [malformed]"]["num_failures"] == 0
        with urllib.request.urlopen(base + "/stop", data=b"", timeout=5) as resp:
            assert json.loads(resp.read())["success"] is True
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert "Traceback" not in err
