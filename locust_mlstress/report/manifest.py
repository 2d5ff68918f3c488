"""The run record: what anyone needs to reproduce a run, and no secret.

Secrets (header values from `--ml-header` or from environment variables named by the profile,
and the password of a `--host http://user:PASSWORD@host`) are replaced by `***` wherever they
would appear; so is the value of any command-line flag
whose name says it holds one (`key`, `token`, `secret`, `password`, `auth`, `header`).
"""

from __future__ import annotations

import platform
import re
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from typing import overload
from urllib.parse import urlsplit

from locust_mlstress.domain.schema import Profile
from locust_mlstress.domain.summary import GateVerdict
from locust_mlstress.quality.baseline import profile_identity

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


def host_password(host: str | None) -> str | None:
    """The password in a host URL's user info (`http://user:PASSWORD@host`); None without one."""
    if not host:
        return None
    try:
        return urlsplit(host).password or None
    except ValueError:
        return None


@overload
def mask_host(host: str) -> str: ...
@overload
def mask_host(host: str | None) -> str | None: ...
def mask_host(host: str | None) -> str | None:
    """A host URL as it may be written to a file: `http://user:***@host`, the password masked
    (Locust takes credentials in `--host`; they are a secret like any header value)."""
    if not host:
        return host
    try:
        parts = urlsplit(host)
    except ValueError:
        return host
    if parts.password is None:
        return host
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return parts._replace(netloc=f"{user}:{REDACTED}@{hostport}").geturl()


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
    gates: list[GateVerdict],
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
        "command": redact_argv(argv, [*secrets, host_password(host) or ""]),
        "host": mask_host(host),
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
