"""`PatientTable`: a patients table (one row per patient) and an event table (rows in time).

The patient, not the row, is the unit: synthesis, evaluation and privacy read a table through
this split. It is built from one long table (:meth:`PatientTable.from_long`, the layout
inferred or given) or from two (:meth:`PatientTable.from_frames`), and turned back into the
long form by :meth:`PatientTable.to_long`, the exchange format between synthesizers and
evaluation. Whatever was repaired on the way is in ``repairs`` and in one warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from synthpatient.errors import DataError, SynthPatientWarning
from synthpatient.longitudinal._checks import (
    MAX_EVENTS_PER_PATIENT,
    check_events_limit,
    check_known_ids,
    check_patients_table,
    drop_missing,
    handle_duplicates,
    sort_events,
    static_values,
)
from synthpatient.longitudinal._layout import Layout, frames_layout, infer_layout, time_values


@dataclass(frozen=True, eq=False)
class PatientTable:
    """A long table split into patients (static columns) and events (varying columns, in time).

    Attributes:
        layout: the key, time column, static and varying columns, with a reason for each.
        patients: one row per patient: ``layout.key`` and the static columns; key unique,
            sorted by key, index 0..n-1.
        events: ``layout.key``, ``layout.time`` (when there is one) and the varying columns;
            sorted by (key, time), index 0..n-1. A time given as date text is parsed into
            dates (UTC, as the schema reads dates).
        repairs: repairs made (e.g. "dropped 3 rows with no time value in 'day'"), each
            counted, never naming a patient value.

    Examples:
        >>> table = PatientTable.from_long(datasets.load("pbcseq"))
        >>> table.n_patients, len(table.events)
        (312, 1945)
    """

    layout: Layout
    patients: pd.DataFrame
    events: pd.DataFrame
    repairs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        key, time = self.layout.key, self.layout.time
        expected = {
            "patients": [key, *self.layout.static],
            "events": [key, *([time] if time else []), *self.layout.varying],
        }
        for table, frame in (("patients", self.patients), ("events", self.events)):
            missing = [c for c in expected[table] if c not in frame.columns]
            if missing:
                raise DataError(
                    f"The {table} table lacks column(s) {', '.join(map(str, missing))} that "
                    "its layout names."
                )
        check_patients_table(self.patients, key)
        check_known_ids(self.events, self.patients, key)

    # -- building ----------------------------------------------------------------------------
    @classmethod
    def from_long(
        cls,
        df: pd.DataFrame,
        *,
        key: str | None = None,
        time: str | None = None,
        static: Sequence[str] | None = None,
        max_events_per_patient: int = MAX_EVENTS_PER_PATIENT,
    ) -> PatientTable:
        """Split a long table (several rows per patient) into patients and events.

        Args:
            df: one row per event; not changed.
            key: the patient id column; inferred when None (see :func:`infer_layout`).
            time: the time column; inferred when None (row order when there is none).
            static: the patients table's columns; inferred from the values when None.
            max_events_per_patient: more events for one patient is an error (a key that is
                not a patient: a ward, a site); raise it for very long histories.

        Raises:
            DataError: what :func:`infer_layout` refuses; no row with a patient id or a time;
                a patient over ``max_events_per_patient``; an identifier (a name, a phone
                number) that differs within a patient, so the key may join several people.

        Warns:
            SynthPatientWarning: one warning listing every repair (also in ``repairs``).
        """
        layout = infer_layout(df, key=key, time=time, static=static)
        key, time = layout.key, layout.time
        repairs: list[str] = []
        frame = df.copy()
        frame.columns = [str(c) for c in frame.columns]
        frame = drop_missing(frame, key, "patient id", repairs)
        check_events_limit(frame, key, max_events_per_patient)
        frame = _prepared_events(frame, layout, repairs)
        patients = static_values(frame, key, layout.static, layout.identifiers, repairs)
        events = frame[[key, *([time] if time else []), *layout.varying]]
        return cls._made(layout, patients, events, repairs)

    @classmethod
    def from_frames(
        cls,
        patients: pd.DataFrame,
        events: pd.DataFrame,
        *,
        key: str,
        time: str | None = None,
        max_events_per_patient: int = MAX_EVENTS_PER_PATIENT,
    ) -> PatientTable:
        """A patients table (one row per patient) and an events table joined by ``key``.

        Patients without events are kept (``events_per_patient`` counts them as 0).

        Raises:
            DataError: the key is missing from a table, a column is in both, a patient id is
                missing or repeated in the patients table, events name patients that are not
                in the patients table (the count is given), a patient is over
                ``max_events_per_patient``, or the events have no time values.

        Warns:
            SynthPatientWarning: one warning listing every repair (also in ``repairs``).
        """
        layout = frames_layout(patients, events, key=key, time=time)
        repairs: list[str] = []
        people = patients.copy()
        people.columns = [str(c) for c in people.columns]
        check_patients_table(people, key)
        frame = events.copy()
        frame.columns = [str(c) for c in frame.columns]
        frame = drop_missing(frame, key, "patient id", repairs, table="events table")
        check_known_ids(frame, people, key)
        check_events_limit(frame, key, max_events_per_patient)
        frame = _prepared_events(frame, layout, repairs)
        people = people.sort_values(key, kind="stable")
        return cls._made(layout, people, frame, repairs)

    @classmethod
    def _made(
        cls, layout: Layout, patients: pd.DataFrame, events: pd.DataFrame, repairs: list[str]
    ) -> PatientTable:
        if repairs:
            warnings.warn(
                f"The long table was repaired ({len(repairs)} repair(s)): "
                + "; ".join(repairs)
                + ".",
                SynthPatientWarning,
                stacklevel=3,
            )
        return cls(
            layout=layout,
            patients=patients.reset_index(drop=True),
            events=events.reset_index(drop=True),
            repairs=tuple(repairs),
        )

    # -- reading -----------------------------------------------------------------------------
    def to_long(self) -> pd.DataFrame:
        """The events joined with their patient's static columns, in the original column order.

        The inverse of :meth:`from_long` (rows sorted by patient and time; repairs, if any,
        applied). Patients without events have no row in the long form.
        """
        key = self.layout.key
        merged = self.events.merge(
            self.patients, on=key, how="left", sort=False, validate="many_to_one"
        )
        return merged[self._column_order()]

    def _column_order(self) -> list[str]:
        named = {self.layout.key, *self.layout.static, *self.layout.varying}
        if self.layout.time:
            named.add(self.layout.time)
        if self.layout.columns and set(self.layout.columns) == named:
            return list(self.layout.columns)
        time = [self.layout.time] if self.layout.time else []
        return [self.layout.key, *self.layout.static, *time, *self.layout.varying]

    @property
    def n_patients(self) -> int:
        """Patients in the patients table (those without events included)."""
        return len(self.patients)

    def events_per_patient(self) -> pd.Series:
        """Events per patient, indexed by patient id in the patients table's order (0 allowed)."""
        key = self.layout.key
        counts = self.events[key].value_counts(sort=False)
        index = pd.Index(self.patients[key], name=key)
        return counts.reindex(index, fill_value=0).astype("int64").rename("n_events")

    def gaps(self) -> pd.Series:
        """Time from each event to the previous event of its patient (first events excluded).

        In days (fractional) for dates, in the column's own unit for numbers, and 1.0 per
        step when there is no time column (events in row order). Indexed like ``events``.
        """
        key, time = self.layout.key, self.layout.time
        keys = self.events[key]
        later = keys.eq(keys.shift()).to_numpy()
        if time is None:
            return pd.Series(1.0, index=self.events.index[later], name="gap")
        step = self.events[time].diff()[later]
        if self.layout.time_kind == "datetime":
            return (step.dt.total_seconds() / 86400.0).rename("gap")
        return step.astype(float).rename("gap")


def _prepared_events(frame: pd.DataFrame, layout: Layout, repairs: list[str]) -> pd.DataFrame:
    """Times read as dates or numbers, rows without one dropped, sorted, duplicates handled."""
    key, time = layout.key, layout.time
    if time is not None:
        read = time_values(frame[time])
        if read is None:  # the layout was made from another table of the same columns
            raise DataError(f"The time column '{time}' holds neither dates nor numbers.")
        frame[time] = read[0]
        frame = drop_missing(frame, time, "time value", repairs)
    frame = sort_events(frame, key, time, repairs)
    return handle_duplicates(frame, key, time, repairs)
