"""The LLM request parser against servers that fail it: the CLI's parser answers with the
offline parse and a notice when the model times out, errors or answers something invalid;
every call carries max_tokens and the instructions reach templates without a system role."""

from __future__ import annotations

import json

import pytest

httpx = pytest.importorskip("httpx")

from synthpatient.errors import SynthPatientWarning  # noqa: E402
from synthpatient.knowledge import load_knowledge_base  # noqa: E402
from synthpatient.knowledge.llm_parser import PARSER_MAX_TOKENS, LLMRequestParser  # noqa: E402
from synthpatient.knowledge.request import parse_request  # noqa: E402
from synthpatient.llm import LLMClient  # noqa: E402

TEXT = "200 women with type 2 diabetes aged 40 to 65"


def _parser(handler, fallback=True):  # type: ignore[no-untyped-def]
    client = LLMClient(
        "http://llm.test/v1",
        model="m",
        max_retries=0,
        backoff_s=0.0,
        transport=httpx.MockTransport(handler),
    )
    offline = (lambda text, kb: parse_request(text, kb, partial=True)) if fallback else None
    return LLMRequestParser(client, fallback=offline)


def _answer(content: str) -> httpx.Response:
    return httpx.Response(
        200, json={"choices": [{"finish_reason": "stop", "message": {"content": content}}]}
    )


@pytest.mark.parametrize(
    "failure",
    [
        lambda request: (_ for _ in ()).throw(httpx.ReadTimeout("slow")),
        lambda request: httpx.Response(500, json={"error": {"message": "busy"}}),
        lambda request: _answer("I cannot help with that."),
        lambda request: _answer(json.dumps({"count": -3, "condition": "type2_diabetes"})),
    ],
    ids=["timeout", "http-500", "prose", "invalid"],
)
def test_a_failing_model_gives_the_offline_parse_with_a_notice(failure):
    sent = []

    def handler(request):  # type: ignore[no-untyped-def]
        sent.append(json.loads(request.content))
        return failure(request)

    kb = load_knowledge_base()
    parser = _parser(handler)
    with pytest.warns(SynthPatientWarning, match="offline parser"):
        request = parser(TEXT, kb)
    assert request == parse_request(TEXT, kb, partial=True)
    assert len(parser.notices) == 1 and len(sent) == 1
    body = sent[0]
    assert body["max_tokens"] == PARSER_MAX_TOKENS
    assert "cohort_request" in body["messages"][-1]["content"]  # instructions in the user turn


def test_without_a_fallback_the_model_failure_is_a_clarification():
    from synthpatient.knowledge.request import Clarification

    parser = _parser(lambda request: _answer("no"), fallback=False)
    with pytest.raises(Clarification, match="prose"):
        parser(TEXT, load_knowledge_base())


def test_the_cli_parser_is_bounded_in_time():
    parser = LLMRequestParser.from_settings(
        base_url="http://llm.test/v1", model="m", key_env="SP_UNSET_KEY_FOR_TEST"
    )
    assert parser.client.max_retries == 0 and parser.client.timeout_s <= 30
    assert parser.fallback is not None
