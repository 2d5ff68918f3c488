from pathlib import Path

import pytest

from locust_mlstress.profile import load_profile

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / "profiles"


@pytest.fixture(scope="session")
def quickstart():
    return load_profile(PROFILES / "quickstart.toml")


@pytest.fixture(scope="session")
def router():
    return load_profile(PROFILES / "multiclass_router.toml")
