"""Label-only answers, accuracy, fixed batches and too small a baseline, through the real recorder,
wire encoding and monitor: what the summary says when calibration cannot be computed honestly."""

import json
import random
from dataclasses import replace

import pytest
from locust.rpc.protocol import Message
from scipy.stats import binomtest, ks_2samp, wasserstein_distance

from locust_mlstress import metrics
from locust_mlstress.domain.outcomes import Outcome
from locust_mlstress.domain.schema import Output
from locust_mlstress.gates import evaluate, parse_gate
from locust_mlstress.payloads import Payload
from locust_mlstress.quality import KindStats, QualityMonitor, QualityRecorder, Warmup, figures
from locust_mlstress.quality.traces import TraceSampler
from locust_mlstress.users.events import MLResult

BINARY = Output("binary", ("0", "1"))
MULTI = Output("multiclass", ("a", "b", "c"))


def answer(predictions: list, labels_only: bool) -> MLResult:
    return MLResult(Outcome.OK, 200, predictions, 1.0, None, labels_only=labels_only)


def _wire(delta: list[dict]) -> list[dict]:
    """What a master gets: Locust's own message encoding, there and back."""
    return Message.unserialize(Message("stats", {"mlstress": delta}, "w1").serialize()).data["mlstress"]


ONE_SECOND = Warmup(seconds=1.0)


def run(profile, requests, *, warmup=ONE_SECOND, window_s=1.0) -> dict:
    """Feed (time, kind, predictions, labels, labels_only) through a recorder into a monitor."""
    t = [0.0]
    monitor = QualityMonitor(profile, window_s=window_s, warmup=warmup)
    recorder = QualityRecorder(profile.output, window_s, lambda: t[0], sink=lambda d: monitor.absorb(_wire(d)))
    for i, (when, kind, preds, labels, labels_only) in enumerate(requests):
        t[0] = when
        payload = Payload(kind, f"{kind}-v", b"{}", "application/json", f"r{i}", len(preds), labels, None)
        recorder.record(payload=payload, result=answer(preds, labels_only))
    recorder.flush()
    return monitor.summary()


