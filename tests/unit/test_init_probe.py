"""mlstress init --url against small local servers that answer as the real stacks do.

Each stub is a real HTTP server on 127.0.0.1 following one stack's documented behaviour (the
field notes in DESIGN.md): Triton's one named FP32 tensor, MLServer's single-tensor numpy codec
and its `predict` labels unless `predict_proba` is asked for, MLflow's pyfunc labels. What init
sends is built by the real codecs, so these tests check the candidates, their order and choice.
"""

import json
import socket
import threading
import time
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest

from locust_mlstress.cli import main
from locust_mlstress.profile import load_profile


class Stub:
    """A local HTTP server answering with `handle(method, path, body_or_None) -> (status, document)`."""

    def __init__(self, handle):
        self.requests: list[tuple[str, str, object]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                stub.requests.append((method, self.path, body))
                status, doc = handle(method, self.path, body)
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._answer("GET")

            def do_POST(self):
                self._answer("POST")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def numeric_csv(tmp_path, with_category: bool = False):
    rng = np.random.default_rng(1)
    n = 120
    frame = pd.DataFrame({"mean radius": rng.normal(14, 3, n), "mean texture": rng.normal(19, 4, n),
                          "worst area": rng.normal(880, 200, n)})  # fmt: skip
    if with_category:
        frame["site"] = rng.choice(["a", "b"], n)
    frame["target"] = (frame["mean radius"] + rng.normal(0, 2, n) > 14).astype(int)
    path = tmp_path / "cancer.csv"
    frame.to_csv(path, index=False)
    return path


def init(capsys, data, url, out, *extra):
    code = main(["init", "--data", str(data), "--label", "target", "--url", url, "-o", str(out), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _rows(tensor) -> int:
    return tensor["shape"][0]


def triton(method, path, body):
    """One input `dense_input`, FP32 [-1, 3], one output `probabilities` FP32 [-1, 2]; strict."""
    if method == "GET" and path == "/v2/models/dense":
        return 200, {"name": "dense", "platform": "onnxruntime_onnx",
                     "inputs": [{"name": "dense_input", "datatype": "FP32", "shape": [-1, 3]}],
                     "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]}]}  # fmt: skip
    if method != "POST" or path != "/v2/models/dense/infer":
        return 404, {"error": "not found"}
    inputs = body.get("inputs", [])
    if len(inputs) != 1 or inputs[0]["name"] != "dense_input":
        return 400, {"error": "expected 1 input named dense_input"}
    if inputs[0]["datatype"] != "FP32":
        return 400, {
            "error": f"inference input 'dense_input' data-type is '{inputs[0]['datatype']}', model expects 'FP32'"
        }
    n = _rows(inputs[0])
    probabilities = {"name": "probabilities", "datatype": "FP32", "shape": [n, 2], "data": [0.3, 0.7] * n}
    return 200, {"model_name": "dense", "model_version": "3", "outputs": [probabilities]}


def test_triton_style_named_fp32_tensor(tmp_path, capsys):
    out = tmp_path / "p.toml"
    with Stub(triton) as stub:
        code, stdout, err = init(capsys, numeric_csv(tmp_path), f"{stub.url}/v2/models/dense/infer", out)
    assert code == 0, err
    target = tomllib.loads(out.read_text())["target"]
    assert target["v2_layout"] == "tensor"
    assert (target["v2_input_name"], target["v2_datatype"]) == ("dense_input", "FP32")
    assert target["v2_outputs"] == ["probabilities"]
    assert "chosen: v2 tensor dense_input FP32, outputs=[probabilities]" in stdout
    assert "5/5 answered 2xx and decoded as probabilities; model version 3" in stdout
    assert stub.requests[0][:2] == ("GET", "/v2/models/dense")  # metadata first
    profile = load_profile(out)
    assert profile.target.v2_input_name == "dense_input"


def mlserver(method, path, body):
    """MLServer 1.7's sklearn runtime: one tensor decodes with the numpy codec, several need
    content_type=pd; it answers `predict` labels unless `predict_proba` is requested."""
    if method == "GET":
        return 200, {"name": "m", "versions": [], "platform": "", "inputs": [], "outputs": []}
    inputs = body["inputs"]
    if len(inputs) > 1 and (body.get("parameters") or {}).get("content_type") != "pd":
        return 400, {"error": f"'np' codec only supports a single input tensor ({len(inputs)} were received)"}
    n = inputs[0]["shape"][0]
    wanted = [o["name"] for o in body.get("outputs") or []]
    if wanted == ["predict_proba"]:
        return 200, {"model_name": "m", "outputs": [{"name": "predict_proba", "shape": [n, 2], "datatype": "FP64",
                                                      "data": [0.2, 0.8] * n}]}  # fmt: skip
    return 200, {"model_name": "m", "outputs": [{"name": "predict", "shape": [n, 1], "datatype": "INT64",
                                                  "data": [1] * n}]}  # fmt: skip


def test_mlserver_numeric_model_gets_one_tensor_and_predict_proba(tmp_path, capsys):
    out = tmp_path / "p.toml"
    with Stub(mlserver) as stub:
        code, stdout, err = init(capsys, numeric_csv(tmp_path), f"{stub.url}/v2/models/m/infer", out)
    assert code == 0, err
    target = tomllib.loads(out.read_text())["target"]
    assert target == {"codec": "v2", "path": "/v2/models/m/infer", "v2_layout": "tensor",
                      "v2_outputs": ["predict_proba"]}  # fmt: skip
    assert err == ""


def test_mlserver_with_a_category_needs_pandas_parameters(tmp_path, capsys):
    out = tmp_path / "p.toml"
    with Stub(mlserver) as stub:
        code, stdout, err = init(capsys, numeric_csv(tmp_path, with_category=True), f"{stub.url}/v2/models/m/infer",
                                 out)  # fmt: skip
    assert code == 0, err
    target = tomllib.loads(out.read_text())["target"]
    assert target["v2_parameters"] == {"content_type": "pd"} and target["v2_outputs"] == ["predict_proba"]
    assert "v2 columns, outputs=[predict_proba]" in stdout and "'np' codec only supports" in stdout
    assert "v2 tensor" not in stdout  # a category cannot travel in one numeric tensor: never tried
    load_profile(out)


def mlflow_labels(method, path, body):
    if path != "/invocations":
        return 404, {"error": "not found"}
    n = len(body["dataframe_split"]["data"]) if "dataframe_split" in body else 1
    return 200, {"predictions": [1] * n}


def test_labels_only_is_written_with_a_warning_and_the_fix(tmp_path, capsys):
    out = tmp_path / "p.toml"
    with Stub(mlflow_labels) as stub:
        code, stdout, err = init(capsys, numeric_csv(tmp_path), f"{stub.url}/invocations", out)
    assert code == 0
    assert err.startswith("warning: ") and 'pyfunc_predict_fn="predict_proba"' in err and err.count("\n") == 1
    assert "labels: 5/5 answered 2xx with class labels" in stdout
    text = out.read_text()
    assert "WARNING: the server answers class labels" in text
    assert tomllib.loads(text)["target"]["mlflow_format"] == "dataframe_split"
    load_profile(out)


def float_labels(method, path, body):
    """A model trained on a float label answers 1.0 and 0.0: labels, though written as floats."""
    if path != "/invocations":
        return 404, {"error": "not found"}
    n = len(body["dataframe_split"]["data"]) if "dataframe_split" in body else 1
    return 200, {"predictions": [float(i % 2) for i in range(n)]}


def test_float_labels_are_labels_too(tmp_path, capsys):
    out = tmp_path / "p.toml"
    with Stub(float_labels) as stub:
        code, stdout, err = init(capsys, numeric_csv(tmp_path), f"{stub.url}/invocations", out)
    assert code == 0 and err.startswith("warning: ")
    assert "labels: 5/5 answered 2xx with class labels" in stdout


def test_a_server_that_rejects_everything_writes_nothing(tmp_path, capsys):
    out = tmp_path / "p.toml"
    with Stub(lambda m, p, b: (400, {"error": "no"})) as stub:
        code, stdout, err = init(capsys, numeric_csv(tmp_path), f"{stub.url}/invocations", out)
    assert code == 2 and not out.exists()
    assert err.startswith("error: --url") and "every probe was rejected (3 candidate(s): 3 x 400 no)" in err
    assert len([r for r in stub.requests if r[0] == "POST"]) == 3  # one row each: a rejected candidate stops early


def test_probes_are_bounded_by_a_timeout(tmp_path, capsys, monkeypatch):
    from locust_mlstress.onboard import probe

    monkeypatch.setattr(probe, "PROBE_TIMEOUT", 0.2)
    release = threading.Event()

    def slow(method, path, body):
        release.wait(2)
        return 200, {"predictions": [0.5]}

    out = tmp_path / "p.toml"
    with Stub(slow) as stub:
        code, stdout, err = init(capsys, numeric_csv(tmp_path), f"{stub.url}/v1/models/m:predict", out)
        release.set()
    assert code == 2 and "cannot reach the server" in err and "no answer within" in err


@pytest.mark.parametrize("codec", ["kserve_v1", "tfserving"])
def test_codec_narrows_the_candidates(tmp_path, capsys, codec):
    def v1(method, path, body):
        return 200, {"predictions": [[0.4, 0.6]] * len(body["instances"])}

    out = tmp_path / "p.toml"
    with Stub(v1) as stub:
        code, stdout, err = init(
            capsys, numeric_csv(tmp_path), f"{stub.url}/v1/models/m:predict", out, "--codec", codec
        )
    assert code == 0, err
    assert tomllib.loads(out.read_text())["target"]["codec"] == codec


def test_multiclass_class_names_are_labels_only(tmp_path, capsys):
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"x": rng.normal(0, 1, 90), "target": rng.choice(["cat", "dog", "emu"], 90)})
    data = tmp_path / "animals.jsonl"
    frame.to_json(data, orient="records", lines=True)

    def v1(method, path, body):
        return 200, {"predictions": ["dog"] * len(body["instances"])}

    out = tmp_path / "p.toml"
    with Stub(v1) as stub:
        code, stdout, err = init(capsys, data, f"{stub.url}/v1/models/m:predict", out)
    assert code == 0 and "answers class labels, not probabilities" in err
    written = tomllib.loads(out.read_text())
    assert written["output"] == {"type": "multiclass", "classes": ["cat", "dog", "emu"]}
    assert written["target"]["codec"] == "kserve_v1"


def test_a_plain_json_app_gets_the_generic_codec_and_its_answer_path(tmp_path, capsys):
    """A FastAPI-style app at /predict: {"instances": rows} in, {"probabilities": [...]} out."""

    def app(method, path, body):
        if path != "/predict" or "instances" not in (body or {}):
            return 422, {"detail": "field required: instances"}
        return 200, {"model": "m", "probabilities": [0.25] * len(body["instances"])}

    out = tmp_path / "p.toml"
    with Stub(app) as stub:
        code, stdout, err = init(capsys, numeric_csv(tmp_path), f"{stub.url}/predict", out)
    assert code == 0, err
    target = tomllib.loads(out.read_text())["target"]
    assert target == {"codec": "json", "path": "/predict", "response_path": "probabilities"}
    assert "KServe v1" in stdout and "missing key 'predictions'" in stdout  # tried, and why it failed
    load_profile(out)


def kserve_v2_fp32_columns(method, path, body):
    """A KServe v2 model declaring one FP32 input per column; anything else is a 400."""
    names = ["mean radius", "mean texture", "worst area"]
    if method == "GET":
        return 200, {"name": "c", "inputs": [{"name": n, "datatype": "FP32", "shape": [-1]} for n in names],
                     "outputs": [{"name": "output-0", "datatype": "FP32", "shape": [-1, 2]}]}  # fmt: skip
    inputs = body["inputs"]
    if sorted(i["name"] for i in inputs) != sorted(names) or any(i["datatype"] != "FP32" for i in inputs):
        return 400, {"error": "inputs must be the 3 declared FP32 tensors"}
    n = inputs[0]["shape"][0]
    return 200, {"outputs": [{"name": "output-0", "datatype": "FP32", "shape": [n, 2], "data": [0.9, 0.1] * n}]}


def test_declared_column_datatypes_are_written_per_feature_and_the_output_by_datatype(tmp_path, capsys):
    out = tmp_path / "p.toml"
    with Stub(kserve_v2_fp32_columns) as stub:
        code, stdout, err = init(capsys, numeric_csv(tmp_path), f"{stub.url}/v2/models/c/infer", out)
    assert code == 0, err
    written = tomllib.loads(out.read_text())
    assert [f.get("datatype") for f in written["features"]] == ["FP32", "FP32", "FP32"]
    assert written["target"]["v2_outputs"] == ["output-0"]  # the floating-point output
    assert "v2 tensor" not in stdout  # the metadata names one input per column
    assert [f.datatype for f in load_profile(out).features] == ["FP32"] * 3


def test_probing_is_deterministic(tmp_path, capsys):
    out = tmp_path / "p.toml"
    data = numeric_csv(tmp_path)
    texts = []
    for _ in range(2):
        with Stub(triton) as stub:
            url = f"{stub.url}/v2/models/dense/infer"
            code, _stdout, err = init(capsys, data, url, out, "--force")
        assert code == 0, err
        texts.append(out.read_bytes().replace(stub.url.encode(), b"URL"))  # each stub has its own port
    assert texts[0] == texts[1]


class RawStub:
    """A local server writing `answer` (raw bytes, status line included) to every request."""

    def __init__(self, answer: bytes):
        self.answer = answer
        self.stop = threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        with conn:
            conn.settimeout(1)
            try:
                conn.recv(65536)
                self.respond(conn)
            except OSError:
                pass

    def respond(self, conn):
        conn.sendall(self.answer)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(2)
        self.server.close()


@pytest.mark.parametrize(
    ("body", "why"),
    [(b"[]", "not a JSON object (list)"), (b'"x"', "not a JSON object (str)"), (b"5", "not a JSON object (int)"),
     (b'{"inputs": 5}', "its inputs is not a list"), (b'{"outputs": {"a": 1}}', "its outputs is not a list"),
     (b"[" * 100_000 + b"]" * 100_000, "nested too deeply to read"),
     (b'{"inputs": [{"name": "x", "datatype": {"a": 1}, "shape": [[[1]]]}, {"name": 3}, "y"]}', None)],
)  # fmt: skip
def test_metadata_that_is_json_but_not_metadata_is_no_usable_metadata(tmp_path, capsys, body, why):
    """A 200 metadata answer of the wrong shape is "no usable metadata", said on one line, and
    init goes on probing; never a traceback."""

    def server(method, path, b):
        if method == "GET":
            return 200, None
        n = len(b["inputs"][0]["data"])
        outputs = [{"name": "predict_proba", "datatype": "FP64", "shape": [n, 2], "data": [0.3, 0.7] * n}]
        return 200, {"outputs": outputs}

    out = tmp_path / "p.toml"
    with Stub(server) as stub:
        handler = stub.server.RequestHandlerClass
        original = handler._answer

        def answer(self, method):
            if method != "GET":
                return original(self, method)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        handler._answer = answer
        code, stdout, err = init(capsys, numeric_csv(tmp_path), f"{stub.url}/v2/models/m/infer", out)
    assert "Traceback" not in err and "Error" not in err.split(":", 1)[0]
    if why is not None:
        assert f"-> 200 but {why}: no usable metadata" in stdout, stdout.splitlines()[1]
    else:  # items that are not named tensors are dropped, odd datatypes and shapes too
        assert "inputs x ? ?" in stdout, stdout


def test_a_trickling_answer_cannot_hold_init(tmp_path, capsys, monkeypatch):
    """A server sending its answer one byte every 0.3 s (each read well within the per-read
    timeout) is cut at the per-request bound and init ends by its global deadline."""
    from locust_mlstress.onboard import probe

    monkeypatch.setattr(probe, "PROBE_TIMEOUT", 1.0)
    monkeypatch.setattr(probe, "REQUEST_LIMIT", 1.0, raising=False)
    monkeypatch.setattr(probe, "DEADLINE", 2.5)

    class Trickle(RawStub):
        def respond(self, conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
            for _ in range(1000):
                if self.stop.is_set():
                    return
                conn.sendall(b" ")
                time.sleep(0.3)

    out = tmp_path / "p.toml"
    result: list = []
    with Trickle(b"") as stub:
        worker = threading.Thread(
            target=lambda: result.append(init(capsys, numeric_csv(tmp_path), f"{stub.url}/v1/models/m:predict", out)),
            daemon=True,
        )
        started = time.monotonic()
        worker.start()
        worker.join(10)
        took = time.monotonic() - started
    assert result, "init still running after 10 s against a trickling server"
    code, stdout, err = result[0]
    assert code == 2 and not out.exists() and took < 6, (took, err)
    assert "no whole answer within 1 s" in stdout + err
