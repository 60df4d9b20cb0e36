"""The OpenAI-compatible client and the LLM request parser, against a local HTTP server that
speaks the same protocol (no real network is ever used)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("httpx")

from synthpatient.knowledge import load_knowledge_base  # noqa: E402
from synthpatient.knowledge.conversation import Conversation  # noqa: E402
from synthpatient.knowledge.llm_parser import LLMRequestParser  # noqa: E402
from synthpatient.llm import LLMClient, LLMError  # noqa: E402
from tests.llm_server import ScriptedLLMServer  # noqa: E402

KEY = "sk-test-secret-123"


@pytest.fixture()
def server():
    s = ScriptedLLMServer()
    yield s
    s.httpd.shutdown()


def _tool_answer(arguments: dict) -> dict:
    return {"choices": [{"finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": None, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "cohort_request", "arguments": json.dumps(arguments)}}]}}],
        "usage": {"prompt_tokens": 900, "completion_tokens": 40, "total_tokens": 940}}


def _client(server, **kwargs) -> LLMClient:
    return LLMClient(server.url, model="test-model", api_key=KEY, backoff_s=0.01, **kwargs)


def test_tool_calling_fills_the_request_and_sends_no_patient_data(server):
    server.script = [(200, _tool_answer({"count": 250, "condition": "type2_diabetes",
                                         "sex": "female", "age_min": 40, "age_max": 65}))]
    parser = LLMRequestParser(_client(server))
    request = parser("250 diabetic women aged 40 to 65", load_knowledge_base())
    assert (request.count, request.sex, request.age_min) == (250, "female", 40)
    sent = server.requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == f"Bearer {KEY}"
    assert sent["body"]["tools"][0]["function"]["name"] == "cohort_request"
    assert sent["body"]["tool_choice"]["function"]["name"] == "cohort_request"
    assert "hba1c" in sent["body"]["messages"][0]["content"]  # the vocabulary, not data


def test_retries_429_and_5xx_then_succeeds(server):
    server.script = [(429, {"error": {"message": "slow down"}}), (503, {}),
                     (200, _tool_answer({"count": 10, "condition": "type2_diabetes"}))]
    result = _client(server).chat([{"role": "user", "content": "hi"}])
    assert result.retries == 2 and result.tool_calls and result.usage["total_tokens"] == 940


def test_a_json_answer_in_prose_is_still_read(server):
    server.script = [(200, {"choices": [{"finish_reason": "stop", "message": {
        "content": 'Sure! ```json\n{"count": 40, "condition": "type2_diabetes"}\n```'}}]})]
    request = LLMRequestParser(_client(server))("40 diabetics", load_knowledge_base())
    assert request.count == 40


@pytest.mark.parametrize("script,match", [
    ([(401, {"error": {"message": "bad key"}})], "API key"),
    ([(404, {"error": {"message": "model 'x' not found"}})], "does not know model"),
    ([(400, {"error": {"message": "maximum context length is 4096 tokens"}})],
     "context window"),
    ([(429, {})] * 5, "rate-limiting"),
    ([(200, "<html>not json</html>")], "not an OpenAI-style"),
])
def test_server_errors_are_one_clear_line_without_the_key(server, script, match):
    server.script = list(script)
    with pytest.raises(LLMError, match=match) as info:
        _client(server, max_retries=4).chat([{"role": "user", "content": "hi"}])
    assert KEY not in str(info.value) and "\n" not in str(info.value)


def test_unreachable_server_and_timeout():
    with pytest.raises(LLMError, match="Cannot reach"):
        LLMClient("http://127.0.0.1:9/v1", model="m", max_retries=0).chat([])
    with pytest.raises(LLMError, match="http"):
        LLMClient("localhost:8000", model="m")
    assert KEY not in repr(LLMClient("http://x/v1", model="m", api_key=KEY))


def test_prose_and_invalid_requests_are_clarified_in_a_conversation(server, tmp_path):
    server.script = [
        (200, {"choices": [{"finish_reason": "stop", "message": {"content": "I cannot."}}]}),
        (200, _tool_answer({"count": 100, "condition": "lupus"})),
        (200, _tool_answer({"count": -4, "condition": "type2_diabetes"})),
    ]
    chat = Conversation(out_dir=tmp_path / "c", parser=LLMRequestParser(_client(server)))
    assert "prose" in chat.send("make some patients").text
    reply = chat.send("100 lupus patients")
    assert reply.kind == "clarify" and "Unknown condition 'lupus'" in reply.text
    reply = chat.send("minus four diabetics")
    assert reply.kind == "clarify" and "count" in reply.text
