"""Finding the wire format a live endpoint accepts, by sending it a few clean rows.

Each candidate is a `[target]` table. It is turned into a real `Profile` by the profile loader
and its body is made by the real codec (`codec.encode`), and the answer is judged by the real
`codec.decode`: what init chooses is exactly what a run will send and how it will read the
answer. Candidates go in a fixed order and the first whose every probe row answers 2xx with
probabilities wins; one that answers only class labels is kept as a fallback with a warning.
Every request has a timeout and their number is bounded, so init always ends quickly.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from locust_mlstress.onboard.errors import InitError

PROBE_TIMEOUT = 5.0  # seconds per socket operation (connect, each read)
REQUEST_LIMIT = 15.0  # seconds of wall clock per request, however the server trickles its answer
MAX_REQUESTS = 48  # all probes together, metadata included
DEADLINE = 90.0  # seconds for the whole probing
MAX_ANSWER = 1 << 20  # bytes of an answer read
LOCAL_HOSTS = ("127.0.0.1", "localhost")
V2_PATH = re.compile(r"^(/v2/models/[^/]+(?:/versions/[^/]+)?)(?:/infer)?/?$")
V1_PATH = re.compile(r"^(/v1/models/[^/:]+(?:/versions/[^/:]+)?)(?::predict)?/?$")
_PROBA_NAME = re.compile(r"prob|score|confidence", re.IGNORECASE)


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    path: str  # as given, "" for none
    base: str  # http://host:port, for --host


def parse_url(url: str) -> Endpoint:
    """A local http URL, or an InitError: init sends traffic to 127.0.0.1 only."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InitError(f"--url {url}: not a URL ({exc})") from None
    if parts.scheme != "http":
        raise InitError(f"--url {url}: must start with http:// (init probes a local server over plain HTTP)")
    if parts.hostname not in LOCAL_HOSTS:
        raise InitError(f"--url {url}: init only probes 127.0.0.1 or localhost, not {parts.hostname!r}")
    port = port or 80
    host = "127.0.0.1" if parts.hostname == "localhost" else parts.hostname
    return Endpoint(host, port, parts.path.rstrip("/") if parts.path not in ("", "/") else "", f"http://{host}:{port}")


@dataclass(frozen=True)
class Candidate:
    label: str
    target: dict  # the [target] table
    datatypes: dict[str, str] = field(default_factory=dict)  # v2 columns: feature -> datatype
    needs: str = ""  # a Target field this version must have for the candidate to be sent


@dataclass
class Attempt:
    candidate: Candidate
    status: str  # "ok", "labels", "failed", "skipped"
    why: str


@dataclass
class Metadata:
    """What `GET /v2/models/{name}` said, reduced to what init uses."""

    inputs: list[dict]
    outputs: list[dict]
    line: str


