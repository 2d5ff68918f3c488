"""The classification table: status, transport error and body -> outcome, Locust success."""

import pytest

from locust_mlstress.codecs import make_codec
from locust_mlstress.outcomes import SUCCESSES, Outcome, classify
from locust_mlstress.profile import load_profile
from tests.conftest import PROFILES


@pytest.fixture(scope="module")
def codec(quickstart):
    return make_codec(quickstart.target, quickstart.features, quickstart.output)


GOOD = b'{"predictions": [0.25]}'


@pytest.mark.parametrize(
    ("kind", "status", "error", "body", "outcome"),
    [
        ("clean", 200, None, GOOD, Outcome.OK),
        ("drifted", 200, None, GOOD, Outcome.OK),
        ("clean", 200, None, b'{"predictions": [1.5]}', Outcome.UNDECODABLE),
        ("clean", 200, None, b"<html>", Outcome.UNDECODABLE),
        ("clean", 200, None, b'{"predictions": [NaN]}', Outcome.UNDECODABLE),
        ("clean", 200, None, None, Outcome.UNDECODABLE),
        ("clean", 400, None, b"{}", Outcome.UNEXPECTED_STATUS),
        ("clean", 503, None, b"{}", Outcome.SERVER_ERROR),
        ("clean", 0, TimeoutError("timed out"), None, Outcome.TIMEOUT),
        ("clean", 0, ConnectionRefusedError(111, "refused"), None, Outcome.CONNECTION_ERROR),
        ("malformed", 400, None, b'{"error": "x"}', Outcome.REJECTED),
        ("malformed", 415, None, b"{}", Outcome.REJECTED),
        ("malformed", 200, None, GOOD, Outcome.ACCEPTED_MALFORMED),
        ("malformed", 500, None, b"{}", Outcome.SERVER_ERROR),
        ("oversized", 413, None, b"{}", Outcome.REJECTED),
        ("oversized", 200, None, GOOD, Outcome.OK),
        ("oversized", 400, None, b"{}", Outcome.UNEXPECTED_STATUS),
        ("oversized", 302, None, b"", Outcome.UNEXPECTED_STATUS),
    ],
)
def test_classification(quickstart, codec, kind, status, error, body, outcome):
    variant = dict(quickstart.variants(kind))
    expectation = quickstart.expectation(kind, next(iter(variant)))
    got, predictions, reason = classify(kind, expectation, status, error, body, codec, 1)
    assert got == outcome
    assert (got in SUCCESSES) == (reason is None)
    if got == Outcome.OK and expectation.decodable and kind != "malformed":
        assert predictions == [0.25]


def test_a_variant_expectation_overrides_its_kind(tmp_path):
    path = tmp_path / "q.toml"
    src = (PROFILES / "quickstart.toml").read_text()
    src += '\n[malformed.variants]\nunknown_extra_feature = { expect = ["2xx", "4xx"] }\ninvalid_json = 1\n'
    path.write_text(src)
    profile = load_profile(path)
    codec = make_codec(profile.target, profile.features, profile.output)
    lenient = profile.expectation("malformed", "unknown_extra_feature")
    strict = profile.expectation("malformed", "invalid_json")
    assert classify("malformed", lenient, 200, None, GOOD, codec, 1)[0] == Outcome.OK
    assert classify("malformed", strict, 200, None, GOOD, codec, 1)[0] == Outcome.ACCEPTED_MALFORMED


def test_failure_messages_fold_numbers_so_locusts_error_table_stays_small():
    from locust_mlstress.outcomes import failure_message

    a = failure_message("undecodable", "prediction 0 is 1.7, outside [0, 1]")
    b = failure_message("undecodable", "prediction 3 is -2.5e-3, outside [0, 1]")
    assert a == b == "undecodable: prediction N is N, outside [N, N]"
