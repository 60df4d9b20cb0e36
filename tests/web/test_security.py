"""Who may reach the web app: local by default, a token beyond localhost, one-line refusals;
and `synthpatient serve` itself, started as a user would start it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from synthpatient.errors import InvalidParameterError
from synthpatient.web import Settings

TOKEN = "correct-horse-battery"


def test_listening_beyond_localhost_needs_a_token():
    with pytest.raises(InvalidParameterError, match="needs a token"):
        Settings(host="0.0.0.0")
    with pytest.raises(InvalidParameterError, match="at least 8"):
        Settings(host="0.0.0.0", token="short")
    assert Settings(host="0.0.0.0", token=TOKEN).hosts() == ["*"]
    assert "evil.example" not in Settings().hosts()


def test_token_guards_the_api_and_the_pages(make_client):
    client = make_client(host="0.0.0.0", token=TOKEN, open_session=False)
    refused = client.get("/api/limits")
    assert refused.status_code == 401 and "Authorization: Bearer" in refused.json()["error"]
    assert client.get("/openapi.json").status_code == 401
    assert (
        client.get("/api/limits", headers={"Authorization": "Bearer wrong-token-here"}).status_code
        == 401
    )
    assert (
        client.get("/api/limits", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    )
    assert client.get("/api/limits", headers={"X-Synthpatient-Token": TOKEN}).status_code == 200

    login = client.get("/data")
    assert login.status_code == 401 and "needs the token" in login.text
    assert client.get("/static/app.css").status_code == 200  # style and scripts hold no data
    wrong = client.get("/?token=not-the-token", follow_redirects=False)
    assert wrong.status_code == 401 and "not right" in wrong.text
    signed = client.get(f"/data?token={TOKEN}", follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/data"
    assert TOKEN not in signed.headers["location"]  # the token leaves the address bar
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/data").status_code == 200 and client.get("/api/limits").status_code == 200


def test_local_server_refuses_foreign_host_names(client):
    # a page on another site that resolves its own name to 127.0.0.1 (DNS rebinding) is refused
    assert client.get("/api/limits", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/api/limits", headers={"Host": "localhost:8000"}).status_code == 200


def _serve(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, "-m", "synthpatient", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_serve_prints_its_address_answers_and_stops_cleanly():
    process = _serve("--port", "0")
    try:
        line = process.stdout.readline()  # type: ignore[union-attr]
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line
        base = f"http://127.0.0.1:{match.group(1)}"
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"{base}/api/health", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None, "no answer"
                time.sleep(0.2)
        assert health.json() == {"status": "ok"}
        assert "Ask for a cohort" in httpx.get(f"{base}/", timeout=10).text
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0 and "Traceback" not in stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--port", "70000"], "--port must be between 0 and 65535"),
        (["--host", "0.0.0.0", "--token", "short"], "at least 8 characters"),
    ],
)
def test_serve_bad_options_get_one_line_errors(args, expected):
    process = _serve(*args)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2 and expected in stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1


def test_serve_on_a_busy_port_says_so():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        process = _serve("--port", str(busy.getsockname()[1]))
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2 and "Cannot listen on 127.0.0.1" in stderr
    assert "Traceback" not in stderr


def _first_lines(process: subprocess.Popen[str], n: int) -> list[str]:
    """The first ``n`` lines ``serve`` prints; then Ctrl-C once it answers HTTP. The lines
    (and the listening socket) come before uvicorn has started and taken over Ctrl-C; a
    signal sent earlier meets the inherited disposition, which is "ignore" when the tests
    run as a background job, and the server would never stop."""
    lines: list[str] = []
    try:
        lines = [process.stdout.readline() for _ in range(n)]  # type: ignore[union-attr]
        port = re.search(r":(\d+)/", lines[0])
        deadline = time.monotonic() + 60
        while port and time.monotonic() < deadline and process.poll() is None:
            try:
                httpx.get(f"http://127.0.0.1:{port.group(1)}/api/health", timeout=5)
                break  # any answer: uvicorn is running
            except httpx.TransportError:
                time.sleep(0.2)
        return lines
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)


def test_a_token_the_user_chose_is_never_printed_a_made_up_one_is():
    chosen = _first_lines(_serve("--host", "0.0.0.0", "--port", "0", "--token", TOKEN), 3)
    assert TOKEN not in "".join(chosen) and "token you gave" in "".join(chosen)
    made_up = _first_lines(_serve("--host", "0.0.0.0", "--port", "0"), 3)
    match = re.search(r"\?token=([\w-]{20,})", made_up[0])
    assert match and f"Token: {match.group(1)}" in "".join(made_up)
