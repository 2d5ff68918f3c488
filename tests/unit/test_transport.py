"""MLUser's own HTTP/1.1 client against real sockets on 127.0.0.1: framing, keep-alive, stale
connections, the size cap, the deadline, TLS, and the request bytes a user sends.

The servers here are raw gevent StreamServers, so each test controls the exact bytes on the wire
(chunk framing, interim answers, a close right after an answer), which a WSGI server would not
let it do. The chaos modes of the reference server are covered through users in
test_chaos_transport.py.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import ssl
import subprocess
import time

import gevent
import gevent.ssl
import pytest
from gevent.event import Event
from gevent.server import StreamServer
from locust import constant
from locust.contrib.fasthttp import insecure_ssl_context_factory
from locust.env import Environment
from locust.exception import StopUser

from locust_mlstress import MLArrivalUser, MLUser, ml_events
from locust_mlstress.http import client as transport
from locust_mlstress.http.client import JOIN_BELOW, Origin, Pool
from locust_mlstress.http.framing import HttpError, Reader, parse_head, request_framing

JSON_OK = b'{"predictions": [0.25]}'


CLOSE = object()  # in an answer: close the connection after sending it


class Server:
    """A StreamServer whose handler reads each request (head and Content-Length body) and
    writes what `answer(n)` returns for the n-th request: bytes; (bytes, CLOSE) to close the
    connection after them; None to close it without answering."""

    def __init__(self, answer, **ssl_args) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.arrived = Event()  # set at each request
        self.closed = Event()  # set whenever the server closes a connection
        self.connections = 0
        self.custom = None  # a handler of its own: (socket, address) -> None
        self.server = StreamServer(("127.0.0.1", 0), self._handle, **ssl_args)
        self.server.start()
        scheme = "https" if ssl_args else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_port}"

    def _handle(self, sock, address) -> None:
        if self.custom is not None:  # (StreamServer.set_handle would skip the TLS wrapping)
            return self.custom(sock, address)
        self.connections += 1
        reader = Reader(sock)
        try:
            while (raw := reader.head()) is not None:
                head = parse_head(raw, response=False)
                body = b"".join(reader.body(request_framing(head)))
                self.requests.append(raw + body)
                self.arrived.set()
                reply = self.answer(len(self.requests))
                if reply is None:
                    return
                if isinstance(reply, tuple):
                    sock.sendall(reply[0])
                    return
                sock.sendall(reply)
        except OSError:
            pass
        finally:
            sock.close()
            self.closed.set()

    def stop(self) -> None:
        self.server.stop(timeout=1)


def ok(body: bytes = JSON_OK, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s" % (
        len(body),
        extra,
        body,
    )


def post(path: str = "/predict", body: bytes = b"{}") -> bytes:
    return b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body)


@pytest.fixture
def serve():
    servers: list[Server] = []

    def start(answer, **ssl_args) -> Server:
        servers.append(Server(answer, **ssl_args))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def pool_for(server: Server, connect_timeout: float = 2.0, insecure: bool = True) -> Pool:
    origin = Origin.parse(server.url)
    tls = None
    if origin.scheme == "https":
        tls = insecure_ssl_context_factory() if insecure else gevent.ssl.create_default_context()
    return Pool(origin, connect_timeout, tls)


def test_keep_alive_sends_every_request_on_one_connection(serve):
    server = serve(lambda n: ok())
    pool = pool_for(server)
    answers = [pool.exchange(post(), 2.0, 1 << 20) for _ in range(5)]
    assert [(a.status, a.content, a.error) for a in answers] == [(200, JSON_OK, None)] * 5
    assert answers[0].headers["content-type"] == "application/json"
    assert server.connections == 1 and len(server.requests) == 5


def test_chunked_bodies_lose_their_framing_and_trailers(serve):
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5;ext=1\r\n{"pre\r\n12\r\ndictions": [0.25]}\r\n0\r\nX-Trailer: 1\r\n\r\n'
    )
    server = serve(lambda n: chunked)
    pool = pool_for(server)
    first, second = (pool.exchange(post(), 2.0, 1 << 20) for _ in range(2))
    assert first.content == second.content == JSON_OK
    assert server.connections == 1  # the trailers were consumed: the connection stayed in step


def test_a_body_framed_by_the_close_is_read_to_the_end_and_the_connection_dropped(serve):
    server = serve(lambda n: (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + JSON_OK, CLOSE))
    pool = pool_for(server)
    answers = [pool.exchange(post(), 2.0, 1 << 20) for _ in range(2)]
    assert [(a.status, a.content) for a in answers] == [(200, JSON_OK)] * 2
    assert server.connections == 2 and not pool._idle


def test_connection_close_in_the_answer_is_honoured(serve):
    server = serve(lambda n: ok(extra=b"Connection: close\r\n"))
    pool = pool_for(server)
    for _ in range(3):
        assert pool.exchange(post(), 2.0, 1 << 20).status == 200
    assert server.connections == 3


def test_an_idle_connection_the_server_closed_is_replaced_and_no_request_is_sent_twice(serve):
    """The server answers, then drops the connection without saying so (a keep-alive timeout):
    the next request must go on a new connection, once."""
    server = serve(lambda n: (ok(), CLOSE) if n == 1 else ok())
    pool = pool_for(server)
    first = pool.exchange(post(), 2.0, 1 << 20)
    assert server.closed.wait(2)
    assert len(pool._idle) == 1  # the answer did not say it would close: kept, and now stale
    second = pool.exchange(post(), 2.0, 1 << 20)
    assert (first.status, second.status, second.error) == (200, 200, None)
    assert len(server.requests) == 2 and server.connections == 2


def test_a_request_the_server_drops_unanswered_is_a_failure_not_a_retry(serve):
    server = serve(lambda n: ok() if n == 1 else None)
    pool = pool_for(server)
    assert pool.exchange(post(), 2.0, 1 << 20).status == 200
    dropped = pool.exchange(post(), 2.0, 1 << 20)
    assert dropped.status == 0 and "closed the connection without answering" in str(dropped.error)
    assert len(server.requests) == 2  # sent once


@pytest.mark.parametrize("size", [10, JOIN_BELOW - 1, JOIN_BELOW, 3 << 20])
def test_a_request_goes_out_whole_in_one_piece_or_two(serve, size):
    server = serve(lambda n: ok())
    origin = Origin.parse(server.url)
    body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    request = transport.post(transport.request_head(origin, "/p", {"X-A": "1"}), "application/json", "id-1", body)
    assert isinstance(request, bytes) == (size < JOIN_BELOW)
    answer = pool_for(server).exchange(request, 5.0, 1 << 20)
    assert answer.status == 200
    expected = (
        b"POST /p HTTP/1.1\r\nHost: %s\r\nX-A: 1\r\nContent-Type: application/json\r\nX-Request-ID: id-1\r\n"
        b"Content-Length: %d\r\n\r\n" % (origin.netloc.encode(), size)
    )
    assert server.requests == [expected + body]


@pytest.mark.parametrize("pieces", [False, True], ids=["joined", "head-then-body"])
def test_an_answer_sent_before_the_whole_request_was_read_is_the_answer(serve, pieces):
    """A server refusing a body it will not take (413) may answer after the head and close;
    the client is still sending, and its send fails: the 413 is what it must report."""

    def refuse_early(sock, _address):
        Reader(sock).head()
        sock.sendall(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        sock.close()

    server = serve(lambda n: None)
    server.custom = refuse_early
    pool = pool_for(server)
    body = b"x" * (8 << 20)
    request = (post(body=body)[: -len(body)], body) if pieces else post(body=body)
    answer = pool.exchange(request, 5.0, 1 << 20)
    assert (answer.status, answer.content, answer.error) == (413, b"", None)
    assert not pool._idle


def test_interim_answers_are_skipped(serve):
    server = serve(lambda n: b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n" + ok())
    answer = pool_for(server).exchange(post(), 2.0, 1 << 20)
    assert (answer.status, answer.content) == (200, JSON_OK)


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "bad start line"),
        (b"HTTP/2 200\r\n\r\n", "not HTTP/1.x"),
        (b"HTTP/1.1 2x0 OK\r\n\r\n", "bad status"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 12, 13\r\n\r\n", "bad Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\n", "bad Content-Length"),  # '²' is a digit to str
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", "bad chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-2\r\n", "bad chunk size"),
    ],
    ids=[
        "not-http",
        "http2",
        "bad-status",
        "bad-length",
        "superscript-length",
        "bad-chunk",
        "0x-chunk",
        "negative-chunk",
    ],
)
def test_an_answer_that_breaks_http_is_an_error_not_an_exception(serve, reply, message):
    server = serve(lambda n: reply)
    answer = pool_for(server).exchange(post(), 2.0, 1 << 20)
    assert isinstance(answer.error, HttpError) and message in str(answer.error)
    assert answer.content is None


@pytest.mark.parametrize(
    ("reply", "announced"),
    [
        (ok(b"x" * 5000), " (5000 bytes announced)"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"400\r\n" + b"x" * 1024 + b"\r\n" * 1, ""),
    ],
    ids=["announced", "chunked"],
)
def test_a_body_over_the_cap_is_refused_and_the_connection_not_reused(serve, reply, announced):
    server = serve(lambda n: reply)
    pool = pool_for(server)
    answer = pool.exchange(post(), 2.0, 1000)
    assert answer.status == 200 and answer.content is None
    assert str(answer.error) == f"body exceeds the limit of 1000 bytes{announced} (max_response_bytes)"
    assert not pool._idle


def test_deadlines_cover_the_whole_exchange(serve):
    hang = serve(lambda n: (gevent.sleep(5), ok())[1])
    started = time.perf_counter()
    answer = pool_for(hang).exchange(post(), 0.3, 1 << 20)
    assert time.perf_counter() - started < 1.0
    assert answer.status == 0 and str(answer.error) == "timed out: no answer within the 0.3 s timeout"

    def drip(sock, _address):
        Reader(sock).head()
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        for _ in range(100):  # one byte every 50 ms: every read is quick, the whole is not
            sock.sendall(b" ")
            gevent.sleep(0.05)

    dripping = serve(lambda n: None)
    dripping.custom = drip
    started = time.perf_counter()
    answer = pool_for(dripping).exchange(post(), 0.3, 1 << 20)
    assert time.perf_counter() - started < 1.0
    assert answer.status == 200 and str(answer.error) == "body not complete within the 0.3 s timeout"

    def drip_head(sock, _address):
        Reader(sock).head()
        for byte in b"HTTP/1.1 200 OK\r\nX-Padding: " + b"x" * 100:
            sock.sendall(bytes([byte]))
            gevent.sleep(0.05)

    dripping.custom = drip_head
    started = time.perf_counter()
    answer = pool_for(dripping).exchange(post(), 0.3, 1 << 20)
    assert time.perf_counter() - started < 1.0
    assert answer.status == 0 and str(answer.error) == "timed out: no answer within the 0.3 s timeout"


def test_a_refused_connection_is_an_error(serve):
    server = serve(lambda n: ok())
    server.stop()
    answer = pool_for(server).exchange(post(), 1.0, 1 << 20)
    assert answer.status == 0 and isinstance(answer.error, ConnectionRefusedError)


def test_a_user_stopped_mid_exchange_leaves_no_connection_behind(serve):
    server = serve(lambda n: (gevent.sleep(5), ok())[1])
    pool = pool_for(server)
    greenlet = gevent.spawn(pool.exchange, post(), 10.0, 1 << 20)
    assert server.arrived.wait(2)  # the request reached the server: the exchange is waiting
    greenlet.kill()
    assert greenlet.dead and not pool._idle


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.fail("openssl (Debian's package) is needed to make the test certificate")
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return {"ssl_context": context}


def test_https_with_a_self_signed_certificate(serve, certificate):
    server = serve(lambda n: ok(), **certificate)
    pool = pool_for(server)
    answers = [pool.exchange(post(), 2.0, 1 << 20) for _ in range(3)]
    assert [(a.status, a.content) for a in answers] == [(200, JSON_OK)] * 3
    assert server.connections == 1  # kept alive over TLS too (no stray bytes made it look stale)
    checked = pool_for(server, insecure=False).exchange(post(), 2.0, 1 << 20)
    assert checked.status == 0 and "CERTIFICATE_VERIFY_FAILED" in str(checked.error)


def test_over_tls_a_hang_and_an_early_refusal_read_as_over_tcp(serve, certificate):
    hang = serve(lambda n: (gevent.sleep(5), ok())[1], **certificate)
    answer = pool_for(hang).exchange(post(), 0.3, 1 << 20)
    assert answer.status == 0 and str(answer.error) == "timed out: no answer within the 0.3 s timeout"

    def refuse_early(sock, _address):
        Reader(sock).head()
        sock.sendall(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        # A lingering close, as nginx's: closing at once with the body unread sends a reset,
        # which over TLS can overtake the answer's record (over TCP the answer is still read).
        gevent.sleep(0.2)
        sock.close()

    refusing = serve(lambda n: None, **certificate)
    refusing.custom = refuse_early
    body = b"x" * (8 << 20)
    answer = pool_for(refusing).exchange((post(body=body)[: -len(body)], body), 5.0, 1 << 20)
    assert (answer.status, answer.error) == (413, None)


def test_sending_is_bounded_by_the_exchange_deadline_not_by_an_earlier_wait(serve):
    """A server that takes its time to read a big body: the send may use what is left of the
    timeout, not the connect timeout nor the little that was left of a previous exchange."""

    def slow_reader(sock, _address):
        reader = Reader(sock)
        while (raw := reader.head()) is not None:
            gevent.sleep(0.3)
            b"".join(reader.body(request_framing(parse_head(raw, response=False))))
            sock.sendall(ok())

    server = serve(lambda n: None)
    server.custom = slow_reader
    pool = pool_for(server, connect_timeout=0.1)
    body = b"x" * (8 << 20)
    answers = [pool.exchange((post(body=body)[: -len(body)], body), 5.0, 1 << 20) for _ in range(2)]
    assert [(a.status, a.error) for a in answers] == [(200, None)] * 2


def test_a_send_past_the_deadline_says_so(serve):
    def never_reads(sock, _address):
        Reader(sock).head()
        gevent.sleep(5)

    server = serve(lambda n: None)
    server.custom = never_reads
    body = b"x" * (64 << 20)  # more than the socket buffers hold
    answer = pool_for(server).exchange((post(body=body)[: -len(body)], body), 0.3, 1 << 20)
    assert answer.status == 0 and str(answer.error) == "timed out: request not sent within the 0.3 s timeout"


def test_credentials_in_the_host_become_basic_auth_and_stay_out_of_host_and_url(serve):
    server = serve(lambda n: ok())
    origin = Origin.parse(server.url.replace("http://", "http://ml%20user:s3cret@") + "/base")
    assert origin.netloc == server.url.removeprefix("http://") and "s3cret" not in origin.url("/p")
    pool = Pool(origin, 2.0)
    assert (
        pool.exchange(transport.post(transport.request_head(origin, "/p", {}), "a/b", "i", b"{}"), 2.0, 99).status
        == 200
    )
    head = server.requests[0].decode().split("\r\n")
    assert head[0] == "POST /base/p HTTP/1.1"
    assert f"Host: {origin.netloc}" in head and "Authorization: Basic bWwgdXNlcjpzM2NyZXQ=" in head
    own = transport.request_head(origin, "/p", {"host": "model.example", "authorization": "Bearer t"}).decode()
    assert own.count("ost:") == 1 and "host: model.example" in own and own.count("uthorization:") == 1


def ml_user(profile, url: str, base: type = MLUser):
    user_class = type("Wired", (base,), {"profile": profile, "host": url, "wait_time": constant(0)})
    environment = Environment(user_classes=[user_class], host=url)
    seen: list = []
    ml_events(environment).add_listener(lambda payload, result, **_kw: seen.append((payload, result)))
    return user_class(environment), seen


def test_an_ml_request_carries_its_headers_once_under_the_hosts_base_path(serve, quickstart):
    profile = dataclasses.replace(
        quickstart,
        target=dataclasses.replace(
            quickstart.target,
            headers=(*quickstart.target.headers, dataclasses.replace(quickstart.target.headers[0], name="user-agent",
                                                                     value="mine/1")),
        ),
    )  # fmt: skip
    server = serve(lambda n: ok())
    user, seen = ml_user(profile, server.url + "/base/")
    user.on_start()
    user.predict()
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == f"POST /base{profile.target.path} HTTP/1.1"
    headers = [tuple(line.split(": ", 1)) for line in lines[1:]]
    names = [name.lower() for name, _ in headers]
    assert len(names) == len(set(names)), names
    got = {name.lower(): value for name, value in headers}
    payload, result = seen[0]
    assert got["host"] == server.url.removeprefix("http://")
    assert got["user-agent"] == "mine/1" and got["x-client"] == "locust-mlstress"
    assert got["x-request-id"] == payload.request_id and got["content-type"] == payload.content_type
    assert int(got["content-length"]) == len(body) and body == payload.body
    assert result.outcome in ("ok", "accepted_malformed", "undecodable")


@pytest.mark.parametrize("base", [MLUser, MLArrivalUser])
def test_a_host_that_is_not_a_url_stops_the_user_with_a_message(quickstart, caplog, base):
    host = f"127.0.0.{1 + (base is MLArrivalUser)}:8080"  # each message is logged once per process
    user, _ = ml_user(quickstart, host, base)
    with caplog.at_level(logging.ERROR, logger="locust_mlstress"), pytest.raises(StopUser):
        user.on_start()
    assert f"host '{host}' is not an http:// or https:// URL" in caplog.text
    user.on_stop()  # Locust calls it after a StopUser from on_start: nothing to close, no error
