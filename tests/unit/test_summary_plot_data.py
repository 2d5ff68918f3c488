"""The summary's plot data: prediction histograms against their reference, body sizes and
latency per variant, and users and request rates per window."""

from locust_mlstress.quality import KindStats, QualityMonitor
from locust_mlstress.quality.figures import histogram, payloads


def _binary(ps: list[float]) -> KindStats:
    s = KindStats("binary")
    s.record_predictions(ps, None)
    return s


def test_histogram_groups_fine_bins_and_keeps_every_prediction():
    ref, cur = _binary([0.01, 0.02, 0.5, 0.97]), _binary([0.99, 0.98, 0.51])
    h = histogram(ref, cur, bins=20)
    assert h["scale"] == "linear"
    assert len(h["edges"]) == 21 and h["edges"][0] == 0.0 and h["edges"][-1] == 1.0
    assert sum(h["reference"]) == 4 and sum(h["current"]) == 3
    assert h["reference"][0] == 2  # 0.01 and 0.02 share the first twentieth
    assert h["current"][-1] == 2  # 0.98 and 0.99 share the last


def test_histogram_without_reference_or_predictions():
    cur = _binary([0.3])
    assert histogram(None, cur)["reference"] is None
    assert histogram(cur, KindStats("binary")) is None


def test_regression_histogram_is_on_log_bins_of_both_sides():
    ref, cur = KindStats("regression"), KindStats("regression")
    ref.record_predictions([-50.0, 1.0, 10.0], None)
    cur.record_predictions([1000.0, 20.0], None)
    h = histogram(ref, cur)
    assert h["scale"] == "log"
    assert h["edges"][0] < -50 and h["edges"][-1] >= 1000
    assert h["edges"] == sorted(h["edges"])
    assert sum(h["reference"]) == 3 and sum(h["current"]) == 2


def test_payload_sizes_per_variant_and_latency_only_where_asked():
    s = KindStats("binary")
    s.record_outcome("big", "ok", 12.0, size=1000, by_variant=True)
    s.record_outcome("big", "ok", 30.0, size=3000, by_variant=True)
    s.record_outcome("small", "ok", 1.0, size=10)
    other = KindStats.from_wire(s.to_wire(), "binary")
    other.merge(s)
    rows = payloads(other)
    assert rows["big"]["requests"] == 4 and rows["big"]["mean_bytes"] == 2000 and rows["big"]["max_bytes"] == 3000
    assert 29.8 < rows["big"]["latency_ms"]["p99"] < 30.2 and rows["big"]["latency_ms"]["n"] == 4
    assert "latency_ms" not in rows["small"]


def test_traffic_has_users_and_the_open_window_rate(quickstart):
    m = QualityMonitor(quickstart, window_s=10.0)
    s = KindStats("binary")
    for _ in range(50):
        s.record_outcome("clean", "ok", 1.0)
    m.absorb(
        [{"window": 0, "kind": "clean", "stats": s.to_wire()}, {"window": 1, "kind": "clean", "stats": s.to_wire()}]
    )
    m.note_users(3.0, 5)
    m.note_users(8.0, 10)
    m.note_users(12.0, 7)
    rows = m.traffic(now=15.0)
    assert [(r["users"], r["requests"]) for r in rows] == [(10, 50), (7, 50)]
    assert rows[0]["rps"] == 5.0 and rows[1]["rps"] == 10.0  # the second window has been open 5 s


def test_users_follow_windows_when_they_coarsen(quickstart):
    m = QualityMonitor(quickstart, window_s=1.0, max_windows=2)
    s = KindStats("binary")
    s.record_outcome("clean", "ok", 1.0)
    for w in range(3):
        m.note_users(w + 0.5, w + 1)
        m.absorb([{"window": w, "kind": "clean", "stats": s.to_wire()}])
    assert m.factor == 2
    assert [(r["start_s"], r["users"], r["requests"]) for r in m.traffic()] == [(0.0, 2, 2), (2.0, 3, 1)]
