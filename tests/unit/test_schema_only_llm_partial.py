"""A table description through an LLM that stops early: the rows it did write come back
completed (names, doctors, tests), so they can still be measured."""

from __future__ import annotations

import pytest

from synthpatient.errors import GenerationIncompleteError
from synthpatient.schema_only import generate_from_schema, load_table_schema


def test_an_incomplete_llm_run_returns_its_rows_completed():
    pytest.importorskip("httpx")
    from tests.fake_llm_server import FakeLLMServer

    llm = {
        "model": "fake-llm",
        "rows_per_request": 8,
        "max_requests": 1,  # one answer of 8 rows for 30 asked: the run must stop early
        "max_concurrency": 1,
        "backoff_s": 0.0,
    }
    with FakeLLMServer() as server, pytest.raises(GenerationIncompleteError) as caught:
        generate_from_schema("admissions", 30, seed=0, llm={"base_url": server.url, **llm})
    rows, report = caught.value.rows, caught.value.report
    assert 0 < len(rows) < 30 and report.rows_delivered == len(rows)
    assert list(rows.columns) == [c.name for c in load_table_schema("admissions").columns]
    for column in ("Name", "Doctor", "Test Results"):
        assert rows[column].notna().all(), column