class Client:
    """Bounded HTTP to the endpoint: one connection per request, a timeout each, a request budget."""

    def __init__(self, endpoint: Endpoint, timeout: float | None = None, budget: int | None = None):
        self.endpoint = endpoint
        self.timeout = timeout if timeout is not None else PROBE_TIMEOUT
        self.left = budget if budget is not None else MAX_REQUESTS
        self.deadline = time.monotonic() + DEADLINE
        self.reached = False  # any answer at all, so a refused connection later is not "unreachable"

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        now = time.monotonic()
        if self.left <= 0 or now > self.deadline:
            raise ProbeFailed(f"not sent: the probe budget ({MAX_REQUESTS} requests, {DEADLINE:g} s) is spent")
        self.left -= 1
        # A wall-clock bound on the whole request (and the global deadline): a per-read timeout
        # alone lets a server trickling a byte every few seconds hold init for ever.
        bound = max(min(REQUEST_LIMIT, self.deadline - now), 0.001)
        end = now + bound
        conn = http.client.HTTPConnection(self.endpoint.host, self.endpoint.port, timeout=min(self.timeout, bound))
        expired = threading.Event()
        watchdog = None
        try:
            headers = {"Content-Type": "application/json", "Accept": "application/json"} if body is not None else {}
            conn.request(method, path, body=body, headers=headers)
            sock = conn.sock

            def cut() -> None:  # the bound passed: end whatever read is under way
                expired.set()
                try:
                    if sock is not None:
                        sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

            watchdog = threading.Timer(max(end - time.monotonic(), 0.0), cut)
            watchdog.daemon = True
            watchdog.start()
            response = conn.getresponse()
            if expired.is_set():
                raise TimeoutError
            self.reached = True
            chunks: list[bytes] = []
            size = 0
            while size < MAX_ANSWER and not expired.is_set() and time.monotonic() < end:
                chunk = response.read1(min(1 << 16, MAX_ANSWER - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            if expired.is_set() or (size < MAX_ANSWER and not response.isclosed() and time.monotonic() >= end):
                raise ProbeFailed(f"no whole answer within {bound:g} s")
            return response.status, b"".join(chunks)
        except (OSError, http.client.HTTPException) as exc:
            what = f"no whole answer within {bound:g} s" if expired.is_set() else self.describe(exc)
            if not self.reached:
                raise InitError(
                    f"--url {self.endpoint.base}{path}: cannot reach the server ({what}); is it running on that port?"
                ) from None
            raise ProbeFailed(what) from None
        finally:
            if watchdog is not None:
                watchdog.cancel()
            conn.close()

    def describe(self, exc: BaseException) -> str:
        """A transport failure in a few words."""
        if isinstance(exc, ConnectionRefusedError):
            return "connection refused"
        if isinstance(exc, TimeoutError):
            return f"no answer within {self.timeout:g} s"
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class ProbeFailed(Exception):
    """One request failed in transport (after the server was reached): the candidate fails."""


def snippet(body: bytes, limit: int = 90) -> str:
    text = body.decode("utf-8", "replace").strip().replace("\n", " ")
    try:
        doc = json.loads(text)
        if isinstance(doc, dict):
            for k in ("error", "detail", "message"):
                if k in doc:
                    text = str(doc[k])
                    break
    except (ValueError, RecursionError):
        pass
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_metadata(client: Client, model_path: str) -> Metadata | None:
    """v2 model metadata, or None when the server offers none."""
    try:
        status, body = client.request("GET", model_path)
    except ProbeFailed as exc:
        return Metadata([], [], f"metadata  GET {model_path} -> {exc}")
    if status != 200:
        return Metadata([], [], f"metadata  GET {model_path} -> {status}: {snippet(body)}")
    head = f"metadata  GET {model_path} -> 200 but"
    try:
        doc = json.loads(body)
    except RecursionError:
        return Metadata([], [], f"{head} nested too deeply to read: no usable metadata")
    except ValueError:
        return Metadata([], [], f"{head} not JSON: no usable metadata")
    if not isinstance(doc, dict):
        return Metadata([], [], f"{head} not a JSON object ({type(doc).__name__}): no usable metadata")
    declared = {}
    for key in ("inputs", "outputs"):
        value = doc.get(key)
        if value is not None and not isinstance(value, list):
            return Metadata([], [], f"{head} its {key} is not a list: no usable metadata")
        declared[key] = [_tensor(t) for t in value or [] if isinstance(t, dict) and isinstance(t.get("name"), str)]
    inputs, outputs = declared["inputs"], declared["outputs"]
    described = ", ".join(f"{i['name']} {i.get('datatype', '?')} {i.get('shape', '?')}" for i in inputs[:4])
    more = f" (+{len(inputs) - 4} more)" if len(inputs) > 4 else ""
    outs = ", ".join(f"{o['name']} {o.get('datatype', '?')}" for o in outputs) or "none declared"
    line = f"metadata  GET {model_path} -> 200: inputs {described or 'none declared'}{more}; outputs {outs}"
    return Metadata(inputs, outputs, line)


def _tensor(declared: dict) -> dict:
    """A declared input or output reduced to what init reads, each of the type it expects: a
    name, a datatype string, a shape of integers (anything else is dropped, never repr'd)."""
    tensor = {"name": declared["name"]}
    if isinstance(declared.get("datatype"), str):
        tensor["datatype"] = declared["datatype"]
    shape = declared.get("shape")
    if isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
        tensor["shape"] = shape
    return tensor


def probability_outputs(meta: Metadata | None, classification: bool) -> list[tuple[str, ...]]:
    """The `v2_outputs` to try, best first: an output that carries probabilities, then the default."""
    if not classification:
        return [()]
    if meta is not None and meta.outputs:
        named = [o["name"] for o in meta.outputs if _PROBA_NAME.search(o["name"])]
        floats = [o["name"] for o in meta.outputs if str(o.get("datatype", "")).startswith("FP")]
        best = named[0] if named else floats[0] if floats else None
        return [(best,), ()] if best else [()]
    return [("predict_proba",), ()]


def _outputs_label(outputs: tuple[str, ...]) -> str:
    return f", outputs=[{', '.join(outputs)}]" if outputs else ""


def v2_candidates(path: str, feature_names: list[str], numeric_only: bool, meta: Metadata | None,
                  classification: bool) -> list[Candidate]:  # fmt: skip
    """Tensor, columns, columns + pandas parameters; narrowed by the metadata's inputs when it has them."""
    outputs = probability_outputs(meta, classification)
    tensor_target: dict = {"codec": "v2", "path": path, "v2_layout": "tensor"}
    tensor_needs = ""
    layouts = ["tensor", "columns", "columns+pd"]
    datatypes: dict[str, str] = {}
    if meta is not None and meta.inputs:
        names = [i["name"] for i in meta.inputs]
        if len(names) == 1 and names[0] not in feature_names:
            layouts = ["tensor"]
            tensor_target["v2_input_name"] = names[0]
            if meta.inputs[0].get("datatype"):
                tensor_target["v2_datatype"] = meta.inputs[0]["datatype"]
            tensor_needs = "v2_input_name"
        elif set(names) & set(feature_names):
            layouts = ["columns", "columns+pd"]
            datatypes = {i["name"]: str(i["datatype"]) for i in meta.inputs if i.get("datatype")}
    if not numeric_only and "tensor" in layouts:
        layouts.remove("tensor")
    out = []
    for layout in layouts:
        for o in outputs:
            extra = {"v2_outputs": list(o)} if o else {}
            if layout == "tensor":
                label = f"v2 tensor {tensor_target.get('v2_input_name', 'input-0')}"
                label += f" {tensor_target['v2_datatype']}" if "v2_datatype" in tensor_target else ""
                out.append(Candidate(label + _outputs_label(o), {**tensor_target, **extra}, needs=tensor_needs))
            elif layout == "columns":
                out.append(Candidate("v2 columns" + _outputs_label(o), {"codec": "v2", "path": path, **extra},
                                     datatypes, needs="datatype" if datatypes else ""))  # fmt: skip
            else:
                t = {"codec": "v2", "path": path, "v2_parameters": {"content_type": "pd"}, **extra}
                out.append(Candidate("v2 columns + parameters content_type=pd" + _outputs_label(o), t, datatypes,
                                     needs="v2_parameters"))  # fmt: skip
    return out


def candidates(endpoint: Endpoint, feature_names: list[str], numeric_only: bool, classification: bool,
               meta: Metadata | None) -> tuple[list[Candidate], list[str]]:  # fmt: skip
    """Every candidate for the URL's path, in the fixed order, and notes on what was narrowed;
    `meta` is the v2 model metadata when the server gave inputs or outputs."""
    path, notes = endpoint.path, []
    v2 = V2_PATH.match(path)
    v1 = V1_PATH.match(path)
    family = "v2" if v2 else "v1" if v1 else "mlflow" if path in ("", "/invocations") else "any"
    if path == "":
        notes.append("no path in --url: trying MLflow's /invocations (give the full predict URL for other servers)")
    out: list[Candidate] = []
    if family in ("v2", "any"):
        infer = f"{v2.group(1)}/infer" if v2 else path
        if meta is not None:
            notes.append(meta.line)
        out += v2_candidates(infer, feature_names, numeric_only, meta, classification)
    if family in ("v1", "any"):
        predict = f"{v1.group(1)}:predict" if v1 else path
        out.append(Candidate("KServe v1", {"codec": "kserve_v1", "path": predict}))
    if family in ("mlflow", "any"):
        invocations = path or "/invocations"
        for fmt in ("dataframe_split", "dataframe_records", "inputs"):
            out.append(Candidate(f"MLflow {fmt}", {"codec": "mlflow", "path": invocations, "mlflow_format": fmt}))
    if family in ("v1", "any"):
        predict = f"{v1.group(1)}:predict" if v1 else path
        out.append(Candidate("TF Serving", {"codec": "tfserving", "path": predict}))
    if family == "any":
        out.append(Candidate("generic JSON {instances: rows}", {"codec": "json", "path": path}))
    return out, notes


# --- judging an answer ----------------------------------------------------------------------


def response_path_of(doc: object, n: int) -> str | None:
    """For the generic JSON codec: where the list of n predictions is in an answer."""
    if isinstance(doc, list):
        return "" if len(doc) == n else None
    if not isinstance(doc, dict):
        return None
    keys = sorted(doc, key=lambda k: (not _PROBA_NAME.search(k), k not in ("predictions", "prediction"), 0))
    for k in keys:
        if isinstance(doc[k], list) and len(doc[k]) == n:
            return k
    return None
