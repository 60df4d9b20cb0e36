"""A cohort's history in FHIR R4: an Encounter per visit, Observations dated and tied to their
visit, MedicationRequests with their start and stop, Conditions with their onset.

A knowledge-driven cohort with a follow-up carries a timeline (``Cohort.timeline``: frames of
encounters, observations, medications and conditions, one patient's rows by date).
:class:`TimelineEvents` checks it once (columns, dates, that every observation belongs to one
of its patient's visits), groups it by patient, and gives each patient's resources through the
builders of :mod:`synthpatient.exporters.fhir_mapping`, so a history is written by the same
mapping, validation and writers as a one-visit cohort or an uploaded table.

Choices (R4):

- **MedicationRequest, not MedicationStatement.** The timeline's drugs are decisions taken at a
  visit: a guideline step started when a value was above target, with a start date, a reason
  and, when it ended, a stop date. That is an order (who prescribed what, when, why), which is
  what a MedicationRequest records; a MedicationStatement records what a patient reports taking,
  which the simulation does not model (it has no adherence). R4 has no
  ``MedicationRequest.period``: the start and stop go in
  ``dosageInstruction[0].timing.repeat.boundsPeriod``, ``authoredOn`` is the start, the visit
  that day (if any) is the ``encounter`` and the reason is a ``reasonCode`` text.
- **Status**: ``active`` while ongoing (no stop date); ``stopped`` once stopped, as R4 defines
  it: "actions implied by the prescription are to be permanently halted, before all of them
  occurred" (a chronic drug ended or replaced). ``completed`` would claim a finished course,
  which a chronic treatment does not have.
- **Conditions** take ``onsetDateTime`` = ``recordedDate`` = the onset, and the visit of that
  day when there is one; the cohort's own condition is one of them (onset = diagnosis).
- **Observations** take ``effectiveDateTime`` and the ``encounter`` of their visit; a missing
  value is written with a ``dataAbsentReason`` rather than left out.

Ids are UUIDs of (patient, resource type, the row's own key: encounter id, observation and
visit, drug and start, condition), unique within a bundle (a repeated key gets a counter).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.errors import DataError
from synthpatient.exporters.fhir_mapping import (
    CodedColumn,
    FlaggedCode,
    Ids,
    Reference,
    condition_resource,
    encounter_resource,
    medication_resource,
    observation_resource,
)

#: the columns each table must have (the agreed interface of ``knowledge.timeline``)
REQUIRED = {
    "encounters": ("patient_id", "encounter_id", "date"),
    "observations": (
        "patient_id",
        "encounter_id",
        "observation",
        "name",
        "loinc",
        "value",
        "unit",
        "effective_date",
    ),
    "medications": ("patient_id", "medication", "name", "start_date", "stop_date"),
    "conditions": ("patient_id", "condition", "name", "snomed", "onset_date"),
}
#: columns used when present
OPTIONAL = {
    "encounters": ("kind", "reason"),
    "observations": (),
    "medications": ("rxnorm", "reason"),
    "conditions": ("icd10",),
}
DATES = {
    "encounters": ("date",),
    "observations": ("effective_date",),
    "medications": ("start_date", "stop_date"),
    "conditions": ("onset_date",),
}
_HOW = "build it with synthpatient.knowledge.timeline"


class _Rows:
    """One table of the timeline as columns of Python values (dates as YYYY-MM-DD text, None
    when missing), sorted by patient (each patient's own order kept), with each patient's span:
    a patient's rows are sliced, never searched for."""

    def __init__(self, table: str, frame: pd.DataFrame) -> None:
        missing = [c for c in REQUIRED[table] if c not in frame.columns]
        if missing:
            raise DataError(f"The timeline's {table} table has no '{missing[0]}' column; {_HOW}.")
        pids = frame["patient_id"].astype(str).to_numpy()
        order = np.argsort(pids, kind="stable")
        pids = pids[order]
        self.columns: dict[str, np.ndarray] = {}
        for column in (*REQUIRED[table], *(c for c in OPTIONAL[table] if c in frame.columns)):
            series = frame[column].iloc[order]
            if column in DATES[table]:
                self.columns[column] = _day_texts(series, table, column)
            else:
                self.columns[column] = series.to_numpy(dtype=object)
        self.spans: dict[str, tuple[int, int]] = {}
        if len(pids):
            cuts = np.flatnonzero(pids[1:] != pids[:-1]) + 1
            starts, stops = np.r_[0, cuts], np.r_[cuts, len(pids)]
            self.spans = {
                str(pids[a]): (int(a), int(b)) for a, b in zip(starts, stops, strict=True)
            }

    def rows(self, pid: str) -> list[dict[str, Any]]:
        start, stop = self.spans.get(pid, (0, 0))
        names = list(self.columns)
        sliced = [self.columns[name][start:stop] for name in names]
        return [dict(zip(names, values, strict=True)) for values in zip(*sliced, strict=True)]


def _day_texts(series: pd.Series, table: str, column: str) -> np.ndarray:
    if not pd.api.types.is_datetime64_any_dtype(series):
        raise DataError(f"The timeline's {table} column '{column}' does not hold dates; {_HOW}.")
    texts = series.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    texts[series.isna().to_numpy()] = None
    return texts


def _text(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _value(value: Any) -> float | None:
    """A finite number, or None (written as a dataAbsentReason)."""
    if value is None or value is pd.NA:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class _Keys:
    """Id parts unique within a patient: parts whose joined name was seen get a counter."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def __call__(self, *parts: str) -> tuple[str, ...]:
        name = "/".join(parts)  # what Ids hashes: parts that join alike are alike
        count = self.seen.get(name, 0)
        self.seen[name] = count + 1
        return parts if count == 0 else (*parts, f"#{count}")


@dataclass(frozen=True)
class TimelineEvents:
    """A cohort's history grouped by patient, checked, ready to become FHIR resources.

    Examples:
        >>> events = TimelineEvents.from_timeline(cohort.timeline, patients=ids, categories={})
        >>> events.resources("P0000001", subject, ref, Ids("synthpatient:cohort:1"))
    """

    encounters: _Rows
    observations: _Rows
    medications: _Rows
    conditions: _Rows
    categories: Mapping[str, str | None]
    #: conditions that are acute episodes, over by the next visit (written as resolved)
    episodes: frozenset[str] = frozenset()

    @classmethod
    def from_timeline(
        cls,
        timeline: Any,
        *,
        patients: Iterable[str],
        categories: Mapping[str, str | None],
        episodes: Iterable[str] = (),
    ) -> TimelineEvents:
        """Check ``timeline`` (one-line :class:`DataError` naming what is wrong, no value) and
        group it. ``patients``: the ids of the cohort's patients table; ``categories``: each
        observation key's FHIR category (a key not in it is written without one)."""
        frames = {name: _frame(timeline, name) for name in REQUIRED}
        rows = {name: _Rows(name, frame) for name, frame in frames.items()}
        _check(frames, {str(p) for p in patients})
        return cls(**rows, categories=dict(categories), episodes=frozenset(episodes))

    def resource_types(self) -> set[str]:
        """The resource types the history holds (besides the Patient)."""
        tables = (
            ("Encounter", self.encounters),
            ("Condition", self.conditions),
            ("Observation", self.observations),
            ("MedicationRequest", self.medications),
        )
        return {kind for kind, rows in tables if rows.spans}

    def resources(
        self, pid: str, subject: dict[str, str], ref: Reference, ids: Ids
    ) -> list[dict[str, Any]]:
        """The patient's Encounters, Conditions, Observations and MedicationRequests."""
        keys = _Keys()
        resources: list[dict[str, Any]] = []
        visits: dict[str, dict[str, str]] = {}  # encounter id -> reference
        on_day: dict[str, dict[str, str]] = {}  # date -> reference of that day's first visit
        for row in self.encounters.rows(pid):
            eid = str(row["encounter_id"])
            rid = ids(pid, *keys("Encounter", eid))
            kind, reason = _text(row.get("kind")), _text(row.get("reason"))
            resources.append(
                encounter_resource(rid, subject, row["date"], kind=kind, reason=reason)
            )
            visits[eid] = ref("Encounter", rid)
            on_day.setdefault(row["date"], visits[eid])
        for row in self.conditions.rows(pid):
            item = FlaggedCode(
                str(row["condition"]),
                _text(row["snomed"]),
                str(row["name"]),
                None,
                icd10=_text(row.get("icd10")) or None,
            )
            onset = row["onset_date"]
            context = {"encounter": on_day[onset]} if onset in on_day else {}
            rid = ids(pid, *keys("Condition", item.key))
            episode = item.key in self.episodes
            resources.append(
                condition_resource(item, rid, subject, context, onset, onset, episode=episode)
            )
        for row in self.observations.rows(pid):
            key, eid = str(row["observation"]), str(row["encounter_id"])
            coded = CodedColumn(
                key, str(row["loinc"]), str(row["name"]), str(row["unit"]), self.categories.get(key)
            )
            rid = ids(pid, *keys("Observation", eid, key))
            context = {"encounter": visits[eid]}
            day = row["effective_date"]
            resources.append(
                observation_resource(coded, _value(row["value"]), rid, subject, context, day)
            )
        for row in self.medications.rows(pid):
            med = FlaggedCode(
                str(row["medication"]), _text(row.get("rxnorm")), str(row["name"]), None
            )
            start, stop = row["start_date"], row["stop_date"]
            context = {"encounter": on_day[start]} if start in on_day else {}
            rid = ids(pid, *keys("MedicationRequest", med.key, start or ""))
            resources.append(
                medication_resource(
                    med,
                    rid,
                    subject,
                    context,
                    start,
                    status="active" if stop is None else "stopped",
                    period=(start, stop),
                    reason=_text(row.get("reason")),
                )
            )
        return resources


def _frame(timeline: Any, name: str) -> pd.DataFrame:
    frame = getattr(timeline, name, None)
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"The timeline has no {name} table; {_HOW}.")
    return frame


def _check(frames: dict[str, pd.DataFrame], patients: set[str]) -> None:
    """Every reference the resources will make must resolve: visits have a date and their own
    id, each observation names a visit of its patient, every patient is in the patients table."""
    encounters = frames["encounters"]
    if encounters["date"].isna().any():
        count = int(encounters["date"].isna().sum())
        raise DataError(f"{count:,} encounters of the timeline have no date; {_HOW}.")
    ids = encounters["encounter_id"].astype(str)
    if ids.duplicated().any():
        count = int(ids.duplicated().sum())
        raise DataError(
            f"The timeline gives {count:,} encounter ids to more than one visit; each visit "
            f"needs its own id ({_HOW})."
        )
    own = pd.MultiIndex.from_arrays([encounters["patient_id"].astype(str), ids])
    observations = frames["observations"]
    named = pd.MultiIndex.from_arrays(
        [observations["patient_id"].astype(str), observations["encounter_id"].astype(str)]
    )
    orphans = int((~named.isin(own)).sum())
    if orphans:
        raise DataError(
            f"{orphans:,} observation rows of the timeline name no visit of their patient; "
            f"every observation must belong to one of its patient's encounters ({_HOW})."
        )
    for name, frame in frames.items():
        unknown = set(frame["patient_id"].astype(str).unique()) - patients
        if unknown:
            raise DataError(
                f"The timeline's {name} table has rows for {len(unknown):,} patients who are "
                f"not in the cohort's patients table; {_HOW} from this cohort."
            )
