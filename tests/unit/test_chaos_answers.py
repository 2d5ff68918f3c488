"""Chaos answers of the reference app, judged by the client's real codec and outcome rules.

In-process (the WSGI app called without a socket): each body-level mode, on each protocol and
output type, must come out as the documented outcome and reason. The transport-level modes are
in test_chaos_transport.py; a full Locust run is in tests/integration/test_chaos_server.py.
"""

from __future__ import annotations

import dataclasses
import io
import re

import pytest

from locust_mlstress.domain.outcomes import Outcome
from locust_mlstress.payloads.factory import PayloadFactory
from locust_mlstress.payloads.kit import kit_for
from locust_mlstress.profile import load_profile
from locust_mlstress.servers.reference.app import ReferenceApp
from locust_mlstress.servers.reference.chaos import HEADER, mode_for
from locust_mlstress.servers.reference.cli import build_parser, knobs_from_args, knobs_to_argv, main
from locust_mlstress.servers.reference.knobs import CHAOS_MODES, ServerKnobs
from locust_mlstress.servers.reference.testing import call
from locust_mlstress.servers.reference.training import model_for_profile
from locust_mlstress.users.outcomes import classify
from tests.conftest import PROFILES

QUICKSTART = PROFILES / "quickstart.toml"
PATHS = {"v2": "/v2/models/churn/infer", "mlflow": "/invocations", "kserve_v1": "/v1/models/churn:predict"}


def _setup(name: str, codec: str | None = None):
    profile = load_profile(PROFILES / name)
    if codec is not None:
        target = dataclasses.replace(profile.target, codec=codec, path=PATHS[codec])
        profile = dataclasses.replace(profile, target=target, sha256=f"{profile.sha256}-{codec}")
    return profile, model_for_profile(profile, 500)


SETUPS = {
    "binary-v1": ("quickstart.toml", None),
    "binary-v2": ("quickstart.toml", "v2"),
    "binary-mlflow": ("quickstart.toml", "mlflow"),
    "multiclass-v2": ("multiclass_router.toml", None),
    "regression-mlflow": ("regression_prices.toml", None),
}


@pytest.fixture(scope="module", params=list(SETUPS))
def setup(request):
    profile, model = _setup(*SETUPS[request.param])
    return profile, model, kit_for(profile).codec


def clean_payload(profile, user_id: int = 0):
    factory = PayloadFactory(profile, user_id=user_id, clock=lambda: 0.0)
    return next(p for p in iter(factory.next, None) if p.kind == "clean")


def answer(profile, model, mode: str, payload):
    app = ReferenceApp(model, ServerKnobs(chaos=(mode,)), profile.target.model_name)
    return call(app, "POST", profile.target.path, payload.body, content_type=payload.content_type)


PROBABILITY = r"prediction 0(\[0\])?"
EXPECTED = {
    "not_json": (Outcome.UNDECODABLE, r"^body is not JSON: Expecting value: line 1 column 1 \(char 0\)$"),
    "truncated": (Outcome.UNDECODABLE, r"^body is not JSON: "),
    "wrong_shape": (Outcome.UNDECODABLE, r"^expected 1 predictions, got 2$"),
    "nan": (Outcome.UNDECODABLE, rf"^{PROBABILITY} is NaN$"),
    "inf": (Outcome.UNDECODABLE, rf"^{PROBABILITY} is inf$"),
    "out_of_range": (Outcome.UNDECODABLE, rf"^{PROBABILITY} is 1\.7, outside \[0, 1\]$"),
    "empty": (Outcome.UNDECODABLE, r"^empty body$"),
    "content_type": (Outcome.OK, None),
}


@pytest.mark.parametrize("mode", list(EXPECTED))
def test_body_chaos_is_classified_with_a_clear_reason(setup, mode):
    profile, model, codec = setup
    payload = clean_payload(profile)
    reply = answer(profile, model, mode, payload)
    assert reply.status == 200 and reply.headers[HEADER] == mode
    expectation = profile.expectation("clean", payload.variant)
    outcome, predictions, reason = classify("clean", expectation, 200, None, reply.body, codec, payload.n)
    expected, pattern = EXPECTED[mode]
    if mode == "out_of_range" and profile.output.type == "regression":  # no range to leave: a string instead
        pattern = r"^prediction 0 is a string, not a number$"
    assert outcome == expected, (reason, reply.body[:200])
    if pattern is None:
        assert reason is None and len(predictions) == payload.n
    else:
        assert re.search(pattern, reason), reason


def test_content_type_mode_changes_only_the_header(setup):
    """Accepted on purpose (docs/server.md): the body is the prediction, whatever the label says."""
    profile, model, _ = setup
    payload = clean_payload(profile)
    normal = call(ReferenceApp(model, ServerKnobs(), profile.target.model_name), "POST", profile.target.path,
                  payload.body, content_type=payload.content_type)  # fmt: skip
    chaotic = answer(profile, model, "content_type", payload)
    assert (
        chaotic.headers["Content-Type"].startswith("text/plain")
        and normal.headers["Content-Type"] == "application/json"
    )
    assert chaotic.body == normal.body


