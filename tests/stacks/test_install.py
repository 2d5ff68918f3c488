"""The cache rules of install.py, on a stack that cannot install (a requirement that is a missing
local file: pip fails without asking any index), so they cost seconds, not minutes."""

from __future__ import annotations

from concurrent.futures import Future

import pytest

from . import install
from .conftest import need

BROKEN = ("/nonexistent/mlstress-stack-test-0.0.0-py3-none-any.whl",)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setattr(install, "CACHE", tmp_path)
    monkeypatch.setitem(install.STACKS, "broken", BROKEN)
    return tmp_path


def test_a_failed_install_names_the_stack_and_leaves_no_marker(cache):
    with pytest.raises(install.StackUnavailable, match=r"stack 'broken' could not be installed .*exited 1") as exc:
        install.ensure("broken")
    assert "nonexistent" in str(exc.value)  # pip's own error line, not just "failed"
    assert not (install.venv_dir("broken") / install.MARKER).exists()


def test_a_stack_that_cannot_install_fails_its_test_instead_of_skipping(cache):
    fut: Future = Future()
    fut.set_exception(install.StackUnavailable("stack 'broken' could not be installed (x): pip exited 1"))
    with pytest.raises(pytest.fail.Exception, match="could not be installed"):
        need({"broken": fut}, "broken")


def test_only_a_finished_install_is_reused(cache):
    venv = install.venv_dir("broken")
    venv.mkdir(parents=True)
    (venv / install.MARKER).write_text("{}")
    stack = install.ensure("broken")
    assert stack.cached and stack.venv == venv
    (venv / install.MARKER).unlink()  # a half install: the venv is there, the marker is not
    (venv / "left-over").write_text("")
    with pytest.raises(install.StackUnavailable):
        install.ensure("broken")
    assert not (venv / "left-over").exists(), "a half install was reused instead of redone"


def test_the_cache_key_follows_the_pins(cache, monkeypatch):
    before = install.venv_dir("broken")
    monkeypatch.setitem(install.STACKS, "broken", (*BROKEN, "numpy==2.0.0"))
    assert install.venv_dir("broken") != before
    assert install.venv_dir("mlserver").name.startswith("mlserver-")
