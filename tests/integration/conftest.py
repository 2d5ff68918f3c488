import pytest

from locust_mlstress.target.knobs import ServerKnobs
from locust_mlstress.target.process import ReferenceServer
from tests.conftest import PROFILES

QUICKSTART = PROFILES / "quickstart.toml"


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def server():
    with ReferenceServer(QUICKSTART) as s:
        yield s


@pytest.fixture(scope="session")
def lax_server():
    with ReferenceServer(QUICKSTART, ServerKnobs(lax="accept")) as s:
        yield s
