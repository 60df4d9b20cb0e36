"""Patient histories in the web app: a long table on upload, and a cohort with a follow-up.

A table whose rows repeat a patient id (the schema's patient-key finder) is read at once as
patient histories (:func:`synthpatient.longitudinal.infer_layout`), so the page can say in
plain words how many patients and visits it holds, which column is the time, which columns
hold one value per patient and which change between visits, before anything is learned. The
generation then counts in patients, keeps each patient's visits on one side of the holdout
(the patient, not the row, is the unit of privacy) and evaluates at the patient level.

Every text here names columns and counts, never a value of the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from synthpatient.errors import DataError

#: what a row-level generator does to a long table, said where the user chooses one
ROW_LEVEL_WARNING = (
    "The {key} generator treats each visit as a separate patient: the synthetic visits will "
    "not form histories, and every synthetic row gets its own patient id. Choose the "
    "sequential generator to keep each patient's visits together."
)


@dataclass(frozen=True)
class UploadTimeline:
    """What was found about an uploaded table with several rows per patient."""

    key: str
    time: str | None
    time_kind: str
    n_patients: int
    n_visits: int
    max_visits: int
    static: tuple[str, ...]
    varying: tuple[str, ...]
    identifiers: tuple[str, ...]
    reasons: dict[str, str] = field(hash=False)

    @property
    def mean_visits(self) -> float:
        return self.n_visits / max(self.n_patients, 1)

    @property
    def summary(self) -> str:
        return (
            f"{self.n_patients:,} patients with {self.n_visits:,} visits: each patient's "
            "rows are kept together."
        )

    @property
    def time_text(self) -> str:
        if self.time is None:
            return "No time column was found: each patient's visits keep their row order."
        what = "dates" if self.time_kind == "datetime" else "numbers, such as days"
        return f"The time of each visit is '{self.time}' ({what})."

    def role(self, column: str) -> str | None:
        """The column's place in a patient's history, in plain words."""
        if column == self.key:
            return "patient id"
        if column == self.time:
            return "time of the visit"
        if column in self.static:
            return "per patient"
        if column in self.varying:
            return "per visit"
        return None

    def to_out(self) -> dict[str, Any]:
        """The API's view (models.TimelineOut)."""
        return {
            "patient_key": self.key,
            "time_column": self.time,
            "n_patients": self.n_patients,
            "n_visits": self.n_visits,
            "mean_visits": round(self.mean_visits, 2),
            "max_visits": self.max_visits,
            "per_patient": list(self.static),
            "per_visit": list(self.varying),
            "identifiers": list(self.identifiers),
            "summary": self.summary,
            "time_text": self.time_text,
            "synthesizer": "sequential",
        }


def find_timeline(frame: pd.DataFrame, decisions: list[Any]) -> tuple[UploadTimeline | None, str]:
    """The table's patient histories when the schema found a patient key, else None; and a
    notice when a key was found but the rows cannot be read as histories (never silent)."""
    key = next((str(d.name) for d in decisions if getattr(d, "patient_key", False)), None)
    if key is None:
        return None, ""
    from synthpatient.longitudinal import infer_layout

    try:
        layout = infer_layout(frame, key=key)
    except DataError as error:
        return None, (
            f"The rows repeat the patient id '{key}', but they cannot be read as patient "
            f"histories ({str(error).rstrip('.')}); each row is treated as a separate patient."
        )
    counts = frame[key].value_counts(dropna=True)
    reasons = dict(layout.reasons)
    found = next((d for d in decisions if str(d.name) == key), None)
    if found is not None:  # the schema's own words on why this is the patient
        reasons[key] = str(found.reason)
    return (
        UploadTimeline(
            key=layout.key,
            time=layout.time,
            time_kind=layout.time_kind,
            n_patients=int(len(counts)),
            n_visits=int(counts.sum()),
            max_visits=int(counts.max()),
            static=layout.static,
            varying=layout.varying,
            identifiers=layout.identifiers,
            reasons=reasons,
        ),
        "",
    )


def flag_note(kind: str, role: str | None) -> str | None:
    """The note of a flagged column of a long table: where its made-up values go."""
    if kind == "identifier" and role == "per patient":
        return (
            "identifier, the same on every visit of a patient: not learned, made up fresh "
            "(one per synthetic patient)"
        )
    if kind == "identifier" and role == "patient id":
        return "patient id: not learned; every synthetic patient gets a new one"
    return None


def check_size(timeline: UploadTimeline, n_patients: int, max_rows: int) -> None:
    """The server's row limit, applied to the visits ``n_patients`` patients would have."""
    expected = n_patients * timeline.mean_visits
    if expected > max_rows:
        most = max(1, int(max_rows / max(timeline.mean_visits, 1.0)))
        raise DataError(
            f"{n_patients:,} patients would have about {expected:,.0f} visits at "
            f"{timeline.mean_visits:.1f} visits per patient; this server makes at most "
            f"{max_rows:,} rows per request. Ask for at most {most:,} patients."
        )


def split_by_patient(
    real: pd.DataFrame, timeline: UploadTimeline, share: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Training and holdout rows with every patient's visits on one side, and what was done."""
    from synthpatient.evaluation import split_patients

    training, holdout = split_patients(real, timeline.key, holdout_share=share, seed=seed)
    kept = holdout[timeline.key].nunique()
    notice = (
        f"{kept:,} of {timeline.n_patients:,} patients, with all their {len(holdout):,} "
        "visits, were kept aside to measure privacy against patients the generator never saw."
    )
    return training, holdout, notice


def describe_result(
    result: Any,
    timeline: UploadTimeline,
    synthetic: pd.DataFrame,
    filename: str,
    longitudinal: bool,
    holdout: pd.DataFrame | None,
) -> None:
    """Title, summary and provenance of a table result learned from a long table."""
    n_patients = int(synthetic[timeline.key].nunique()) if timeline.key in synthetic else 0
    result.n_patients = n_patients
    if longitudinal:
        result.title = (
            f"{n_patients:,} synthetic patients ({len(synthetic):,} visits) like {filename}"
        )
        result.summary = f"{n_patients:,} patients, {len(synthetic):,} visits"
    else:
        result.summary = (
            f"{len(synthetic):,} visits, each of a separate synthetic patient (the "
            "generator did not keep visits together)"
        )
    result.provenance["patients"] = {
        "patient_key": timeline.key,
        "time_column": timeline.time,
        "real_patients": timeline.n_patients,
        "real_visits": timeline.n_visits,
        "holdout_patients": 0 if holdout is None else int(holdout[timeline.key].nunique()),
        "synthetic_patients": n_patients,
        "unit_of_privacy": "the patient (the holdout was split by patient)",
    }
