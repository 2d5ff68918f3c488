"""A loopback target that is never the bottleneck: Debian's nginx answering canned predictions.

The client-overhead benchmark needs a server whose cost per request is far below the client's,
so that the client process saturates first. nginx's `return` answers a POST from memory without
touching a file: the same canned answer whatever the body, with a body-size limit as a real
server has (larger bodies get nginx's own 413). Everything nginx writes (pid, logs, temp
files) lives in a private temp dir; it listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from locust_mlstress.domain.schema import Profile

BODY_LIMIT = "1m"  # like a serving stack's default limit: the 2 MiB oversized body gets a 413


def nginx_binary() -> str:
    """nginx's path, installing Debian's package first if it is missing (root, or sudo)."""
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    print("nginx not found: installing Debian's nginx-light with apt-get", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run([*prefix, "apt-get", "update", "-q"], check=True, env=env)
    subprocess.run([*prefix, "apt-get", "install", "-y", "-q", "nginx-light"], check=True, env=env)
    path = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(path, os.X_OK):
        raise SystemExit("nginx is still missing after apt-get install; install it and rerun")
    return path


def canned_answer(profile: Profile) -> dict:
    """One instance's answer in the profile's protocol, as the reference server shapes it."""
    kind, k = profile.output.type, len(profile.output.classes)
    value: object = 0.25 if kind == "binary" else [round(1 / k, 6)] * k if kind == "multiclass" else 42.0
    if profile.target.codec != "v2":
        return {"predictions": [value]}
    name = profile.target.v2_outputs[0] if profile.target.v2_outputs else "output-0"
    data = value if isinstance(value, list) else [value]
    return {
        "model_name": profile.target.model_name or "model",
        "outputs": [{"name": name, "shape": [1, len(data)], "datatype": "FP64", "data": data}],
    }


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(root: Path, port: int, answers: dict[str, dict], workers: int = 1) -> str:
    # What nginx can judge without parsing: a wrong Content-Type (415) and an empty body (400).
    locations = "\n".join(
        f"""    location = {path} {{
      default_type application/json;
      if ($content_type !~* "^application/json") {{ return 415 '{{"error": "unsupported media type"}}'; }}
      if ($http_content_length = "0") {{ return 400 '{{"error": "empty body"}}'; }}
      return 200 {_quote(json.dumps(body))};
    }}"""
        for path, body in answers.items()
    )
    return f"""worker_processes {workers};
pid {root}/nginx.pid;
error_log {root}/error.log error;
daemon off;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fastcgi;
  uwsgi_temp_path {root}/uwsgi;
  scgi_temp_path {root}/scgi;
  client_max_body_size {BODY_LIMIT};
  client_body_buffer_size {BODY_LIMIT};
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  server {{
    listen 127.0.0.1:{port} reuseport;
{locations}
    location / {{ return 404; }}
  }}
}}
"""


@dataclass
class CannedNginx:
    """`with CannedNginx({path: answer}) as host:` runs nginx for the block and stops it after."""

    answers: dict[str, dict]
    workers: int = 1
    port: int = 0
    root: Path | None = None
    proc: subprocess.Popen | None = None

    def __enter__(self) -> str:
        binary = nginx_binary()
        self.root = Path(tempfile.mkdtemp(prefix="mlstress-nginx-"))
        self.port = free_port()
        conf = self.root / "nginx.conf"
        conf.write_text(config(self.root, self.port, self.answers, self.workers))
        self.proc = subprocess.Popen(
            [binary, "-c", str(conf), "-p", str(self.root), "-e", str(self.root / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"nginx exited at start: {self.proc.stderr.read().decode(errors='replace')}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            self.__exit__()
            raise SystemExit("nginx did not start listening within 10 s")
        return f"http://127.0.0.1:{self.port}"

    def processes(self) -> list:
        """The master and its workers, as psutil processes, for their CPU time."""
        import psutil

        master = psutil.Process(self.proc.pid)
        return [master, *master.children()]

    def __exit__(self, *_exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # nginx's fast shutdown; the workers go with the master
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
