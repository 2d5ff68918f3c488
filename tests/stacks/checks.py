"""What every stack test asserts about a run, written once.

Each check reads the run's own files (ml_summary.json, traces.jsonl: every request is traced)
and compares them with something the plugin did not compute: the model's offline predictions,
or the server's answer to the same bytes sent directly with requests.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from locust_mlstress.metrics.calibration import calibration
from locust_mlstress.payloads import PayloadFactory
from locust_mlstress.payloads.kit import kit_for
from locust_mlstress.profile import load_profile
from locust_mlstress.users.outcomes import classify

from .harness import LocustRun, bootstrap, offline, post


def clean_ok_share(run: LocustRun) -> tuple[float, dict]:
    clean = run.summary["kinds"]["clean"]
    return clean["outcomes"].get("ok", 0) / clean["requests"], clean["outcomes"]


def assert_clean_ok(run: LocustRun, at_least: float = 0.99) -> float:
    share, outcomes = clean_ok_share(run)
    assert run.summary["kinds"]["clean"]["requests"] >= 50, f"too few clean requests to judge: {outcomes}"
    assert share >= at_least, f"clean ok share {share:.3f} < {at_least}: {outcomes}; failures: {failures(run)}"
    return share


def failures(run: LocustRun, kind: str = "clean") -> Counter:
    return Counter((t["status"], t["reason"]) for t in run.traces() if t["kind"] == kind and t["outcome"] != "ok")


@dataclass
class CalibrationCheck:
    ece: float
    brier: float
    n: int
    interval: dict
    percentile: dict  # where the plugin's figure sits among the bootstrap draws (0..1)
    same_rows: dict  # the offline figures on exactly the rows the run sent
    max_gap: float  # largest distance from a served prediction to the nearest offline prediction


def assert_calibration_offline(run: LocustRun, data: Path, tolerance: float = 1e-5) -> CalibrationCheck:
    """The plugin's clean ECE and Brier fall inside the 99% bootstrap interval of the model's
    offline figures at the run's n (what the brief asks). The draws are seeded, so a run sends
    nearly the same rows each time and lands at nearly the same place in that interval; the exact
    checks below do not depend on that luck: every clean prediction the plugin decoded is one the
    model makes offline for some row (within `tolerance`: FP32 inputs move the 8th digit), that
    row's label is the label the plugin scored it against, and the offline ECE and Brier of exactly
    those rows equal the plugin's."""
    clean = run.summary["kinds"]["clean"]
    cal = clean["calibration"]
    assert cal is not None, f"no calibration for clean traffic: {clean.get('calibration_reason')}"
    assert clean.get("answers") == "probabilities", clean.get("answers")
    p, y = offline(data)
    ok = [t for t in run.traces() if t["kind"] == "clean" and t["outcome"] == "ok"]
    served = np.array([q for t in ok for q in t["predictions"]], dtype=np.float64)
    labels = np.array([v for t in ok for v in t["labels"]], dtype=np.float64)
    assert len(served) == cal["n"], f"{len(served)} traced clean predictions, calibration n {cal['n']}"
    distance = np.abs(served[:, None] - p[None, :])
    rows, gaps = distance.argmin(axis=1), distance.min(axis=1)
    assert gaps.max() <= tolerance, f"a clean prediction is {gaps.max():.2e} away from every offline prediction"
    assert (y[rows] == labels).all(), f"{int((y[rows] != labels).sum())} clean rows scored against another label"
    same = calibration(y[rows], p[rows])
    assert abs(same.ece - cal["ece"]) <= 0.005, f"ECE {cal['ece']:.5f}, offline on the same rows {same.ece:.5f}"
    assert abs(same.brier - cal["brier"]) <= 1e-4, f"Brier {cal['brier']:.6f}, offline, same rows {same.brier:.6f}"
    interval = bootstrap(p, y, cal["n"])
    lo, hi = interval["ece"]
    assert lo <= cal["ece"] <= hi, f"ECE {cal['ece']:.4f} outside the offline 99% interval [{lo:.4f}, {hi:.4f}]"
    lo, hi = interval["brier"]
    assert lo <= cal["brier"] <= hi, f"Brier {cal['brier']:.4f} outside the offline 99% interval [{lo:.4f}, {hi:.4f}]"
    return CalibrationCheck(
        cal["ece"],
        cal["brier"],
        cal["n"],
        interval,
        {"ece": interval["ece_rank"](cal["ece"]), "brier": interval["brier_rank"](cal["brier"])},
        {"ece": same.ece, "brier": same.brier},
        float(gaps.max()),
    )


