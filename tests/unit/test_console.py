"""The console summary: at most 120 characters a line, whatever the figures; columns that never
touch; label answers, fixed batches, KS bounds and a too-small baseline said plainly; and its
lines printed after Locust's own final tables."""

from __future__ import annotations

import copy
import logging
import re

import pytest

from locust_mlstress.plugin import console as monitoring
from locust_mlstress.plugin.webui import TABLE, table_rows
from locust_mlstress.report.console import DETAIL, MAIN, WIDTH, format_summary, kind_cells

REASON = (
    "every answer was a class label, not probabilities: ECE and Brier of 0/1 answers equal the error rate and would "
    'look calibrated — serve a model logged with pyfunc_predict_fn="predict_proba" (MLflow\'s pyfunc predict answers '
    "labels)"
)


def _kind(requests=366, psi=0.226, ks=0.141, ks_upper=0.518, verdict="stable", significant=False, p99=23.2, **extra):
    k = {
        "requests": requests,
        "outcomes": {"ok": requests},
        "variants": {"clean": {"ok": requests}},
        "shift": {"psi": psi, "js": 0.199, "ks": ks, "ks_upper": ks_upper, "n": 125, "n_reference": 241,
                  "significant": significant, "underpowered": verdict == "insufficient", "verdict": verdict},
        "answers": "probabilities",
        "calibration": {"ece": 0.061, "mce": 0.214, "brier": 0.164, "n": requests, "significant": False},
        "calibration_reason": None,
        "accuracy": {"accuracy": 0.76, "error_rate": 0.24, "n": requests, "interval": [0.713, 0.801]},
        "fixed_batch": False,
        "latency_ms": {"p50": 1.3, "p95": 6.3, "p99": p99},
    }  # fmt: skip
    return k | extra


def _summary(**kinds) -> dict:
    return {
        "kinds": kinds or {"clean": _kind()},
        "baseline": {
            "mode": "clean",
            "clean_n": 366,
            "too_small": False,
            "min_n": None,
            "warmup": {"seconds": 10.0, "predictions": None, "n": 241},
        },  # fmt: skip
    }


def _adversarial() -> dict:
    """Every figure at a size that used to break the table, and names longer than any column."""
    huge = _kind(requests=12_345_678_901, psi=1234.5678, ks=0.99999, ks_upper=1.0, p99=98_765_432.1,
                 verdict="a verdict word longer than its column", significant=True)  # fmt: skip
    huge["latency_ms"] = {"p50": 123_456.7, "p95": 9.9e12, "p99": 98_765_432.1}
    huge["calibration"] = {"ece": 0.5, "mce": 1.0, "brier": 2.0, "n": 10**12, "significant": True}
    long_variant = "a_malformed_variant_whose_name_is_far_longer_than_its_column_" * 3
    malformed = _kind(shift=None, calibration=None, accuracy=None, answers=None)
    malformed["outcomes"] = {"rejected": 5, "accepted_malformed": 7, "server_error": 9, "timeout": 11}
    malformed["variants"] = {
        long_variant: {"rejected": 10**9, "accepted_malformed": 10**9, "server_error": 10**9, "timeout": 10**9,
                       "connection_error": 10**9, "not_a_prediction": 10**9},
        "short": {"rejected": 1},
    }  # fmt: skip
    labels = _kind(calibration=None, calibration_reason=REASON * 2, answers="labels")
    oversized = _kind(fixed_batch=True, verdict="fixed batch")
    oversized["variants"] = {"body_bytes": {"rejected": 4}}
    summary = _summary(**{"clean": _kind(verdict="stable", psi=0.15), "a-kind-name-longer-than-twelve": huge,
                          "malformed": malformed, "labels": labels, "oversized": oversized})  # fmt: skip
    summary["baseline"] = {"mode": "file", "path": "/very/long/" + "path/" * 40 + "baseline.json", "n": 99,
                           "too_small": True, "min_n": 12_345}  # fmt: skip
    summary["workers"] = {"missing": [f"worker-{i}-" + "x" * 30 for i in range(10)]}
    return summary


def _spans(columns) -> list[tuple[int, int]]:
    """(start, end) of each column's text in a line of that table."""
    spans, at = [], 0
    for i, c in enumerate(columns):
        at += c.gap if i else 0
        spans.append((at, at + c.width))
        at += c.width
    return spans


