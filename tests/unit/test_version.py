"""The version is written twice (pyproject.toml for packaging, version.py for the code)."""

import tomllib

import locust_mlstress
from locust_mlstress.version import __version__
from tests.conftest import ROOT


def test_the_code_and_the_package_metadata_agree_on_the_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert __version__ == project["version"] == locust_mlstress.__version__
