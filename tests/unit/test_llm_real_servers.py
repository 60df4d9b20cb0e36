"""What real OpenAI-compatible servers do that the first fake server did not (issue 21):
llama.cpp's HTTP 500 to ``json_schema``, tokenizers that split every digit, chat templates
without a system role, retries and timeouts inside failed requests, rows spliced from two
prompt examples, and notes that echo the prompt's placeholder."""

from __future__ import annotations

import json

import pandas as pd
import pytest

httpx = pytest.importorskip("httpx")

from synthpatient.llm import LLMClient, prompts  # noqa: E402
from synthpatient.llm.client import LLMRequestError  # noqa: E402
from synthpatient.notes._llm import is_placeholder  # noqa: E402
from synthpatient.synthesizers._llm_rows import NearCopies  # noqa: E402
from synthpatient.synthesizers.llm import GenerationIncompleteError, LLMSynthesizer  # noqa: E402
from tests.conftest import make_clinical_table  # noqa: E402
from tests.fake_llm_server import FakeLLMServer, Faults  # noqa: E402

FAST = {"model": "fake-llm", "timeout_s": 5.0, "backoff_s": 0.0, "max_retries": 2, "seed": 0}


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return make_clinical_table(120, seed=8)


def _synth(url: str, table: pd.DataFrame, **params) -> LLMSynthesizer:
    return LLMSynthesizer(base_url=url, **{**FAST, **params}).fit(table)


def test_a_500_naming_json_schema_steps_down_to_json_object_with_the_schema(table):
    with FakeLLMServer(json_schema_status=500) as server:
        synth = _synth(server.url, table, rows_per_request=30)
        assert len(synth.sample(40, seed=1)) == 40
        report = synth.last_sample_report_
        bodies = [r["body"] for r in server.requests]
        synth.sample(10, seed=2)  # the next call starts where this one ended
    assert synth.last_sample_report_.response_format_fallbacks == 0
    assert synth.last_sample_report_.structured_output == "json_object"
    assert report.structured_output == "json_object" and report.response_format_fallbacks == 1
    assert bodies[0]["response_format"]["type"] == "json_schema"
    later = bodies[1]["response_format"]
    assert later["type"] == "json_object" and set(later["schema"]["properties"]) == {"rows"}
    assert report.server_errors == 1 and report.retries == 0  # not retried: it names the field


def test_max_tokens_is_an_upper_bound_for_tokenizers_that_split_digits(table):
    with FakeLLMServer(digit_tokens=True) as server:
        synth = _synth(server.url, table, rows_per_request=20)
        synth.sample(40, seed=1)
        sent = [r["body"]["max_tokens"] for r in server.requests]
    report = synth.last_sample_report_
    assert all(isinstance(m, int) for m in sent)
    assert report.truncated_answers == 0 and report.rows_parsed >= 40


