"""`mlstress init`: a data file (and a live endpoint) in, a profile that runs unedited out.

The order matters for the promise "bad input writes nothing": every check (data, label, codec,
URL, probes) runs first, the profile text is then loaded back through the real loader, and only
a text that loads is written, in one step.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
from pathlib import Path

import numpy as np

from locust_mlstress.codecs import CODEC_NAMES, make_codec
from locust_mlstress.codecs.base import V2_DATATYPES, DecodeError, parse_body
from locust_mlstress.domain.schema import Feature, Target
from locust_mlstress.errors import ProfileError
from locust_mlstress.onboard.data import read_frame
from locust_mlstress.onboard.errors import InitError
from locust_mlstress.onboard.infer import Inference, drift_variants, infer
from locust_mlstress.onboard.probe import (
    V2_PATH,
    Attempt,
    Candidate,
    Client,
    Endpoint,
    Metadata,
    ProbeFailed,
    candidates,
    parse_url,
    read_metadata,
    response_path_of,
    snippet,
)
from locust_mlstress.onboard.write import document, feature_tables, feature_why, loader_supports, render
from locust_mlstress.payloads.dataset import read_dataset
from locust_mlstress.payloads.rows import to_rows
from locust_mlstress.profile import parse_profile
from locust_mlstress.profile.fields import Table
from locust_mlstress.profile.sources import read_features

PROBE_ROWS = 5
DEFAULT_PATHS = {
    "kserve_v1": "/v1/models/model:predict",
    "tfserving": "/v1/models/model:predict",
    "v2": "/v2/models/model/infer",
    "mlflow": "/invocations",
    "json": "/predict",
}
LABEL_FIX = (
    'ask the server for probabilities: MLflow: save the model with pyfunc_predict_fn="predict_proba"; '
    'MLServer/KServe v2: request the predict_proba output (v2_outputs = ["predict_proba"])'
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="the data file: .csv, .parquet (needs pyarrow) or .jsonl")
    p.add_argument("--label", required=True, help="the column holding each row's label")
    p.add_argument("--url", help="the model's predict URL on 127.0.0.1, probed to find its protocol")
    p.add_argument("--codec", help="the wire format without probing (or to narrow the probes): "
                                   "kserve_v1, tfserving, v2, mlflow, json")  # fmt: skip
    p.add_argument("-o", "--output", default="profile.toml", help="where to write the profile (default: profile.toml)")
    p.add_argument("--force", action="store_true", help="overwrite the output file if it exists")


def main(args: argparse.Namespace, out=None, err=None) -> int:
    """Run init; 0 when the profile was written, 2 (and nothing written) on bad input."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        return _init(args, out, err)
    except InitError as exc:
        print(f"error: {exc}", file=err)
        return 2


def _say(out, text: str = "") -> None:
    print(text, file=out, flush=True)


