"""The Locust wiring registers through one entry point, once, and keeps one object per environment.

Registration is process-wide (Locust's global events), so each case runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "profiles" / "quickstart.toml"


def run_python(code: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_taking_a_user_class_registers_every_listener_once() -> None:
    seen = run_python(
        """
import json
from locust import events
before = {name: len(getattr(events, name)._handlers) for name in ("init", "test_start", "init_command_line_parser")}
import locust_mlstress
locust_mlstress.MLUser
locust_mlstress.ProfileShape
from locust_mlstress.plugin import register
register(); register()
after = {name: len(getattr(events, name)._handlers) for name in before}
print(json.dumps({"added": {k: after[k] - before[k] for k in before}}))
"""
    )
    # init: checks, the environment's own listeners, the web UI; test_start: one; options: one
    assert seen["added"] == {"init": 3, "test_start": 1, "init_command_line_parser": 1}


def test_an_environment_carries_one_object_of_ours() -> None:
    seen = run_python(
        f"""
import json
from locust.env import Environment
from locust_mlstress import MLUser
from locust_mlstress.plugin import state_of
from locust_mlstress.plugin.state import MLState
class Model(MLUser):
    profile = {str(PROFILE)!r}
env = Environment(user_classes=[Model], host="http://127.0.0.1:9")
state = state_of(env)
state.begin()
print(json.dumps({{"ours": sorted(k for k in vars(env) if "mlstress" in k), "state": type(state).__name__,
                  "same": state_of(env) is state}}))
"""
    )
    assert seen == {"ours": ["mlstress"], "state": "MLState", "same": True}


def test_a_deep_import_without_registration_says_so_once() -> None:
    seen = run_python(
        f"""
import json, logging
from locust.env import Environment
from locust_mlstress.users.mluser import MLUser
from locust_mlstress.users.behaviour import UNREGISTERED
records = []
class Keep(logging.Handler):
    def emit(self, record):
        records.append(record.getMessage())
logging.getLogger("locust_mlstress").addHandler(Keep())
class Model(MLUser):
    profile = {str(PROFILE)!r}
    host = "http://127.0.0.1:9"
env = Environment(user_classes=[Model], host="http://127.0.0.1:9")
for _ in range(3):
    Model(env)._setup()
print(json.dumps({{"said": records.count(UNREGISTERED)}}))
"""
    )
    assert seen == {"said": 1}
