"""The --ml-* options: bad values get one message naming the option and the fix."""

import argparse

import pytest
from locust.env import Environment

from locust_mlstress.errors import ProfileError
from locust_mlstress.plugin.options import check_options, option
from locust_mlstress.quality import Warmup


def _env(**options) -> Environment:
    return Environment(parsed_options=argparse.Namespace(**options))


@pytest.mark.parametrize(
    ("options", "field", "hint"),
    [
        ({"ml_window": "0"}, "--ml-window", "> 0"),
        ({"ml_window": "ten"}, "--ml-window", "e.g. 10"),
        ({"ml_warmup": "ten"}, "--ml-warmup", "'30s'"),
        ({"ml_warmup": "-5s"}, "--ml-warmup", "prediction count"),
        ({"ml_warmup": "0"}, "--ml-warmup", "'500'"),
        ({"ml_consistency": "2"}, "--ml-consistency", "between 0 and 1"),
        ({"ml_consistency": "often"}, "--ml-consistency", "between 0 and 1"),
        ({"ml_header": ["X-Key: a\r\nInjected: 1"]}, "--ml-header", "line break"),
        ({"ml_header": ["X Key: a"]}, "--ml-header", "no spaces"),
        ({"ml_header": ["X-Price: 5 €"]}, "--ml-header", "latin-1"),
    ],
)
def test_bad_options(options, field, hint):
    with pytest.raises(ProfileError) as err:
        check_options(_env(**options))
    assert err.value.field == field and hint in str(err.value)


def test_an_output_file_option_naming_a_directory_is_refused(tmp_path):
    with pytest.raises(ProfileError) as err:
        check_options(_env(ml_html=str(tmp_path)))
    assert err.value.field == "--ml-html" and "is a directory" in str(err.value)
    assert str(tmp_path / "report.html") in str(err.value)
    check_options(_env(ml_html=str(tmp_path / "report.html")))  # a file in it is fine


def test_good_options_pass_and_empty_ones_fall_back_to_defaults():
    check_options(_env(ml_window="2.5", ml_warmup="500", ml_consistency="0.1"))
    env = _env(ml_window="", ml_json=None)
    assert option(env, "ml_window", 10) == 10 and option(env, "ml_json") is None


def test_warmup_forms():
    assert Warmup.parse("30s") == Warmup(seconds=30.0)
    assert Warmup.parse("500") == Warmup(seconds=None, predictions=500)


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "ftp://127.0.0.1", "http://"])
def test_a_host_that_is_not_an_http_url_is_refused_before_traffic(quickstart, host):
    from locust_mlstress import MLUser
    from locust_mlstress.plugin.checks import check_run

    user_class = type("Model", (MLUser,), {"profile": quickstart})
    env = Environment(user_classes=[user_class], host=host, parsed_options=argparse.Namespace())
    with pytest.raises(ProfileError) as err:
        check_run(env)
    assert err.value.field == "--host" and "e.g. http://127.0.0.1:8080" in str(err.value)
    env.host = "http://127.0.0.1:8080/base"
    check_run(env)


def test_the_web_form_reads_only_its_folders_and_says_the_same_of_every_other_path(tmp_path, monkeypatch):
    from pathlib import Path

    from locust_mlstress.plugin.webui import form_path_problem, form_roots

    (tmp_path / "here").mkdir()
    (tmp_path / "here" / "run.py").write_text("")
    (tmp_path / "here" / "p.toml").write_text("")
    (tmp_path / "elsewhere.toml").write_text("secret = 1\n")
    (tmp_path / "here" / "link.toml").symlink_to(tmp_path / "elsewhere.toml")
    monkeypatch.chdir(tmp_path / "here")
    roots = form_roots(argparse.Namespace(locustfile="run.py"))
    assert roots == (Path(tmp_path / "here").resolve(),)
    assert form_path_problem("ml_profile", "p.toml", None, roots) is None
    assert form_path_problem("ml_profile", "missing.toml", None, roots) is None  # inside: the usual "not found"
    refused = {
        form_path_problem("ml_profile", value, None, roots)
        for value in ("../elsewhere.toml", "link.toml", "/etc/passwd", "/no/such.toml", "/dev/zero", "a\0b")
    }
    assert len(refused) == 1 and next(iter(refused)).startswith("--ml-profile: the form reads files only")
    # the command line's own value is the operator's choice, wherever it is
    assert form_path_problem("ml_baseline", "/etc/passwd", "/etc/passwd", roots) is None
