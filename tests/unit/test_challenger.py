"""The [challenger] table, --ml-challenger, and which payloads are paired in which order."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path

import pytest

from locust_mlstress.errors import ProfileError
from locust_mlstress.profile import load_profile
from locust_mlstress.users.challenger import (
    CHALLENGER,
    CHAMPION,
    challenger_settings,
    pair_draw,
    request_names,
    sides,
)
from tests.conftest import PROFILES

QUICKSTART = (PROFILES / "quickstart.toml").read_text()


def _profile(tmp_path: Path, table: str, base: str = QUICKSTART):
    path = tmp_path / "p.toml"
    path.write_text(f"{base}\n[challenger]\n{table}\n")
    return load_profile(path)


class _Env:
    def __init__(self, **options) -> None:
        self.parsed_options = Namespace(**options)


def test_a_challenger_table_is_read(tmp_path, monkeypatch):
    monkeypatch.setenv("CANDIDATE_TOKEN", "s3cret")
    profile = _profile(tmp_path, 'host = "http://127.0.0.1:8081"\npath = "/v1/models/churn-v2:predict"\n'
                                 "share = 0.5\ntimeout = 2\n"
                                 '[challenger.headers]\nAuthorization = { env = "CANDIDATE_TOKEN" }\n')  # fmt: skip
    c = profile.challenger
    assert c is not None and (c.host, c.share, c.timeout) == ("http://127.0.0.1:8081", 0.5, 2)
    assert c.path == "/v1/models/churn-v2:predict"
    assert c.headers[0].value == "s3cret" and "s3cret" not in repr(profile)
    settings = challenger_settings(_Env(ml_challenger=None, ml_challenger_share=None), profile)
    assert settings is not None and (settings.url, settings.share) == ("http://127.0.0.1:8081", 0.5)
    # the options win over the table
    settings = challenger_settings(_Env(ml_challenger="http://127.0.0.1:9", ml_challenger_share="0.1"), profile)
    assert settings is not None and (settings.url, settings.share) == ("http://127.0.0.1:9", 0.1)


def test_the_challenger_side_keeps_the_champion_codec_and_replaces_its_headers_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("CANDIDATE_TOKEN", "s3cret")
    profile = _profile(tmp_path, '[challenger.headers]\nauthorization = { env = "CANDIDATE_TOKEN" }\n')
    from locust_mlstress.payloads.kit import kit_for

    codec = kit_for(profile).codec
    champion, challenger = sides(profile, codec, {"Authorization": "old", "X-Team": "ml"}, "http://127.0.0.1:8081")
    assert (champion.version, challenger.version) == (CHAMPION, CHALLENGER)
    assert challenger.codec is codec and challenger.path == profile.target.path
    assert challenger.headers == {"X-Team": "ml", "authorization": "s3cret"}
    assert champion.names["clean"] == request_names(profile.target.path, CHAMPION)["clean"]
    assert challenger.names["clean"].startswith("challenger ") and challenger.id_suffix
    assert [s.version for s in sides(profile, codec, {}, None)] == [CHAMPION]  # no challenger: one side


@pytest.mark.parametrize(
    ("table", "field", "hint"),
    [
        ('codec = "v2"', "challenger.codec", "champion's bytes"),
        ('host = "ftp://x"', "challenger.host", "http://"),
        ('path = "v1/x"', "challenger.path", "start with '/'"),
        ("share = 1.5", "challenger.share", "<= 1"),
        ("tolerance = 0.1", "challenger.tolerance", "regression"),
        ('response_path = "a.b"', "challenger.response_path", "'json' codec"),
        ('hots = "http://127.0.0.1:1"', "challenger.hots", "did you mean 'host'"),
    ],
)
def test_a_bad_challenger_table_names_the_field_and_the_fix(tmp_path, table, field, hint):
    with pytest.raises(ProfileError) as info:
        _profile(tmp_path, table)
    assert field in str(info.value) and hint in str(info.value)
    assert "\n" not in str(info.value)


def test_pairing_draws_depend_on_the_payload_alone():
    ids = [f"2a-{u:x}-{s:x}" for u in range(8) for s in range(1, 2001)]
    draws = [pair_draw(42, i) for i in ids]
    assert draws == [pair_draw(42, i) for i in ids]  # no stream: the same on any worker count
    assert draws != [pair_draw(43, i) for i in ids]  # the seed matters
    share = sum(u < 0.25 for u, _ in draws) / len(draws)
    first = sum(f for _, f in draws) / len(draws)
    sd = (0.25 * 0.75 / len(draws)) ** 0.5
    assert abs(share - 0.25) < 5 * sd and abs(first - 0.5) < 5 * (0.25 / len(draws)) ** 0.5
    # the order does not follow the share: among mirrored payloads the challenger is first half the time
    mirrored = [f for u, f in draws if u < 0.25]
    assert abs(sum(mirrored) / len(mirrored) - 0.5) < 5 * (0.25 / len(mirrored)) ** 0.5


def test_the_documented_challenger_table_loads(tmp_path, monkeypatch):
    docs = (PROFILES.parent / "docs" / "profiles.md").read_text()
    example = docs.split("## `[challenger]`", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    monkeypatch.setenv("CANDIDATE_TOKEN", "t0ken")
    (tmp_path / "p.toml").write_text(f"{QUICKSTART}\n{example}")
    challenger = load_profile(tmp_path / "p.toml").challenger
    assert challenger is not None and challenger.host == "http://127.0.0.1:8081"
    assert [(h.name, h.value) for h in challenger.headers] == [("Authorization", "t0ken")]


def test_loading_a_profile_loads_no_network_stack():
    """`mlstress validate` and the benchmarks load profiles before Locust patches ssl: the profile
    layer (which checks a challenger's URL) must not pull in gevent, urllib3 or Locust."""
    import subprocess
    import sys

    code = (
        "import sys, locust_mlstress.profile as p; p.load_profile(sys.argv[1]); "
        "print(sorted(m for m in ('gevent', 'urllib3', 'requests', 'locust') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(PROFILES / "quickstart.toml")], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    assert out.strip() == "[]"


def test_a_stage_cannot_gate_a_comparison_and_a_step_plan_leaves_it_to_the_run(tmp_path):
    stage = '\n[load]\nshape = "stages"\n[[load.stages]]\nduration = 5\nusers = 2\n'
    stage += 'gates = ["disagreement[clean] < 1%"]\n'
    (tmp_path / "stage.toml").write_text(QUICKSTART + stage)
    with pytest.raises(ProfileError) as info:
        load_profile(tmp_path / "stage.toml")
    assert "load.stages[0].gates[0]" in str(info.value) and "[gates] checks" in str(info.value)
    step = '\n[gates]\nchecks = ["regressions == 0", "error_rate < 1%"]\n' \
           '[load]\nshape = "step"\nusers = 2\nstep = 2\nstep_duration = 5\nmax_users = 4\n'  # fmt: skip
    (tmp_path / "step.toml").write_text(QUICKSTART + step)
    profile = load_profile(tmp_path / "step.toml")
    assert profile.load is not None
    assert {g.text for s in profile.load.stages for g in s.gates} == {"error_rate < 1%"}
    assert {g.text for g in profile.gates.checks} == {"regressions == 0", "error_rate < 1%"}
