"""Workers named missing at the end of a distributed run: Locust forgets a worker about a minute
after it went missing (docs/distributed.md), so the master remembers each one it saw missing.
A real MasterRunner (bound to 127.0.0.1) with its real worker table, no worker processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from locust import User, task
from locust.env import Environment
from locust.runners import STATE_MISSING, STATE_RUNNING, MasterRunner, WorkerNode

from locust_mlstress.plugin.distributed import missing_workers, note_missing
from tests.integration.harness import free_port


class Idle(User):
    @task
    def nothing(self) -> None:
        pass


@pytest.fixture
def master() -> Iterator[tuple[Environment, MasterRunner]]:
    environment = Environment(user_classes=[Idle])
    runner = environment.create_master_runner("127.0.0.1", free_port())
    try:
        yield environment, runner
    finally:
        runner.quit()


def test_a_worker_missing_then_forgotten_is_still_named_and_one_that_came_back_is_not(master):
    environment, runner = master
    for worker in ("lost", "back", "fine"):
        runner.clients[worker] = WorkerNode(worker, state=STATE_RUNNING)
    runner.clients["lost"].state = runner.clients["back"].state = STATE_MISSING
    note_missing(environment)
    assert missing_workers(environment) == ["back", "lost"]
    del runner.clients["lost"]  # Locust forgets it (HEARTBEAT_DEAD_INTERNAL)
    runner.clients["back"].state = STATE_RUNNING  # its heartbeats came again
    note_missing(environment)
    assert missing_workers(environment) == ["lost"]


def test_a_local_runner_has_no_missing_workers():
    environment = Environment(user_classes=[Idle])
    environment.create_local_runner()
    note_missing(environment)
    assert missing_workers(environment) == []