def _worst_tokens(text: str) -> int:
    """Tokens of a tokenizer that splits every digit and takes two characters a token."""
    digits = sum(ch.isdigit() for ch in text)
    return digits + -(-(len(text) - digits) // 2)


def test_the_per_row_bound_covers_the_longest_row_such_a_tokenizer_can_see(table):
    from synthpatient.synthesizers._llm_profile import tokens_per_row

    synth = LLMSynthesizer(base_url="http://unused.test/v1", **FAST).fit(table)
    row = {}
    for column in synth.profile_["columns"]:
        kind = column["kind"]
        if kind == "categorical":
            row[column["name"]] = max((c for c in column["categories"]), key=lambda c: len(str(c)))
        elif kind == "datetime":
            row[column["name"]] = "2021-11-15T23:59:59"
        elif kind == "boolean":
            row[column["name"]] = False
        else:
            value = -abs(float(column.get("maximum") or 0)) - 0.123456
            row[column["name"]] = round(value, column.get("decimals") or 0)
    text = json.dumps(row) + ", "
    assert _worst_tokens(text) <= tokens_per_row(synth.profile_)
    # what the old 2.5-characters-a-token guess allowed, which cut 20-row answers at ~13
    assert len(text) / 2.5 < _worst_tokens(text)


def test_instructions_reach_a_template_without_a_system_role(table):
    with FakeLLMServer(drops_system=True) as server:
        _synth(server.url, table, system_level="strict").sample(20, seed=1)
        seen = server.visible_prompts[0]
    assert prompts.STRICT_RULES in seen and prompts.ROLE in seen


def test_retries_and_timeouts_inside_failed_requests_are_counted(table):
    with FakeLLMServer(faults=Faults(server_error=1.0)) as server:
        synth = _synth(server.url, table, max_requests=1)
        with pytest.raises(GenerationIncompleteError, match="HTTP 500"):
            synth.sample(20)
    report = synth.last_sample_report_
    assert (report.retries, report.server_errors, report.failed_requests) == (2, 3, 1)
    with FakeLLMServer(delay_s=0.5) as slow:
        synth = _synth(slow.url, table, max_requests=1, timeout_s=0.1, max_retries=1)
        with pytest.raises(GenerationIncompleteError, match="did not answer"):
            synth.sample(20)
    assert (synth.last_sample_report_.timeouts, synth.last_sample_report_.retries) == (2, 1)


def test_the_client_does_not_retry_an_error_naming_an_option():
    calls = []

    def handler(request):  # type: ignore[no-untyped-def]
        calls.append(request)
        return httpx.Response(500, json={"error": {"message": "json_schema not supported"}})

    client = LLMClient(
        "http://llm.test/v1", model="m", backoff_s=0.0, transport=httpx.MockTransport(handler)
    )
    with pytest.raises(LLMRequestError) as info:
        client.chat([{"role": "user", "content": "hi"}], response_format={"type": "json_schema"})
    assert len(calls) == 1 and info.value.status == 500 and info.value.attempt_statuses == (500,)


def test_spliced_and_near_copies_of_examples_are_rejected(table):
    with FakeLLMServer(faults=Faults(splice_example=0.3)) as server:
        synth = _synth(server.url, table, include_examples=True, n_examples=5)
        rows = synth.sample(60, seed=1)
        spliced = server.injected["splice_example"]
    report = synth.last_sample_report_
    # a splice whose two parts agree with one example is an exact copy; the rest are near
    assert spliced > 0 and report.example_copies >= spliced and report.example_near_copies > 0
    assert len(rows) == 60 and report.rows_accepted == report.rows_schema_valid - spliced


def test_near_copy_rules():
    from synthpatient.schema import ColumnSpec

    specs = [ColumnSpec(name=f"c{i}", kind="numeric") for i in range(6)]
    a, b = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0), (7.0, 8.0, 9.0, 10.0, 11.0, 12.0)
    near = NearCopies(specs, [a, b])
    assert near.is_near((1.0, 2.0, 3.0, 4.0, 5.0, 99.0))  # one value changed
    assert near.is_near((1.0, 2.0, 3.0, 10.0, 11.0, 12.0))  # a splice
    assert not near.is_near((1.0, 2.0, 30.0, 4.0, 50.0, 60.0))
    assert not NearCopies(specs, []).is_near(a)


@pytest.mark.parametrize(
    "note,placeholder",
    [
        ("...", True),
        ("<the note>", True),
        ("The note.", True),
        ("", True),
        ("Patient note: ...", True),
        ("A 54-year-old woman with HbA1c 7.1% and eGFR <60 seen today.", False),
    ],
)
def test_placeholder_notes_are_rejected(note, placeholder):
    assert is_placeholder(note) is placeholder


def test_an_echoed_placeholder_note_is_not_written():
    from synthpatient.notes import write_notes
    from tests.llm_server import ScriptedLLMServer

    small = make_clinical_table(2, seed=5)
    echo = {
        "choices": [{"finish_reason": "stop", "message": {"content": json.dumps({"note": "..."})}}]
    }
    server = ScriptedLLMServer()
    server.script = [(200, echo)] * 4
    try:
        client = LLMClient(server.url, model="m", backoff_s=0.0)
        notes = write_notes(small, llm=client, seed=0)
    finally:
        server.close()
    report = notes.attrs["notes_report"]
    assert report["llm_accepted"] == 0 and report["llm_rejected_invalid"] == 4
    assert "..." not in set(notes)
    user = server.requests[0]["body"]["messages"][-1]["content"]
    assert "Use ONLY the facts" in user  # the rules survive a template without system role


def test_a_timeout_halves_the_requests_in_flight(table):
    from synthpatient.llm.client import ChatResult
    from synthpatient.synthesizers._llm_run import _Outcome, _Run

    synth = LLMSynthesizer(base_url="http://unused.test/v1", max_concurrency=8, **FAST)
    synth.fit(table)
    run = _Run(synth, [synth.schema_[c] for c in synth.columns_], [], 400)
    assert len(run.plan(first=False, budget_left=100)) == 16
    late = ChatResult(
        content='{"rows": []}', tool_calls=[], finish_reason="stop", retries=1, retry_statuses=(0,)
    )
    run.absorb(_Outcome(asked=40, prompt_chars=100, result=late))
    assert run.concurrency == 4 and run.report.concurrency_reductions == 1
    assert len(run.plan(first=False, budget_left=100)) == 4
    run.absorb(_Outcome(asked=40, prompt_chars=100, result=late))
    run.absorb(_Outcome(asked=40, prompt_chars=100, result=late))
    run.absorb(_Outcome(asked=40, prompt_chars=100, result=late))
    assert run.concurrency == 1 and run.report.timeouts == 4