def _init(args: argparse.Namespace, out, err) -> int:
    output = Path(args.output)
    if args.codec is not None and args.codec not in CODEC_NAMES:
        raise InitError(f"--codec {args.codec}: unknown codec; choose one of: {', '.join(CODEC_NAMES)}")
    if args.url is None and args.codec is None:
        raise InitError("--url or --codec is required: give the model's URL to probe, or the codec to write")
    if output.exists() and not args.force:
        raise InitError(f"-o {output}: already exists; pass --force to overwrite it, or choose another path")
    if output.exists() and not output.is_file():
        raise InitError(f"-o {output}: is not a regular file")
    if not output.parent.is_dir():
        raise InitError(f"-o {output}: folder {output.parent} does not exist")
    endpoint = parse_url(args.url) if args.url is not None else None
    data = Path(args.data)
    frame = read_frame(data)
    inf = infer(frame, args.label)
    wire = _wire_names(inf)
    data_path = _relative(data, output)
    name = _profile_name(output)
    header = [
        f"Written by `mlstress init` from {data.name} ({inf.rows} rows, {len(inf.features) + 1} columns), "
        f"label column {inf.label!r}. What was inferred, and how:",
        f"- output: {inf.output.type}"
        + (f", classes {json.dumps(list(inf.output.classes), ensure_ascii=False)}" if inf.output.classes else "")
        + f" ({inf.output.why}).",
        "- features: every column but the label, in file order, names as in the data; types from the values, "
        "required = false where a column has gaps, min = 0 where no value is negative (a value outside a "
        "feature's domain counts as malformed), categories sorted; clean rows are resampled from the data.",
    ]
    if endpoint is None:
        target = {"codec": args.codec, "path": DEFAULT_PATHS[args.codec]}
        header.append(f"- target: codec {args.codec} from --codec, not probed; set path to your endpoint's.")
        chosen_datatypes: dict[str, str] = {}
    else:
        target, chosen_datatypes, inf, lines = _probe(args, endpoint, inf, wire, data_path, output, name, out, err)
        header += lines
    for d in inf.drift:
        header.append(f"- drift.{d.name}: {d.why}.")
    if not any(not f.required for f in inf.features):
        header.append("- no missing_values drift: every column is complete, so a missing value would be malformed.")
    doc = document(inf, name, data_path, target, feature_tables(inf, _datatype_keys(chosen_datatypes, inf), wire))
    mix = ", ".join(f"{k} {w:g}" for k, w in doc["mix"].items())
    header.append(f"- malformed, oversized: every variant that applies, weight 1; mix (relative weights): {mix}.")
    host = endpoint.base if endpoint else "http://127.0.0.1:8080"
    header.append(
        f"Run it: locust -f locustfiles/any_profile.py --ml-profile {output.as_posix()} --host {host} "
        "--headless -u 10 -r 10 -t 60s"
    )
    text = render(doc, header, {f.name: feature_why(f) for f in inf.features})
    _check_loads(text, output)
    _write(output, text, args.force)
    _say(out, f"wrote {output} ({len(inf.features)} features, {inf.output.type}, {len(inf.drift)} drift variants)")
    _say(out, f"check it: mlstress validate {output}")
    return 0


def _profile_name(output: Path) -> str:
    return output.stem or "model"


def _relative(data: Path, output: Path) -> str:
    """The data path as the profile will hold it: relative to the profile's folder (posix form)."""
    target = data.resolve()
    try:
        return Path(os.path.relpath(target, output.parent.resolve())).as_posix()
    except ValueError:  # another drive (Windows): no relative path exists
        return target.as_posix()


def _wire_names(inf: Inference) -> dict[str, str]:
    """Column -> profile name, for the columns the loader will not take as a name.

    A dataset source finds its columns by feature name, so such a column cannot be fed from the
    data under another name yet: init says which column and how to fix it instead of writing a
    profile that does not load. (Once the dataset source reads columns by `wire`, this map is
    where those names go.)"""
    for f in inf.features:
        try:
            read_features([Table({"name": f.name, "type": "float"}, "features[0]", None)], parametric=False)
        except ProfileError as exc:
            raise InitError(
                f"--data: column {f.name!r} cannot be a feature name ({exc.message}); rename it in the data file"
            ) from None
    return {}


def _datatype_keys(datatypes: dict[str, str], inf: Inference) -> dict[str, dict]:
    """Per-feature `datatype` keys, only where the model's datatype differs from the type's default."""
    out = {}
    for f in inf.features:
        dt = datatypes.get(f.name)
        if dt and dt != V2_DATATYPES[f.type]:
            out[f.name] = {"datatype": dt}
    return out


def _check_loads(text: str, output: Path):
    """The text through the real loader; a profile init cannot load is a bug, reported, not written."""
    try:
        return parse_profile(tomllib.loads(text), output.resolve())
    except ProfileError as exc:
        raise InitError(f"the profile init built does not load ({exc}); please report this") from None
    except tomllib.TOMLDecodeError as exc:
        raise InitError(f"the profile init built is not valid TOML ({exc}); please report this") from None


