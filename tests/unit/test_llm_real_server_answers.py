"""Answers met on a real llama.cpp server (Gemma 3 270M), replayed: a tool call cut off at
max_tokens is not read as the first object nested in it, braces inside strings are not
counted, and the parser sends only the vocabulary of the condition the words name."""

from __future__ import annotations

import json

import pytest

from synthpatient.llm.client import parse_json_object

httpx = pytest.importorskip("httpx")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('Sure: {"a": 1, "b": {"c": 2}} done', {"a": 1, "b": {"c": 2}}),
        # cut off at max_tokens: the nested filter is part of the answer, not the answer
        ('{"count": 5, "filters": [{"kind": "observation", "key": "x"}, {"ki', None),
        ('prose {not json} then {"note": "a } b { c"}', {"note": "a } b { c"}),
        ('```json\n{"x": "q\\"}"}\n```', {"x": 'q"}'}),
        ('{"rows": [1, 2]', None),
        ("no braces", None),
    ],
)
def test_the_first_whole_json_object_is_read(text, expected):
    assert parse_json_object(text) == expected


def _tool_answer(arguments: str, finish_reason: str) -> httpx.Response:
    call = {"type": "function", "function": {"name": "cohort_request", "arguments": arguments}}
    message = {"content": None, "tool_calls": [call]}
    return httpx.Response(
        200, json={"choices": [{"finish_reason": finish_reason, "message": message}]}
    )


def _parser(handler):  # type: ignore[no-untyped-def]
    from synthpatient.knowledge.llm_parser import LLMRequestParser
    from synthpatient.llm import LLMClient

    client = LLMClient(
        "http://llm.test/v1", model="m", max_retries=0, transport=httpx.MockTransport(handler)
    )
    return LLMRequestParser(client)


def test_a_cut_off_tool_call_is_named_as_cut_off_not_read_as_its_filter():
    from synthpatient.knowledge import load_knowledge_base
    from synthpatient.knowledge.request import Clarification

    cut = '{"count": 2000, "condition": "type2_diabetes", "filters": [{"kind": "observation", '
    cut += '"key": "hba1c", "min": 7}, {"kind": "obs'
    parser = _parser(lambda request: _tool_answer(cut, "length"))
    with pytest.raises(Clarification, match="cut off at"):
        parser("2000 type 2 diabetes patients", load_knowledge_base())


def test_the_prompt_carries_only_the_named_conditions_vocabulary():
    from synthpatient.knowledge import load_knowledge_base

    sent: list[dict] = []

    def handler(request):  # type: ignore[no-untyped-def]
        sent.append(json.loads(request.content))
        answer = {"count": 300, "condition": "heart_failure"}
        return _tool_answer(json.dumps(answer), "stop")

    kb = load_knowledge_base()
    request = _parser(handler)("300 women with heart failure aged 60 to 85", kb)
    assert request.condition == "heart_failure" and request.count == 300
    prompt = sent[0]["messages"][-1]["content"]
    assert "condition 'heart_failure'" in prompt
    assert "condition 'copd'" not in prompt and "condition 'type2_diabetes'" not in prompt
    # no condition named: every condition's keys
    sent.clear()
    _parser(handler)("300 patients aged 60 to 85", kb)
    assert all(f"condition '{key}'" in sent[0]["messages"][-1]["content"] for key in kb.conditions)


def test_the_model_gets_the_time_the_offline_parse_left(monkeypatch):
    """The offline parse runs first; the model's one try gets the rest of the budget, so that
    ask answers within 30 s even when a cold offline parse is slow (a busy machine)."""
    import time

    from synthpatient.knowledge import llm_parser, load_knowledge_base
    from synthpatient.knowledge.request import parse_request
    from synthpatient.llm import LLMClient

    monkeypatch.setattr(llm_parser, "PARSER_BUDGET_S", 3.0)
    monkeypatch.setattr(llm_parser, "MIN_MODEL_S", 0.5)
    limits: list[float] = []

    def handler(request):  # type: ignore[no-untyped-def]
        limits.append(request.extensions["timeout"]["read"])
        raise httpx.ReadTimeout("slow")

    def slow_offline(text, kb):  # type: ignore[no-untyped-def]
        time.sleep(1.0)
        return parse_request(text, kb, partial=True)

    client = LLMClient(
        "http://llm.test/v1", model="m", max_retries=0, transport=httpx.MockTransport(handler)
    )
    parser = llm_parser.LLMRequestParser(client, fallback=slow_offline)
    kb = load_knowledge_base()
    with pytest.warns(Warning, match="offline parser"):
        request = parser("200 women with type 2 diabetes", kb)
    assert request.count == 200 and len(parser.notices) == 1
    assert 0.5 <= limits[0] <= 2.05  # a 3 s budget less the 1 s offline parse


def test_when_both_fail_the_offline_parsers_question_is_raised():
    from synthpatient.knowledge import load_knowledge_base
    from synthpatient.knowledge.llm_parser import LLMRequestParser
    from synthpatient.knowledge.request import Clarification, parse_request
    from synthpatient.llm import LLMClient

    client = LLMClient(
        "http://llm.test/v1",
        model="m",
        max_retries=0,
        transport=httpx.MockTransport(lambda request: httpx.Response(500, json={})),
    )
    parser = LLMRequestParser(client, fallback=lambda t, kb: parse_request(t, kb, partial=True))
    with pytest.warns(Warning), pytest.raises(Clarification):
        parser("generate patients", load_knowledge_base())  # no count, no condition


def test_a_count_the_words_do_not_give_is_refused():
    """Gemma read 'generate -5 COPD patients' (which the offline parser refuses) as 1."""
    from synthpatient.knowledge import load_knowledge_base
    from synthpatient.knowledge.request import Clarification, parse_request

    answer = json.dumps({"count": 1, "condition": "copd"})
    kb = load_knowledge_base()
    with pytest.raises(Clarification, match="words do not say"):
        _parser(lambda request: _tool_answer(answer, "stop"))("generate -5 COPD patients", kb)
    parser = _parser(lambda request: _tool_answer(answer, "stop"))
    parser.fallback = lambda t, kb: parse_request(t, kb, partial=True)
    with pytest.warns(Warning), pytest.raises(Clarification, match="at least 1"):
        parser("generate -5 COPD patients", kb)
    # the offline count decides when there is one: 300, not 30
    wrong = json.dumps({"count": 30, "condition": "copd"})
    parser = _parser(lambda request: _tool_answer(wrong, "stop"))
    parser.fallback = lambda t, kb: parse_request(t, kb, partial=True)
    with pytest.warns(Warning, match="words do not say"):
        assert parser("300 COPD patients aged 30 to 80", kb).count == 300
