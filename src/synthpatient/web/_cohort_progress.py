"""A knowledge cohort's drawing and writing as the job's stages, with a real fraction.

The sampler reports its steps through :mod:`synthpatient._steps` ("draw": demographics,
correlated values, clinical layer; "history": the follow-up; "files": writing, where the
writer reports it). Each stage gets a share of the job in proportion to how long it took per
patient the last time this server ran it, so the fraction moves with the time actually spent
and the estimate (elapsed x left / done) holds. Every step is also where Cancel takes effect:
:meth:`Job.report` raises :class:`~synthpatient.errors.JobCancelled`, the draw stops there
and the writer's temporary folder is removed by its own atomic writer.

Writing the files (CSV, FHIR, realism, data card) is one stage whose estimate is its last
run's pace, and where Cancel takes effect when it ends, unless the writer reports steps of its
own ("files", and "fhir" inside it): then it moves and stops like the draw.
"""

from __future__ import annotations

import time

from synthpatient.web.jobs import Job

#: the part of the job before "Checking realism and drawing plots..." (the rest, 20 %)
_SHARE = 0.8
#: seconds per patient of each stage, by whether the cohort has histories and FHIR; the
#: defaults are a loaded 2-core machine's (draw 0.1 s, history 0.7 s, files 14 s with FHIR
#: or 1.2 s without, for 2,000 patients) until this server has drawn a cohort of its own
_DEFAULT_PACE = {"draw": 5e-5, "history": 4e-4, "files": 1.2e-3, "files+fhir": 7e-3}
_PACE: dict[tuple[bool, str], float] = {}
#: where a writer that reports its steps places the FHIR export within the writing
_FHIR_FROM, _FHIR_TO = 0.05, 0.9


class CohortProgress:
    """The callback given to :func:`synthpatient._steps.reporting` while a cohort is made."""

    def __init__(self, job: Job, n: int, *, histories: bool, fhir: bool) -> None:
        self.job, self.n, self.histories = job, max(n, 1), histories
        self._files_key = "files+fhir" if fhir else "files"
        self.stages = ["draw", *(["history"] if histories else []), "files"]
        expected = [self._expected(s) for s in self.stages]
        total = sum(expected) or 1.0
        starts, at = [], 0.0
        for seconds in expected:
            starts.append(at)
            at += seconds / total
        self._start = dict(zip(self.stages, starts, strict=True))
        self._width = {s: e / total for s, e in zip(self.stages, expected, strict=True)}
        self._began: dict[str, float] = {}
        self._reported_files = False

    def _pace_key(self, stage: str) -> str:
        return self._files_key if stage == "files" else stage

    def _expected(self, stage: str) -> float:
        key = self._pace_key(stage)
        return _PACE.get((self.histories, key), _DEFAULT_PACE[key]) * self.n

    def _label(self, stage: str, fraction: float) -> str:
        if stage == "draw":
            return f"Drawing {self.n:,} patients from the knowledge base ({fraction:.0%})..."
        if stage == "history":
            return f"Following {self.n:,} patients over the years (visits, treatments)..."
        what = "CSV, FHIR, data card" if self._files_key == "files+fhir" else "CSV, data card"
        done = f", {fraction:.0%}" if self._reported_files else ""
        return f"Writing the files of {self.n:,} patients ({what}{done})..."

    def start(self) -> None:
        self("draw", 0.0)

    def __call__(self, stage: str, fraction: float) -> None:
        if stage == "fhir":  # the FHIR export, inside the writing: most of its time
            stage, fraction = "files", _FHIR_FROM + (_FHIR_TO - _FHIR_FROM) * fraction
        if stage not in self._start:
            return  # a step of a call this job does not show (it still stops there)
        self._began.setdefault(stage, time.monotonic())
        if stage == "files":
            self._reported_files = True
        overall = _SHARE * (self._start[stage] + self._width[stage] * fraction)
        self.job.report(self._label(stage, fraction), overall)
        if fraction >= 1:
            self._finished(stage)

    def _finished(self, stage: str) -> None:
        self._record(stage)
        following = self.stages[self.stages.index(stage) + 1 :]
        if following == ["files"] and not self._reported_files:
            # the writer reports no steps: one stage whose length its last run foretells
            self._began["files"] = time.monotonic()
            self.job.report(
                self._label("files", 0.0),
                _SHARE * self._start["files"],
                expected_s=self._expected("files"),
                counted=False,
            )

    def _record(self, stage: str) -> None:
        began = self._began.get(stage)
        if began is not None:
            _PACE[(self.histories, self._pace_key(stage))] = (time.monotonic() - began) / self.n

    def done(self) -> None:
        """The cohort and its files are written: remember the writing's pace."""
        if "files" in self._began and not self._reported_files:
            self._record("files")
