"""Bad input in a long table: one-line errors, or repairs that are counted and reported.

Each function takes the table as it stands and returns it repaired, with a line per repair
(counts and column names only, never a patient value), or raises :class:`DataError`:

- rows with no patient id or no time value: dropped and counted (an error when none is left);
- more events for a patient than ``max_events_per_patient``: an error naming the limit;
- times out of order within a patient: the patient's rows sorted, the patients counted;
- duplicate (patient, time) rows: exact copies of a row (every value equal) are dropped and
  counted; rows that share a patient and a time but differ in some value are kept as separate
  events at the same time (two lab draws on one day), counted and reported;
- a static column with several values within a patient: an identifier (a name, a phone
  number) that differs within a patient means one key value covers several people, an error;
  any other column keeps each patient's most frequent value (the earliest on ties), counted;
- missing values of a static column within a patient who has a value: filled, counted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from synthpatient.errors import DataError

#: The default cap on events per patient: more usually means a wrong key (a site or a ward).
MAX_EVENTS_PER_PATIENT = 5000


def _rows(n: int) -> str:
    return f"{n} row{'s' if n != 1 else ''}"


def _patients(n: int) -> str:
    return f"{n} patient{'s' if n != 1 else ''}"


def drop_missing(
    df: pd.DataFrame, column: str, what: str, repairs: list[str], *, table: str = "table"
) -> pd.DataFrame:
    """Rows without a value in ``column`` dropped and counted; an error if none has one."""
    missing = df[column].isna().to_numpy()
    n_missing = int(missing.sum())
    if not n_missing:
        return df
    if n_missing == len(df):
        raise DataError(
            f"No row of the {table} has a {what} in column '{column}'; give a column with {what}s."
        )
    repairs.append(f"dropped {_rows(n_missing)} with no {what} in '{column}'")
    return df.loc[~missing]


def check_events_limit(events: pd.DataFrame, key: str, limit: int) -> None:
    """An error when a patient has more events than ``limit`` (a key that is not a patient)."""
    if isinstance(limit, bool) or not isinstance(limit, int | np.integer) or limit < 1:
        raise DataError("max_events_per_patient must be a whole number of at least 1.")
    counts = events[key].value_counts(sort=False)
    n_over = int((counts > limit).sum())
    if n_over:
        raise DataError(
            f"{_patients(n_over)} of key '{key}' have more than {limit} events, the limit "
            "(max_events_per_patient): check that the key identifies patients, or raise the "
            f"limit with max_events_per_patient= above {limit} (-p max_events_per_patient=N "
            "with --synthesizer sequential)."
        )


def sort_events(df: pd.DataFrame, key: str, time: str | None, repairs: list[str]) -> pd.DataFrame:
    """Rows sorted by patient, then time (stable: same-time events keep their row order).

    Patients whose times went backwards in row order are counted as a repair; interleaved
    patients (a table sorted by date) are not a repair, just grouped.
    """
    if time is None:
        return df.sort_values(key, kind="stable").reset_index(drop=True)
    grouped = df.sort_values(key, kind="stable")
    same = grouped[key].to_numpy()[1:] == grouped[key].to_numpy()[:-1]
    times = grouped[time].to_numpy()
    backwards = same & (times[1:] < times[:-1])
    n_patients = len(pd.unique(grouped[key].to_numpy()[1:][backwards]))
    if n_patients:
        repairs.append(
            f"sorted the events of {_patients(n_patients)} whose times were out of order"
        )
    return df.sort_values([key, time], kind="stable").reset_index(drop=True)


def handle_duplicates(
    df: pd.DataFrame, key: str, time: str | None, repairs: list[str]
) -> pd.DataFrame:
    """Exact copies of a row dropped; same (patient, time) with other values kept; both counted.

    Without a time column two equal rows may be two visits that measured the same, so nothing
    is dropped.
    """
    if time is None:
        return df
    copies = df.duplicated(keep="first").to_numpy()
    n_copies = int(copies.sum())
    if n_copies:
        repairs.append(
            f"dropped {_rows(n_copies)} that repeated another row exactly (same patient, time "
            "and values)"
        )
        df = df.loc[~copies].reset_index(drop=True)
    shared = df.duplicated([key, time], keep=False).to_numpy()
    n_shared = int(shared.sum())
    if n_shared:
        n_patients = df.loc[shared, key].nunique()
        repairs.append(
            f"kept {_rows(n_shared)} ({_patients(n_patients)}) that share their patient and "
            "time with another row but differ in values, as events at the same time"
        )
    return df


def static_values(
    df: pd.DataFrame,
    key: str,
    static: Sequence[str],
    identifiers: Sequence[str],
    repairs: list[str],
) -> pd.DataFrame:
    """One row per patient (sorted by key): the key and each static column's value.

    ``df`` is sorted by patient and time, so "first" is the earliest value. Raises DataError
    when an identifier differs within a patient (the key seems to join several people).
    """
    grouped = df.groupby(key, sort=True, dropna=True)
    # df is sorted by key: its first rows are the patients in the groupby's order, and the
    # key keeps its dtype
    patients = df[[key]].drop_duplicates().reset_index(drop=True)
    filled: list[str] = []
    n_filled = 0
    for name in static:
        distinct = grouped[name].nunique(dropna=True)
        conflicted = distinct.index[distinct.to_numpy() > 1]
        values = grouped[name].first()
        if len(conflicted):
            if name in identifiers:
                raise DataError(
                    f"The patient key '{key}' is not constant for what looks like one patient: "
                    f"the identifier column '{name}' differs within {_patients(len(conflicted))} "
                    f"of {len(values)}, so one key value may cover several people. Check the "
                    "key (or give the right one with key=), or drop that column if its values "
                    "legitimately change."
                )
            values = _most_frequent(df, key, name, values, conflicted)
            repairs.append(
                f"'{name}' (static) had several values within {_patients(len(conflicted))}: "
                "each keeps its most frequent value (the earliest on ties)"
            )
        n_missing = _fillable(df, key, name, values)
        if n_missing:
            filled.append(name)
            n_filled += n_missing
        patients[name] = values.reset_index(drop=True)  # a Series keeps the column's dtype
    if n_filled:
        repairs.append(
            f"filled {n_filled} missing value(s) of static column(s) {', '.join(filled)} "
            "from the same patient's other rows"
        )
    return patients


def _most_frequent(
    df: pd.DataFrame, key: str, name: str, values: pd.Series, conflicted: pd.Index
) -> pd.Series:
    rows = df.loc[df[key].isin(conflicted), [key, name]].dropna()
    rows = rows.assign(_order=np.arange(len(rows)))
    counts = rows.groupby([key, name], sort=False).agg(
        n=("_order", "size"), first=("_order", "min")
    )
    counts = counts.reset_index().sort_values([key, "n", "first"], ascending=[True, False, True])
    chosen = counts.drop_duplicates(key).set_index(key)[name]
    out = values.copy()
    out.loc[chosen.index] = chosen.to_numpy()
    return out


def _fillable(df: pd.DataFrame, key: str, name: str, values: pd.Series) -> int:
    """Rows missing a static value whose patient has one: what to_long will fill in."""
    missing = df[name].isna().to_numpy()
    if not missing.any():
        return 0
    has_value = values.notna()
    return int(df.loc[missing, key].map(has_value).fillna(False).astype(bool).sum())


def check_patients_table(patients: pd.DataFrame, key: str) -> None:
    """A patients table must name every patient once."""
    n_missing = int(patients[key].isna().sum())
    if n_missing:
        raise DataError(
            f"{_rows(n_missing)} of the patients table have no patient id in '{key}'; every "
            "patient needs one."
        )
    n_dupes = int(patients[key].duplicated().sum())
    if n_dupes:
        raise DataError(
            f"{_rows(n_dupes)} of the patients table repeat a patient id of '{key}' already "
            "given: the patients table needs one row per patient."
        )


def check_known_ids(events: pd.DataFrame, patients: pd.DataFrame, key: str) -> None:
    """Every event's patient must be in the patients table."""
    unknown = ~events[key].isin(patients[key]).to_numpy()
    n_rows = int(unknown.sum())
    if n_rows:
        n_ids = events.loc[unknown, key].nunique()
        raise DataError(
            f"{_rows(n_rows)} of the events table ({n_ids} patient id(s)) name a patient "
            f"that is not in the patients table (column '{key}'): add those patients, or "
            "drop their events."
        )
