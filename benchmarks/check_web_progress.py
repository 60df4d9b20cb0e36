"""How live the web app's progress is, and how fast Cancel stops a job (issue 20).

Runs jobs in process (the app's own TestClient, no browser), polls each every 0.2 s and
prints, per job: the stages seen, the longest time the fraction stood still, how far the
estimate of the time left was from the real time left (median over the polls that had one),
and for a cancelled job how long it took from Cancel to ``cancelled``, and whether any file
was left. Figures depend on the machine and its load: rerun on a quiet one.

    python benchmarks/check_web_progress.py [--rows 1000] [--patients 2000] [--big 200000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from synthpatient.web import Settings, create_app
from synthpatient.web.sessions import COOKIE


def follow(
    client: TestClient,
    job: dict[str, Any],
    cancel_at: float | None = None,
    cancel_in: str | None = None,
) -> dict:
    """Poll a job to its end; cancel it once its fraction passes ``cancel_at``, or once its
    stage starts with ``cancel_in``."""
    start, polls, cancelled_at = time.monotonic(), [], None
    while job["status"] in ("queued", "running"):
        now = time.monotonic() - start
        polls.append((now, job["progress"], job["remaining_s"], job["stage"]))
        progress = job["progress"] or 0
        due = (cancel_at is not None and progress >= cancel_at) or (
            cancel_in is not None and job["stage"].startswith(cancel_in)
        )
        if due and cancelled_at is None:
            client.post(f"/api/jobs/{job['id']}/cancel")
            cancelled_at = now
        time.sleep(0.1 if cancel_in else 0.2)
        job = client.get(f"/api/jobs/{job['id']}").json()
    total = time.monotonic() - start
    return {"job": job, "polls": polls, "total": total, "cancelled_at": cancelled_at}


def summary(name: str, run: dict[str, Any]) -> None:
    polls, total = run["polls"], run["total"]
    stages = list(dict.fromkeys(p[3].split("(")[0].strip() for p in polls))
    still, last_change, last, where = 0.0, 0.0, None, ""
    for t, progress, _, stage in polls:
        if progress != last:
            last, last_change = progress, t
        if t - last_change > still:
            still, where = t - last_change, stage.split("(")[0].strip()
    errors = [abs(r - (total - t)) for t, _, r, _ in polls if r is not None]
    print(f"\n{name}: {run['job']['status']} in {total:.1f} s, {len(polls)} polls")
    print(f"  distinct stages seen: {len(stages)}")
    for stage in stages[:12]:
        print(f"    - {stage[:90]}")
    print(f"  longest time the fraction stood still: {still:.1f} s ({where[:60]})")
    if errors:
        print(
            f"  estimate of time left: {len(errors)} polls had one; median error "
            f"{statistics.median(errors):.1f} s"
        )
    if run["cancelled_at"] is not None:
        print(f"  Cancel -> cancelled: {total - run['cancelled_at']:.1f} s")


def cancelled_cohorts(client: TestClient, folder: Path, big: int, patients: int) -> None:
    """Cancel while a large cohort is drawn, and while a cohort's history is simulated and
    while its files are written (steps the writer may or may not report)."""
    cases = [
        (f"{big} type 2 diabetes patients", "Drawing", f"cohort, {big:,} patients"),
        (
            f"{patients} type 2 diabetes patients with 5 years of follow-up",
            "Following",
            f"cohort, {patients:,} patients x 5 years, cancelled in the follow-up",
        ),
        (
            f"{patients} type 2 diabetes patients",
            "Writing",
            f"cohort, {patients:,} patients, cancelled while its files are written",
        ),
    ]
    for text, stage, name in cases:
        follow(client, client.post("/api/chat", json={"text": text}).json())  # proposed
        before = sorted(p for p in folder.rglob("*") if p.is_file())
        run = follow(client, client.post("/api/chat/confirm").json(), cancel_in=stage)
        summary(f"{name}, cancelled in the stage '{stage}...'", run)
        left = sorted(p for p in folder.rglob("*") if p.is_file())
        print(f"  files left by the cancelled job: {len(set(left) - set(before))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument(
        "--big", type=int, default=200_000, help="patients of the cohort cancelled mid-draw"
    )
    args = parser.parse_args()
    app = create_app(Settings(job_wait_s=0.05))
    client = TestClient(app, base_url="http://127.0.0.1")
    client.post("/api/session")
    folder: Path = app.state.store.get(client.cookies.get(COOKIE)).folder
    try:
        upload = client.post("/api/uploads/bundled", json={"dataset": "diabetes"}).json()
        body = {"upload_id": upload["id"], "n_rows": args.rows, "seed": 0}
        summary(
            f"table, {args.rows} rows",
            follow(client, client.post("/api/generate", json=body).json()),
        )
        before = sorted(p for p in folder.rglob("*") if p.is_file())
        run = follow(client, client.post("/api/generate", json=body).json(), cancel_at=0.5)
        summary(f"table, {args.rows} rows, cancelled at 50 %", run)
        left = sorted(p for p in folder.rglob("*") if p.is_file())
        print(f"  files left by the cancelled job: {len(set(left) - set(before))}")
        text = f"{args.patients} type 2 diabetes patients with 20 observations"
        for attempt in ("first", "second (estimate from the first)"):
            follow(client, client.post("/api/chat", json={"text": text}).json())  # proposed
            summary(
                f"cohort, {args.patients} patients, {attempt}",
                follow(client, client.post("/api/chat/confirm").json()),
            )
        cancelled_cohorts(client, folder, args.big, args.patients)
    finally:
        app.state.close()


if __name__ == "__main__":
    main()
