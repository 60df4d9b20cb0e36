"""`PatientTables`: one patients table and several event tables (visits, labs, diagnoses...).

A real extract is rarely one long table: visits, lab results, prescriptions and diagnoses
come as separate files joined by the patient id, each with its own time column. This is that
shape. Each event table is checked exactly as a single one is (:class:`PatientTable`: ids
known to the patients table, times read and sorted, duplicates handled, repairs counted), so
:meth:`PatientTables.table` gives any one of them as a :class:`PatientTable` for the
synthesizers and metrics that read one history at a time.

The relation between the files is a small JSON file (read by :meth:`PatientTables.read`,
written by :meth:`PatientTables.write`), paths relative to it::

    {"patient_key": "id",
     "patients": "patients.csv",
     "events": {"labs": {"file": "labs.csv", "time": "days"},
                "diagnoses": {"file": "diagnoses.csv", "time": "days"}}}
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthpatient._io import atomic_folder, read_table, read_text
from synthpatient.errors import DataError, SynthPatientWarning
from synthpatient.longitudinal._checks import MAX_EVENTS_PER_PATIENT
from synthpatient.longitudinal._layout import Layout
from synthpatient.longitudinal._table import PatientTable

#: Event table names become file names and column prefixes: letters, digits, _ and -.
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
RELATION_FILE = "tables.json"


@dataclass(frozen=True, eq=False)
class PatientTables:
    """A patients table and named event tables, all joined by one patient key.

    Attributes:
        key: the patient id column, in every table.
        patients: one row per patient (key unique, sorted by key, index 0..n-1).
        tables: event table name -> :class:`PatientTable` of the patients and that table's
            events (every table shares the same ``patients`` frame).
        repairs: what was repaired in any table, each line prefixed with the table's name.

    Examples:
        >>> tables = datasets.load_tables("nafld")
        >>> tables.names, tables.n_patients
        (('labs', 'diagnoses'), 998)
    """

    key: str
    patients: pd.DataFrame
    tables: Mapping[str, PatientTable]
    repairs: tuple[str, ...] = ()

    @classmethod
    def from_frames(
        cls,
        patients: pd.DataFrame,
        events: Mapping[str, pd.DataFrame],
        *,
        key: str,
        times: Mapping[str, str | None] | None = None,
        max_events_per_patient: int = MAX_EVENTS_PER_PATIENT,
    ) -> PatientTables:
        """Join ``events`` (name -> table) to ``patients`` by ``key``.

        Args:
            patients: one row per patient; its other columns are the static ones.
            events: each event table: the key, a time column and values that change.
            key: the patient id column of every table.
            times: table name -> its time column (None finds it; a table not named here too).
            max_events_per_patient: as :meth:`PatientTable.from_long`, per table.

        Raises:
            DataError: no event table, a name that is not a plain word, a time given for a
                table that is not there, or what :meth:`PatientTable.from_frames` refuses in
                any table (the message names the table).

        Warns:
            SynthPatientWarning: one warning listing every repair of every table.
        """
        if not isinstance(events, Mapping) or not events:
            raise DataError(
                "Give at least one event table (name -> table), e.g. {'visits': visits}."
            )
        times = dict(times or {})
        unknown = sorted(set(times) - set(events))
        if unknown:
            raise DataError(
                f"A time column is given for {', '.join(unknown)}, which is not among the event "
                f"tables ({', '.join(map(str, events))})."
            )
        tables: dict[str, PatientTable] = {}
        repairs: list[str] = []
        for name, frame in events.items():
            check_table_name(name)
            with warnings.catch_warnings(record=True):  # reported once, below, for all tables
                warnings.simplefilter("always", SynthPatientWarning)
                try:
                    table = PatientTable.from_frames(
                        patients,
                        frame,
                        key=key,
                        time=times.get(name),
                        max_events_per_patient=max_events_per_patient,
                    )
                except DataError as exc:
                    raise DataError(f"Event table '{name}': {exc}") from exc
            repairs += [f"{name}: {line}" for line in table.repairs]
            tables[name] = table
        first = next(iter(tables.values()))
        shared = first.patients
        tables = {n: _sharing(t, shared) for n, t in tables.items()}
        if repairs:
            warnings.warn(
                f"The tables were repaired ({len(repairs)} repair(s)): " + "; ".join(repairs) + ".",
                SynthPatientWarning,
                stacklevel=2,
            )
        return cls(key=key, patients=shared, tables=tables, repairs=tuple(repairs))

    @classmethod
    def read(
        cls, path: str | Path, *, max_events_per_patient: int = MAX_EVENTS_PER_PATIENT
    ) -> PatientTables:
        """Read the tables a relation file names (see the module's docstring).

        Raises:
            DataError: the file is not JSON of that shape, or a table cannot be read or
                joined (one line, naming the entry or table).
        """
        path = Path(path)
        relation = _relation(read_text(path, what="relation file"), path)
        folder = path.parent
        patients = read_table(folder / relation["patients"])
        events = {n: read_table(folder / e["file"]) for n, e in relation["events"].items()}
        times = {n: e.get("time") for n, e in relation["events"].items()}
        return cls.from_frames(
            patients,
            events,
            key=relation["patient_key"],
            times=times,
            max_events_per_patient=max_events_per_patient,
        )

    # -- reading -----------------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        """The event tables' names, in the order given."""
        return tuple(self.tables)

    @property
    def n_patients(self) -> int:
        return len(self.patients)

    def table(self, name: str) -> PatientTable:
        """One event table with the patients, as a :class:`PatientTable`."""
        if name not in self.tables:
            raise DataError(
                f"There is no event table '{name}'; the tables are {', '.join(self.names)}."
            )
        return self.tables[name]

    def events(self, name: str) -> pd.DataFrame:
        """The rows of one event table (key, time, values), sorted by patient and time."""
        return self.table(name).events

    def layout(self, name: str) -> Layout:
        return self.table(name).layout

    def subset(self, ids: Sequence[Any] | pd.Series | np.ndarray) -> PatientTables:
        """The tables of the patients whose ids are in ``ids`` (all their events)."""
        keep = self.patients[self.key].isin(list(ids))
        patients = self.patients[keep].reset_index(drop=True)
        tables = {
            name: PatientTable(
                layout=table.layout,
                patients=patients,
                events=table.events[table.events[self.key].isin(patients[self.key])].reset_index(
                    drop=True
                ),
            )
            for name, table in self.tables.items()
        }
        return PatientTables(key=self.key, patients=patients, tables=tables, repairs=self.repairs)

    def split(
        self, holdout_share: float = 0.3, *, seed: int = 0
    ) -> tuple[PatientTables, PatientTables]:
        """Training and held-out tables, split by patient (every event of a patient on one
        side), so privacy can be measured against patients the model never saw."""
        if not 0 < holdout_share < 1:
            raise DataError(f"holdout_share must be between 0 and 1; got {holdout_share!r}.")
        ids = self.patients[self.key].to_numpy()
        order = np.random.default_rng(seed).permutation(len(ids))
        n_holdout = max(1, int(round(holdout_share * len(ids))))
        return self.subset(ids[order[n_holdout:]]), self.subset(ids[order[:n_holdout]])

    def write(self, folder: str | Path, *, overwrite: bool = False, suffix: str = ".csv") -> Path:
        """Write ``patients``, one file per event table and ``tables.json`` into ``folder``
        (created whole, or not at all; an existing folder only with ``overwrite``)."""
        if suffix not in (".csv", ".parquet"):
            raise DataError(f"Tables are written as .csv or .parquet; got '{suffix}'.")
        folder = Path(folder)
        relation: dict[str, Any] = {
            "patient_key": self.key,
            "patients": f"patients{suffix}",
            "events": {},
        }
        with atomic_folder(folder, overwrite=overwrite) as tmp:
            _write_frame(self.patients, tmp / relation["patients"])
            for name, table in self.tables.items():
                file = f"{name}{suffix}"
                _write_frame(table.events, tmp / file)
                relation["events"][name] = {"file": file, "time": table.layout.time}
            (tmp / RELATION_FILE).write_text(json.dumps(relation, indent=2) + "\n", "utf-8")
        return folder


def check_table_name(name: object) -> str:
    """An event table's name: a plain word (it names a file and prefixes columns)."""
    if not isinstance(name, str) or not _NAME.match(name) or name == "patients":
        raise DataError(
            f"Event table name {name!r} is not usable: use a plain word of letters, digits, _ "
            "or - starting with a letter (not 'patients'), e.g. 'labs'."
        )
    return name


def _sharing(table: PatientTable, patients: pd.DataFrame) -> PatientTable:
    """The same table over one shared patients frame (all were built from the same one)."""
    return PatientTable(
        layout=table.layout, patients=patients, events=table.events, repairs=table.repairs
    )


def _write_frame(frame: pd.DataFrame, path: Path) -> None:
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def _relation(text: str, path: Path) -> dict[str, Any]:
    """The relation file's content, checked: one line naming what is wrong."""
    where = f"The relation file {path.name}"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where} is not JSON (line {exc.lineno}): {exc.msg}.") from exc
    example = (
        'e.g. {"patient_key": "id", "patients": "patients.csv", '
        '"events": {"labs": {"file": "labs.csv", "time": "day"}}}'
    )
    if not isinstance(data, dict):
        raise DataError(f"{where} must hold an object; {example}.")
    extra = sorted(set(data) - {"patient_key", "patients", "events"})
    if extra:
        raise DataError(f"{where} has unknown entries {', '.join(extra)}; {example}.")
    for entry in ("patient_key", "patients"):
        if not isinstance(data.get(entry), str) or not data[entry]:
            raise DataError(f"{where} needs '{entry}' as text; {example}.")
    events = data.get("events")
    if not isinstance(events, dict) or not events:
        raise DataError(f"{where} needs 'events' naming at least one event table; {example}.")
    for name in list(events):
        check_table_name(name)
        if isinstance(events[name], str):
            events[name] = {"file": events[name]}
        entry = events[name]
        if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
            raise DataError(f"{where}: event table '{name}' needs a 'file'; {example}.")
        unknown = sorted(set(entry) - {"file", "time"})
        time = entry.get("time")
        if unknown or not (time is None or isinstance(time, str)):
            raise DataError(
                f"{where}: event table '{name}' takes 'file' and 'time' (a column name or "
                f"null) only; {example}."
            )
    return data
