"""The profile init writes: a TOML document built from the inference and the chosen target, as text.

The document is a plain dict in section order; `render` turns it into TOML with the header
comment and a short comment per feature saying why it got its type. Nothing here reads a clock
or a random generator, so the same inputs give the same bytes.
"""

from __future__ import annotations

import json
import re
from dataclasses import fields as dataclass_fields

from locust_mlstress.onboard.infer import FeatureGuess, Inference

SEED = 1
MIX = {"clean": 0.7, "drifted": 0.15, "malformed": 0.1, "oversized": 0.05}
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def loader_supports(cls: type, name: str) -> bool:
    """Does this version's profile model have the field? (the v2 and wire fields land separately)"""
    return any(f.name == name for f in dataclass_fields(cls))


def feature_tables(inf: Inference, extra: dict[str, dict] | None = None, wire: dict[str, str] | None = None) -> list:
    """One [[features]] table per feature: `extra` adds keys per feature (say a v2 `datatype`),
    `wire` maps a column to the profile name it gets when the column name cannot be one."""
    extra, wire = extra or {}, wire or {}
    out = []
    for f in inf.features:
        t: dict = {"name": wire.get(f.name, f.name)}
        if f.name in wire:
            t["wire"] = f.name
        t["type"] = f.type
        if not f.required:
            t["required"] = False
        if f.min is not None:
            t["min"] = int(f.min) if f.type == "int" else f.min
        if f.categories:
            t["categories"] = list(f.categories)
        t.update(extra.get(f.name, {}))
        out.append(t)
    return out


def document(inf: Inference, name: str, data_path: str, target: dict, features: list[dict]) -> dict:
    """The whole profile as a dict in the order it is written."""
    output: dict = {"type": inf.output.type}
    if inf.output.classes:
        output["classes"] = list(inf.output.classes)
    drift = {d.name: d.table for d in inf.drift}
    mix = dict(MIX) if drift else {**MIX, "drifted": 0.0}
    doc: dict = {
        "name": name,
        "description": f"{inf.output.type} model, written by mlstress init from {data_path}",
        "seed": SEED,
        "target": target,
        "output": output,
        "features": features,
        "source": {"type": "dataset", "path": data_path, "label_column": inf.label},
        "mix": mix,
        "drift": drift,
        "malformed": {"exclude": []},
        "oversized": {"exclude": []},
    }
    if not drift:
        del doc["drift"]
    return doc


def _string(s: str) -> str:
    # JSON string escapes are TOML basic-string escapes; TOML also wants DEL escaped
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


def key(k: str) -> str:
    return k if _BARE_KEY.match(k) else _string(k)


def value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        text = repr(v)
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{key(k)} = {value(x)}" for k, x in v.items()) + " }" if v else "{}"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _table(lines: list[str], header: str, table: dict) -> None:
    lines.append(header)
    for k, v in table.items():
        lines.append(f"{key(k)} = {value(v)}")
    lines.append("")


def _wrap(text: str, width: int = 100) -> list[str]:
    words, lines, line = text.split(" "), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = "  " + w
        else:
            line = f"{line} {w}" if line else w
    return lines + [line] if line else lines


def render(doc: dict, header: list[str], why: dict[str, str]) -> str:
    """TOML text: `header` lines as comments on top, `why[feature name]` above each feature."""
    lines = [c for h in header for c in (f"# {x}".rstrip() for x in _wrap(h))]
    lines.append("")
    for k in ("name", "description", "seed"):
        lines.append(f"{key(k)} = {value(doc[k])}")
    lines.append("")
    _table(lines, "[target]", doc["target"])
    _table(lines, "[output]", doc["output"])
    for f in doc["features"]:
        reason = why.get(f.get("wire", f["name"]))
        if reason:
            lines += [f"# {x}" for x in _wrap(reason)]
        _table(lines, "[[features]]", f)
    _table(lines, "[source]", doc["source"])
    _table(lines, "[mix]", doc["mix"])
    for name, table in doc.get("drift", {}).items():
        _table(lines, f"[drift.{key(name)}]", table)
    lines.append("# every malformed and oversized variant that applies to this schema, weight 1, default sizes;")
    lines.append("# name one in exclude to leave it out (docs/profiles.md#malformed-and-oversized)")
    _table(lines, "[malformed]", doc["malformed"])
    _table(lines, "[oversized]", doc["oversized"])
    return "\n".join(lines).rstrip("\n") + "\n"


def feature_why(f: FeatureGuess) -> str:
    parts = [f"{f.type}: {f.why}"]
    if f.missing:
        parts.append(f"{f.missing:.1%} missing, so not required")
    if f.min is not None:
        parts.append("no negative value, so min = 0")
    if f.association:
        parts.append(f"|corr| with the label {f.association:.3f}")
    return "; ".join(parts)
