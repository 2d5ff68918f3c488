"""HTTP/1.1 message boundaries as the fault proxy and the ML user's client find them, read from real socket pairs."""

import socket
import threading

import pytest

from locust_mlstress.http.framing import (
    ConnectionClosed,
    HttpError,
    Reader,
    TooLarge,
    parse_head,
    request_framing,
    response_framing,
)


def _reader(data: bytes, close: bool = True) -> Reader:
    """A Reader over one end of a socket pair whose other end sent `data` (then closed)."""
    ours, theirs = socket.socketpair()
    ours.settimeout(5)

    def send() -> None:
        theirs.sendall(data)
        if close:
            theirs.close()

    threading.Thread(target=send, daemon=True).start()
    return Reader(ours)


def _messages(data: bytes, response: bool, method: str = "POST") -> list[tuple[bytes, bytes]]:
    """(head, body as on the wire) of every message in `data`, as the proxy would split them."""
    reader, out = _reader(data), []
    while (raw := reader.head()) is not None:
        head = parse_head(raw, response)
        framing = response_framing(head, method) if response else request_framing(head)
        out.append((raw, b"".join(reader.body(framing))))
    return out


def test_keep_alive_requests_split_at_their_content_length():
    first = b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    second = b"POST /p HTTP/1.1\r\nHost: x\r\nX-Request-ID: a-1\r\nContent-Length: 3\r\n\r\nabc"
    third = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    messages = _messages(first + second + third, response=False)
    assert [body for _, body in messages] == [b"hello", b"abc", b""]
    assert b"".join(h + b for h, b in messages) == first + second + third  # forwarded byte for byte
    assert parse_head(messages[1][0], False).headers["x-request-id"] == "a-1"


def test_a_chunked_body_is_kept_whole_with_its_framing_and_trailers():
    body = b"4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n"
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body + b"HTTP/1.1 204 No Content\r\n\r\n"
    messages = _messages(data, response=True)
    assert [b for _, b in messages] == [body, b""]


def test_a_response_without_length_runs_to_the_close():
    data = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + b"x" * 200_000
    [(_, body)] = _messages(data, response=True)
    assert body == b"x" * 200_000


@pytest.mark.parametrize(
    ("head", "method", "framing"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", "HEAD", ("none", 0)),
        (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", "GET", ("none", 0)),
        (b"HTTP/1.1 100 Continue\r\n\r\n", "POST", ("none", 0)),
        (b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n", "POST", ("length", 0)),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n", "POST", ("length", 7)),
    ],
)
def test_response_framing_follows_rfc_9112(head, method, framing):
    assert response_framing(parse_head(head, response=True), method) == framing


@pytest.mark.parametrize(
    ("head", "keep"),
    [
        (b"POST / HTTP/1.1\r\n\r\n", True),
        (b"POST / HTTP/1.1\r\nConnection: close\r\n\r\n", False),
        (b"POST / HTTP/1.0\r\n\r\n", False),
        (b"POST / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", True),
    ],
)
def test_keep_alive_follows_the_version_and_the_connection_header(head, keep):
    assert parse_head(head, response=False).keep_alive() is keep


@pytest.mark.parametrize(
    ("head", "response", "says"),
    [
        (b"GARBAGE\r\n\r\n", False, "bad start line"),
        (b"POST / SPDY/3\r\n\r\n", False, "not HTTP/1.x"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", True, "bad status"),
        ("HTTP/1.1 \u00b2\u00b2\u00b2 OK\r\n\r\n".encode("latin-1"), True, "bad status"),  # isdigit() took it
        (b"POST / HTTP/1.1\r\nNoColon\r\n\r\n", False, "bad header line"),
    ],
)
def test_a_head_the_proxy_cannot_read_is_an_http_error(head, response, says):
    with pytest.raises(HttpError, match=says):
        parse_head(head, response)


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        (b"Content-Length: 5, 6\r\n", "bad Content-Length"),
        (b"Content-Length: -1\r\n", "bad Content-Length"),
        (b"Transfer-Encoding: gzip\r\n", "unsupported Transfer-Encoding"),
    ],
)
def test_an_ambiguous_body_length_is_refused(headers, says):
    with pytest.raises(HttpError, match=says):
        request_framing(parse_head(b"POST / HTTP/1.1\r\n" + headers + b"\r\n", response=False))


def test_a_body_over_the_limit_is_refused_before_it_is_read():
    reader = _reader(b"", close=False)
    with pytest.raises(TooLarge, match="over the proxy.s limit"):
        list(reader.body(("length", 10_000), limit=100))
    with pytest.raises(TooLarge, match="over the proxy.s limit"):
        list(_reader(b"ff\r\n" + b"x" * 255 + b"\r\n0\r\n\r\n").body(("chunked", 0), limit=100))


def test_a_message_cut_short_raises_connection_closed():
    with pytest.raises(ConnectionClosed):
        list(_reader(b"abc").body(("length", 10)))
    with pytest.raises(ConnectionClosed):
        _reader(b"POST / HTTP/1.1\r\nHost").head()
    assert _reader(b"").head() is None  # closed between messages: a normal end


def test_server_text_in_an_error_is_short_printable_and_quoted_once():
    """Issue 13: a header line of 60 KB with control characters came back whole in the error."""
    from locust_mlstress.http.framing import SHOWN, shown

    line = "X-Evil" + "\x1b[2J'\"`" * 8000
    with pytest.raises(HttpError) as caught:
        parse_head(f"HTTP/1.1 200 OK\r\n{line}\r\n\r\n".encode("latin-1"), response=True)
    text = str(caught.value)
    assert text.startswith("bad header line 'X-Evil") and text.endswith("...'")
    assert text.isprintable() and text.isascii() and text.count("'") == 2
    assert len(shown(line)) == SHOWN + 5
    assert shown(b"zz\r\n") == "'zz??'" and shown({"a": 1}) == "'dict'"
