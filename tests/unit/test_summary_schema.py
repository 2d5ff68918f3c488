"""The run summary's declared schema (domain/summary.py) against the summaries the code builds and
the fields docs/reports.md describes. Every real run in tests/integration is checked against it
too (harness.read_records)."""

from __future__ import annotations

import re
import typing

from locust_mlstress.domain import summary as schema
from locust_mlstress.domain.summary import SCHEMA_VERSION, LiveSummary, RunSummary
from tests.conftest import ROOT
from tests.summary_shape import shape_errors
from tests.unit.test_html_report import monitored_summary, with_stages


def _declared() -> list[type]:
    return [v for v in vars(schema).values() if typing.is_typeddict(v) and v.__module__ == schema.__name__]


def test_the_monitors_figures_have_the_declared_shape():
    live = monitored_summary()
    for key in ("run", "gates"):  # what monitored_summary adds as finish() would
        live.pop(key)
    assert shape_errors(live, LiveSummary) == []


def test_a_finished_summary_with_gates_and_stages_has_the_declared_shape():
    summary = with_stages(monitored_summary()) | {"schema_version": SCHEMA_VERSION}
    assert shape_errors(summary, RunSummary) == []


def test_the_checker_names_a_missing_key_an_unknown_key_and_a_wrong_type():
    """The check the integration runs rely on can fail, and says where."""
    summary = with_stages(monitored_summary())  # no schema_version: missing
    summary["kinds"]["clean"]["surprise"] = 1
    summary["all"]["latency_ms"]["p99"] = "fast"
    errors = shape_errors(summary, RunSummary)
    assert "summary.schema_version: missing" in errors
    assert "summary.kinds['clean'].surprise: not in KindFigures" in errors
    assert any(e.startswith("summary.all.latency_ms.p99: 'fast' is str") for e in errors), errors


def test_docs_describe_every_declared_field():
    """docs/reports.md names each field of each part of the summary, in its JSON example or its
    notes, so the documented schema cannot fall behind the declared one."""
    text = (ROOT / "docs" / "reports.md").read_text()
    named = set(re.findall(r'"(\w+)":', text)) | set(re.findall(r"`(?:\w+\.)*(\w+)`", text))
    missing = {f"{td.__name__}.{key}" for td in _declared() for key in td.__annotations__ if key not in named}
    assert not missing, sorted(missing)


def test_the_schema_version_is_documented():
    assert f'"schema_version": {SCHEMA_VERSION}' in (ROOT / "docs" / "reports.md").read_text()