def _table_rows(text: str, title: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(title)
    end = lines.index("", start)
    return lines[start + 1 : end]


def test_every_line_fits_in_120_characters_however_large_the_figures_and_names():
    text = format_summary(_adversarial())
    too_long = [line for line in text.splitlines() if len(line) > WIDTH]
    assert too_long == []
    assert "a_malformed_variant_whose_name" in text  # a long name is cut or wrapped, not dropped


@pytest.mark.parametrize("summary", [_summary(), _adversarial()], ids=["typical", "adversarial"])
@pytest.mark.parametrize(
    ("columns", "title"),
    [(MAIN, "ML quality per payload kind"), (DETAIL, "detail: counts, KS bounds, accuracy interval")],
    ids=["main", "detail"],
)
def test_columns_never_touch(summary, columns, title):
    rows = _table_rows(format_summary(summary), title)
    header, rule, body = rows[0], rows[1], rows[2:]
    assert set(rule) == {"-"} and len(body) == len(summary["kinds"])
    spans = _spans(columns)
    for line in [header, *body]:
        padded = line.ljust(spans[-1][1])
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert padded[end:start].strip() == "" and start > end, f"columns touch in {line!r}"
        for (start, end), c in zip(spans, columns, strict=True):
            cell = padded[start:end].strip()
            assert cell, f"empty {c.name} cell in {line!r}"


def test_numbers_that_do_not_fit_lose_decimals_not_digits():
    cells = kind_cells("x", _adversarial()["kinds"]["a-kind-name-longer-than-twelve"])
    assert cells["requests"] == "1e+10"  # 12,345,678,901: in exponent form, not cut to 12345678
    assert cells["PSI"] == "1234.6" and cells["p99 ms"] == "98765432"
    assert float(cells["p95 ms"]) == pytest.approx(9.9e12, rel=0.2)


def test_the_verdict_that_ran_into_p99_has_its_own_column():
    # issue 12: "6.3stable (noise)": a stable verdict on a PSI above 0.1 that is within the noise
    row = _table_rows(format_summary(_summary(clean=_kind(psi=0.13, p99=6.3))), "ML quality per payload kind")[2]
    assert row.endswith("6.3  stable (noise)")


def test_ks_is_shown_as_a_bound_and_its_range_in_the_detail():
    cells = kind_cells("drifted", _kind(ks=0.145, ks_upper=0.518))
    assert cells["KS"] == "≥0.145"
    assert cells["KS range"] == "0.145–0.518"
    assert "KS≥: KS from binned predictions is a lower bound" in format_summary(_summary())


def test_label_answers_show_labels_for_ece_and_the_reason_with_its_fix():
    k = _kind(calibration=None, calibration_reason=REASON, answers="labels")
    cells = kind_cells("clean", k)
    assert cells["ECE"] == "labels" and cells["Brier"] == "-" and cells["accuracy"] == "0.760"
    text = format_summary(_summary(clean=k, drifted=copy.deepcopy(k)))
    joined = " ".join(line.strip() for line in text.splitlines())
    assert "clean, drifted: ECE and Brier not computed: every answer was a class label" in joined
    assert "accuracy instead: clean 0.760, drifted 0.760" in joined
    assert 'Fix: serve a model logged with pyfunc_predict_fn="predict_proba"' in joined
    assert kind_cells("clean", k | {"answers": "mixed"})["ECE"] == "mixed"


def test_a_fixed_batch_has_no_verdict_and_says_why():
    k = _kind(fixed_batch=True, verdict="fixed batch")
    k["calibration"]["significant"] = False
    cells = kind_cells("oversized", k)
    assert cells["verdict"] == "fixed batch" and not cells["ECE"].endswith("*")
    assert cells["accuracy 95%"] == "0.713–0.801"
    assert "oversized: one fixed batch per variant" in format_summary(_summary(oversized=k))


def test_a_baseline_too_small_says_so_and_how_large_it_should_be():
    summary = _summary(clean=_kind(verdict="insufficient"))
    summary["baseline"] |= {"too_small": True, "min_n": 812}
    joined = " ".join(line.strip() for line in format_summary(summary).splitlines())
    assert "baseline too small: clean's baseline holds 241 predictions" in joined
    assert "--ml-warmup=812" in joined  # one word: a wrapped line cannot split it
    summary["baseline"]["min_n"] = None
    assert "too short as well: run longer" in " ".join(format_summary(summary).split())


def test_a_summary_without_the_newer_keys_still_prints():
    k = _kind()
    for key in ("answers", "calibration_reason", "accuracy", "fixed_batch"):
        del k[key]
    summary = _summary(clean=k)
    del summary["baseline"]["too_small"], summary["baseline"]["min_n"]
    text = format_summary(summary)
    assert re.search(r"^clean +366 +100\.0%", text, re.M)
    assert kind_cells("clean", k)["accuracy"] == "-"


def test_the_web_tab_shows_the_console_cells_and_a_note_with_the_fix():
    assert {name for name, _ in TABLE} <= set(kind_cells("clean", _kind()))
    labels = _kind(calibration=None, calibration_reason=REASON, answers="labels")
    small = _kind(verdict="insufficient")
    small["shift"]["min_n_reference"] = 243
    rows = {r["kind"]: r for r in table_rows({"clean": small, "drifted": labels, "oversized": _kind(fixed_batch=True)})}
    assert rows["drifted"]["ece"] == "labels" and rows["drifted"]["ks"] == "≥0.141"
    assert rows["drifted"]["note"].startswith("ECE not computed: every answer was a class label")
    assert 'Fix: serve a model logged with pyfunc_predict_fn="predict_proba"' in rows["drifted"]["note"]
    assert (
        rows["clean"]["note"] == "baseline too small to call it stable: it needs 243 predictions (e.g. --ml-warmup=243)"
    )
    assert rows["oversized"]["verdict"] == "fixed batch" and "fixed batch" in rows["oversized"]["note"]
    assert rows["clean"]["accuracy"] == "0.760" and isinstance(rows["clean"]["requests"], int)


def _record(pathname: str, message: str) -> logging.LogRecord:
    return logging.LogRecord(monitoring.console.name, logging.INFO, pathname, 1, message, None, None)


def test_held_console_lines_of_ours_wait_for_release_and_print_once():
    printed: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: printed.append(record.getMessage())  # type: ignore[method-assign]
    monitoring.console.addHandler(handler)
    held = monitoring.HeldConsole()
    monitoring.console.addFilter(held)
    try:
        monitoring.console.handle(_record(f"{monitoring.PACKAGE_DIR}report/console.py", "ML summary"))
        monitoring.console.handle(_record("/site-packages/locust/stats.py", "Locust's table"))
    finally:
        monitoring.console.removeFilter(held)
    try:
        assert printed == ["Locust's table"]
        held.release()
        held.release()  # the quit listener, then the interpreter's exit: printed once
        assert printed == ["Locust's table", "ML summary"]
    finally:
        monitoring.console.removeHandler(handler)
