"""Sessions that no one else can erase, and uploads refused at the limit while they stream.

Only a page view or ``POST /api/session`` starts a session; a cookie-less API call is refused
(401) and creates nothing; at the limit an empty session is recycled, one holding work never is
(a new session is refused with 503 instead). Uploads are counted as they arrive: the server
stops reading at the limit, answers 413, and keeps nothing. The raw-ASGI tests drive the app as
uvicorn does (chunk by chunk), so what the server read before answering can be measured.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections import Counter
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from synthpatient import datasets
from synthpatient.errors import CapacityError
from synthpatient.web.sessions import COOKIE, SessionStore
from tests.web.conftest import BASE, wait_job

DIABETES_CSV = datasets.load("diabetes").to_csv(index=False).encode()


def one_line_error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"] and "\n" not in body["error"], body
    assert "Traceback" not in body["error"]
    return body["error"]  # type: ignore[no-any-return]


def stranger(client: TestClient) -> TestClient:
    """Another client of the same app, with no cookie."""
    return TestClient(client.app, base_url=BASE, raise_server_exceptions=False)


def upload_csv(
    client: TestClient, name: str = "diabetes.csv", content: bytes = DIABETES_CSV
) -> Any:
    return client.post("/api/uploads", files={"file": (name, io.BytesIO(content), "text/csv")})


def test_api_calls_without_a_session_are_refused_and_start_none(make_client):
    client = make_client(open_session=False)
    store = client.app.state.store
    for method, path, kwargs in [
        ("GET", "/api/results", {}),
        ("GET", "/api/chat", {}),
        ("GET", "/api/jobs/abc", {}),
        ("POST", "/api/chat", {"json": {"text": "100 type 2 diabetes patients"}}),
        ("POST", "/api/uploads/bundled", {"json": {"dataset": "diabetes"}}),
        ("POST", "/api/generate", {"json": {"upload_id": "x", "n_rows": 5}}),
        ("POST", "/api/uploads", {"files": {"file": ("t.csv", io.BytesIO(DIABETES_CSV))}}),
    ]:
        response = client.request(method, path, **kwargs)
        message = one_line_error(response, 401)
        assert "POST /api/session" in message and "open the app" in message, message
        assert response.headers["x-synthpatient-session"] == "none"
        assert "set-cookie" not in response.headers
    # what needs no session still answers, and starts none either
    for path in ("/api/health", "/api/limits", "/api/synthesizers", "/openapi.json"):
        assert client.get(path).status_code == 200
    assert len(store) == 0 and not client.cookies


def test_post_session_and_a_page_view_are_the_explicit_starts(make_client):
    script = make_client(open_session=False)
    first = script.post("/api/session")
    assert first.status_code == 200 and first.json()["created"] is True
    assert first.json()["idle_minutes"] == 60 and first.json()["holds_work"] is False
    cookie = first.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    again = script.post("/api/session")
    assert again.json()["created"] is False and "set-cookie" not in again.headers
    assert script.get("/api/results").json() == []
    assert upload_csv(script).status_code == 200
    assert script.post("/api/session").json()["holds_work"] is True

    browser = stranger(script)
    assert browser.get("/data").status_code == 200 and browser.cookies.get(COOKIE)
    assert browser.get("/api/results").json() == []
    assert len(script.app.state.store) == 2
    operation = script.get("/openapi.json").json()["paths"]["/api/session"]["post"]
    assert "503" in operation["responses"]
    upload_body = script.get("/openapi.json").json()["paths"]["/api/uploads"]["post"]["requestBody"]
    assert upload_body["content"]["multipart/form-data"]["schema"]["required"] == ["file"]


def test_a_full_server_refuses_a_new_session_instead_of_erasing_work(make_client):
    alice = make_client(max_sessions=2)
    bob = stranger(alice)
    assert bob.post("/api/session").status_code == 200
    uploads = {
        c: c.post("/api/uploads/bundled", json={"dataset": "diabetes"}).json()["id"]
        for c in (alice, bob)
    }

    carol = stranger(alice)
    refused = carol.post("/api/session")
    assert "full" in one_line_error(refused, 503) and refused.headers["retry-after"]
    page = carol.get("/")
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert "full" in page.text and "Traceback" not in page.text and "<h1>" in page.text
    assert not carol.cookies and len(alice.app.state.store) == 2
    for client, upload_id in uploads.items():
        assert client.get(f"/api/uploads/{upload_id}").status_code == 200


def test_empty_sessions_are_recycled_first_and_the_pages_can_start_again(make_client):
    alice = make_client(max_sessions=2)
    upload_id = alice.post("/api/uploads/bundled", json={"dataset": "diabetes"}).json()["id"]
    idle = stranger(alice)
    assert idle.get("/").status_code == 200  # a page view: a session with nothing in it
    newcomer = stranger(alice)
    assert newcomer.post("/api/session").status_code == 200  # the empty one made room
    gone = idle.get("/api/chat")
    one_line_error(gone, 401)
    assert gone.headers["x-synthpatient-session"] == "none"  # the pages' cue to start again
    assert alice.get(f"/api/uploads/{upload_id}").status_code == 200
    assert len(alice.app.state.store) == 2


def test_idle_expired_sessions_are_swept_to_make_room(make_client):
    alice = make_client(max_sessions=1, idle_timeout_s=0.05)
    assert upload_csv(alice).status_code == 200
    time.sleep(0.1)
    assert stranger(alice).post("/api/session").status_code == 200
    one_line_error(alice.get("/api/results"), 401)


def test_a_session_in_use_or_busy_is_never_recycled(tmp_path):
    store = SessionStore(idle_timeout_s=0.01, max_sessions=1, root=tmp_path / "sessions")
    held = store.create()  # empty, but a request is using it
    time.sleep(0.02)
    with pytest.raises(CapacityError, match="full"):
        store.create()
    store.release(held)
    held.busy = True  # a job is queued for it
    time.sleep(0.02)
    assert store.sweep(force=True) == 0
    with pytest.raises(CapacityError):
        store.create()
    held.busy = False
    fresh = store.create()
    assert store.get(held.id) is None and store.get(fresh.id) is fresh
    store.close()


def test_cookieless_flood_never_erases_anyones_work(make_client):
    """120 cookie-less requests from as many clients, against a limit of 6 sessions."""
    alice = make_client(max_sessions=6)
    upload_id = upload_csv(alice).json()["id"]
    job = wait_job(
        alice,
        alice.post("/api/generate", json={"upload_id": upload_id, "n_rows": 20, "seed": 2}).json(),
    )
    assert job["status"] == "done", job
    csv_before = alice.get(f"/api/results/{job['result_id']}/downloads/csv").content
    bob = stranger(alice)
    bob.get("/data")
    bob_upload = bob.post("/api/uploads/bundled", json={"dataset": "diabetes"}).json()["id"]

    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/", {}),
        ("GET", "/data", {}),
        ("GET", "/results", {}),
        ("GET", "/api/results", {}),
        ("GET", f"/api/results/{job['result_id']}", {}),
        ("POST", "/api/chat", {"json": {"text": "yes"}}),
        ("POST", "/api/uploads", {"files": {"file": ("t.csv", io.BytesIO(DIABETES_CSV))}}),
        ("POST", "/api/uploads/bundled", {"json": {"dataset": "diabetes"}}),
        ("POST", "/api/generate", {"json": {"upload_id": upload_id, "n_rows": 5}}),
        ("POST", "/api/session", {}),
        ("GET", "/api/limits", {}),
        ("GET", "/results/x", {}),
    ]
    statuses: Counter[int] = Counter()
    created = 0
    for i in range(120):
        method, path, kwargs = requests[i % len(requests)]
        if "files" in kwargs:
            kwargs = {"files": {"file": ("t.csv", io.BytesIO(DIABETES_CSV))}}
        response = stranger(alice).request(method, path, **kwargs)
        statuses[response.status_code] += 1
        created += COOKIE in response.headers.get("set-cookie", "")
        if path.startswith("/api/") and path not in ("/api/session", "/api/limits"):
            assert response.status_code == 401 and "set-cookie" not in response.headers
    assert set(statuses) <= {200, 401}, statuses  # no 5xx, and no refusal: empties recycled
    assert created == 50 and len(alice.app.state.store) <= 6  # 4 page views + 1 start per 12

    listed = alice.get("/api/results").json()
    assert [r["id"] for r in listed] == [job["result_id"]]
    after = alice.get(f"/api/results/{job['result_id']}/downloads/csv")
    assert after.status_code == 200 and after.content == csv_before
    assert bob.get(f"/api/uploads/{bob_upload}").status_code == 200


# -- streamed uploads, driven as uvicorn drives the app ---------------------------------------
BOUNDARY = "sp-test-boundary"


def _raw_upload(
    app: Any,
    cookie: str,
    *,
    chunks: int,
    chunk_size: int = 16 * 1024,
    content_length: int | None = None,
    disconnect_after: int | None = None,
    filename: str = "big.csv",
) -> dict[str, Any]:
    """POST /api/uploads fed chunk by chunk (a body of ``chunks`` chunks, never fully sent when
    the server answers first); returns the status, the JSON answer and the bytes read before
    the answer began."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\na,b\n'
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    state: dict[str, Any] = {
        "sent": 0,
        "read": 0,
        "read_at_answer": None,
        "status": None,
        "body": b"",
    }

    async def receive() -> dict[str, Any]:
        if state["status"] is not None or state["sent"] == disconnect_after:
            return {"type": "http.disconnect"}  # a client stops sending once answered
        index = state["sent"]
        state["sent"] += 1
        if index == 0:
            body = head
        elif index <= chunks:
            body = b"1,2\n" * (chunk_size // 4)
        else:
            body = tail
        state["read"] += len(body)
        return {"type": "http.request", "body": body, "more_body": index <= chunks}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            state["status"], state["read_at_answer"] = message["status"], state["read"]
        elif message["type"] == "http.response.body":
            state["body"] += message.get("body", b"")

    headers = [
        (b"host", b"127.0.0.1"),
        (b"cookie", f"{COOKIE}={cookie}".encode()),
        (b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode()),
    ]
    headers.append(
        (b"content-length", str(content_length).encode())
        if content_length
        else (b"transfer-encoding", b"chunked")
    )
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/uploads",
        "raw_path": b"/api/uploads",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))
    state["json"] = json.loads(state["body"]) if state["body"] else None
    return state