def test_rejections_stay_rejections(quickstart):
    """Chaos replaces 200 answers only: malformed traffic is refused as usual, and says no chaos."""
    model = model_for_profile(quickstart, 500)
    app = ReferenceApp(model, ServerKnobs(chaos=CHAOS_MODES), quickstart.target.model_name)
    factory = PayloadFactory(quickstart, user_id=3, clock=lambda: 0.0)
    malformed = [p for p in (factory.next() for _ in range(300)) if p.kind == "malformed"]
    assert len(malformed) > 20
    for payload in malformed:
        reply = call(app, "POST", quickstart.target.path, payload.body, content_type=payload.content_type)
        assert 400 <= reply.status < 500 and HEADER not in reply.headers, (payload.variant, reply.status)


def _raw_call(app, profile, payload):
    """Call the WSGI app by hand, keeping the pieces of the body iterable apart."""
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": profile.target.path, "CONTENT_TYPE": payload.content_type,
               "CONTENT_LENGTH": str(len(payload.body)), "wsgi.input": io.BytesIO(payload.body)}  # fmt: skip
    seen = {}
    pieces = list(app(environ, lambda status, headers: seen.update(status=status, headers=dict(headers))))
    return seen["status"], seen["headers"], pieces


def test_transport_modes_write_what_they_promise(quickstart):
    model = model_for_profile(quickstart, 500)
    payload = clean_payload(quickstart)
    codec = kit_for(quickstart).codec

    def run(mode, **knobs):
        app = ReferenceApp(model, ServerKnobs(chaos=(mode,), **knobs), quickstart.target.model_name)
        return _raw_call(app, quickstart, payload)

    status, headers, pieces = run("huge", chaos_huge_bytes=300_000)
    body = b"".join(pieces)
    # no Content-Length: only reading tells the size; valid JSON, so a client with a big enough cap decodes it
    assert "Content-Length" not in headers and len(body) == 300_000 and max(map(len, pieces)) <= 64 * 1024
    assert len(codec.decode(body, payload.n)) == payload.n

    status, headers, pieces = run("drip", chaos_stall_s=0.3)
    assert len(pieces) == 3 and int(headers["Content-Length"]) == len(b"".join(pieces))
    assert len(codec.decode(b"".join(pieces), payload.n)) == payload.n

    status, headers, pieces = run("reset")
    assert headers["Connection"] == "close" and 0 < len(b"".join(pieces)) < int(headers["Content-Length"])

    status, headers, pieces = run("hang", chaos_stall_s=0.05)
    assert status.startswith("200") and len(codec.decode(b"".join(pieces), payload.n)) == payload.n


def test_mode_for_is_a_stable_seeded_share_over_every_mode():
    ids = [f"4d2-{u:x}-{i:x}" for u in range(4) for i in range(1000)]
    picks = [mode_for(i, CHAOS_MODES, 0.5, seed=7) for i in ids]
    assert picks == [mode_for(i, CHAOS_MODES, 0.5, seed=7) for i in ids]  # a pure function of the id
    assert picks != [mode_for(i, CHAOS_MODES, 0.5, seed=8) for i in ids]
    chaotic = [p for p in picks if p is not None]
    assert 0.45 < len(chaotic) / len(ids) < 0.55
    counts = {m: chaotic.count(m) for m in CHAOS_MODES}
    assert min(counts.values()) > 0.5 * len(chaotic) / len(CHAOS_MODES), counts
    assert all(mode_for(i, CHAOS_MODES, 0.0) is None for i in ids[:100])
    assert mode_for("x", ()) is None


def test_chaos_knobs_and_flags():
    args = build_parser().parse_args(["--profile", "p.toml", "--chaos", "all", "--chaos-share", "0.25"])
    knobs = knobs_from_args(args)
    assert knobs.chaos == CHAOS_MODES and knobs.chaos_share == 0.25
    argv = knobs_to_argv(ServerKnobs(chaos=("nan", "reset"), chaos_stall_s=2.0))
    assert argv == ["--chaos", "nan,reset", "--chaos-stall-s", "2.0"]
    assert knobs_from_args(build_parser().parse_args(["--profile", "p", *argv])).chaos == ("nan", "reset")
    assert knobs_from_args(build_parser().parse_args(["--profile", "p", "--chaos", "off"])).chaos == ()
    with pytest.raises(ValueError, match=r"chaos mode 'nope' is not one of not_json, .* \(or all\)"):
        ServerKnobs(chaos=("nan", "nope"))
    bad_knobs = {"chaos_share": {"chaos_share": 1.5}, "chaos_stall_s": {"chaos_stall_s": 0.0},
                 "chaos_huge_bytes": {"chaos_huge_bytes": 0}, "twice": {"chaos": ("nan", "nan")}}  # fmt: skip
    for field, bad in bad_knobs.items():
        with pytest.raises(ValueError, match=field):
            ServerKnobs(**bad)


def test_a_bad_chaos_flag_is_one_message_and_status_2(capsys):
    assert main(["--profile", str(QUICKSTART), "--chaos", "nan,bogus", "--chaos-share", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "chaos mode 'bogus'" in err and "chaos_share" in err
    assert "Traceback" not in err


def test_nan_and_inf_go_on_the_wire_as_literals(quickstart):
    """As a sloppy numpy-based server sends them; Python's json would read them as floats."""
    model = model_for_profile(quickstart, 500)
    payload = clean_payload(quickstart)
    assert b"[NaN]" in answer(quickstart, model, "nan", payload).body
    assert b"[Infinity]" in answer(quickstart, model, "inf", payload).body
