"""mlstress init, the command: what it writes from data alone (--codec), determinism, bad input."""

import os
import socket
import tomllib

import numpy as np
import pandas as pd
import pytest

from locust_mlstress.cli import main
from locust_mlstress.onboard import data as data_module
from locust_mlstress.profile import load_profile


def churn_frame(n: int = 200, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income k": np.round(rng.lognormal(3.9, 0.4, n), 2),
            "plan": rng.choice(["basic", "standard", "premium"], n),
            "autopay": rng.random(n) < 0.6,
            "tickets": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 10, n)),
        }
    )
    frame["churned"] = (rng.random(n) < 1 / (1 + np.exp(-(frame["age"] - 50) / 10))).astype(int)
    return frame


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "data" / "churn.csv"
    path.parent.mkdir()
    churn_frame().to_csv(path, index=False)
    return path


def run(capsys, *argv):
    code = main(["init", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_written_profile_loads_and_reads_the_data_relative_to_itself(tmp_path, csv, capsys):
    out = tmp_path / "profiles" / "churn.toml"
    out.parent.mkdir()
    code, stdout, err = run(capsys, "--data", csv, "--label", "churned", "--codec", "kserve_v1", "-o", out)
    assert (code, err) == (0, "")
    assert f"wrote {out}" in stdout
    data = tomllib.loads(out.read_text())
    assert data["source"] == {"type": "dataset", "path": "../data/churn.csv", "label_column": "churned"}
    profile = load_profile(out)
    assert [f.name for f in profile.features] == ["age", "income k", "plan", "autopay", "tickets"]
    assert profile.feature("tickets").required is False
    assert profile.output.classes == ("0", "1")
    assert {d.name for d in profile.drift} == {"mean_shift", "unit_change", "missing_values", "category_reweight",
                                                "prior_shift"}  # fmt: skip
    assert profile.malformed and profile.oversized
    assert main(["validate", str(out)]) == 0


def test_same_inputs_give_the_same_bytes(tmp_path, csv, capsys):
    out = tmp_path / "p.toml"
    assert run(capsys, "--data", csv, "--label", "churned", "--codec", "v2", "-o", out)[0] == 0
    first = out.read_bytes()
    assert run(capsys, "--data", csv, "--label", "churned", "--codec", "v2", "-o", out, "--force")[0] == 0
    assert out.read_bytes() == first


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_parquet_and_jsonl_give_the_same_schema_as_csv(tmp_path, csv, capsys, suffix):
    frame = churn_frame()
    other = tmp_path / f"churn{suffix}"
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
        frame.to_parquet(other)
    else:
        frame.to_json(other, orient="records", lines=True)
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    assert run(capsys, "--data", csv, "--label", "churned", "--codec", "mlflow", "-o", a)[0] == 0
    assert run(capsys, "--data", other, "--label", "churned", "--codec", "mlflow", "-o", b)[0] == 0
    fa, fb = tomllib.loads(a.read_text())["features"], tomllib.loads(b.read_text())["features"]
    assert fa == fb
    load_profile(b)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BAD = {
    "missing label": (["--label", "nope", "--codec", "v2"], "--label nope: no such column"),
    "unknown codec": (["--label", "churned", "--codec", "grpc"], "--codec grpc: unknown codec"),
    "no url, no codec": (["--label", "churned"], "--url or --codec is required"),
    "remote url": (["--label", "churned", "--url", "http://example.com/v2/models/m/infer"], "only probes 127.0.0.1"),
    "https url": (["--label", "churned", "--url", "https://127.0.0.1:1/x"], "must start with http://"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_exit_2_and_no_file(tmp_path, csv, capsys, case):
    argv, message = BAD[case]
    out = tmp_path / "p.toml"
    code, _stdout, err = run(capsys, "--data", csv, *argv, "-o", out)
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not out.exists()
    assert os.listdir(tmp_path) == ["data"]  # no temporary file left either


def test_unreachable_url(tmp_path, csv, capsys):
    out = tmp_path / "p.toml"
    url = f"http://127.0.0.1:{_free_port()}/v2/models/m/infer"
    code, _stdout, err = run(capsys, "--data", csv, "--label", "churned", "--url", url, "-o", out)
    assert code == 2 and "cannot reach the server (connection refused)" in err and err.count("\n") == 1
    assert not out.exists()


def test_empty_file_directory_and_unknown_suffix(tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    header_only = tmp_path / "header.csv"
    header_only.write_text("a,b\n")
    odd = tmp_path / "data.txt"
    odd.write_text("a,b\n1,2\n")
    cases = [(empty, "is empty"), (header_only, "has no rows"), (tmp_path, "is not a regular file"),
             (odd, "cannot tell the format"), (tmp_path / "none.csv", "no such file")]  # fmt: skip
    for path, message in cases:
        code, _out, err = run(capsys, "--data", path, "--label", "b", "--codec", "v2", "-o", tmp_path / "p.toml")
        assert code == 2 and message in err and err.startswith("error: --data"), (path, err)
    assert not (tmp_path / "p.toml").exists()


def test_size_guard(tmp_path, csv, capsys, monkeypatch):
    monkeypatch.setattr(data_module, "MAX_DATA_BYTES", 100)  # a unit seam: no need for a 256 MiB file
    code, _out, err = run(capsys, "--data", csv, "--label", "churned", "--codec", "v2", "-o", tmp_path / "p.toml")
    assert code == 2 and "more than init reads" in err


def test_an_existing_file_is_kept_without_force(tmp_path, csv, capsys):
    out = tmp_path / "p.toml"
    out.write_text("mine")
    code, _out, err = run(capsys, "--data", csv, "--label", "churned", "--codec", "v2", "-o", out)
    assert code == 2 and "already exists; pass --force" in err
    assert out.read_text() == "mine"
    assert run(capsys, "--data", csv, "--label", "churned", "--codec", "v2", "-o", out, "--force")[0] == 0
    load_profile(out)


def test_a_column_name_no_profile_can_hold_is_named(tmp_path, capsys):
    data = tmp_path / "odd.csv"
    data.write_text('"tab\there",y\n1,0\n2,1\n3,0\n')
    code, _out, err = run(capsys, "--data", data, "--label", "y", "--codec", "v2", "-o", tmp_path / "p.toml")
    assert code == 2 and "column 'tab\\there' cannot be a feature name" in err and "rename it" in err
    assert not (tmp_path / "p.toml").exists()