def binary_traffic(n: int, *, labels_only: bool, kind: str = "clean", seed: int = 0, start: float = 0.0, rate=100):
    """Calibrated binary answers (y ~ Bernoulli(p)); as labels, each p becomes 1.0 if p >= 0.5."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        p = rng.random()
        y = int(rng.random() < p)
        shown = float(p >= 0.5) if labels_only else p
        out.append((start + i / rate, kind, [shown], [y], labels_only))
    return out


def test_label_answers_count_for_accuracy_and_never_for_calibration():
    stats = KindStats("binary")
    stats.record_predictions([1.0, 0.0, 1.0, 0.0], [1, 0, 0, 0], labels_only=True)
    stats.record_predictions([0.5, 0.49], [1, 1])  # p >= 0.5 is the positive class: one right
    assert stats.answers == [1, 1] and stats.calibration.n == 2
    assert stats.accuracy == [4, 6]
    assert figures.answers(stats) == "mixed" and figures.calibration(stats) is None
    multi = KindStats("multiclass", 3)
    multi.record_predictions([[0, 1, 0], [1, 0, 0]], [1, 2], labels_only=True)
    multi.record_predictions([[0.2, 0.4, 0.4]], [1])  # a tie goes to the lower class index: right
    assert multi.accuracy == [2, 3] and multi.calibration.n == 1 and multi.classes == [1, 2, 0]
    assert figures.answers(multi) == "mixed" and figures.classes(multi, MULTI.classes)["mean_probability"] is None


def test_answer_counts_merge_exactly_and_an_older_wire_still_loads():
    rng = random.Random(3)
    records = [([rng.random() for _ in range(rng.choice([1, 40]))], rng.random() < 0.3) for _ in range(300)]
    pooled, parts = KindStats("binary"), [KindStats("binary") for _ in range(3)]
    for preds, labels_only in records:
        labels = [int(rng.random() < 0.5) for _ in preds]
        shown = [float(p >= 0.5) for p in preds] if labels_only else preds
        pooled.record_predictions(shown, labels, labels_only)
        parts[rng.randrange(3)].record_predictions(shown, labels, labels_only)
    merged = KindStats("binary")
    for part in reversed(parts):
        merged.merge(KindStats.from_wire(_wire([{"stats": part.to_wire()}])[0]["stats"], "binary"))
    assert merged.answers == pooled.answers and merged.accuracy == pooled.accuracy
    assert json.dumps(merged.to_wire(), sort_keys=True) == json.dumps(pooled.to_wire(), sort_keys=True)
    old = pooled.to_wire()
    del old["answers"], old["accuracy"]  # a baseline file or worker from before these keys
    loaded = KindStats.from_wire(old, "binary")
    assert loaded.answers == [0, 0] and loaded.accuracy == [0, 0] and figures.answers(loaded) == "probabilities"


def test_a_label_only_kind_has_no_calibration_a_reason_with_the_fix_and_accuracy(quickstart):
    profile = replace(quickstart, output=BINARY, target=replace(quickstart.target, codec="v2"))
    traffic = binary_traffic(3000, labels_only=True) + binary_traffic(600, labels_only=True, kind="drifted", seed=1)
    summary = run(profile, sorted(traffic, key=lambda r: r[0]))
    clean = summary["kinds"]["clean"]
    assert clean["answers"] == "labels" and clean["calibration"] is None
    assert clean["calibration_reason"].startswith("every answer was a class label")
    assert ' — ask for the probability output: [target] v2_outputs = ["predict_proba"]' in clean["calibration_reason"]
    acc = clean["accuracy"]
    correct = round(acc["accuracy"] * acc["n"])
    assert acc["n"] == 3000 and acc["error_rate"] == pytest.approx(1 - acc["accuracy"])
    ci = binomtest(correct, acc["n"]).proportion_ci(0.95, method="wilson")
    assert acc["interval"] == pytest.approx([ci.low, ci.high], abs=1e-12)
    assert 0.70 < acc["accuracy"] < 0.80  # a calibrated uniform-p model thresholded at 0.5 is right 75% of the time
    assert summary["kinds"]["drifted"]["shift"]["psi"] is not None  # class-share shift is still reported
    for row in summary["windows"]:
        assert row["calibration"] is None


def test_probability_answers_keep_calibration_and_gain_accuracy(quickstart):
    profile = replace(quickstart, output=BINARY)
    clean = run(profile, binary_traffic(2000, labels_only=False))["kinds"]["clean"]
    assert clean["answers"] == "probabilities" and clean["calibration_reason"] is None
    assert clean["calibration"]["n"] == 2000 and clean["accuracy"]["n"] == 2000


@pytest.mark.parametrize(("codec", "fix"), [("mlflow", 'pyfunc_predict_fn="predict_proba"'),
                                            ("kserve_v1", "predict_proba"), ("json", "response_path")])  # fmt: skip
def test_the_fix_names_the_codec_s_remedy(codec, fix):
    stats = KindStats("binary")
    stats.record_predictions([1.0], [1], labels_only=True)
    stats.record_predictions([0.7], [1])
    reason = figures.calibration_reason(stats, codec)
    assert reason.startswith("1 of 2 answers were class labels, not probabilities") and fix in reason.split(" — ")[1]


def test_a_calibration_gate_on_a_label_only_kind_is_inconclusive_with_the_reason(quickstart):
    profile = replace(quickstart, output=BINARY, target=replace(quickstart.target, codec="mlflow"))
    summary = run(profile, binary_traffic(1000, labels_only=True))
    gates = [parse_gate(g) for g in ("ece[clean] < 0.05", "brier < 0.2", "accuracy[clean] > 0.5")]
    ece, brier, accuracy = evaluate(gates, summary)
    assert ece.status == brier.status == "inconclusive"
    assert "class label" in ece.reason and "pyfunc_predict_fn" in ece.message
    assert accuracy.status == "pass" and accuracy.n == 1000


def test_oversized_figures_are_a_fixed_batch_kept_out_of_significance(quickstart):
    profile = replace(quickstart, output=BINARY)
    big = [(0.5 + i / 50, "oversized", [0.99] * 40, [0] * 40, False) for i in range(100)]  # one batch, repeated
    # A warm-up of 1,000 clean predictions: clean's own shift is judged, so `psi < 5` hinges on the
    # fixed batch alone (an underpowered clean shift would make it inconclusive by itself).
    clean = binary_traffic(2000, labels_only=False, rate=1000)
    summary = run(profile, sorted(clean + big, key=lambda r: r[0]))
    assert summary["kinds"]["clean"]["shift"]["underpowered"] is False
    over = summary["kinds"]["oversized"]
    assert over["fixed_batch"] is True and summary["kinds"]["clean"]["fixed_batch"] is False
    assert over["shift"]["psi"] > 1 and over["shift"]["significant"] is False
    assert over["shift"]["verdict"] == over["calibration"]["verdict"] == "fixed batch"
    assert over["calibration"]["significant"] is False and over["accuracy"]["interval"] is None
    rows = [r for r in summary["windows"] if r["kind"] == "oversized"]
    assert rows and all(r["shift"]["verdict"] == "fixed batch" for r in rows if r["shift"])
    gates = evaluate([parse_gate("psi[oversized] < 0.1"), parse_gate("psi < 5")], summary)
    assert gates[0].status == "inconclusive" and "fixed batch" in gates[0].reason
    assert gates[1].status == "pass" and "oversized" not in gates[1].message  # worst-of skips the fixed batch


def test_a_warmup_too_small_says_so_instead_of_a_noisy_verdict(quickstart):
    """The README's ramp: ~70 clean predictions in the warm-up, then thousands; no shift at all."""
    profile = replace(quickstart, output=BINARY)
    slow = binary_traffic(70, labels_only=False, rate=70) + binary_traffic(3000, labels_only=False, start=1, seed=2)
    summary = run(profile, slow)
    shift = summary["kinds"]["clean"]["shift"]
    assert shift["n_reference"] == 70 and shift["psi_threshold"] > metrics.PSI_MODERATE
    assert shift["significant"] is False and shift["underpowered"] is True and shift["verdict"] == "insufficient"
    expected = metrics.psi_min_reference(3000, bins=shift["bins"])
    assert summary["baseline"]["too_small"] is True and summary["baseline"]["min_n"] == expected
    assert expected > 70
    ample = run(profile, binary_traffic(4000, labels_only=False, rate=1000), warmup=Warmup(seconds=1.0))
    shift = ample["kinds"]["clean"]["shift"]
    assert shift["n_reference"] == 1000 and shift["underpowered"] is False and shift["verdict"] == "stable"
    assert ample["baseline"]["too_small"] is False


