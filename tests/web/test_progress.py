"""Live progress (named stages, a real fraction, elapsed time, an estimate) and Cancel, which
stops a job and leaves no file and no result behind."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from synthpatient.web import cohorts, tables
from synthpatient.web.jobs import Job, JobCancelled
from synthpatient.web.sessions import COOKIE

from .conftest import wait_job


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _blocked(monkeypatch, module, name: str):  # type: ignore[no-untyped-def]
    """Replace ``module.name`` by a wrapper that, once the real call returned (its files
    written), waits for the test: the job is then cancelled at a known point, midway."""
    reached, go = threading.Event(), threading.Event()
    real = getattr(module, name)

    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        out = real(*args, **kwargs)
        reached.set()
        assert go.wait(60), "the test never let the job go on"
        return out

    monkeypatch.setattr(module, name, wrapper)
    return reached, go


def _cancel_when(client, job: dict, reached: threading.Event, go: threading.Event) -> dict:  # type: ignore[no-untyped-def]
    assert reached.wait(120), f"the job never reached the blocked step: {job}"
    asked = client.post(f"/api/jobs/{job['id']}/cancel").json()
    assert asked["cancelling"] is True and asked["status"] == "running"
    assert asked["stage"].startswith("Stopping")
    go.set()
    return wait_job(client, asked)


def test_a_table_job_cancelled_midway_leaves_no_files_and_no_result(make_client, monkeypatch):
    client = make_client(job_wait_s=0.05)
    session = client.app.state.store.get(client.cookies.get(COOKIE))
    upload = client.post("/api/uploads/bundled", json={"dataset": "diabetes"}).json()
    before = _files(session.folder)
    reached, go = _blocked(monkeypatch, tables, "_table_result")
    job = client.post(
        "/api/generate", json={"upload_id": upload["id"], "n_rows": 30, "seed": 1}
    ).json()
    done = _cancel_when(client, job, reached, go)
    assert done["status"] == "cancelled" and done["error"] is None
    assert done["stage"] == "Cancelled: nothing was kept." and done["result_id"] is None
    assert client.get("/api/results").json() == []
    assert _files(session.folder) == before  # only the upload, as before the job
    assert not (session.folder / "results").exists() or not any(
        (session.folder / "results").iterdir()
    )
    assert not session.busy  # the session is free again for the next job
    assert done["elapsed_s"] > 0 and done["remaining_s"] is None


def test_a_cohort_cancelled_midway_leaves_no_files_and_says_so(make_client, monkeypatch):
    client = make_client(job_wait_s=0.05)
    session = client.app.state.store.get(client.cookies.get(COOKIE))
    proposed = wait_job(
        client, client.post("/api/chat", json={"text": "30 type 2 diabetes patients"}).json()
    )
    assert proposed["message"]["kind"] == "confirm"
    words = proposed["message"]["request"]["words"]
    assert words["condition"] == "Type 2 diabetes mellitus" and words["population"] == "US"
    assert "fhir-ndjson" not in " ".join(words["formats"])
    reached, go = _blocked(monkeypatch, cohorts, "cohort_result")
    done = _cancel_when(client, client.post("/api/chat/confirm").json(), reached, go)
    assert done["status"] == "cancelled"
    assert _files(session.folder) == []  # the cohort's CSV, FHIR and data card are gone
    assert client.get("/api/results").json() == []
    assert client.get("/api/chat").json()[-1]["text"] == "Cancelled: nothing was kept."


def test_a_cohort_cancelled_mid_draw_stops_at_the_next_step_and_writes_nothing(
    make_client, monkeypatch
):
    from synthpatient.knowledge import sampler

    client = make_client(job_wait_s=0.05)
    session = client.app.state.store.get(client.cookies.get(COOKIE))
    wait_job(client, client.post("/api/chat", json={"text": "40 type 2 diabetes patients"}).json())
    reached, go = _blocked(monkeypatch, sampler, "_clinical_layer")  # step 2 of the draw
    job = client.post("/api/chat/confirm").json()
    assert reached.wait(120), "the draw never reached its clinical layer"
    midway = client.get(f"/api/jobs/{job['id']}").json()
    assert midway["stage"] == "Drawing 40 patients from the knowledge base (50%)..."
    assert 0 < midway["progress"] < 0.8  # a real fraction: the draw is half done
    assert client.post(f"/api/jobs/{job['id']}/cancel").json()["cancelling"] is True
    go.set()
    began = time.monotonic()
    done = wait_job(client, job)
    assert done["status"] == "cancelled" and time.monotonic() - began < 1.5
    # stopped before writing: no cohort folder, no temporary sibling, no result
    assert [p for p in session.folder.rglob("*") if p.is_file()] == []
    assert not any("tmp" in p.name or p.suffix == ".old" for p in session.folder.rglob("*"))
    assert client.get("/api/results").json() == []
    assert client.get("/api/chat").json()[-1]["text"] == "Cancelled: nothing was kept."


def test_a_cohort_s_stages_move_the_fraction_forward():
    from synthpatient.web._cohort_progress import CohortProgress

    job = Job("j", "chat", status="running")
    seen: list[tuple[str, float]] = []
    progress = CohortProgress(job, 1000, histories=True, fhir=True)
    for stage, fraction in [("draw", 0), ("draw", 0.5), ("draw", 1), ("history", 0)]:
        progress(stage, fraction)
        seen.append((job.stage, job.progress))
    progress("history", 1)  # drawn: writing begins, a stage foretold by its last run's pace
    assert job.stage.startswith("Writing the files of 1,000 patients (CSV, FHIR")
    assert job.remaining_s is not None and job.remaining_s > 0
    fractions = [f for _, f in seen] + [job.progress]
    assert fractions == sorted(fractions) and fractions[-1] < 0.8
    assert seen[1][0] == "Drawing 1,000 patients from the knowledge base (50%)..."
    writing = job.progress
    progress("fhir", 0.5)  # a writer that reports its steps: FHIR is most of the writing
    assert job.stage == "Writing the files of 1,000 patients (CSV, FHIR, data card, 48%)..."
    assert writing < job.progress < 0.8
    job.cancel()
    with pytest.raises(JobCancelled):  # the next step is where a Cancel takes effect
        progress("fhir", 0.6)


def test_cancelling_a_finished_or_unknown_job():
    job = Job("j", "table", status="done")
    assert job.cancel() is False and not job.cancel_event.is_set()


def test_stages_report_a_real_fraction_and_an_estimate():
    job = Job("j", "table", status="running")
    job.started -= 10  # ten seconds in
    metrics = tables.counted_metrics(job, 0.4, 0.8)
    assert len(metrics) > 10
    metrics[len(metrics) // 2].skip_reason(_Inputs())
    assert job.stage.startswith(f"Evaluating: {metrics[len(metrics) // 2].name} (")
    assert f"of {len(metrics)} checks" in job.stage
    assert job.progress == pytest.approx(0.4 + 0.4 * (len(metrics) // 2) / len(metrics))
    # at the pace so far: elapsed x (1 - done) / done (over 10 s in, for ~60 %)
    expected = job.elapsed_s * (1 - job.progress) / job.progress
    assert job.elapsed_s > 10 and job.remaining_s == pytest.approx(expected, rel=0.05)
    job.report("Drawing a cohort", 0.1, counted=False)
    assert job.remaining_s is None  # 10 % after 10 s does not foretell a single long call
    job.report("Drawing a cohort", 0.1, expected_s=30, counted=False)
    assert 29 <= job.remaining_s <= 30  # its last run's length is the estimate
    job.cancel()
    assert job.remaining_s is None
    with pytest.raises(JobCancelled):
        job.report("next stage", 0.9)
    assert job.stage.startswith("Stopping")


class _Inputs:
    """Enough of evaluate's inputs for a metric to say whether it can run."""

    def given(self, what: str) -> bool:
        return False


def test_elapsed_time_stops_with_the_job():
    job = Job("j", "table", status="done")
    job.finished = job.started + 3
    time.sleep(0.01)
    assert job.elapsed_s == pytest.approx(3)
