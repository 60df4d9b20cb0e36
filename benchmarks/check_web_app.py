"""Fuzz the web app's JSON API from its own OpenAPI schema, against a real server.

Starts ``synthpatient serve``'s server on a free port of 127.0.0.1 (small limits, so that no
fuzzed request can start minutes of work), lets schemathesis generate valid and invalid
requests for every operation of ``/openapi.json`` (bodies, paths, query strings, uploads), and
prints, per operation and in all, how many requests were sent and how many answered with a
server error (5xx), and how many background jobs crashed (they answer 200 with status
"failed", so they are counted from the server's sessions). Exits 1 when any did.

Random ids would only ever meet "not found", so half of the requests are sent inside a session
that holds a real upload and a real result, with those ids put into the generated paths and
bodies: the fuzzing then reaches generation, conditions, downloads and plots.

    python benchmarks/check_web_app.py [--examples 100] [--seed 0]
"""

from __future__ import annotations

import argparse
import collections
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as seed_hypothesis
from hypothesis import strategies as st
from schemathesis import GenerationMode

from synthpatient.web import Settings
from synthpatient.web.jobs import INTERNAL_ERROR
from synthpatient.web.server import make_server

COOKIE = "synthpatient_session"


@dataclass
class Tally:
    sent: collections.Counter[str] = field(default_factory=collections.Counter)
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Known:
    """A session with a real upload and a real result, and those ids."""

    cookie: str
    ids: dict[str, str]  # parameter or body field name -> a real id


def known_session(base: str) -> Known:
    with httpx.Client(base_url=base, timeout=120) as client:
        client.post("/api/session").raise_for_status()  # an API call never starts a session
        upload = client.post("/api/uploads/bundled", json={"dataset": "diabetes"}).json()
        job = client.post(
            "/api/generate", json={"upload_id": upload["id"], "n_rows": 40, "seed": 1}
        ).json()
        while job["status"] in ("queued", "running"):
            time.sleep(0.2)
            job = client.get(f"/api/jobs/{job['id']}").json()
        assert job["status"] == "done", job
        return Known(
            client.cookies[COOKIE],
            {"upload_id": upload["id"], "job_id": job["id"], "result_id": job["result_id"]},
        )


def with_known_ids(case: Any, known: Known) -> Any:
    if case.method.upper() == "DELETE":  # keep the upload for the other operations
        return case
    for name, value in known.ids.items():
        if case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = value
        if isinstance(case.body, dict) and name in case.body:
            case.body[name] = value
    return case


def fuzz(operation: Any, examples: int, seed: int, known: Known, tally: Tally) -> None:
    """Send ``examples`` generated requests to one operation, counting the answers."""
    label = operation.label
    # valid requests (must be answered) and invalid ones (must be refused with a 4xx)
    cases = st.one_of(
        *(
            operation.as_strategy(mode)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        )
    )

    @seed_hypothesis(seed)
    @given(case=cases, inside=st.booleans())
    @settings(
        max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def exercise(case: Any, inside: bool) -> None:
        extra = {}
        if inside:
            case = with_known_ids(case, known)
            extra["cookies"] = {COOKIE: known.cookie}
        response = case.call(timeout=60, **extra)
        tally.sent[label] += 1
        tally.statuses[response.status_code] += 1
        if response.status_code >= 500:
            tally.failures.append(f"{label}: {response.status_code} {response.text[:200]}")

    exercise()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="examples per operation")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    server, sock, app = make_server(
        Settings(port=0, max_rows=50, max_upload_mb=1, max_upload_rows=2000, job_wait_s=0.05)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    tally = Tally()
    start = time.perf_counter()
    try:
        known = known_session(base)
        schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
        for found in schema.get_all_operations():
            fuzz(found.ok(), args.examples, args.seed, known, tally)
        # a job that crashed answers 200 with status "failed": count those too
        time.sleep(1.0)
        jobs = [
            job for session in app.state.store.sessions() for job in list(session.jobs.values())
        ]
        crashed = [job for job in jobs if job.error == INTERNAL_ERROR]
    finally:
        elapsed = time.perf_counter() - start
        server.should_exit = True
        thread.join(timeout=15)
        app.state.close()

    width = max(len(label) for label in tally.sent)
    for label, count in sorted(tally.sent.items()):
        errors = sum(f.startswith(f"{label}:") for f in tally.failures)
        print(f"{label:<{width}}  {count:5d} requests  {errors} server errors")
    codes = ", ".join(f"{code}: {n}" for code, n in sorted(tally.statuses.items()))
    print(
        f"\n{len(tally.sent)} operations, {sum(tally.sent.values()):,} requests in "
        f"{elapsed:.1f} s; status codes {codes}"
    )
    print(
        f"server errors (5xx): {len(tally.failures)}; background jobs started {len(jobs)}, "
        f"failed with a one-line reason {sum(j.status == 'failed' for j in jobs)}, crashed "
        f"(internal error) {len(crashed)}"
    )
    for failure in tally.failures[:10]:
        print("  " + failure)
    return 1 if tally.failures or crashed else 0


if __name__ == "__main__":
    sys.exit(main())