def test_a_significant_shift_stands_even_on_a_small_baseline(quickstart):
    profile = replace(quickstart, output=BINARY)
    warm = [(i / 70, "clean", [0.05], [0], False) for i in range(70)]
    later = [(1 + i / 1000, "clean", [0.95], [1], False) for i in range(2000)]
    shift = run(profile, warm + later)["kinds"]["clean"]["shift"]
    assert shift["significant"] and shift["verdict"] == "major" and shift["underpowered"] is False


@pytest.mark.parametrize("m", [250, 1000, 3000, 10**6])
@pytest.mark.parametrize("bins", [2, 3, 10])
def test_min_reference_is_the_least_size_that_resolves_a_moderate_shift(m, bins):
    n = metrics.psi_min_reference(m, bins=bins)
    assert n is not None
    assert metrics.psi_threshold(n, m, bins=bins) <= metrics.PSI_MODERATE
    assert n == 1 or metrics.psi_threshold(n - 1, m, bins=bins) > metrics.PSI_MODERATE


def test_min_reference_is_none_when_the_current_side_alone_is_too_small():
    assert metrics.psi_min_reference(200) is None  # 1/200 > 0.1/21.67: no reference size would do
    with pytest.raises(ValueError, match="m must be an integer"):
        metrics.psi_min_reference(0)


@pytest.mark.parametrize(("k", "n"), [(0, 1), (1, 1), (0, 20), (95, 100), (999, 1000), (500, 1000)])
def test_wilson_interval_matches_scipy(k, n):
    ci = binomtest(k, n).proportion_ci(0.95, method="wilson")
    assert metrics.wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)
    with pytest.raises(ValueError, match="successes"):
        metrics.wilson_interval(n + 1, n)


