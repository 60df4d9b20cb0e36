"""Background jobs: generation and evaluation run in worker threads; pages poll their status.

A job reports a stage ("Fitting copula on 331 rows") and a fraction done, ends ``done`` with a
result or ``failed`` with a one-line message. Errors of synthpatient keep their message; any
other exception is logged on the server with its traceback and the user gets one line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from synthpatient.errors import (
    BusyError,  # noqa: F401  (defined in errors.py; re-exported)
    SynthPatientError,
)
from synthpatient.web.sessions import Session, new_id

log = logging.getLogger("synthpatient.web")

JobStatus = Literal["queued", "running", "done", "failed"]
JobKind = Literal["chat", "table"]
Progress = Callable[[str, float | None], None]
INTERNAL_ERROR = (
    "Something went wrong on the server; nothing was kept. The details are in the server's log."
)


@dataclass
class Job:
    id: str
    kind: JobKind
    status: JobStatus = "queued"
    stage: str = "Waiting for a free worker..."
    progress: float | None = 0.0
    error: str | None = None
    result: Any = None
    started: float = field(default_factory=time.monotonic)
    done_event: threading.Event = field(default_factory=threading.Event, repr=False)

    def report(self, stage: str, progress: float | None = None) -> None:
        self.stage, self.progress = stage, progress


class JobRunner:
    """A small pool of worker threads shared by every session (one job per session at a time)."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:  # made on first use, and again after a shutdown (a restarted app)
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self._workers, thread_name_prefix="synthpatient-job"
                )
            return self._pool

    def submit(self, session: Session, kind: JobKind, work: Callable[[Job], Any]) -> Job:
        with session.lock:
            if session.busy:
                raise BusyError("Your previous request is still running; wait for it to finish.")
            session.busy = True
            job = Job(new_id(12), kind)
            session.jobs[job.id] = job
            _forget_old_jobs(session)
        self._executor().submit(self._run, session, job, work)
        return job

    @staticmethod
    def _run(session: Session, job: Job, work: Callable[[Job], Any]) -> None:
        from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

        job.status = "running"
        try:
            # one native thread per job: jobs already run side by side, and OpenMP pools of
            # torch and scikit-learn spinning against each other slow a small machine 10-fold
            with threadpool_limits(limits=1):
                job.result = work(job)
            job.status, job.stage, job.progress = "done", "Done.", 1.0
        except SynthPatientError as exc:
            job.status, job.error = "failed", str(exc).splitlines()[0] if str(exc) else "Failed."
        except MemoryError:
            job.status, job.error = "failed", "Out of memory: ask for fewer rows."
        except Exception:  # noqa: BLE001 - a job must never take the server down
            log.exception("job %s (%s) failed", job.id, job.kind)
            job.status, job.error = "failed", INTERNAL_ERROR
        finally:
            if job.status == "failed":
                job.stage, job.progress = "Failed.", None
            session.busy = False
            job.done_event.set()

    def shutdown(self) -> None:
        """Cancel queued jobs; running ones finish in the background."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def _forget_old_jobs(session: Session, keep: int = 50) -> None:
    finished = [j for j in session.jobs.values() if j.status in ("done", "failed")]
    for job in finished[:-keep] if len(finished) > keep else []:
        session.jobs.pop(job.id, None)
