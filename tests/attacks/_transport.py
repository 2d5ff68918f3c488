"""Hostile and TLS servers for the transport attacks, each in a process of its own.

Why a separate process: a server in the client's own process shares its event loop and its
scheduling, which hid the TLS 1.3 session-ticket bug (issue 13, defect 1) from the unit tests.
Run as `python -m tests.attacks._transport MODE [CERT KEY]`; the first line on stdout is the
port it listens on (127.0.0.1, a free port). Modes:

- `tls`: TLS 1.3 with session tickets on (Python's default), reads each request's whole body,
  then answers a valid KServe v1 prediction.
- `encoding`: a different random Content-Encoding on every answer.
- `v2names`: a v2 answer whose only output has a different random name (and no data) each time.
- `status`: a different random status line (garbage after `HTTP/1.1 `) each time.
- `unknown`: a fixed unknown Content-Encoding (`x-mystery`) on a valid answer.
- `bomb`: a gzip body that inflates to 64 MiB of zeros (eight times the default 8 MiB cap).
- `superscript`: the status line `HTTP/1.1 ²²² OK` (digits to `str.isdigit()`, not to `int()`).
"""

from __future__ import annotations

import gzip
import json
import os
import random
import socket
import ssl
import string
import subprocess
import sys
import threading
from pathlib import Path

PREDICTION = b'{"predictions": [0.5]}'
BOMB_SIZE = 64 << 20


def _answer(mode: str, n: int, rng: random.Random, bomb: bytes) -> bytes:
    """The whole response for one request of `n` instances."""
    body = json.dumps({"predictions": [0.5] * n}).encode()
    extra = ""
    status = "200 OK"
    if mode == "encoding":
        token = "".join(rng.choices(string.ascii_letters + string.digits + "-_.", k=rng.randint(8, 2000)))
        extra = f"Content-Encoding: {token}\r\n"
    elif mode == "unknown":
        extra = "Content-Encoding: x-mystery\r\n"
    elif mode == "v2names":
        name = "".join(rng.choices(string.printable, k=rng.randint(8, 5000)))
        body = json.dumps({"outputs": [{"name": name, "datatype": "FP64", "shape": [n]}]}).encode()
    elif mode == "status":
        status = "".join(rng.choices(string.ascii_letters + string.digits + "²³ !#", k=rng.randint(3, 60)))
    elif mode == "superscript":
        status = "\u00b2\u00b2\u00b2 OK"
    elif mode == "bomb":
        body = bomb
        extra = "Content-Encoding: gzip\r\n"
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}Content-Length: {len(body)}\r\n\r\n"
    return head.encode("latin-1") + body


def _serve(conn: socket.socket, mode: str, bomb: bytes) -> None:
    """Keep-alive: requests one after another until the client closes."""
    rng = random.Random()
    buffer = b""
    try:
        while True:
            while b"\r\n\r\n" not in buffer:
                data = conn.recv(1 << 16)
                if not data:
                    return
                buffer += data
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(buffer) < length:  # the whole body before any answer
                data = conn.recv(1 << 20)
                if not data:
                    return
                buffer += data
            body, buffer = buffer[:length], buffer[length:]
            try:
                n = len(json.loads(body)["instances"])
            except Exception:
                n = 1
            conn.sendall(_answer(mode, n, rng, bomb))
    except (OSError, ssl.SSLError):
        return
    finally:
        conn.close()


def main() -> None:
    mode = sys.argv[1]
    context = None
    if mode == "tls":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_3  # tickets after the handshake: the attack
        context.load_cert_chain(sys.argv[2], sys.argv[3])
    bomb = gzip.compress(bytes(BOMB_SIZE), 9) if mode == "bomb" else b""
    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if context is not None:
            try:
                conn = context.wrap_socket(conn, server_side=True)
            except (OSError, ssl.SSLError):
                conn.close()
                continue
        threading.Thread(target=_serve, args=(conn, mode, bomb), daemon=True).start()


class Server:
    """`with Server("encoding") as s: s.url` — the mode's server in its own process."""

    def __init__(self, mode: str, *args: str) -> None:
        self.mode, self.args = mode, args

    def __enter__(self) -> Server:
        root = Path(__file__).resolve().parents[2]
        env = dict(os.environ, PYTHONPATH=str(root))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.attacks._transport", self.mode, *self.args],
            stdout=subprocess.PIPE, text=True, cwd=root, env=env,
        )  # fmt: skip
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            self.proc.kill()
            raise RuntimeError(f"the {self.mode} server did not start: {line!r}")
        self.port = int(line)
        scheme = "https" if self.mode == "tls" else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1, made with the `openssl` CLI (the `cryptography`
    package is not a dependency)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


if __name__ == "__main__":
    main()
