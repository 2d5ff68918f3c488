"""The run record: what anyone needs to reproduce a run, and no secret.

Secrets (header values from `--ml-header` or from environment variables named by the profile)
are replaced by `***` wherever they would appear; so is the value of any command-line flag
whose name says it holds one (`key`, `token`, `secret`, `password`, `auth`, `header`).
"""

from __future__ import annotations

import platform
import re
import sys
import time
from importlib.metadata import PackageNotFoundError, version

from ..profile.model import Profile
from ..quality.baseline import profile_identity

REDACTED = "***"
_SECRET_FLAG = re.compile(r"^--?[\w-]*(key|token|secret|passw|auth|header)[\w-]*", re.IGNORECASE)


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def redact_argv(argv: list[str], secrets: list[str]) -> list[str]:
    """The command line with secret values masked: flag values and any token holding a secret."""
    out: list[str] = []
    mask_next = False
    for arg in argv:
        if mask_next:
            out.append(REDACTED)
            mask_next = False
            continue
        match = _SECRET_FLAG.match(arg)
        if match and "=" in arg:
            out.append(arg.split("=", 1)[0] + "=" + REDACTED)
            continue
        if match:
            mask_next = True
        for secret in secrets:
            if secret:
                arg = arg.replace(secret, REDACTED)
        out.append(arg)
    return out


def iso(t: float | None) -> str | None:
    return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def build_manifest(
    profile: Profile,
    *,
    argv: list[str],
    secrets: list[str],
    host: str | None,
    started: float | None,
    ended: float,
    workers: int,
    stages: list[dict],
    gates: list[dict],
    model_version: str | None,
    files: dict[str, str],
) -> dict:
    return {
        "format": "locust-mlstress-manifest",
        "version": 1,
        "seed": profile.seed,
        "profile": profile_identity(profile),
        "versions": {
            "locust-mlstress": _version("locust-mlstress"),
            "locust": _version("locust"),
            "python": platform.python_version(),
        },
        "command": redact_argv(argv, secrets),
        "host": host,
        "model_version": model_version,
        "started": iso(started),
        "ended": iso(ended),
        "duration_s": None if started is None else round(ended - started, 3),
        "workers": workers,
        "stages": stages,
        "gates": gates,
        "files": files,
    }


def current_argv() -> list[str]:
    return list(sys.argv)