def _uploaded_files(client: TestClient) -> list[str]:
    session = client.app.state.store.get(client.cookies.get(COOKIE))
    folder = session.folder / "uploads"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_an_oversized_upload_is_refused_while_it_streams(make_client):
    client = make_client(max_upload_mb=0.05)  # 52,428 bytes
    limit, chunk = client.app.state.settings.max_upload_bytes, 16 * 1024
    # 3,200 chunks = 50 MB, with no Content-Length: only counting while reading can stop it
    answer = _raw_upload(client.app, client.cookies.get(COOKIE), chunks=3200, chunk_size=chunk)
    assert answer["status"] == 413, answer
    assert "0.05 MB" in answer["json"]["error"] and "big.csv" in answer["json"]["error"]
    assert answer["read_at_answer"] <= limit + 2 * chunk  # stopped at the limit, not at 50 MB
    assert _uploaded_files(client) == []  # the partial file is gone
    assert client.get("/api/results").status_code == 200 and upload_csv(client).status_code == 200


def test_a_declared_oversized_upload_is_refused_before_reading(make_client):
    client = make_client(max_upload_mb=0.05)
    answer = _raw_upload(
        client.app,
        client.cookies.get(COOKIE),
        chunks=20,
        content_length=client.app.state.settings.max_upload_bytes + 200_000,
    )
    assert answer["status"] == 413 and answer["read_at_answer"] == 0, answer
    assert "0.05 MB" in answer["json"]["error"] and _uploaded_files(client) == []


