"""Fuzz the web app's JSON API from its own OpenAPI schema, against a real server.

Starts ``synthpatient serve``'s server on a free port of 127.0.0.1 (small limits, so that no
fuzzed request can start minutes of work), lets schemathesis generate valid and invalid
requests for every operation of ``/openapi.json`` (bodies, paths, query strings, uploads), and
prints, per operation and in all, how many requests were sent and how many answered with a
server error (5xx). Exits 1 when any did.

    python benchmarks/check_web_app.py [--examples 100] [--seed 0]
"""

from __future__ import annotations

import argparse
import collections
import sys
import threading
import time

import schemathesis
from hypothesis import HealthCheck, given, settings

from synthpatient.web import Settings
from synthpatient.web.server import make_server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="examples per operation")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    server, sock, app = make_server(Settings(port=0, max_rows=50, max_upload_mb=1,
                                             max_upload_rows=2000, job_wait_s=0.05))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")

    sent: collections.Counter[str] = collections.Counter()
    statuses: collections.Counter[int] = collections.Counter()
    failures: list[str] = []
    start = time.perf_counter()
    for found in schema.get_all_operations():
        operation = found.ok()
        label = operation.label

        @given(case=operation.as_strategy())
        @settings(max_examples=args.examples, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), derandomize=False)
        def exercise(case, label=label):  # type: ignore[no-untyped-def]
            response = case.call(timeout=30)
            sent[label] += 1
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(f"{label}: {response.status_code} {response.text[:200]}")

        exercise._hypothesis_internal_use_seed = args.seed  # reproducible runs
        exercise()
    elapsed = time.perf_counter() - start
    server.should_exit = True
    thread.join(timeout=15)
    app.state.close()

    width = max(len(label) for label in sent)
    for label, count in sorted(sent.items()):
        errors = sum(f.startswith(f"{label}:") for f in failures)
        print(f"{label:<{width}}  {count:5d} requests  {errors} server errors")
    codes = ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items()))
    print(f"\n{len(sent)} operations, {sum(sent.values()):,} requests in {elapsed:.1f} s; "
          f"status codes {codes}")
    print(f"server errors (5xx): {len(failures)}")
    for failure in failures[:10]:
        print("  " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
