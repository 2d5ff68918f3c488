"""mlstress init against the reference server, then a real headless Locust run with what it wrote.

The server is fitted on a data file the test makes (column names with a space and a dot, a
category, a bool, gaps); init sees only that file and the URL. The written profile is then run
unedited through `locustfiles/any_profile.py`, and its clean traffic must be answered.
"""

import json
import subprocess
import sys
import tomllib

import numpy as np
import pandas as pd
import pytest

from locust_mlstress.servers.reference.process import ReferenceServer
from tests.integration.harness import ROOT

SERVER_PROFILE = """
name = "churn-server"
seed = 9

[target]
path = "/v2/models/churn/infer"
codec = "v2"
model_name = "churn"

[output]
type = "binary"
classes = ["0", "1"]

[[features]]
name = "age"
type = "int"
min = 0

[[features]]
name = "income k"
type = "float"
min = 0

[[features]]
name = "plan.tier"
type = "category"
categories = ["basic", "premium", "standard"]

[[features]]
name = "autopay"
type = "bool"

[[features]]
name = "tickets"
type = "int"
required = false
min = 0

[source]
type = "dataset"
path = "churn.csv"
label_column = "churned"

[mix]
clean = 1
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("init")
    rng = np.random.default_rng(5)
    n = 600
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income k": np.round(rng.lognormal(3.9, 0.4, n), 2),
            "plan.tier": rng.choice(["basic", "standard", "premium"], n, p=[0.5, 0.3, 0.2]),
            "autopay": rng.random(n) < 0.6,
            "tickets": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 10, n)),
        }
    )
    z = -0.5 + 0.04 * (frame["age"] - 50) - 0.6 * frame["autopay"]
    frame["churned"] = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    frame.to_csv(folder / "churn.csv", index=False)
    (folder / "server.toml").write_text(SERVER_PROFILE)
    with ReferenceServer(folder / "server.toml") as server:
        yield folder, server


def mlstress(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "locust_mlstress.cli", *argv], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)  # fmt: skip


@pytest.mark.parametrize(
    ("path", "codec", "chosen"),
    [
        ("/v2/models/churn/infer", "v2", "v2 columns, outputs=[probability]"),
        ("/v1/models/churn:predict", "kserve_v1", "KServe v1"),
        ("/invocations", "mlflow", "MLflow dataframe_split"),
    ],
)
def test_init_then_a_real_run_answers_clean_traffic(served, path, codec, chosen):
    folder, server = served
    out = folder / f"{codec}.toml"
    done = mlstress("init", "--data", str(folder / "churn.csv"), "--label", "churned", "--url",
                    f"{server.url}{path}", "-o", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"chosen: {chosen} " in done.stdout, done.stdout
    assert tomllib.loads(out.read_text())["target"]["codec"] == codec
    assert mlstress("validate", str(out)).returncode == 0

    summary = folder / f"{codec}.json"
    run = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "locustfiles" / "any_profile.py"), "--ml-profile", str(out),
         "--host", server.url, "--headless", "-u", "6", "-r", "6", "-t", "6s", "--ml-json", str(summary)],
        capture_output=True, text=True, timeout=90, cwd=ROOT,
    )  # fmt: skip
    assert summary.exists(), run.stderr[-3000:]
    kinds = json.loads(summary.read_text())["kinds"]
    clean = kinds["clean"]
    assert clean["requests"] >= 20
    assert clean["outcomes"].get("ok", 0) / clean["requests"] >= 0.99, clean["outcomes"]
    # the drift variants init derived are valid input for a strict server: answered too
    drifted = kinds["drifted"]
    assert drifted["outcomes"].get("ok", 0) == drifted["requests"], drifted["variants"]
    # and the strict server rejects what init's profile calls malformed
    malformed = kinds["malformed"]
    assert malformed["outcomes"].get("rejected", 0) == malformed["requests"], malformed["variants"]