def test_an_interrupted_upload_leaves_nothing(make_client):
    client = make_client()
    answer = _raw_upload(client.app, client.cookies.get(COOKIE), chunks=50, disconnect_after=5)
    assert answer["status"] == 400 and "stopped" in answer["json"]["error"], answer
    assert _uploaded_files(client) == [] and client.get("/api/uploads/x").status_code == 404


def test_a_body_that_is_not_one_table_gets_one_line(make_client):
    client = make_client()
    for kwargs, words in [
        ({"content": b"a,b\n1,2\n", "headers": {"content-type": "text/csv"}}, "multipart"),
        (
            {
                "content": b"garbage\r\n--x--",
                "headers": {"content-type": "multipart/form-data; boundary=x"},
            },
            "well-formed",
        ),
        ({"data": {"note": "hello"}, "files": {"other": ("t.csv", b"a\n1\n")}}, "no table"),
        ({"files": [("file", ("a.csv", b"a\n1\n")), ("file", ("b.csv", b"a\n1\n"))]}, "one table"),
        ({"files": {"file": ("notes.pdf", b"%PDF")}}, ".csv"),
    ]:
        assert words in one_line_error(client.post("/api/uploads", **kwargs), 400), kwargs
    assert _uploaded_files(client) == []


def test_a_failed_upload_never_costs_an_earlier_one(make_client):
    client = make_client()
    frame = pd.DataFrame({"x": range(50), "y": range(50)})
    ids = [
        upload_csv(client, f"t{i}.csv", frame.to_csv(index=False).encode()).json()["id"]
        for i in range(5)
    ]
    one_line_error(upload_csv(client, "broken.csv", b"a,a\n1,2\n"), 400)
    assert all(client.get(f"/api/uploads/{i}").status_code == 200 for i in ids)
    sixth = upload_csv(client, "t5.csv", frame.to_csv(index=False).encode()).json()
    assert sixth["notices"] and "t0.csv" in sixth["notices"][0], sixth
    assert client.get(f"/api/uploads/{ids[0]}").status_code == 404
    assert len(_uploaded_files(client)) == 5
