"""Reading a profile file into a validated `Profile`, or a `ProfileError` that says what to fix."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tomllib
from pathlib import Path

from locust_mlstress.codecs import make_codec
from locust_mlstress.domain.schema import (
    KINDS,
    V2_DATATYPE_NAMES,
    Challenger,
    DatasetSource,
    Feature,
    Header,
    Output,
    ParametricSource,
    Profile,
    Source,
    Target,
)
from locust_mlstress.errors import ProfileError
from locust_mlstress.http.origin import Origin
from locust_mlstress.payloads.dataset import read_dataset_file
from locust_mlstress.profile.expectations import read_expectations
from locust_mlstress.profile.fields import Table, printable
from locust_mlstress.profile.gates import read_gates
from locust_mlstress.profile.limits import MAX_BATCH_SIZE, MAX_CLASSES, MAX_FEATURES, MAX_VALUES_PER_REQUEST
from locust_mlstress.profile.plan import read_plan
from locust_mlstress.profile.sources import DATATYPES_FOR, name_problem, read_features, read_label_model
from locust_mlstress.profile.variants import read_drift, read_variants
from locust_mlstress.readfile import PROFILE_MAX_BYTES, InputFileError, read_regular

CODECS = ("kserve_v1", "tfserving", "v2", "mlflow", "json")
# The deepest profile nests 4 tables ([drift.NAME.schedule], a label model's class weights); a
# fault file fewer. Anything past this is an attack on the parser or on a repr, not a profile.
MAX_NESTING = 32


def load_profile(path: str | os.PathLike[str]) -> Profile:
    """Load and validate a profile; environment variables named by headers are read now."""
    path = Path(path)
    data, raw = read_toml_file(path, PROFILE_MAX_BYTES, "a .toml profile")
    return parse_profile(data, path, hashlib.sha256(raw).hexdigest())


def read_toml_file(path: Path, max_bytes: int, what: str) -> tuple[dict, bytes]:
    """A user's TOML file (`what` it should be: a profile, a fault file), read as a regular file
    under a cap (readfile.py) and parsed as profiles are, with its bytes (a profile's hash); a
    one-line ProfileError naming the file otherwise."""
    try:
        raw = read_regular(path, max_bytes)
    except InputFileError as exc:
        if exc.missing:
            raise ProfileError(path, "", f"file not found; pass the path of {what}") from None
        raise ProfileError(path, "", exc.reason) from None
    return parse_toml(raw, path), raw


def parse_toml(raw: bytes, path: Path | None) -> dict:
    """A TOML document, or a one-line ProfileError: not UTF-8, not TOML, or nested too deeply for
    the parser (tomllib recurses once per level; 100k levels is an attack, not a profile)."""
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ProfileError(path, "", "is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(path, "", f"is not valid TOML: {exc}") from None
    except RecursionError:
        raise ProfileError(path, "", "nests tables or arrays too deeply to be read (hundreds of levels)") from None
    # dotted keys ([a.a.a...]) nest without recursing in the parser, and would in any repr of them
    if (depth := nesting(data)) > MAX_NESTING:
        raise ProfileError(path, "", f"nests tables or arrays {depth} levels deep; at most {MAX_NESTING} are read")
    return data


def nesting(data: object) -> int:
    """How deep tables and arrays nest (a scalar is 0), counted without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_profile(data: dict, path: Path, sha256: str = "") -> Profile:
    top = Table(data, "", path)
    name = top.str("name", printable(path.stem))  # a file name may hold what a name may not
    description = top.str("description", "", multiline=True)
    seed = top.integer("seed", min=0)
    output = _output(top.table("output", required=True))
    source_table = top.table("source", required=True)
    source_type = source_table.str("type", choices=("parametric", "dataset"))
    feature_tables = top.tables("features", max_items=MAX_FEATURES)
    if not feature_tables:
        raise top.error("features", "needs at least one [[features]] table")
    features = read_features(feature_tables, parametric=source_type == "parametric")
    target = _target(top.table("target", required=True), features)
    _check_codec(target, features, output, path)
    source = _source(source_table, source_type, features, output, path)
    # read before the variants: a per-variant `expect` inherits its kind's `decodable` from here
    expect = read_expectations(top.table("expect"))
    partial = Profile(
        name=name, path=path, sha256=sha256, seed=seed, target=target, features=features,
        output=output, source=source, kind_weights={}, drift=(), malformed=(), oversized=(),
        expect=expect, description=description,
    )  # fmt: skip
    drift = read_drift(top.table("drift"), partial)
    malformed = read_variants(top.table("malformed"), "malformed", partial)
    oversized = read_variants(top.table("oversized"), "oversized", partial)
    kind_weights = _mix(top.table("mix", required=True), drift, malformed, oversized)
    consistency = _consistency(top.table("consistency"))
    gates = read_gates(top.table("gates"))
    challenger = _challenger(top.table("challenger"), target, output) if top.has("challenger") else None
    plan = read_plan(top.table("load"), partial_kinds_check(drift, malformed, oversized), gates.checks)
    top.finish()
    return Profile(
        name=name, path=path, sha256=sha256, seed=seed, target=target, features=features,
        output=output, source=source, kind_weights=kind_weights, drift=drift, malformed=malformed,
        oversized=oversized, expect=expect, description=description, consistency=consistency,
        gates=gates, load=plan, challenger=challenger,
    )  # fmt: skip


# what a [challenger] table may set: a second version gets the champion's very bytes, so every
# key of the encoding stays the champion's (docs/compare.md)
CHALLENGER_KEYS = ("host", "path", "headers", "timeout", "share", "tolerance", "response_path", "item_path")


def _challenger(t: Table, target: Target, output: Output) -> Challenger:
    for key in t.data:
        if key not in CHALLENGER_KEYS and key in Target.__dataclass_fields__:
            raise t.error(key, "the challenger is sent the champion's bytes, so the encoding is set once, "
                          f"in [target]; [challenger] may set {', '.join(CHALLENGER_KEYS)}")  # fmt: skip
    host = t.str("host", None)
    if host is not None:
        try:
            Origin.parse(host)
        except ValueError as exc:
            raise t.error("host", f'{exc}; e.g. host = "http://127.0.0.1:8081"') from None
    path = t.str("path", None)
    if path is not None and not path.startswith("/"):
        raise t.error("path", f"must start with '/', got {path!r}")
    tolerance = t.number("tolerance", 0.0, min=0)
    if tolerance and output.type != "regression":
        raise t.error("tolerance", "applies to regression outputs; a class answer differs or it does not")
    for key in ("response_path", "item_path"):
        if t.has(key) and target.codec != "json":
            raise t.error(key, f"is read by the 'json' codec only; this target's codec is {target.codec!r}")
    challenger = Challenger(
        host=host,
        path=path,
        headers=_headers(t.table("headers")),
        timeout=t.number("timeout", None, above=0),
        share=t.number("share", 1.0, min=0, max=1),
        tolerance=tolerance,
        response_path=t.str("response_path", None),
        item_path=t.str("item_path", None),
    )
    t.finish()
    return challenger


def _consistency(t: Table) -> float:
    fraction = t.number("fraction", 0.0, min=0, max=1)
    t.finish()
    return fraction


def _target(t: Table, features: tuple[Feature, ...]) -> Target:
    path = t.str("path")
    if not path.startswith("/"):
        raise t.error("path", f"must start with '/', got {path!r} (the host comes from --host)")
    codec = t.str("codec", choices=CODECS)
    layout = t.str("v2_layout", "columns", choices=("columns", "tensor"))
    if layout == "tensor" and codec == "v2" and any(f.type in ("category", "text") for f in features):
        raise t.error("v2_layout", "'tensor' packs numbers only; this schema has category or text features")
    template = t.str("body_template", None, multiline=True)
    if template is not None:
        try:
            json.loads(template)
        except ValueError as exc:
            raise t.error("body_template", f"is not JSON: {exc}") from None
        except RecursionError:
            raise t.error("body_template", "nests too deeply to be a request body template") from None
    target = Target(
        path=path,
        codec=codec,
        model_name=t.str("model_name", "model"),
        headers=_headers(t.table("headers")),
        connect_timeout=t.number("connect_timeout", 5.0, above=0),
        timeout=t.number("timeout", 30.0, above=0),
        batch_size=t.integer("batch_size", 1, min=1, max=MAX_BATCH_SIZE),
        v2_layout=layout,
        v2_outputs=t.strings("v2_outputs", ()),
        mlflow_format=t.str(
            "mlflow_format", "dataframe_split", choices=("dataframe_split", "dataframe_records", "inputs")
        ),
        signature_name=t.str("signature_name", None),
        body_template=template,
        response_path=t.str("response_path", None),
        item_path=t.str("item_path", None),
        v2_parameters=_v2_parameters(t.table("v2_parameters")),
        v2_input_name=t.str("v2_input_name", "input-0"),
        v2_datatype=t.str("v2_datatype", "FP64", choices=V2_DATATYPE_NAMES),
    )
    if problem := name_problem(target.v2_input_name):
        raise t.error("v2_input_name", problem)
    _check_request_size(t, target.batch_size, features)
    if codec == "v2" and layout == "tensor":
        _check_tensor_datatype(t, target.v2_datatype, features)
    t.finish()
    return target


def _check_request_size(t: Table, batch_size: int, features: tuple[Feature, ...]) -> None:
    """A clean request holds batch_size x features values, and batch_size x max_words words per text
    feature, built anew for every request: both bounded (limits.py)."""
    cells = batch_size * len(features)
    if cells > MAX_VALUES_PER_REQUEST:
        raise t.error(
            "batch_size",
            f"{batch_size:,} instances x {len(features):,} features = {cells:,} values per request; "
            f"at most {MAX_VALUES_PER_REQUEST:,} (a limit, docs/profiles.md): lower batch_size",
        )
    for f in features:
        d = f.distribution
        if d is not None and d.kind == "text" and batch_size * d.max_words > MAX_VALUES_PER_REQUEST:
            raise t.error(
                "batch_size",
                f"{batch_size:,} instances x max_words {d.max_words:,} of {f.name!r} = "
                f"{batch_size * d.max_words:,} words per request; at most {MAX_VALUES_PER_REQUEST:,} "
                "(a limit, docs/profiles.md): lower batch_size or max_words",
            )


def _v2_parameters(t: Table) -> tuple[tuple[str, str | int | float | bool], ...]:
    """Request-level v2 parameters: JSON scalars only (the protocol's parameter values)."""
    out = []
    for key in t.names():
        value = t.raw(key)
        if not isinstance(value, str | int | float):  # bool is an int
            kinds: dict[type, str] = {dict: "a table", list: "a list"}
            kind = kinds.get(type(value), type(value).__name__)
            raise t.error(key, f'must be a string, a number or a boolean (a JSON scalar), got {kind}; e.g. "pd"')
        if isinstance(value, float) and not math.isfinite(value):
            raise t.error(key, f"must be a finite number (JSON has no {value!r}), a string or a boolean")
        out.append((key, value))
    return tuple(out)


def _check_tensor_datatype(t: Table, datatype: str, features: tuple[Feature, ...]) -> None:
    """The one tensor carries every feature, so its datatype must carry each feature's values."""
    for f in features:
        if datatype not in DATATYPES_FOR[f.type]:
            fits = [d for d in V2_DATATYPE_NAMES if all(d in DATATYPES_FOR[g.type] for g in features)]
            raise t.error(
                "v2_datatype",
                f"{datatype} cannot carry {f.type} feature {f.name!r}; for this schema use one of: {', '.join(fits)}",
            )


def _check_codec(target: Target, features: tuple[Feature, ...], output: Output, path: Path) -> None:
    """Codec options that only the codec can judge (a template's placeholders, say)."""
    try:
        make_codec(target, features, output)
    except ProfileError as exc:
        raise ProfileError(path, exc.field, exc.message) from None
    except ValueError as exc:
        raise ProfileError(path, "target", str(exc)) from None


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def header_problem(name: str, value: str) -> str | None:
    """Why a header cannot be sent as given, or None: a CR or LF would end the header early
    (and could smuggle another), so every request would fail at run time instead of now."""
    if not _TOKEN.fullmatch(name):
        return f"header name {name!r} must be letters, digits or !#$%&'*+-.^_`|~ (no spaces, colons or line breaks)"
    if any(c in value for c in "\r\n\0"):
        return f"the value of header {name!r} must not contain a line break or NUL"
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:  # the value may be a secret: not quoted
        return f"the value of header {name!r} must be latin-1 text (HTTP sends header values as bytes)"
    return None


def _headers(t: Table) -> tuple[Header, ...]:
    headers = []
    for name in t.names():
        raw = t.raw(name)
        if isinstance(raw, str):
            if problem := header_problem(name, raw):
                raise t.error(name, problem)
            headers.append(Header(name, value=raw))
            continue
        if not isinstance(raw, dict):
            raise t.error(name, 'must be a string or a table like { env = "API_KEY", secret = true }')
        h = t.sub(name)
        env = h.str("env")
        secret = h.boolean("secret", True)
        h.finish()
        value = os.environ.get(env)
        if value is None:
            raise h.error("env", f"environment variable {env} is not set; export it before the run")
        if problem := header_problem(name, value):
            raise h.error("env", f"environment variable {env}: {problem}")
        headers.append(Header(name, value=value, env=env, secret=secret))
    return tuple(headers)


def _output(t: Table) -> Output:
    kind = t.str("type", choices=("binary", "multiclass", "regression"))
    if kind == "regression":
        classes: tuple[str, ...] = ()
    elif kind == "binary":
        classes = t.strings("classes", ("0", "1"), max_items=MAX_CLASSES)
        if len(classes) != 2:
            raise t.error("classes", f"a binary output has 2 classes (negative, positive), got {len(classes)}")
    else:
        classes = t.strings("classes", max_items=MAX_CLASSES)
        if len(classes) < 2:
            raise t.error("classes", "a multiclass output needs at least 2 class names")
    t.finish()
    return Output(kind, classes)


def _source(t: Table, kind: str, features: tuple[Feature, ...], output: Output, path: Path) -> Source:
    if kind == "dataset":
        file = t.str("path")
        if "\x00" in file:  # Path would raise a bare ValueError on it
            raise t.error("path", f"{file!r} holds a NUL character, which no file name can")
        resolved = (path.parent / file).resolve()
        suffix = resolved.suffix.lower().lstrip(".")
        guessed = {
            "csv": "csv",
            "parquet": "parquet",
            "pq": "parquet",
            "jsonl": "jsonl",
            "ndjson": "jsonl",
        }.get(suffix)
        fmt = t.str("format", guessed, choices=("csv", "parquet", "jsonl"))
        if fmt is None:
            raise t.error("format", f"cannot tell the format of {file!r}; set format = csv, parquet or jsonl")
        source = DatasetSource(resolved, fmt, t.str("label_column", None))
        t.finish()
        read_dataset_file(source, features, output, t.file)  # validates columns now, before any traffic
        return source
    has_model = t.raw("label_model") is not None  # marked read, so a misspelt label_model gets a suggestion
    label_model = read_label_model(t.table("label_model"), features, output) if has_model else None
    t.finish()
    return ParametricSource(label_model)


def partial_kinds_check(drift, malformed, oversized):
    """A check that a mix gives weight only to kinds the profile has variants of."""
    available = {"clean": True, "drifted": bool(drift), "malformed": bool(malformed), "oversized": bool(oversized)}

    def check(t: Table, weights: dict[str, float]) -> None:
        for kind, weight in weights.items():
            if weight > 0 and not available[kind]:
                section = "[drift.NAME]" if kind == "drifted" else f"[{kind}]"
                raise t.error(kind, f"is {weight:g} but the profile has no {kind} variant; add {section} or set 0")

    return check


def _mix(t: Table, drift, malformed, oversized) -> dict[str, float]:
    weights = {kind: t.number(kind, 0.0, min=0) for kind in KINDS}
    partial_kinds_check(drift, malformed, oversized)(t, weights)
    t.finish()
    if sum(weights.values()) <= 0:
        raise t.error("", f"needs a positive weight for at least one kind: {', '.join(KINDS)}")
    return weights