def test_a_trace_says_when_its_predictions_were_labels():
    sampler = TraceSampler(rate=1.0)
    payload = Payload("clean", "clean", b"{}", "application/json", "r1", 2, [1, 0], None)
    sampler.record(payload, answer([1.0, 0.0], True))
    sampler.record(payload, answer([0.8, 0.1], False))
    traces, dropped = sampler.take()
    assert [t["labels_only"] for t in traces] == [True, False] and dropped == 0
    assert json.loads(json.dumps(traces[0]))["predictions"] == [1.0, 0.0]


@pytest.mark.parametrize("output", ["binary", "multiclass"])
def test_label_answers_have_exact_ks_and_wasserstein(output):
    """Every label answer sits at 0.0 or 1.0, the outer edges of the first and last bins: the
    figures equal scipy's on the raw values, not just the bounds counts give."""
    rng = random.Random(8)
    n_classes = 3 if output == "multiclass" else 0
    ref, cur = KindStats(output, n_classes), KindStats(output, n_classes)
    raw: dict[int, list[float]] = {0: [], 1: []}
    for side, stats, share in ((0, ref, 0.7), (1, cur, 0.55)):
        for _ in range(400):
            if output == "binary":
                value = float(rng.random() < share)
                stats.record_predictions([value], [1], labels_only=True)
            else:
                value = 1.0  # the top-class confidence of a one-hot answer
                top = rng.randrange(3)
                stats.record_predictions([[float(k == top) for k in range(3)]], [0], labels_only=True)
            raw[side].append(value)
    shift = figures.shift(ref, cur)
    expected = ks_2samp(raw[0], raw[1]).statistic
    assert shift["ks"] == shift["ks_upper"] == pytest.approx(expected, abs=1e-12)
    assert shift["wasserstein"] == pytest.approx(wasserstein_distance(raw[0], raw[1]), abs=1e-12)
    assert shift["wasserstein_bounds"][0] == shift["wasserstein_bounds"][1] == shift["wasserstein"]
    mixed = KindStats(output, n_classes)
    mixed.merge(cur)
    mixed.record_predictions([0.6] if output == "binary" else [[0.6, 0.3, 0.1]], [1])  # one probability answer
    assert figures.shift(ref, mixed)["ks_upper"] > figures.shift(ref, mixed)["ks"]  # bounds again


# --- hard answers: every value exactly 0 or 1, judged over the kind ---------------------------


def decoded_traffic(codec_name: str, n: int, answer_of, *, seed: int = 0, kind: str = "clean"):
    """Traffic whose predictions went through the real codec, as a run records them."""
    from locust_mlstress.codecs import make_codec
    from locust_mlstress.domain.schema import Feature, Target

    codec = make_codec(Target(path="/p", codec=codec_name), (Feature("x", "float"),), BINARY)
    rng = random.Random(seed)
    out = []
    for i in range(n):
        p = rng.random()
        y = int(rng.random() < p)
        decoded = codec.decode_result(json.dumps(answer_of(p)).encode(), 1)
        out.append((i / 100, kind, decoded.predictions, [y], decoded.labels_only))
    return out


@pytest.mark.parametrize(
    ("codec", "answer_of"),
    [
        ("mlflow", lambda p: {"predictions": [int(p >= 0.5)]}),  # MLflow's pyfunc predict: JSON 0/1
        ("mlflow", lambda p: {"predictions": [float(p >= 0.5)]}),  # sklearn trained on float y: 1.0/0.0
        (
            "v2",
            lambda p: {"outputs": [{"name": "predict", "datatype": "FP64", "shape": [1], "data": [float(p >= 0.5)]}]},
        ),
    ],
    ids=["json-int", "json-float", "v2-fp64"],
)
def test_a_kind_that_only_ever_answered_0_or_1_answered_labels(quickstart, codec, answer_of):
    profile = replace(quickstart, output=BINARY, target=replace(quickstart.target, codec=codec))
    summary = run(profile, decoded_traffic(codec, 1000, answer_of))
    clean = summary["kinds"]["clean"]
    assert clean["answers"] == "labels" and clean["calibration"] is None
    reason = clean["calibration_reason"]
    assert reason.startswith("every prediction was exactly 0 or 1: class labels, not probabilities")
    assert " — " in clean["calibration_reason"] and clean["accuracy"]["n"] == 1000
    (ece,) = evaluate([parse_gate("ece[clean] < 0.05")], summary)
    assert ece.status == "inconclusive" and "exactly 0 or 1" in ece.reason


