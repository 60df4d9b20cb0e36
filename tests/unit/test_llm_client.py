"""The OpenAI-compatible client and the LLM request parser. HTTP behaviour (retries, errors,
what is sent) is replayed through ``httpx.MockTransport``, the client's transport seam: no
socket is opened except where the test is about an unreachable server."""

from __future__ import annotations

import json

import pytest

httpx = pytest.importorskip("httpx")

from synthpatient.knowledge import load_knowledge_base  # noqa: E402
from synthpatient.knowledge.conversation import Conversation  # noqa: E402
from synthpatient.knowledge.llm_parser import LLMRequestParser  # noqa: E402
from synthpatient.llm import LLMClient, LLMError  # noqa: E402

KEY = "sk-test-secret-123"
URL = "http://llm.test/v1"


class Script:
    """A transport handler answering from a script of (status, body or text, headers); every
    request is recorded (path, Authorization header, JSON body)."""

    def __init__(self, *answers: tuple) -> None:
        self.answers = list(answers)
        self.requests: list[dict] = []

    def __call__(self, request):  # type: ignore[no-untyped-def]
        self.requests.append(
            {
                "path": request.url.path,
                "auth": request.headers.get("Authorization"),
                "body": json.loads(request.content),
            }
        )
        status, body, *headers = self.answers.pop(0) if self.answers else (500, {})
        if isinstance(body, Exception):
            raise body
        if isinstance(body, str):
            return httpx.Response(status, text=body, headers=headers[0] if headers else None)
        return httpx.Response(status, json=body, headers=headers[0] if headers else None)


@pytest.fixture()
def script() -> Script:
    return Script()


def _tool_answer(arguments: dict) -> dict:
    return {
        "choices": [
            {
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {
                                "name": "cohort_request",
                                "arguments": json.dumps(arguments),
                            },
                        }
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 900, "completion_tokens": 40, "total_tokens": 940},
    }


def _client(script: Script, **kwargs) -> LLMClient:
    return LLMClient(
        URL,
        model="test-model",
        api_key=KEY,
        backoff_s=0.01,
        transport=httpx.MockTransport(script),
        **kwargs,
    )


def test_tool_calling_fills_the_request_and_sends_no_patient_data(script):
    script.answers = [
        (
            200,
            _tool_answer(
                {
                    "count": 250,
                    "condition": "type2_diabetes",
                    "sex": "female",
                    "age_min": 40,
                    "age_max": 65,
                }
            ),
        )
    ]
    parser = LLMRequestParser(_client(script))
    request = parser("250 diabetic women aged 40 to 65", load_knowledge_base())
    assert (request.count, request.sex, request.age_min) == (250, "female", 40)
    sent = script.requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == f"Bearer {KEY}"
    assert sent["body"]["tools"][0]["function"]["name"] == "cohort_request"
    assert sent["body"]["tool_choice"]["function"]["name"] == "cohort_request"
    assert "hba1c" in sent["body"]["messages"][0]["content"]  # the vocabulary, not data


def test_retries_429_5xx_and_timeouts_then_succeeds(script):
    script.answers = [
        (429, {"error": {"message": "slow down"}}, {"Retry-After": "0"}),
        (503, {}),
        (0, httpx.ReadTimeout("slow")),
        (200, _tool_answer({"count": 10, "condition": "type2_diabetes"})),
    ]
    result = _client(script).chat([{"role": "user", "content": "hi"}], seed=7)
    assert result.retries == 3 and result.retry_statuses == (429, 503, 0)
    assert result.tool_calls and result.usage["total_tokens"] == 940
    assert [r["body"]["seed"] for r in script.requests] == [7] * 4  # the same request again


def test_no_key_no_authorization_header(script):
    script.answers = [(200, _tool_answer({"count": 10, "condition": "type2_diabetes"}))]
    LLMClient(URL, model="m", transport=httpx.MockTransport(script)).chat([])
    assert script.requests[0]["auth"] is None


def test_a_json_answer_in_prose_is_still_read(script):
    script.answers = [
        (
            200,
            {
                "choices": [
                    {
                        "finish_reason": "stop",
                        "message": {
                            "content": (
                                'Sure! ```json\n{"count": 40, "condition": "type2_diabetes"}\n```'
                            )
                        },
                    }
                ]
            },
        )
    ]
    request = LLMRequestParser(_client(script))("40 diabetics", load_knowledge_base())
    assert request.count == 40


@pytest.mark.parametrize(
    "answers,match",
    [
        ([(401, {"error": {"message": "bad key"}})], "API key"),
        ([(404, {"error": {"message": "model 'x' not found"}})], "does not know model"),
        (
            [(400, {"error": {"message": "maximum context length is 4096 tokens"}})],
            "context window",
        ),
        ([(429, {})] * 5, "rate-limiting"),
        ([(503, {"error": {"message": "overloaded"}})] * 5, "HTTP 503: overloaded"),
        ([(0, httpx.ReadTimeout("slow"))] * 5, r"did not answer within 60 s \(5 tries\)"),
        ([(0, httpx.ConnectError("refused"))], "Cannot reach"),
        ([(200, "<html>not json</html>")], "not an OpenAI-style"),
    ],
)
def test_server_errors_are_one_clear_line_without_the_key(script, answers, match):
    script.answers = list(answers)
    with pytest.raises(LLMError, match=match) as info:
        _client(script, max_retries=4).chat([{"role": "user", "content": "hi"}])
    assert KEY not in str(info.value) and "\n" not in str(info.value)


def test_errors_carry_the_status_and_the_servers_message(script):
    script.answers = [(400, {"error": {"message": "response_format is not supported"}})]
    with pytest.raises(LLMError) as info:
        _client(script).chat([])
    assert info.value.status == 400 and "response_format" in info.value.detail


def test_unreachable_server_and_bad_settings():
    with pytest.raises(LLMError, match="Cannot reach"):
        LLMClient("http://127.0.0.1:9/v1", model="m", max_retries=0).chat([])
    with pytest.raises(LLMError, match="http"):
        LLMClient("localhost:8000", model="m")
    assert KEY not in repr(LLMClient("http://x/v1", model="m", api_key=KEY))


def test_the_client_closes_and_can_be_used_again(script):
    script.answers = [(200, _tool_answer({"count": 1, "condition": "type2_diabetes"}))] * 2
    with _client(script) as client:
        client.chat([])
    client.chat([])  # a new connection pool after close
    assert len(script.requests) == 2


def test_prose_and_invalid_requests_are_clarified_in_a_conversation(script, tmp_path):
    script.answers = [
        (200, {"choices": [{"finish_reason": "stop", "message": {"content": "I cannot."}}]}),
        (200, _tool_answer({"count": 100, "condition": "lupus"})),
        (200, _tool_answer({"count": -4, "condition": "type2_diabetes"})),
    ]
    chat = Conversation(out_dir=tmp_path / "c", parser=LLMRequestParser(_client(script)))
    assert "prose" in chat.send("make some patients").text
    reply = chat.send("100 lupus patients")
    assert reply.kind == "clarify" and "Unknown condition 'lupus'" in reply.text
    reply = chat.send("minus four diabetics")
    assert reply.kind == "clarify" and "count" in reply.text
