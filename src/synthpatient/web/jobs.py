"""Background jobs: generation and evaluation run in worker threads; pages poll their status.

A job reports a stage ("Learning the table...") and a fraction done, from which the page
shows the elapsed time and an estimate of the time left; it ends ``done`` with a result,
``failed`` with a one-line message, or ``cancelled``. Errors of synthpatient keep their
message; any other exception is logged on the server with its traceback and the user gets
one line.

Cancel is cooperative: a Python thread cannot be stopped from outside, so the work checks at
every stage and between evaluation metrics (:meth:`Job.report`, :meth:`Job.checkpoint`) and
stops at the next check. What the work wrote is registered with :meth:`Job.on_cancel` and
removed then, so a cancelled job leaves nothing behind; the last check comes just before the
result is put in the session, so a job is either wholly kept or wholly gone.
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
    JobCancelled,
    SynthPatientError,
)
from synthpatient.web.sessions import Session, new_id

log = logging.getLogger("synthpatient.web")

JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]
JobKind = Literal["chat", "table"]
Progress = Callable[[str, float | None], None]
INTERNAL_ERROR = (
    "Something went wrong on the server; nothing was kept. The details are in the server's log."
)


CANCELLED = "Cancelled: nothing was kept."
#: below this fraction done (or this many seconds) an estimate of the time left is a guess
_ESTIMATE_FROM, _ESTIMATE_AFTER_S = 0.05, 1.0


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
    finished: float | None = None
    done_event: threading.Event = field(default_factory=threading.Event, repr=False)
    cancel_event: threading.Event = field(default_factory=threading.Event, repr=False)
    _cleanups: list[Callable[[], None]] = field(default_factory=list, repr=False)
    #: a stage that cannot count its own progress may say how long it should take
    _stage_expected: tuple[float, float] | None = field(default=None, repr=False)
    _counted: bool = field(default=True, repr=False)

    def report(
        self,
        stage: str,
        progress: float | None = None,
        *,
        expected_s: float | None = None,
        counted: bool = True,
    ) -> None:
        """A new stage (and the fraction of the whole job done); stops here after Cancel.
        ``counted=False``: one call that reports no fraction of its own, whose length the
        fraction so far cannot foretell; ``expected_s``, how long it should take (from
        earlier runs), is then the only estimate."""
        self.checkpoint()
        self.stage, self.progress = stage, progress
        self._stage_expected = None if expected_s is None else (time.monotonic(), expected_s)
        self._counted = counted

    def checkpoint(self) -> None:
        """Raise :class:`JobCancelled` when the user asked to stop."""
        if self.cancel_event.is_set():
            raise JobCancelled

    def on_cancel(self, cleanup: Callable[[], None]) -> None:
        """Run ``cleanup`` (remove what the work wrote) if the job is cancelled."""
        self._cleanups.append(cleanup)

    def cancel(self) -> bool:
        """Ask the work to stop at its next check; False when it has already ended."""
        if self.status not in ("queued", "running"):
            return False
        self.cancel_event.set()
        self.stage = "Stopping at the end of the current step..."
        return True

    @property
    def elapsed_s(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def remaining_s(self) -> float | None:
        """Time left at the pace so far; None while too little is done to tell."""
        done, elapsed = self.progress, self.elapsed_s
        if self.status != "running" or self.cancel_event.is_set():
            return None
        if self._stage_expected is not None:
            since, expected = self._stage_expected
            return max(expected - (time.monotonic() - since), 0.0)
        if done is None or not self._counted:
            return None
        if done < _ESTIMATE_FROM or elapsed < _ESTIMATE_AFTER_S or done >= 1:
            return None
        return elapsed * (1 - done) / done


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
        job.started = time.monotonic()  # the wait for a free worker is not the job's time
        try:
            job.checkpoint()  # cancelled while it waited for a worker
            # one native thread per job: jobs already run side by side, and OpenMP pools of
            # torch and scikit-learn spinning against each other slow a small machine 10-fold
            with threadpool_limits(limits=1):
                job.result = work(job)
            job.status, job.stage, job.progress = "done", "Done.", 1.0
        except JobCancelled:
            _clean_up(job)
            job.status, job.stage, job.progress = "cancelled", CANCELLED, None
        except SynthPatientError as exc:
            job.status, job.error = "failed", str(exc).splitlines()[0] if str(exc) else "Failed."
        except MemoryError:
            job.status, job.error = "failed", "Out of memory: ask for fewer rows."
        except Exception:  # noqa: BLE001 - a job must never take the server down
            log.exception("job %s (%s) failed", job.id, job.kind)
            job.status, job.error = "failed", INTERNAL_ERROR
        finally:
            if job.status == "failed":
                _clean_up(job)  # a failed job keeps nothing either
                job.stage, job.progress = "Failed.", None
            job.finished = time.monotonic()
            session.busy = False
            job.done_event.set()

    def shutdown(self) -> None:
        """Cancel queued jobs; running ones finish in the background."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def _clean_up(job: Job) -> None:
    for cleanup in reversed(job._cleanups):
        try:
            cleanup()
        except OSError:  # each cleanup is tried; a failure is logged
            log.exception("job %s: could not remove what it wrote", job.id)


def _forget_old_jobs(session: Session, keep: int = 50) -> None:
    finished = [j for j in session.jobs.values() if j.status in ("done", "failed", "cancelled")]
    for job in finished[:-keep] if len(finished) > keep else []:
        session.jobs.pop(job.id, None)