def test_a_confident_probability_server_that_writes_1_keeps_its_calibration(quickstart):
    """JavaScript/Go write 1.0 as 1: at batch 1 some answers are exactly [1] or [0]; the kind has
    fractions too, so those answers are probabilities and count in calibration."""
    profile = replace(quickstart, output=BINARY, target=replace(quickstart.target, codec="kserve_v1"))

    def answer_of(p: float) -> dict:
        return {"predictions": [1 if p > 0.9 else 0 if p < 0.1 else round(p, 6)]}

    summary = run(profile, decoded_traffic("kserve_v1", 1000, answer_of))
    clean = summary["kinds"]["clean"]
    assert clean["answers"] == "probabilities" and clean["calibration_reason"] is None
    assert clean["calibration"]["n"] == 1000


def test_a_few_hard_answers_are_not_enough_to_call_labels():
    stats = KindStats("binary")
    for i in range(figures.MIN_HARD_INSTANCES - 1):
        stats.record_predictions([1.0], [i % 2])
    assert stats.hard == [19, 19] and figures.answers(stats) == "probabilities"
    assert figures.calibration(stats)["n"] == 19 and figures.calibration_reason(stats) is None
    stats.record_predictions([0.0], [0])
    assert figures.answers(stats) == "labels" and figures.calibration(stats) is None
    stats.record_predictions([0.4] + [1.0] * 40, [0] * 41)  # one fraction: probabilities after all
    assert stats.hard == [20, 20] and stats.soft_answers == 1
    assert figures.answers(stats) == "probabilities" and figures.calibration(stats)["n"] == 61


def test_hard_counts_merge_exactly_and_an_older_wire_still_loads():
    rng = random.Random(5)
    pooled, parts = KindStats("binary"), [KindStats("binary") for _ in range(3)]
    for _ in range(200):
        size = rng.choice([1, 3, 40])
        preds = [float(rng.random() < 0.5) for _ in range(size)] if rng.random() < 0.5 else [0.3] * size
        labels = [int(rng.random() < 0.5) for _ in preds]
        pooled.record_predictions(preds, labels)
        parts[rng.randrange(3)].record_predictions(preds, labels)
    merged = KindStats("binary")
    for part in parts:
        merged.merge(KindStats.from_wire(_wire([{"stats": part.to_wire()}])[0]["stats"], "binary"))
    assert merged.hard == pooled.hard and pooled.hard[0] > 0
    assert json.dumps(merged.to_wire(), sort_keys=True) == json.dumps(pooled.to_wire(), sort_keys=True)
    old = pooled.to_wire()
    del old["hard"]  # a baseline file or worker from before hard answers were counted
    assert KindStats.from_wire(old, "binary").hard == [0, 0]
    rest = figures.minus(pooled, parts[0])
    assert rest.hard == [a - b for a, b in zip(pooled.hard, parts[0].hard, strict=True)]


def test_an_early_min_reference_uses_the_bins_of_the_verdict_rule():
    """A reference too small to judge (< 20) whose deciles collapse into 2 bins: the size asked
    for is the one those 2 bins need, not the default 10 bins'."""
    ref, cur = KindStats("binary"), KindStats("binary")
    for i in range(10):
        ref.record_predictions([0.05 if i % 2 else 0.95], None)
    for _ in range(3000):
        cur.record_predictions([0.5], None)
    early = figures.shift(ref, cur)
    assert early["verdict"] == "insufficient"
    grown = KindStats("binary")  # the same reference, grown past the minimum: the full rule's bins
    for _ in range(3):
        grown.merge(ref)
    full = figures.shift(grown, cur)
    assert full["bins"] < figures.SHIFT_BINS
    assert full["min_n_reference"] == metrics.psi_min_reference(3000, bins=max(full["bins"], 2))
    assert early["min_n_reference"] == max(full["min_n_reference"], figures.MIN_SHIFT_SAMPLES)
    assert early["min_n_reference"] != max(metrics.psi_min_reference(3000), figures.MIN_SHIFT_SAMPLES)