def _write(output: Path, text: str, force: bool) -> None:
    tmp = output.with_name(f".{output.name}.init-tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        if force:
            os.replace(tmp, output)
        else:
            os.link(tmp, output)  # fails if the file appeared meanwhile: never overwrite without --force
    except FileExistsError:
        raise InitError(f"-o {output}: already exists; pass --force to overwrite it") from None
    except OSError as exc:
        raise InitError(f"-o {output}: cannot be written ({exc.strerror})") from None
    finally:
        tmp.unlink(missing_ok=True)


# --- probing --------------------------------------------------------------------------------


def _probe(args, endpoint: Endpoint, inf: Inference, wire: dict[str, str], data_path: str, output: Path,
           name: str, out, err) -> tuple[dict, dict[str, str], Inference, list[str]]:  # fmt: skip
    """Try the candidates against the endpoint; the chosen [target], datatypes, the (possibly
    narrowed) inference and the header lines saying what was tried and why this was chosen."""
    client = Client(endpoint)
    header: list[str] = []
    v2 = V2_PATH.match(endpoint.path)
    meta: Metadata | None = None
    if v2 and args.codec in (None, "v2"):
        meta = read_metadata(client, v2.group(1))
        inf = _narrow_to_inputs(inf, meta, out)
    wire_names = [wire.get(f.name, f.name) for f in inf.features]
    numeric_only = all(f.type in ("float", "int", "bool") for f in inf.features)
    classification = inf.output.type != "regression"
    useful_meta = meta if meta is not None and (meta.inputs or meta.outputs) else None
    cands, notes = candidates(endpoint, wire_names, numeric_only, classification, useful_meta)
    if meta is not None and useful_meta is None:
        notes.append(meta.line)
    if args.codec is not None:
        cands = [c for c in cands if c.target["codec"] == args.codec]
    if not cands:
        raise InitError(f"--url {args.url}: no {args.codec} candidate fits the path {endpoint.path or '/'}; "
                        "give the model's predict URL")  # fmt: skip
    _say(out, f"probing {endpoint.base}{endpoint.path} with {PROBE_ROWS} clean rows from {Path(args.data).name}")
    for note in notes:
        _say(out, note)
    attempts: list[Attempt] = []
    chosen: Attempt | None = None
    fallback: Attempt | None = None
    width = max(len(c.label) for c in cands)
    for cand in cands:
        attempt = _try(cand, inf, wire, data_path, output, name, client, make_codec)
        attempts.append(attempt)
        _say(out, f"  {cand.label:<{width}} -> {attempt.status}: {attempt.why}")
        if attempt.status == "ok":
            chosen = attempt
            break
        if attempt.status == "labels" and fallback is None:
            fallback = attempt
    if chosen is None and fallback is None:
        raise InitError(f"--url {args.url}: every probe was rejected ({_reasons(attempts)})")
    if chosen is not None:
        why = "the first candidate whose every probe row answered 2xx with probabilities"
        kind = "probabilities"
    else:
        chosen = fallback
        assert chosen is not None
        why = "no candidate answered probabilities; the first that answered class labels for every probe row"
        kind = "labels"
        print(
            f"warning: {endpoint.base}{chosen.candidate.target['path']} answers class labels, not probabilities: "
            f"calibration cannot be measured from labels (accuracy is reported instead). Fix: {LABEL_FIX}",
            file=err,
        )
    _say(out, f"chosen: {chosen.candidate.label} ({why})")
    tried = "; ".join(f"{a.candidate.label} -> {a.status}: {a.why}" for a in attempts)
    header.append(
        f"- target: probed {endpoint.base}{endpoint.path or '/'} with {PROBE_ROWS} clean rows; tried {tried}."
    )
    header.append(f"- chosen: {chosen.candidate.label}, {why}.")
    if meta is not None:
        header.append(f"- v2 {meta.line.removeprefix('metadata  ')}.")
    if kind == "labels":
        header.append(f"- WARNING: the server answers class labels, not probabilities. Fix: {LABEL_FIX}.")
    target = dict(chosen.candidate.target)
    return target, chosen.candidate.datatypes, inf, header


def _reasons(attempts: list[Attempt]) -> str:
    """The distinct reasons the candidates failed, each once with how many it stopped: one line."""
    seen: dict[str, int] = {}
    for a in attempts:
        seen[a.why] = seen.get(a.why, 0) + 1
    parts = [f"{n} x {why}" if n > 1 else why for why, n in list(seen.items())[:3]]
    more = f"; {len(seen) - 3} other reason(s)" if len(seen) > 3 else ""
    return f"{len(attempts)} candidate(s): " + "; ".join(parts) + more


def _narrow_to_inputs(inf: Inference, meta: Metadata | None, out) -> Inference:
    """With v2 metadata naming several inputs that are data columns, the features are those inputs:
    a data column the model does not take would be sent as an unknown input on every request."""
    if meta is None or len(meta.inputs) < 2:
        return inf
    names = {i["name"] for i in meta.inputs}
    kept = [f for f in inf.features if f.name in names]
    if not kept or len(kept) == len(inf.features):
        return inf
    dropped = [f.name for f in inf.features if f.name not in names]
    _say(out, f"the model's inputs leave out {len(dropped)} data column(s), not sent: {', '.join(dropped)}")
    narrowed = Inference(inf.rows, inf.label, kept, inf.output, notes=list(inf.notes))
    narrowed.drift = drift_variants(narrowed)
    return narrowed


def _supported(cand: Candidate) -> str | None:
    """Why this version cannot send the candidate (a Target/Feature field it does not have), or None."""
    if cand.needs == "datatype" and not loader_supports(Feature, "datatype"):
        return "this version cannot set per-input v2 datatypes"
    if cand.needs and cand.needs != "datatype" and not loader_supports(Target, cand.needs):
        return f"this version cannot send {cand.needs}"
    return None


def _probe_rows(profile) -> list[dict]:
    """A handful of clean rows spread over the data file, as the run will send them."""
    columns, _labels = read_dataset(profile)
    n = len(next(iter(columns.values())))
    index = np.unique(np.linspace(0, n - 1, min(PROBE_ROWS, n)).round().astype(int))
    return to_rows({k: v[index] for k, v in columns.items()}, len(index))


def _try(cand: Candidate, inf: Inference, wire, data_path, output, name, client: Client, make_codec) -> Attempt:
    if reason := _supported(cand):
        return Attempt(cand, "skipped", reason)
    target = dict(cand.target)
    features = feature_tables(inf, _datatype_keys(cand.datatypes, inf), wire)
    try:
        profile = parse_profile(tomllib.loads(render(document(inf, name, data_path, target, features), [], {})),
                                output.resolve())  # fmt: skip
    except ProfileError as exc:
        return Attempt(cand, "skipped", f"not a valid profile: {exc.message}")
    rows = _probe_rows(profile)
    codec = make_codec(profile.target, profile.features, profile.output)
    labels_seen = 0
    versions: set[str | None] = set()
    for i, row in enumerate(rows):
        try:
            status, body = client.request("POST", profile.target.path, codec.encode([row]))
        except ProbeFailed as exc:
            return Attempt(cand, "failed", f"row {i}: {exc}")
        if not 200 <= status < 300:
            return Attempt(cand, "failed", f"{status} {snippet(body)}")
        try:
            doc = parse_body(body)
        except DecodeError as exc:
            return Attempt(cand, "failed", f"{status} but {exc.reason}")
        if target["codec"] == "json" and "response_path" not in cand.target:
            path = response_path_of(doc, 1)
            if path is None:
                return Attempt(cand, "failed", f"{status} but no list of 1 prediction in the answer")
            cand = Candidate(cand.label, {**cand.target, "response_path": path}, cand.datatypes, cand.needs)
            target = cand.target
            profile = parse_profile(
                tomllib.loads(render(document(inf, name, data_path, target, features), [], {})), output.resolve()
            )
            codec = make_codec(profile.target, profile.features, profile.output)
        try:
            labels, version = _judge(codec, body)
        except DecodeError as exc:
            return Attempt(cand, "failed", f"{status} but the answer does not decode: {exc.reason}")
        labels_seen += labels
        versions.add(version)
    n = len(rows)
    seen = sorted(v for v in versions if v is not None)
    named = f"; model version {', '.join(seen)}" if seen else ""
    if labels_seen == n:
        return Attempt(cand, "labels", f"{n}/{n} answered 2xx with class labels, not probabilities{named}")
    return Attempt(cand, "ok", f"{n}/{n} answered 2xx and decoded as {_what(inf)}{named}")


def _judge(codec, body: bytes) -> tuple[bool, str | None]:
    """(labels only?, the model version the body names) of one 2xx answer, judged as a run judges
    it (`codec.decode_result`); raises DecodeError for an answer that is not a prediction.

    A binary answer of exactly 0 or 1 counts as labels here too: a run decides that at the kind
    level (a probability model may answer 1 now and then; one that never answers anything else is
    answering labels), and every probe row doing so is the same evidence at the probe's scale."""
    decoded = codec.decode_result(body, 1)
    hard = codec.output.type == "binary" and all(p == 0.0 or p == 1.0 for p in decoded.predictions)
    return decoded.labels_only or hard, decoded.model_version


def _what(inf: Inference) -> str:
    return "values" if inf.output.type == "regression" else "probabilities"
