"""The web chat names the parts of a request it cannot honour and waits for a yes; the
server's row limit holds for such a request too (issue 17)."""

from __future__ import annotations


def test_unread_parts_are_named_and_wait_for_a_yes(client):
    job = client.post("/api/chat", json={"text": "60 COPD patients who smoke"}).json()
    message = job["message"]
    assert message["kind"] == "clarify" and "smoking status" in message["text"]
    assert "say 'yes' to generate it without those parts" in message["text"]
    assert job.get("result_id") is None  # nothing drawn before the yes


def test_the_row_limit_holds_for_a_request_with_unread_parts(make_client):
    client = make_client(max_rows=100)
    job = client.post("/api/chat", json={"text": "5000 COPD patients who smoke"}).json()
    assert "more than this server makes" in job["message"]["text"]
    assert client.post("/api/chat/confirm").json()["message"]["kind"] == "clarify"