def assert_labels_flagged(run: LocustRun) -> dict:
    """Label answers: no ECE, a reason that names the fix, accuracy instead."""
    clean = run.summary["kinds"]["clean"]
    assert clean.get("answers") == "labels", f"answers: {clean.get('answers')!r} (expected 'labels')"
    assert clean["calibration"] is None, f"calibration computed from labels: {clean['calibration']}"
    reason = clean.get("calibration_reason") or ""
    assert "label" in reason.lower() and "—" in reason, f"calibration_reason {reason!r} does not say why and how to fix"
    acc = clean.get("accuracy")
    assert acc and acc["n"] == clean["requests"] and 0.8 <= acc["accuracy"] <= 1.0, acc
    return clean


@dataclass
class Replay:
    variant: str
    run_statuses: Counter
    direct_statuses: Counter
    run_outcomes: Counter
    direct_outcomes: Counter


def replay_malformed(run: LocustRun, profile_path: Path, url: str) -> dict[str, Replay]:
    """Rebuild every malformed request of the run from its request id (seed-user-sequence: the
    user's PayloadFactory gives the same bytes at the same sequence number), send it directly with
    requests, and set the server's status and its outcome beside what the run recorded."""
    profile = load_profile(profile_path)
    kit = kit_for(profile)
    wanted: dict[int, dict[int, dict]] = defaultdict(dict)
    for t in run.traces():
        if t["kind"] == "malformed":
            _seed, user, seq = (int(x, 16) for x in t["request_id"].split("-"))
            wanted[user][seq] = t
    out: dict[str, Replay] = {}
    for user, by_seq in wanted.items():
        factory = PayloadFactory(profile, user, clock=lambda: 0.0)
        for seq in range(1, max(by_seq) + 1):
            payload = factory.next()
            trace = by_seq.get(seq)
            if trace is None:
                continue
            assert payload.request_id == trace["request_id"] and payload.variant == trace["variant"], (
                f"rebuilt {payload.request_id}/{payload.variant}, the run sent {trace['request_id']}/{trace['variant']}"
            )
            r = post(url, payload.body, payload.content_type)
            expectation = profile.expectation("malformed", payload.variant)
            outcome, _, _ = classify("malformed", expectation, r.status_code, None, r.content, kit.codec, payload.n)
            rep = out.setdefault(payload.variant, Replay(payload.variant, Counter(), Counter(), Counter(), Counter()))
            rep.run_statuses[trace["status"]] += 1
            rep.direct_statuses[r.status_code] += 1
            rep.run_outcomes[trace["outcome"]] += 1
            rep.direct_outcomes[str(outcome)] += 1
    return out


def assert_malformed_match(run: LocustRun, profile_path: Path, url: str) -> dict[str, Replay]:
    replays = replay_malformed(run, profile_path, url)
    summary = run.summary["kinds"]["malformed"]["variants"]
    assert replays, "the run sent no malformed requests"
    assert set(replays) == set(summary), f"traced variants {sorted(replays)} != summary variants {sorted(summary)}"
    bad = []
    for name, rep in sorted(replays.items()):
        if rep.run_statuses != rep.direct_statuses or rep.run_outcomes != rep.direct_outcomes:
            bad.append(f"{name}: run {dict(rep.run_statuses)} {dict(rep.run_outcomes)}, "
                       f"direct {dict(rep.direct_statuses)} {dict(rep.direct_outcomes)}")  # fmt: skip
        assert Counter(summary[name]) == rep.run_outcomes, f"{name}: summary {summary[name]} != traces"
    assert not bad, "malformed outcomes differ from a direct send of the same bytes:\n" + "\n".join(bad)
    return replays


def outcome_table(replays: dict[str, Replay]) -> str:
    """One line per variant: the statuses and outcomes, for the report."""
    return "\n".join(
        f"{name:26} {' '.join(f'{s}x{n}' for s, n in sorted(r.run_statuses.items()))}  "
        f"{' '.join(f'{o} {n}' for o, n in sorted(r.run_outcomes.items()))}"
        for name, r in sorted(replays.items())
    )
