"""Schema-driven fuzzing: schemathesis generates requests from the app's own OpenAPI schema
(valid and invalid bodies, paths, uploads) and every answer must be free of server errors."""

from __future__ import annotations

import atexit

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from synthpatient.web import Settings, create_app

# small limits, so that a fuzzed request can never start minutes of work
APP = create_app(
    Settings(
        max_rows=50, max_upload_mb=1, max_upload_rows=2000, job_wait_s=0.05, allowed_hosts=("*",)
    )
)
atexit.register(APP.state.close)  # its temp folder goes even when this module is deselected
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
# a script starts its session first (an API call never does): the fuzzed requests are sent
# inside it, so they reach the operations rather than the 401 for "no session"
_STARTED = TestClient(APP, base_url="http://127.0.0.1").post("/api/session")
COOKIES = {"synthpatient_session": _STARTED.cookies["synthpatient_session"]}


@pytest.fixture(scope="module", autouse=True)
def _close_app():
    yield
    APP.state.close()


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    case.call_and_validate(checks=[not_a_server_error], cookies=COOKIES)
