"""The adversarial pass of issue 13 as tests: each attack a careless user or a hostile server can
make, run against real processes, servers and files on 127.0.0.1 (docs/reliability.md lists them)."""

import pytest

from locust_mlstress.servers.reference.process import ReferenceServer
from tests.integration.conftest import QUICKSTART


def pytest_collection_modifyitems(items):
    for item in items:
        if "attacks" in str(item.fspath):
            item.add_marker(pytest.mark.attacks)


@pytest.fixture(scope="session")
def server():
    with ReferenceServer(QUICKSTART) as s:
        yield s
