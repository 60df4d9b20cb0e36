"""Can other clients erase a user's work? A real server, real sessions, 1,000 cookie-less requests.

Starts ``synthpatient serve``'s server on a free port of 127.0.0.1 (in a thread, as
``check_web_app.py`` does; default limits: 50 sessions, 60 idle minutes), then:

1. a few real sessions start (``POST /api/session``), upload the bundled diabetes table as a
   CSV file (through the streamed upload) and generate a result;
2. 1,000 requests without a cookie, each from a new client, many at a time: page views, API
   reads and writes, uploads, explicit session starts;
3. more clients than the server has room for each start a session and upload a table, so
   that every session holds work: the server must refuse the rest (503), not erase anyone;
4. every original session must still list its result and download it byte for byte, and
   every session that got in during step 3 must still hold its table.

Prints the requests sent, the status counts, the sessions created and refused, the other
sessions' results lost (must be 0) and the server errors (5xx other than the 503 refusals,
must be 0); exits 1 otherwise.

    python benchmarks/check_web_sessions.py [--requests 1000] [--clients 16] [--originals 3]
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from synthpatient import datasets
from synthpatient.web import Settings
from synthpatient.web.server import make_server

COOKIE = "synthpatient_session"
CSV = datasets.load("diabetes").to_csv(index=False).encode()


@dataclass
class Tally:
    """What the server answered, counted across threads."""

    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    kinds: collections.Counter[str] = field(default_factory=collections.Counter)
    created: int = 0
    transport_errors: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, kind: str, response: httpx.Response) -> None:
        with self.lock:
            self.kinds[kind] += 1
            self.statuses[response.status_code] += 1
            self.created += COOKIE in response.headers.get("set-cookie", "")
            if response.status_code >= 500 and response.status_code != 503:
                self.server_errors.append(f"{kind}: {response.status_code} {response.text[:160]}")


@dataclass
class Original:
    cookie: str
    result_id: str
    csv: bytes


def wait(client: httpx.Client, job: dict[str, Any]) -> dict[str, Any]:
    while job["status"] in ("queued", "running"):
        time.sleep(0.2)
        job = client.get(f"/api/jobs/{job['id']}").json()
    return job


def original(base: str, seed: int) -> Original:
    """A real user: a session, the diabetes table uploaded as a file, a generated result."""
    with httpx.Client(base_url=base, timeout=300) as client:
        client.post("/api/session").raise_for_status()
        upload = client.post("/api/uploads", files={"file": ("diabetes.csv", CSV, "text/csv")})
        upload.raise_for_status()
        job = wait(
            client,
            client.post(
                "/api/generate",
                json={"upload_id": upload.json()["id"], "n_rows": 200, "seed": seed},
            ).json(),
        )
        assert job["status"] == "done", job
        csv = client.get(f"/api/results/{job['result_id']}/downloads/csv")
        csv.raise_for_status()
        return Original(client.cookies[COOKIE], job["result_id"], csv.content)


def still_whole(base: str, user: Original) -> bool:
    """The session still lists its result and downloads the same bytes."""
    with httpx.Client(base_url=base, timeout=60, cookies={COOKIE: user.cookie}) as client:
        listed = client.get("/api/results")
        if listed.status_code != 200 or user.result_id not in {r["id"] for r in listed.json()}:
            return False
        csv = client.get(f"/api/results/{user.result_id}/downloads/csv")
        return csv.status_code == 200 and csv.content == user.csv


# one cookie-less request of each kind: (label, method, path, keyword arguments)
KINDS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("page", "GET", "/", {}),
    ("page", "GET", "/data", {}),
    ("page", "GET", "/results", {}),
    ("page", "GET", "/api-docs", {}),
    ("api GET", "GET", "/api/results", {}),
    ("api GET", "GET", "/api/chat", {}),
    ("api GET", "GET", "/api/limits", {}),
    ("api GET", "GET", "/api/jobs/abc", {}),
    ("api POST", "POST", "/api/chat", {"json": {"text": "300 type 2 diabetes patients"}}),
    ("api POST", "POST", "/api/uploads/bundled", {"json": {"dataset": "diabetes"}}),
    ("api POST", "POST", "/api/generate", {"json": {"upload_id": "x", "n_rows": 10}}),
    ("api POST", "POST", "/api/session", {}),
    ("upload", "POST", "/api/uploads", {"files": {"file": ("diabetes.csv", CSV, "text/csv")}}),
]


def cookieless(base: str, kind: tuple[str, str, str, dict[str, Any]], tally: Tally) -> None:
    label, method, path, kwargs = kind
    try:
        with httpx.Client(base_url=base, timeout=60) as client:  # a new client: no cookie
            tally.count(label, client.request(method, path, **kwargs))
    except httpx.TransportError as exc:
        with tally.lock:
            tally.transport_errors.append(f"{label} {path}: {type(exc).__name__}")


def filler(base: str, tally: Tally) -> tuple[str, str | None]:
    """A client that starts a session and puts a table in it: (what happened, its cookie when
    the table went in). A session still empty can be recycled for a newcomer when the server is
    full of work; its owner's upload then gets 401, and nothing of theirs was stored."""
    with httpx.Client(base_url=base, timeout=60) as client:
        started = client.post("/api/session")
        tally.count("fill: start", started)
        if started.status_code != 200:
            return "refused", None
        upload = client.post("/api/uploads/bundled", json={"dataset": "diabetes"})
        tally.count("fill: upload", upload)
        if upload.status_code != 200:
            return "recycled before its first upload", None
        return "in", client.cookies[COOKIE]


