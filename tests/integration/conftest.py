import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from locust_mlstress.servers.reference.knobs import ServerKnobs
from locust_mlstress.servers.reference.process import ReferenceServer
from tests.conftest import PROFILES

QUICKSTART = PROFILES / "quickstart.toml"


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def server():
    with ReferenceServer(QUICKSTART) as s:
        yield s


@pytest.fixture(scope="session")
def lax_server():
    with ReferenceServer(QUICKSTART, ServerKnobs(lax="accept")) as s:
        yield s


class _LabelAnswers(BaseHTTPRequestHandler):
    """A KServe v1 endpoint that answers class labels (JSON integers), as a default sklearn
    `predict` or MLflow's pyfunc does: label 1 for every third instance, 0 otherwise; a malformed
    body is rejected with 400, as a strict server would."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            instances = json.loads(body)["instances"]
            answer, status = {"predictions": [int(i % 3 == 0) for i in range(len(instances))]}, 200
        except (ValueError, KeyError, TypeError, RecursionError):  # the malformed payloads, deep nesting too
            answer, status = {"error": "bad request"}, 400
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture(scope="session")
def label_server() -> Iterator[str]:
    """The URL of a 127.0.0.1 endpoint that answers labels, not probabilities."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _LabelAnswers)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
