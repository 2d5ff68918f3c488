"""Each load shape's tick sequence, and the mix each stage puts in force."""

import pytest

from locust_mlstress.payloads.factory import cumulative, mix_for
from locust_mlstress.profile import load_profile
from tests.conftest import PROFILES
from tests.samples import MINIMAL


def _plan(tmp_path, load: str):
    path = tmp_path / "p.toml"
    path.write_text(MINIMAL + "\n[load]\n" + load)
    return load_profile(path).load


def _ticks(plan, until: float, step: float = 1.0):
    return [plan.users_at(k * step) for k in range(int(until / step) + 1)]


def test_ramp_up_hold_down(tmp_path):
    plan = _plan(tmp_path, 'shape = "ramp"\nusers = 10\nup = 5\nhold = 3\ndown = 5\nspawn_rate = 4\n')
    users = [u for u, _ in _ticks(plan, 12)]
    assert users == [0, 2, 4, 6, 8, 10, 10, 10, 10, 8, 6, 4, 2]
    assert plan.users_at(13) is None and plan.duration == 13
    assert {r for _, r in _ticks(plan, 12)} == {4.0}


def test_spike_surges_k_times_for_d_seconds_then_returns(tmp_path):
    plan = _plan(tmp_path, 'shape = "spike"\nusers = 4\nfactor = 5\nat = 3\nduration = 2\ntotal = 8\n')
    assert [u for u, _ in _ticks(plan, 7)] == [4, 4, 4, 20, 20, 4, 4, 4]
    assert plan.users_at(8) is None
    assert plan.users_at(3)[1] >= 20  # the surge arrives at once, not at the base spawn rate


def test_soak_is_steady_for_its_duration(tmp_path):
    plan = _plan(tmp_path, 'shape = "soak"\nusers = 7\nduration = 600\n')
    assert {plan.users_at(t)[0] for t in (0, 299.5, 599.9)} == {7} and plan.users_at(600) is None


def test_seasonal_follows_a_compressed_day(tmp_path):
    plan = _plan(tmp_path, 'shape = "seasonal"\nmin_users = 2\nmax_users = 20\nperiod = 24\nduration = 48\nstep = 1\n')
    users = [u for u, _ in _ticks(plan, 47)]
    assert users[0] == 2 and users[12] == 20 and users[24] == 2 and users[36] == 20
    assert users[:13] == sorted(users[:13])  # rising to noon
    assert plan.users_at(48) is None


def test_custom_stages_with_a_ramp_and_mixes():
    profile = load_profile(PROFILES / "scenario_surge.toml")
    plan = profile.load
    assert [u for u, _ in _ticks(plan, 39, 5)] == [5, 5, 5, 12, 20, 20, 20, 5]
    mix = mix_for(profile)
    assert mix(0) == cumulative({"clean": 1})
    assert mix(25) == cumulative({"clean": 0.5, "drifted": 0.4, "malformed": 0.1})
    assert mix(37) == cumulative(profile.kind_weights)  # the last stage keeps the profile's [mix]


def test_a_profile_without_stage_mixes_keeps_the_constant_mix(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(MINIMAL + '\n[load]\nshape = "soak"\nusers = 3\nduration = 10\n')
    assert mix_for(load_profile(path)) is None


@pytest.mark.parametrize(
    ("load", "field", "hint"),
    [
        ('shape = "sine"\n', "load.shape", "ramp, spike"),
        ('shape = "spike"\nusers = 4\nfactor = 5\nat = 8\nduration = 4\ntotal = 10\n', "load.total", "cover the spike"),
        ('shape = "spike"\nusers = 4\nfactor = 1\nat = 1\nduration = 1\ntotal = 10\n', "load.factor", "> 1"),
        ('shape = "stages"\n[[load.stages]]\nduration = 5\nusers = 2\nmix = { drifted = 1 }\n',
         "load.stages[0].mix.drifted", "no drifted variant"),
        ('shape = "seasonal"\nmin_users = 5\nmax_users = 5\nperiod = 10\nduration = 10\n', "load.max_users", "greater"),
        ('shape = "ramp"\nusers = 5\nup = 5\n', "load.hold", "is required"),
    ],
)  # fmt: skip
def test_bad_plans(tmp_path, load, field, hint):
    from locust_mlstress.errors import ProfileError

    with pytest.raises(ProfileError) as err:
        _plan(tmp_path, load)
    assert field in str(err.value) and hint in str(err.value)


def test_a_plan_from_the_command_line_matches_the_same_plan_in_a_profile(tmp_path):
    from locust_mlstress.profile.plan import plan_from_option

    written = _plan(tmp_path, 'shape = "spike"\nusers = 4\nfactor = 5\nat = 3\nduration = 2\ntotal = 8\n')
    assert plan_from_option("spike users=4 factor=5 at=3 duration=2 total=8") == written


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("", "needs a shape name first"),
        ("zig users=3", "choose one of: ramp"),
        ("ramp users=x", "must be a number"),
        ("ramp users=5 up=3", "--ml-shape.hold: is required"),
        ("stages", "written in the profile"),
        ("step users=2 step=2 step_duration=5 max_users=9", "needs SLO checks"),
    ],
)
def test_bad_shape_options(text, hint):
    from locust_mlstress.errors import ProfileError
    from locust_mlstress.profile.plan import plan_from_option

    with pytest.raises(ProfileError) as err:
        plan_from_option(text)
    assert hint in str(err.value)
