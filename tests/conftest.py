"""Shared fixtures. Locust is imported first, on purpose: importing it monkey-patches the standard
library with gevent, and a module that loads ssl or urllib3 before it (selenium, requests) makes
that patching fail with a RecursionError later in the same pytest process."""

import locust  # noqa: F401, I001  (before anything that may import ssl)

from pathlib import Path

import pytest

from locust_mlstress.profile import load_profile

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / "profiles"
ARTIFACTS = ROOT / "build" / "test-artifacts"


@pytest.fixture(scope="session")
def quickstart():
    return load_profile(PROFILES / "quickstart.toml")


@pytest.fixture(scope="session")
def router():
    return load_profile(PROFILES / "multiclass_router.toml")


@pytest.fixture(scope="session")
def artifact_dir() -> Path:
    """build/test-artifacts/ (gitignored): screenshots a reviewer can look at after the run."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
