"""`mlstress proxy`: run the fault proxy between Locust and a target on 127.0.0.1 (docs/faults.md).

    mlstress proxy --listen 127.0.0.1:8081 --upstream http://127.0.0.1:8080 --latency-ms 50 --reset 0.05
    mlstress proxy --upstream http://127.0.0.1:8080 --faults faults.toml --profile scenario.toml

Prints `listening on http://127.0.0.1:PORT` once it accepts connections, the stage changes as
they happen (stderr), and at SIGINT/SIGTERM the count of every fault it injected, per stage.
"""

from __future__ import annotations

import argparse
import signal
import sys

from locust_mlstress.errors import ProfileError
from locust_mlstress.servers.children import LISTENING
from locust_mlstress.servers.faultproxy.config import flag_name, load_plan, parse_listen, parse_upstream

# fault field -> (type, help); the flags set the [faults] table (every stage), over a --faults file's
FAULT_FLAGS: dict[str, tuple[type, str]] = {
    "latency_ms": (float, "fixed latency added before each answer is relayed, in ms"),
    "jitter_ms": (float, "random latency on top: ± this (uniform) or this standard deviation (normal), in ms"),
    "jitter": (str, "jitter distribution: uniform or normal"),
    "bandwidth": (float, "bytes per second per connection and direction (0: unlimited)"),
    "bandwidth_on": (str, "which direction the bandwidth limit slows: both, response or request"),
    "reset": (float, "share of requests answered by a TCP reset (0..1)"),
    "blackhole": (float, "share of requests never answered (0..1)"),
    "blackhole_hold_s": (float, "seconds a black-holed connection is held before the proxy closes it"),
    "down_status": (int, "with --down: answer this status (e.g. 503) instead of resetting"),
}


def build_parser(prog: str = "mlstress proxy") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT on loopback (0: any port) [%(default)s]")
    parser.add_argument("--upstream", required=True, help="the target, http://127.0.0.1:PORT")
    parser.add_argument("--faults", help="fault file (TOML): faults per stage, seed, clock (docs/faults.md)")
    parser.add_argument("--profile", help="traffic profile whose [load] plan names the stages")
    parser.add_argument("--seed", type=int, help="seed of the draws (default: the fault file's, else 0)")
    parser.add_argument("--clock", help="stage time counts from the first request (first-request) or from listen")
    parser.add_argument("--counts-json", help="write the fault counts to this JSON file at exit")
    faults = parser.add_argument_group("faults for the whole run (over the fault file's [faults])")
    for name, (kind, text) in FAULT_FLAGS.items():
        faults.add_argument(flag_name(name), dest=name, type=kind, help=text)
    faults.add_argument("--down", action="store_const", const=True, help="the target is down: reset every request")
    return parser


def main(argv: list[str] | None = None, prog: str = "mlstress proxy") -> int:
    args = build_parser(prog).parse_args(argv)
    try:
        listen = parse_listen(args.listen)
        upstream = parse_upstream(args.upstream)
        flags = {name: getattr(args, name) for name in (*FAULT_FLAGS, "down")}
        plan = load_plan(args.faults, flags=flags, profile=args.profile, seed=args.seed, clock=args.clock)
    except ProfileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import gevent
    import gevent.event

    from locust_mlstress.servers.faultproxy.server import FaultProxy, format_counts, write_counts  # after the checks

    proxy = FaultProxy(upstream, plan, listen)
    try:
        proxy.start()
    except OSError as exc:
        print(f"error: --listen: cannot listen on {args.listen}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    for line in plan.describe():
        print(f"fault proxy: {line}", file=sys.stderr)
    print(f"fault proxy: forwarding to http://{upstream[0]}:{upstream[1]}", file=sys.stderr)
    print(f"{LISTENING}{proxy.url}", flush=True)
    stop = gevent.event.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(signum, stop.set)
    stop.wait()
    proxy.stop()
    report = proxy.report()
    print(format_counts(report), flush=True)
    if args.counts_json:
        write_counts(report, args.counts_json)
    return 0
