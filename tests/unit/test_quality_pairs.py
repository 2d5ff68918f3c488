import json
import random

import pytest

from locust_mlstress.quality.kindstats import KindStats
from locust_mlstress.quality.pairs import PairStats, version_figures


def _versions() -> dict:
    empty = version_figures(KindStats("binary", 0), None, "no baseline in this test")
    return {"champion": empty, "challenger": empty}


OUT = ["ok", "rejected", "timeout", "server_error"]


def _stream(seed: int, n: int):
    rng = random.Random(seed)
    for _ in range(n):
        a, b = rng.choice(OUT), rng.choice(OUT)
        pa = [rng.random() for _ in range(2)] if a == "ok" else None
        pb = [rng.random() for _ in range(2)] if b == "ok" else None
        yield (rng.choice("xyz"), a, b, pa, pb, rng.uniform(1, 50), rng.uniform(1, 50), [rng.randint(0, 1)] * 2)


def _record(s: PairStats, rows) -> None:
    for v, a, b, pa, pb, ma, mb, y in rows:
        s.record(v, a, b, pa, pb, ma, mb, y, "binary", 0.0)


def test_identical_predictions() -> None:
    s = PairStats()
    for i in range(200):
        p = [i / 200]
        s.record("x", "ok", "ok", p, p, 5.0, 5.0, None, "binary", 0.0)
    f = s.figures(_versions())
    assert f["disagreement"] == 0 and f["regressions"] == 0 and f["mean_abs_diff"] == 0
    assert f["mcnemar_p"] is None


def test_known_flips() -> None:
    s = PairStats()
    for i in range(100):
        a, b = [0.9], [0.1 if i % 10 == 0 else 0.8]
        s.record("x", "ok", "timeout" if i < 7 else "ok", a, b, 1.0, 2.0, [1], "binary", 0.0)
    f = s.figures(_versions())
    assert f["n_compared"] == 100 and f["disagreement"] == pytest.approx(0.10)
    assert f["regressions"] == 7 and f["transitions"]["ok->timeout"] == 7
    assert f["accuracy_delta"]["value"] == pytest.approx(-0.1)  # 10 instances only the champion got right
    low, high = f["accuracy_delta"]["ci"]
    assert low < -0.1 < high < 0


def test_merge_equals_single() -> None:
    rows = list(_stream(15, 4000))
    one, left, right = PairStats(), PairStats(), PairStats()
    _record(one, rows)
    _record(left, rows[:1700])
    _record(right, rows[1700:])
    merged = PairStats.from_wire(json.loads(json.dumps(left.to_wire())))
    merged.merge(PairStats.from_wire(right.to_wire()))
    a, b = one.figures(_versions()), merged.figures(_versions())
    assert a.pop("mean_abs_diff") == pytest.approx(b.pop("mean_abs_diff"), rel=1e-12)
    assert a == b


def _plain(x) -> bool:
    if isinstance(x, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in x.items())
    if isinstance(x, list):
        return all(_plain(v) for v in x)
    return type(x) in (int, float, str)


def test_wire_plain_and_bounded() -> None:
    s = PairStats()
    _record(s, _stream(7, 100_000))
    w = s.to_wire()
    assert _plain(w)
    text = json.dumps(w)
    assert json.loads(text) == w
    small = PairStats()
    _record(small, _stream(7, 10_000))
    small_size = len(json.dumps(small.to_wire()))
    print("wire bytes: 10k pairs", small_size, "100k pairs", len(text))
    # the size follows the latency span (0.5%-wide log bins), not the count
    assert len(text) < 1.5 * small_size and len(text) < 40_000


def test_a_rolled_multiclass_answer_disagrees_and_moves_by_its_largest_class_change() -> None:
    s = PairStats()
    champion = [0.7, 0.2, 0.1]
    rolled = [0.1, 0.7, 0.2]  # what the reference challenger's flip does: same top value, next class
    s.record("x", "ok", "ok", [champion, champion], [rolled, champion], 1.0, 1.0, [0, 0], "multiclass", 0.0)
    f = s.figures(_versions())
    assert f["n_compared"] == 2 and f["disagreement"] == 0.5
    assert f["mean_abs_diff"] == pytest.approx(0.6 / 2)  # |0.7 - 0.1| on the rolled one, 0 on the other
    assert f["accuracy_delta"]["value"] == pytest.approx(-0.5) and f["n_labelled"] == 2


def test_regression_answers_disagree_beyond_the_tolerance_and_carry_no_accuracy() -> None:
    s = PairStats()
    s.record("x", "ok", "ok", [10.0, 10.0, 10.0], [10.4, 10.6, 9.0], 1.0, 1.0, [10.0] * 3, "regression", 0.5)
    f = s.figures(_versions())
    assert f["disagreement"] == pytest.approx(2 / 3)  # 0.6 and 1.0 apart, not 0.4
    assert f["mean_abs_diff"] == pytest.approx((0.4 + 0.6 + 1.0) / 3)
    assert f["n_labelled"] == 0 and f["mcnemar_p"] is None and f["accuracy_delta"]["value"] is None
