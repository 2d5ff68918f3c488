"""The bandwidth limit's sender: every byte arrives, in order, and no throttled message may hold
its connection beyond the proxy's bound."""

import socket

import pytest

from locust_mlstress.servers.faultproxy.server import MAX_PACED_S, _send


def _received(pieces: list[bytes], rate: float | None) -> bytes:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        _send(ours, pieces, rate)
        ours.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := theirs.recv(65536):
            data += chunk
        return data


def test_paced_pieces_arrive_whole_and_in_order():
    pieces = [bytes([i]) * (700 + i) for i in range(5)]
    assert _received(pieces, rate=2_000_000) == b"".join(pieces)
    assert _received(pieces, rate=None) == b"".join(pieces)


def test_a_message_of_known_size_that_would_take_longer_than_the_bound_is_refused_before_it_waits():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        with pytest.raises(TimeoutError, match=f"would take over {MAX_PACED_S:g} s"):
            _send(ours, [b"x" * 10_000], rate=10.0, size=10_000)  # 1,000 s at 10 B/s
        ours.shutdown(socket.SHUT_WR)
        assert theirs.recv(1) == b""  # the end of the stream, with nothing before it
