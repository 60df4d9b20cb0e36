"""Fixtures of the web app's tests: an in-process client, a real server, a real browser.

The browser is Debian's Chromium at /usr/bin/chromium driven by Playwright; Playwright's own
browser download is never used. Screenshots go to tests/web/screenshots/ (git-ignored), or to
$SYNTHPATIENT_SCREENSHOTS when set.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    import fastapi  # noqa: F401
except ImportError as exc:  # a clear failure, not a silent skip
    raise ImportError(
        "The web tests need the web extra: pip install 'synthpatient[web,test]'"
    ) from exc

from synthpatient.web import Settings, create_app  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BASE = "http://127.0.0.1"


@pytest.fixture
def make_client():
    """make_client(**settings) -> a TestClient on a fresh app, inside a session (started as a
    script starts one, POST /api/session; ``open_session=False`` for none); every app is
    closed afterwards."""
    from fastapi.testclient import TestClient

    apps = []

    def make(*, open_session: bool = True, **options):  # type: ignore[no-untyped-def]
        options.setdefault("job_wait_s", 5.0)
        app = create_app(Settings(**options))
        apps.append(app)
        client = TestClient(app, base_url=BASE, raise_server_exceptions=False)
        if open_session:  # an API call never starts a session by itself
            started = client.post("/api/session")
            assert started.status_code == 200 and started.json()["created"], started.text
        return client

    yield make
    for app in apps:
        app.state.close()


@pytest.fixture
def client(make_client):  # type: ignore[no-untyped-def]
    return make_client()


def wait_job(client, job: dict, timeout: float = 120) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while job["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"job still {job['status']}: {job['stage']}"
        time.sleep(0.2)
        job = client.get(f"/api/jobs/{job['id']}").json()
    return job


@pytest.fixture(scope="session")
def screenshots() -> Path:
    folder = Path(os.environ.get("SYNTHPATIENT_SCREENSHOTS", Path(__file__).parent / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nScreenshots of the web app are saved in {folder}")
    return folder


@pytest.fixture(scope="module")
def live_server() -> Iterator[str]:
    """A real uvicorn server on a free port of 127.0.0.1, in a thread; yields its base URL."""
    from synthpatient.web.server import make_server

    server, sock, app = make_server(Settings(port=0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    root = app.state.store.root
    yield f"{BASE}:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=15)
    sock.close()
    app.state.close()
    assert not root.exists(), "the sessions' temp folders were not deleted on shutdown"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's headless Chromium, driven by Playwright (no downloaded browser)."""
    if not CHROMIUM.exists():
        pytest.fail(
            "The browser tests need Debian's Chromium at /usr/bin/chromium: install it "
            "with `sudo apt-get install -y chromium` (make test does this).",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "The browser tests need the Playwright Python package: pip install "
            "'synthpatient[test]' (no browser download is needed).",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
