"""The classification table: status, transport error and body -> outcome, Locust success."""

import pytest

from locust_mlstress.codecs import make_codec
from locust_mlstress.domain.outcomes import SUCCESSES, Outcome
from locust_mlstress.profile import load_profile
from locust_mlstress.users.outcomes import classify
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
    from locust_mlstress.users.outcomes import failure_message

    a = failure_message("undecodable", "prediction 0 is 1.7, outside [0, 1]")
    b = failure_message("undecodable", "prediction 3 is -2.5e-3, outside [0, 1]")
    assert a == b == "undecodable: prediction N is N, outside [0, 1]"


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        # status codes, the expectation and configured limits: a small set, and the useful fact
        ("server error 503", "server error 503"),
        ("status 404 not in 4xx", "status 404 not in 4xx"),
        ("status 200 not in 4xx/413", "status 200 not in 4xx/413"),
        ("malformed input accepted with 200", "malformed input accepted with 200"),
        ("OSError: [Errno 111] Connection refused", "OSError: [Errno 111] Connection refused"),
        ("body not complete within the 0.5 s timeout", "body not complete within the 0.5 s timeout"),
        ("prediction 2 is 5, not a class id (0..2)", "prediction N is N, not a class id (0..2)"),
        ("prediction 0 is 2, not a class id (0 or 1) of a INT64 output",
         "prediction N is N, not a class id (0 or 1) of a INT64 output"),
        ("prediction 3 has 5 values, expected 1 or 2", "prediction N has N values, expected 1 or 2"),
        # what the server chose: any number of values, folded
        ("expected 3 predictions, got 2", "expected 3 predictions, got N"),
        ("output 'predict' has shape [3, 2] but 5 values", "output '...' has shape [N, N] but N values"),
        ("body is not JSON: Expecting value: line 1 column 7 (char 6)",
         "body is not JSON: Expecting value: line N column N (char N)"),
        ("body exceeds the limit of 65536 bytes (70000 bytes announced) (max_response_bytes)",
         "body exceeds the limit of 65536 bytes (N bytes announced) (max_response_bytes)"),
        ("Error('<urllib3.connection.HTTPConnection object at 0x7f3a2b10cd>: refused')",
         "Error('<urllib3.connection.HTTPConnection object at 0xN>: refused')"),
        ("status 5034 in a text", "status N in a text"),  # not a status code
    ],
)  # fmt: skip
def test_failure_messages_keep_bounded_values(reason, text):
    from locust_mlstress.users.outcomes import failure_message

    assert failure_message("x", reason) == f"x: {text}"


def test_every_status_keeps_its_own_failure_row():
    from locust_mlstress.users.outcomes import failure_message

    texts = {failure_message("server_error", f"server error {s}") for s in range(500, 600)}
    assert len(texts) == 100
    folded = {failure_message("undecodable", f"prediction 0 is {v / 7}, outside [0, 1]") for v in range(8, 100)}
    assert folded == {"undecodable: prediction N is N, outside [0, 1]"}


@pytest.mark.parametrize(
    "template",
    [
        "unsupported Content-Encoding {}",
        "missing key 'data' in output {}",
        "HttpError: bad status in {}",
        "HttpError: bad start line {}",
        "HttpError: bad header line {}",
        "unreadable response: KeyError: {}",
    ],
)
def test_server_text_is_folded_out_of_locusts_table(template):
    """Issue 13: a server choosing a different text each time made one row per answer."""
    from locust_mlstress.http.framing import shown
    from locust_mlstress.users.outcomes import failure_message

    texts = {failure_message("x", template.format(shown(f"value-{i}" * i))) for i in range(50)}
    assert len(texts) == 1
    assert "'...'" in texts.pop()


def test_foreign_texts_quoting_the_server_keep_a_few_then_fold():
    """A client library's exception quoting the server (requests' BadStatusLine) is not ours to
    mark: the first few distinct texts of a shape stay, later ones are folded."""
    from locust_mlstress.users.outcomes import KEEP_QUOTED, failure_message

    texts = [failure_message("c", f"ConnectionError: ('aborted', BadStatusLine('zq{i}'))") for i in range(40)]
    assert len(set(texts)) == KEEP_QUOTED + 1
    assert texts[-1] == "c: ConnectionError: ('...', BadStatusLine('...'))"
    assert texts[0] == "c: ConnectionError: ('aborted', BadStatusLine('zq0'))"


def test_failure_texts_are_short_and_printable():
    from locust_mlstress.users.outcomes import MAX_FAILURE_TEXT, failure_message

    text = failure_message("x", "\x1b[31mred\r\nforged line " + "w" * 100_000)
    assert text.isprintable() and text.isascii()
    assert len(text) <= MAX_FAILURE_TEXT + 10
