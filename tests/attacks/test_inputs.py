"""Attacks on the inputs (issue 13, defects 2, 7, 8 and 9), each on real files, FIFOs and devices,
through real `mlstress` and `locust` processes: a profile, data set, baseline or fault file that
is not a regular file, is too large or nests too deeply; sizes past the profile's limits;
out-of-range server options; control characters in names; and the web UI's start form reading
files outside its folders. Every one must end at once with exit status 2 and one line naming
the field, without a traceback, within a time bound and an address-space bound."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.attacks._inputs import (
    LOANS_TOML,
    NOWHERE,
    QUICKSTART_PY,
    QUICKSTART_TOML,
    locust,
    locust_refused,
    mlstress,
    one_line_error,
    profile_data,
    write_profile,
)
from tests.integration.harness import LOCUST, free_port, locust_env
from tests.integration.test_web_ui import fetch, running_web_ui, wait_for

DEEP = 100_000


def _fifo(folder: Path, name: str) -> Path:
    path = folder / name
    os.mkfifo(path)
    return path


# ---- defect 7: files that are not regular, too large, or nested too deeply -------------------


@pytest.mark.parametrize("kind", ["dev_zero", "fifo", "directory", "too_large"])
def test_a_profile_that_is_not_a_regular_file_is_one_line_at_once(tmp_path, kind):
    """Before: /dev/zero was read until memory ran out, a FIFO blocked validate forever."""
    if kind == "dev_zero":
        path, words = Path("/dev/zero"), ("/dev/zero", "not a regular file but a device")
    elif kind == "fifo":
        path, words = _fifo(tmp_path, "profile.toml"), ("not a regular file but a FIFO",)
    elif kind == "directory":
        path, words = tmp_path, ("not a regular file but a directory",)
    else:
        path = tmp_path / "huge.toml"
        with path.open("wb") as f:
            f.truncate(17 << 20)  # sparse: 17 MiB on paper, nothing on disk
        words = ("is 17 MiB, more than the 16 MiB allowed",)
    started = time.monotonic()
    one_line_error(mlstress("validate", path, timeout=30), *words)
    assert time.monotonic() - started < 30


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("x = " + "[" * DEEP + "]" * DEEP + "\n", ("nests tables or arrays too deeply",)),
        ("[seed" + ".a" * DEEP + "]\nx = 1\n", ("nests tables or arrays 33 levels deep; at most 32",)),
    ],
    ids=["arrays", "dotted-keys"],
)
def test_a_deeply_nested_profile_is_one_line(tmp_path, text, words):
    """Before: a RecursionError traceback (arrays in the parser; dotted keys in a repr)."""
    path = tmp_path / "deep.toml"
    path.write_text('name = "deep"\n' + text)
    one_line_error(mlstress("validate", path), str(path), *words)


@pytest.mark.parametrize("kind", ["fifo", "dev_zero"])
def test_a_dataset_path_that_is_not_a_regular_file_is_one_line(tmp_path, kind):
    """Before: pandas read /dev/zero until memory ran out, and blocked on a FIFO."""
    data = profile_data(LOANS_TOML)
    data["source"]["path"] = str(_fifo(tmp_path, "rows.csv")) if kind == "fifo" else "/dev/zero"
    data["source"]["format"] = "csv"
    kind_words = "a FIFO" if kind == "fifo" else "a device"
    one_line_error(mlstress("validate", write_profile(tmp_path, data)), "source.path", kind_words)


@pytest.mark.parametrize("kind", ["fifo", "deep"])
def test_a_fault_file_that_blocks_or_nests_is_one_line(tmp_path, kind):
    """Before: `mlstress proxy --faults` blocked on a FIFO, and a deep file was a RecursionError."""
    if kind == "fifo":
        path, words = _fifo(tmp_path, "faults.toml"), ("a FIFO",)
    else:
        path, words = tmp_path / "faults.toml", ("nests tables or arrays too deeply",)
        path.write_text("x = " + "[" * DEEP + "]" * DEEP + "\n")
    result = mlstress("proxy", "--faults", path, "--upstream", NOWHERE, "--listen", "127.0.0.1:0")
    one_line_error(result, str(path), *words)


@pytest.mark.parametrize("kind", ["fifo", "deep-json"])
def test_a_baseline_that_blocks_or_nests_stops_locust_before_traffic(tmp_path, kind):
    """Before: --ml-baseline on a FIFO froze the Locust process; a deep JSON file was a traceback."""
    if kind == "fifo":
        path, words = _fifo(tmp_path, "baseline.json"), ("--ml-baseline", "a FIFO")
    else:
        path, words = tmp_path / "baseline.json", ("--ml-baseline", "nests too deeply")
        path.write_text("[" * DEEP + "]" * DEEP)
    locust_refused(locust("--ml-baseline", str(path)), *words)


# ---- defect 2: sizes past the limits ---------------------------------------------------------


def _oversized(size_of: dict[str, int]) -> dict:
    data = profile_data()
    data["oversized"] = {"variants": {name: {"size": size} for name, size in size_of.items()}}
    return data


def _with_target(**fields) -> dict:
    data = profile_data()
    data["target"].update(fields)
    return data


def _text_feature(**distribution) -> dict:
    data = profile_data()
    (text,) = [f for f in data["features"] if f["type"] == "text"]
    text["distribution"].update(distribution)
    return data


def _many_categories() -> dict:
    data = profile_data()
    (cat,) = [f for f in data["features"] if f["type"] == "category"][:1]
    cat["categories"] += [f"c{i}" for i in range(10_001 - len(cat["categories"]))]  # the label model's stay
    cat["distribution"] = {"kind": "categorical"}
    data["drift"] = {k: v for k, v in data["drift"].items() if v["type"] != "category_reweight"}  # 3 weights
    return data


def _many_features() -> dict:
    data = profile_data()
    extra = {"type": "float", "distribution": {"kind": "normal", "mean": 0, "std": 1}}
    data["features"] += [{"name": f"x{i}"} | copy.deepcopy(extra) for i in range(10_001)]
    return data


LIMITS = {
    "body_bytes": (_oversized({"body_bytes": 10_000_000_000}), "oversized.variants.body_bytes.size", "64 MiB"),
    "huge_string": (_oversized({"huge_string": 10_000_000_000}), "oversized.variants.huge_string.size", "64 MiB"),
    "large_batch": (_oversized({"large_batch": 100_000_000}), "oversized.variants.large_batch.size", "100,000"),
    "many_features": (
        _oversized({"many_features": 100_000_000}), "oversized.variants.many_features.size", "100,000"
    ),
    "batch_size": (_with_target(batch_size=100_000_000), "target.batch_size", "10,000"),
    "max_words": (_text_feature(max_words=100_000_000), "max_words", "10,000"),
    "categories": (_many_categories(), "categories", "10,000"),
    "features": (_many_features(), "features", "10,000"),
}  # fmt: skip


@pytest.mark.parametrize(("data", "field", "maximum"), list(LIMITS.values()), ids=list(LIMITS))
def test_a_size_past_its_limit_is_one_line_naming_field_and_maximum(tmp_path, data, field, maximum):
    """Before: body_bytes of 10 GB passed validate (the run then grew to 14 GB), large_batch and
    many_features of 1e8 were numpy tracebacks, max_words of 1e8 crashed validate itself."""
    started = time.monotonic()
    line = one_line_error(mlstress("validate", write_profile(tmp_path, data)), field, f"at most {maximum}")
    assert "docs/profiles.md" in line
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("kind", ["10-gb-body", "deep-toml"])
def test_a_run_on_a_hostile_profile_stops_before_traffic(tmp_path, kind):
    """Before: `locust` accepted a 10 GB body_bytes and grew to 14 GB building it; a profile nested
    100k deep was a RecursionError traceback."""
    if kind == "10-gb-body":
        profile, words = write_profile(tmp_path, LIMITS["body_bytes"][0]), ("body_bytes.size", "at most 64 MiB")
    else:
        profile, words = tmp_path / "deep.toml", ("nests tables or arrays too deeply",)
        profile.write_text("x = " + "[" * DEEP + "]" * DEEP + "\n")
    line = locust_refused(locust("--ml-profile", str(profile)), *words)
    assert str(profile) in line


def test_validate_prints_the_memory_the_oversized_bodies_take(tmp_path):
    data = _oversized({"body_bytes": 8 << 20, "large_batch": 1000})
    result = mlstress("validate", write_profile(tmp_path, data))
    assert result.code == 0, result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("memory")]
    assert "per Locust process" in line and "body_bytes 8.0 MiB" in line and "large_batch" in line
    total = float(line.split("~", 1)[1].split(" MiB", 1)[0])
    assert 8.0 < total < 9.0  # 8 MiB of body_bytes and ~0.2 MiB of a 1000-row batch


# ---- defect 8: out-of-range server options ---------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--seed", "-1", ("--seed", "from 0 to 9223372036854775807", "got -1")),
        ("--train-samples", "1000000000", ("--train-samples", "from 10 to 1000000", "got 1000000000")),
    ],
)
def test_an_out_of_range_serve_option_is_one_line(option, value, words):
    """Before: --seed -1 was a numpy traceback; --train-samples 1e9 ran out of memory fitting."""
    started = time.monotonic()
    one_line_error(mlstress("serve", "--profile", QUICKSTART_TOML, "--port", "0", option, value), *words)
    assert time.monotonic() - started < 30


# ---- defect 9: control characters in names ---------------------------------------------------


def _named(where: str) -> dict:
    data = profile_data()
    if where == "profile":
        data["name"] = "churn\x1b[2J\x1b[31mPWNED"
    elif where == "drift":
        data["drift"]["older\x1b[31m\r\nprofile is valid"] = data["drift"].pop("older_customers")
    else:
        data["load"] = {
            "shape": "stages",
            "stages": [{"name": "warm\r\nverdict: PASS", "duration": 5, "users": 2}],
        }
    return data


@pytest.mark.parametrize(
    ("where", "field"), [("profile", "name"), ("drift", "drift.older"), ("stage", "load.stages[0].name")]
)
def test_a_name_with_control_characters_is_one_escaped_line(tmp_path, where, field):
    """Before: validate printed the ESC sequences raw and the CR/LF forged lines of its output."""
    line = one_line_error(mlstress("validate", write_profile(tmp_path, _named(where))), field, "control character")
    assert "\\x1b" in line or "\\r" in line  # shown escaped, so the reader sees what is there


# ---- defect 7: the web UI's start form -------------------------------------------------------


def test_the_web_form_reads_only_its_folders_and_tells_nothing_of_other_paths(tmp_path):
    """Before: the form read any path (/dev/zero until memory ran out, a FIFO froze the UI) and its
    errors told whether a path existed and what its first line looked like."""
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.toml"
    secret.write_text("password = 'hunter2'\n")
    fifo = _fifo(outside, "pipe.toml")
    with running_web_ui(tmp_path, "--host", NOWHERE) as ui:
        messages = {
            value: ui.swarm(ml_profile=value)["message"]
            for value in ("/etc/passwd", "/no/such/file.toml", str(secret), str(fifo), "/dev/zero", "../../x")
        }
        assert len(set(messages.values())) == 1, messages  # exists or not, file or FIFO: the same words
        (message,) = set(messages.values())
        assert message.startswith("--ml-profile: the form reads files only in the working directory")
        assert "hunter2" not in message and "password" not in message
        # a baseline field is judged alike
        baseline = ui.swarm(ml_baseline=str(secret))["message"]
        assert baseline.startswith("--ml-baseline: the form reads files only")
        # inside its folders the usual errors apply: the locustfile's folder holds no such file
        inside = ui.swarm(ml_profile="profiles/missing.toml")["message"]
        assert "file not found" in inside
        # the UI still answers: nothing blocked on the FIFO
        assert ui.stats()["state"] == "ready"


def test_a_fifo_inside_the_form_folders_does_not_freeze_the_web_ui(tmp_path):
    """A FIFO where the form may read (the working directory): refused at once, the UI answers."""
    port = free_port()
    fifo = _fifo(tmp_path, "pipe.toml")
    log = tmp_path / "locust.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*LOCUST, "-f", str(QUICKSTART_PY), "--web-host", "127.0.0.1", "--web-port", str(port),
             "--host", NOWHERE],
            env=locust_env(tmp_path), stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: fetch(base + "/").status, "the web UI")
        started = time.monotonic()
        answer = fetch(base + "/swarm", {"user_count": 1, "spawn_rate": 1, "ml_profile": fifo.name}).json()
        assert time.monotonic() - started < 10
        assert answer["success"] is False and "not a regular file but a FIFO" in answer["message"], answer
        assert json.loads(fetch(base + "/stats/requests").text)["state"] == "ready"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert "Traceback" not in log.read_text()
