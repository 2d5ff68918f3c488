"""Saved baselines: one run's clean predictions, kept to compare a later release against.

The file holds the clean stats in wire form plus who produced them: the profile's hash (the
comparison only means something for the same traffic) and the model's identity (endpoint and,
when the run was told which response header carries it, the model version). Loading checks the
profile and refuses a mismatch with a message that says what to do.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import cast

from locust_mlstress.domain.schema import Profile
from locust_mlstress.domain.summary import BaselineHeader, ProfileIdentity
from locust_mlstress.errors import ProfileError
from locust_mlstress.quality.kindstats import KindStats
from locust_mlstress.readfile import BASELINE_MAX_BYTES, InputFileError, read_regular

FORMAT = "locust-mlstress-baseline"
VERSION = 1


def profile_identity(profile: Profile) -> ProfileIdentity:
    """Which profile a record came from, as the baseline, the manifest and the summary write it."""
    return {"name": profile.name, "path": str(profile.path), "sha256": profile.sha256}


def save_baseline(path: str | Path, profile: Profile, clean: KindStats, model: dict) -> None:
    record = {
        "format": FORMAT,
        "version": VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "profile": profile_identity(profile),
        "output": {"type": profile.output.type, "classes": list(profile.output.classes)},
        "model": model,
        "clean": clean.to_wire(),
    }
    Path(path).write_text(json.dumps(record, indent=1))


def load_baseline(path: str | Path, profile: Profile) -> tuple[KindStats, BaselineHeader]:
    """The baseline's clean stats and its header; ProfileError naming --ml-baseline otherwise."""

    def fail(message: str) -> ProfileError:
        return ProfileError(path, "--ml-baseline", message)

    try:  # a regular file under a cap, never blocking on a FIFO (readfile.py)
        record = json.loads(read_regular(path, BASELINE_MAX_BYTES))
    except InputFileError as exc:
        if exc.missing:
            raise fail("file not found; write one first with --ml-save-baseline PATH") from None
        raise fail(exc.reason) from None
    except RecursionError:  # the C parser recurses once per level of nesting
        raise fail("is not a baseline file: it nests too deeply to be read") from None
    except ValueError as exc:  # not JSON, or not UTF-8
        raise fail(f"is not a baseline file: {str(exc).splitlines()[0] if str(exc) else 'not JSON'}") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise fail(f"is not a {FORMAT} file (write one with --ml-save-baseline)")
    if record.get("version") != VERSION:
        raise fail(f"has format version {record.get('version')!r}; this locust-mlstress reads {VERSION}")
    recorded = record.get("profile", {})
    if recorded.get("sha256") != profile.sha256:
        raise fail(
            f"was recorded with profile {recorded.get('name')!r} ({recorded.get('path')}, sha256 "
            f"{str(recorded.get('sha256'))[:12]}…) but this run uses {profile.name!r} ({profile.path}, sha256 "
            f"{profile.sha256[:12]}…); run with the same profile, or save a new baseline"
        )
    n_classes = len(profile.output.classes) if profile.output.type == "multiclass" else 0
    try:
        clean = KindStats.from_wire(record["clean"], profile.output.type, n_classes)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise fail(f"is damaged: {exc!r}") from None
    header = {k: record.get(k) for k in ("created", "profile", "model")}
    return clean, cast(BaselineHeader, header)  # as written by save_baseline; shown, never computed on
