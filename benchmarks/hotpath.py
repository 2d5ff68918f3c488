"""The ML user's per-request work without the network, step by step, in CPU-µs per request.

What MLUser adds to a plain request: the next payload (kind draw, rows, body encoding), the
request's bytes (`transport.post`), classifying the canned answer (status check, JSON decode, validation), and the
`ml_request` event into the recorder. Timed on a real Locust environment with the real hook
and recorder, so the figures add up to the in-process part of the client-overhead benchmark;
`--cprofile` prints where the time goes.

    .venv/bin/python -m benchmarks.hotpath [--profile profiles/quickstart.toml] [--cprofile]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import time
from pathlib import Path

from locust_mlstress.domain.outcomes import SUCCESSES
from locust_mlstress.domain.schema import KINDS, Profile
from locust_mlstress.http.client import Origin, post, request_head
from locust_mlstress.payloads import PayloadFactory
from locust_mlstress.profile import load_profile
from locust_mlstress.quality import QualityRecorder
from locust_mlstress.users.events import MLResult, ml_events
from locust_mlstress.users.outcomes import classify, failure_message

from .generation import only
from .nginx import canned_answer

ROOT = Path(__file__).resolve().parents[1]
N = 20_000


def _steps(profile, n: int) -> dict[str, float]:
    """µs per request of each step, over n requests of the profile's mix."""
    from locust.env import Environment

    from locust_mlstress.plugin.state import state_of

    factory = PayloadFactory(profile, 1, lambda: 30.0)
    codec = factory.kit.codec
    answer = json.dumps(canned_answer(profile)).encode()
    expect = {(k, v): profile.expectation(k, v) for k in KINDS for v, _ in profile.variants(k)}
    head = request_head(
        Origin.parse("http://127.0.0.1:8080"), profile.target.path, {h.name: h.value for h in profile.target.headers}
    )
    env = Environment()
    run = state_of(env).run
    run.recorder = QualityRecorder(profile.output, 10.0, lambda: 30.0, sink=None)
    hook = ml_events(env)

    t0 = time.process_time()
    payloads = [factory.next() for _ in range(n)]
    t1 = time.process_time()
    for p in payloads:
        post(head, p.content_type, p.request_id, p.body)
    t2 = time.process_time()
    judged = []
    for p in payloads:
        outcome, predictions, reason = classify(p.kind, expect[(p.kind, p.variant)], 200, None, answer, codec, p.n)
        if outcome not in SUCCESSES:
            failure_message(outcome, reason)
        judged.append(MLResult(outcome, 200, predictions, 3.0, reason))
    t3 = time.process_time()
    for p, result in zip(payloads, judged, strict=True):
        hook.fire(payload=p, result=result, probe_of=None)
    t4 = time.process_time()
    us = 1e6 / n
    return {
        "payload": (t1 - t0) * us,
        "request": (t2 - t1) * us,
        "classify": (t3 - t2) * us,
        "event+record": (t4 - t3) * us,
        "total": (t4 - t0) * us,
    }


def measure(profile: Profile, n: int = N) -> dict[str, dict[str, float]]:
    """Best of three, for the profile's mix and for clean payloads only."""
    clean = only(profile, "clean")
    out = {}
    for label, p in (("full", profile), ("clean", clean)):
        runs = [_steps(p, n) for _ in range(3)]
        out[label] = {k: round(min(r[k] for r in runs), 2) for k in runs[0]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", type=Path, default=ROOT / "profiles" / "quickstart.toml")
    parser.add_argument("-n", type=int, default=N)
    parser.add_argument("--cprofile", action="store_true", help="profile one pass and print the top functions")
    args = parser.parse_args()
    if args.cprofile:
        profiler = cProfile.Profile()
        profiler.enable()
        _steps(load_profile(args.profile), args.n)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        return
    for label, steps in measure(load_profile(args.profile), args.n).items():
        print(f"{label:>6}: " + ", ".join(f"{k} {v:.1f} µs" for k, v in steps.items()))


if __name__ == "__main__":
    main()
