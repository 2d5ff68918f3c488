"""A real headless run against a KServe v1 endpoint that answers class labels (0/1, as MLflow's
pyfunc predict does): the console says ECE was not computed, why, the fix, and the accuracy
instead, within 120 columns, as the last thing the run prints."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.integration.harness import LOCUST, ROOT

TITLE = "ML quality per payload kind"


class LabelAnswers(BaseHTTPRequestHandler):
    """{"instances": rows} in, {"predictions": [0|1, ...]} out: labels, not probabilities."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            rows = json.loads(body)["instances"]
            answer, status = {"predictions": [int(float(r.get("monthly_charges", 0)) > 70) for r in rows]}, 200
        except Exception as exc:  # a malformed body: rejected, as a strict server would
            answer, status = {"error": str(exc)}, 400
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture(scope="module")
def label_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), LabelAnswers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_label_answers_are_flagged_with_the_fix_and_accuracy(label_server):
    args = [*LOCUST, "-f", str(ROOT / "locustfiles" / "quickstart.py"), "--host", label_server, "--headless",
            "-u", "10", "-r", "10", "-t", "6s", "--only-summary"]  # fmt: skip
    run = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=ROOT, env=dict(os.environ))
    lines = run.stderr.splitlines()
    ours = lines[lines.index(TITLE) :]
    assert [line for line in ours if len(line) > 120] == []
    rows = {line.split()[0]: line.split() for line in ours[3:7]}
    assert rows["clean"][7] == "labels" and rows["clean"][8] == "-"  # ECE and Brier not computed
    assert 0 <= float(rows["clean"][9]) <= 1  # accuracy instead
    notes = " ".join(line.strip() for line in ours)
    assert "ECE and Brier not computed: every answer was a class label" in notes
    assert "accuracy instead: clean" in notes
    assert "Fix: have the predictor return class probabilities" in notes
    assert not [line for line in ours if line.startswith("[") or "Aggregated" in line]