def holds_its_table(base: str, cookie: str) -> bool:
    with httpx.Client(base_url=base, timeout=60, cookies={COOKIE: cookie}) as client:
        return client.post("/api/session").json().get("holds_work") is True


def report(title: str, tally: Tally) -> None:
    sent = sum(tally.kinds.values()) + len(tally.transport_errors)
    codes = ", ".join(f"{code}: {n}" for code, n in sorted(tally.statuses.items()))
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(tally.kinds.items()))
    print(f"{title}: {sent:,} requests ({kinds})")
    print(f"  status codes {codes}; transport errors {len(tally.transport_errors)}")
    print(f"  sessions created {tally.created}; sessions refused (503) {tally.statuses[503]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="cookie-less requests")
    parser.add_argument("--clients", type=int, default=16, help="requests in flight at once")
    parser.add_argument("--originals", type=int, default=3, help="real sessions with results")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    settings = Settings(port=0)
    server, sock, app = make_server(settings)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    flood, fill = Tally(), Tally()
    rng = random.Random(args.seed)
    start = time.perf_counter()
    try:
        originals = [original(base, seed) for seed in range(args.originals)]
        mix = [rng.choice(KINDS) for _ in range(args.requests)]
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(lambda kind: cookieless(base, kind, flood), mix))
        after_flood = sum(still_whole(base, user) for user in originals)
        with ThreadPoolExecutor(args.clients) as pool:
            fillers = list(
                pool.map(lambda _: filler(base, fill), range(settings.max_sessions + 20))
            )
        kept = [cookie for _, cookie in fillers if cookie is not None]
        outcomes = collections.Counter(outcome for outcome, _ in fillers)
        whole = sum(still_whole(base, user) for user in originals)
        fillers_whole = sum(holds_its_table(base, cookie) for cookie in kept)
        live = len(app.state.store)
    finally:
        elapsed = time.perf_counter() - start
        server.should_exit = True
        thread.join(timeout=15)
        app.state.close()

    print(
        f"server limits: {settings.max_sessions} sessions, "
        f"{settings.idle_timeout_s / 60:g} idle minutes; {args.originals} original sessions "
        f"with a generated result; {elapsed:.1f} s in all"
    )
    report("cookie-less clients, each a new one", flood)
    print(f"  original sessions whole after them: {after_flood} of {len(originals)}")
    report(f"{settings.max_sessions + 20} clients that each start a session and upload", fill)
    print(f"  outcomes: {dict(outcomes)}")
    print(
        f"  sessions that got a table in and still hold it: {fillers_whole} of {len(kept)}; "
        f"live sessions {live} (limit {settings.max_sessions})"
    )
    lost = (len(originals) - whole) + (len(kept) - fillers_whole)
    errors = flood.server_errors + fill.server_errors
    print(
        f"other sessions' results lost: {len(originals) - whole}; other sessions' tables "
        f"lost: {len(kept) - fillers_whole}; server errors: {len(errors)}"
    )
    for line in (errors + flood.transport_errors + fill.transport_errors)[:10]:
        print("  " + line)
    return 1 if lost or errors or flood.transport_errors or fill.transport_errors else 0


if __name__ == "__main__":
    sys.exit(main())
