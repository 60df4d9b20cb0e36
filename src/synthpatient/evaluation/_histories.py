"""Patient histories read from long tables: the shared ground of the patient-level metrics.

A long table has several rows per patient, tied together by a patient key and ordered by a
time column (a date, a number of days, a visit index) or, without one, by row order. The
patient-level metrics never compare rows: they compare patients. Everything they need is
computed here once per table and shared through :meth:`Inputs.shared`:

* :class:`Timeline`: which column is the key and which the time (given, or inferred from the
  real table when one of its columns repeats and groups rows into patients);
* :class:`Histories`: one table's rows sorted by (patient, time), each row's patient, its
  time in days (or the time column's unit, or the visit index), the time since the patient's
  first event and the events per patient;
* :func:`split_columns`: the columns constant within every real patient (static: the
  patients table) and those that change (varying: the events);
* :func:`patient_summary`: one row per patient, static values plus a fixed-length summary of
  the history (first, last, mean and slope of every varying number; first and last of every
  varying category; the number of events and the follow-up), what distances between patients
  and patient-level models are computed on.

Rows without a patient key or without a time are left out of every patient-level figure and
counted in a notice, never dropped silently. Nothing here modifies a table it is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from synthpatient.errors import DataError, InvalidParameterError
from synthpatient.schema import ColumnSpec, Schema, explain_schema, normalise_name, utc_datetimes

TimeKind = Literal["datetime", "numeric", "order"]
NUMBER_KINDS = frozenset({"numeric", "integer"})
_DAY_NS = 86_400 * 10**9
#: Words that make a varying number (or date) column the time of a long table.
_TIME_NAME = re.compile(
    r"(^|_)(day|days|date|time|visit|visits|week|weeks|month|months|year|years|dt|datetime"
    r"|timestamp|seq|sequence|t)($|_)"
)
#: Separator of a patient summary's column names (``bili::mean``).
SUMMARY_SEP = "::"
NUMBER_SUMMARIES = ("first", "last", "mean", "slope")
CATEGORY_SUMMARIES = ("first", "last")


@dataclass(frozen=True)
class Timeline:
    """Which column holds the patient key of a long table and which its time.

    Attributes:
        key: The patient key column (several rows per patient).
        time: The time column (dates, or numbers such as days since enrolment); None orders
            each patient's rows as they stand in the table.

    Examples:
        >>> evaluate(train, synthetic, holdout=test, patient_key="id", time_column="day")
        >>> get_metric_class("lag1_correlation")().compute(
        ...     train, synthetic, timeline=Timeline("id", "day"))
    """

    key: str
    time: str | None = None

    def __post_init__(self) -> None:
        for name, value in (("key", self.key), ("time", self.time)):
            if value is None and name == "time":
                continue
            if not isinstance(value, str) or not value:
                raise InvalidParameterError(
                    f"The timeline's {name} must be a column name. Got {type(value).__name__}."
                )
        if self.key == self.time:
            raise InvalidParameterError(
                f"The patient key and the time column are the same column ('{self.key}')."
            )

    def check(self, frame: pd.DataFrame, what: str) -> None:
        """A one-line :class:`DataError` unless ``frame`` has the key and time columns."""
        for role, name in (("patient key", self.key), ("time", self.time)):
            if name is not None and name not in frame.columns:
                raise DataError(
                    f"The {what} table has no {role} column '{name}'; give every table the "
                    "same patient key and time columns."
                )
        if frame[self.key].isna().all():
            raise DataError(f"The {what} table's patient key column '{self.key}' is empty.")


# -- finding the timeline ----------------------------------------------------------------------
def _repeats(values: pd.Series) -> bool:
    return bool(values.dropna().duplicated().any())


def time_kind(schema: Schema, frame: pd.DataFrame, name: str | None) -> TimeKind:
    if name is None:
        return "order"
    kind = schema[name].kind if name in schema else None
    if kind == "datetime" or pd.api.types.is_datetime64_any_dtype(frame[name]):
        return "datetime"
    if kind in NUMBER_KINDS or pd.api.types.is_numeric_dtype(frame[name]):
        return "numeric"
    raise DataError(
        f"The time column '{name}' holds neither dates nor numbers; give a date column or one "
        "counting days (or visits) since a start."
    )


def _find_time(real: pd.DataFrame, schema: Schema, key: str) -> str | None:
    """A date or number column that changes within patients, named as a time (a date column
    need not be named so); None when there is none."""
    groups = real.groupby(real[key], sort=False, dropna=True)
    named, dates = [], []
    for spec in schema.learned:
        if spec.name == key or spec.kind not in NUMBER_KINDS | {"datetime"}:
            continue
        if int(groups[spec.name].nunique().max()) < 2:
            continue  # constant within patients: static, not a time
        if _TIME_NAME.search(normalise_name(spec.name)):
            named.append(spec.name)
        elif spec.kind == "datetime":
            dates.append(spec.name)
    found = named + dates
    return found[0] if found else None


def infer_timeline(
    real: pd.DataFrame,
    schema: Schema,
    *,
    key: str | None = None,
    time: str | None = None,
    found_key: str | None | bool = False,
) -> tuple[Timeline | None, TimeKind, list[str]]:
    """The timeline of ``real``: the given key and time, checked, or the inferred ones.

    Returns ``(timeline, time_kind, notices)``; the timeline is None when no key was given and
    no column of ``real`` repeats as a patient key (a table of one row per patient).
    ``found_key``: the key schema inference already found (a name, or None for none), so that
    it is not inferred twice; False infers it here.

    Raises:
        DataError: the given key is not a column or never repeats (one row per patient given
            as a long table), a time is given without a key being found, or the time column
            holds neither dates nor numbers.
    """
    notices: list[str] = []
    if key is None:
        if found_key is False:
            found_key = next((d.name for d in explain_schema(real)[1] if d.patient_key), None)
        if not isinstance(found_key, str):
            if time is not None:
                raise DataError(
                    f"A time column ('{time}') was given but no column of the real table "
                    "repeats as a patient key; pass patient_key= as well."
                )
            return None, "order", notices
        key = found_key
        notices.append(
            f"Patient key '{key}' inferred (its values repeat over the rows of each patient): "
            "patient-level metrics were computed; pass patient_key= to choose another."
        )
    if key not in real.columns:
        raise DataError(f"The patient key '{key}' is not a column of the real table.")
    if not _repeats(real[key]):
        raise DataError(
            f"Every value of the patient key '{key}' appears on one row only: a table of one "
            "row per patient was given as a long table. Evaluate it without patient_key=."
        )
    if time is None:
        time = _find_time(real, schema, key)
        notices.append(
            f"Time column '{time}' inferred; pass time_column= to choose another."
            if time is not None
            else "No time column was found: each patient's rows were taken in table order "
            "and gaps between events were not measured; pass time_column= to give one."
        )
    elif time not in real.columns:
        raise DataError(f"The time column '{time}' is not a column of the real table.")
    timeline = Timeline(key, time)
    return timeline, time_kind(schema, real, time), notices


# -- one table's histories ---------------------------------------------------------------------
@dataclass(frozen=True)
class Histories:
    """One table's rows as patient histories (see the module docstring).

    Attributes:
        frame: The rows kept, sorted by (patient, time, original order), index 0..n-1.
        patient: Each row's patient, 0..n_patients-1, non-decreasing.
        time: Each row's time: days (dates), the time column's unit (numbers) or the visit
            index (row order).
        since_first: Time since the patient's first event, in the same unit.
        counts: Events per patient.
        dropped: Rows left out, by reason ("no patient key", "no time").
    """

    frame: pd.DataFrame
    patient: np.ndarray
    time: np.ndarray
    since_first: np.ndarray
    counts: np.ndarray
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def n_patients(self) -> int:
        return len(self.counts)

    @property
    def starts(self) -> np.ndarray:
        """Position of each patient's first row."""
        return np.r_[0, np.cumsum(self.counts)[:-1]]

    def pairs(self, present: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Positions of consecutive events of the same patient (``before``, ``after``), over
        the rows where ``present`` is true (all rows when None)."""
        rows = np.arange(len(self.patient)) if present is None else np.flatnonzero(present)
        same = self.patient[rows[1:]] == self.patient[rows[:-1]]
        return rows[:-1][same], rows[1:][same]

    def gaps(self) -> np.ndarray:
        """Time between consecutive events of a patient (first events excluded)."""
        before, after = self.pairs()
        return self.time[after] - self.time[before]


def _times(frame: pd.DataFrame, name: str | None, kind: TimeKind) -> np.ndarray:
    if name is None:
        return np.zeros(len(frame))
    if kind == "datetime":
        stamps = utc_datetimes(frame[name])
        values = stamps.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(float)
        values[stamps.isna().to_numpy()] = np.nan
        return values / _DAY_NS
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)


def histories(frame: pd.DataFrame, timeline: Timeline, kind: TimeKind) -> Histories:
    """``frame`` (not modified) as patient histories under ``timeline``."""
    key = frame[timeline.key]
    time = _times(frame, timeline.time, kind)
    has_key = key.notna().to_numpy()
    has_time = np.isfinite(time)
    dropped = {
        "no patient key": int((~has_key).sum()),
        "no time": int((has_key & ~has_time).sum()),
    }
    keep = has_key & has_time
    codes, _ = pd.factorize(key[keep], sort=False)
    kept_time = time[keep]
    order = np.lexsort((np.arange(len(codes)), kept_time, codes))
    patient = np.asarray(codes[order], dtype=np.int64)
    # renumber patients by first appearance in the sorted order: 0..n-1, non-decreasing
    _, patient = np.unique(patient, return_inverse=True)
    counts = np.bincount(patient) if len(patient) else np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.cumsum(counts)[:-1]] if len(counts) else np.zeros(0, dtype=np.int64)
    sorted_time = kept_time[order]
    if timeline.time is None:  # row order: the visit index
        sorted_time = (np.arange(len(patient)) - np.repeat(starts, counts)).astype(float)
    since_first = (
        sorted_time - np.repeat(sorted_time[starts], counts) if len(counts) else sorted_time
    )
    rows = frame.loc[keep].iloc[order].reset_index(drop=True)
    return Histories(rows, patient, sorted_time, since_first, counts, dropped)


def dropped_notice(what: str, hist: Histories) -> list[str]:
    """One notice per kind of row left out of the patient-level metrics."""
    return [
        f"{n} row(s) of the {what} table have {reason}; they were left out of the "
        "patient-level metrics."
        for reason, n in hist.dropped.items()
        if n
    ]


# -- static and varying columns ----------------------------------------------------------------
@dataclass(frozen=True)
class Columns:
    """The learned columns of a long table, split by how they behave within real patients."""

    static: tuple[str, ...]
    varying: tuple[str, ...]
    numbers: tuple[str, ...]  # varying numbers (numeric, integer)
    categories: tuple[str, ...]  # varying categories (categorical, boolean)
    other: tuple[str, ...]  # varying columns neither (dates other than the time)


def split_columns(hist: Histories, schema: Schema, timeline: Timeline) -> Columns:
    """Static columns are constant (missing included) within every real patient."""
    names = [c.name for c in schema.learned if c.name not in (timeline.key, timeline.time)]
    frame = hist.frame
    static: list[str] = []
    varying: list[str] = []
    for name in names:
        values = frame[name]
        codes = pd.factorize(values, use_na_sentinel=False)[0]
        starts = hist.starts
        first = np.repeat(codes[starts], hist.counts) if len(starts) else codes
        (static if bool(np.all(codes == first)) else varying).append(name)
    kinds = {c.name: c.kind for c in schema.learned}
    return Columns(
        static=tuple(static),
        varying=tuple(varying),
        numbers=tuple(c for c in varying if kinds[c] in NUMBER_KINDS),
        categories=tuple(c for c in varying if kinds[c] in ("categorical", "boolean")),
        other=tuple(
            c for c in varying if kinds[c] not in NUMBER_KINDS | {"categorical", "boolean"}
        ),
    )


def number_column(hist: Histories, name: str) -> np.ndarray:
    """A varying number column of the sorted rows as floats (NaN where missing)."""
    return pd.to_numeric(hist.frame[name], errors="coerce").to_numpy(dtype=float)


# -- one row per patient ---------------------------------------------------------------------
def _slopes(hist: Histories, values: np.ndarray) -> np.ndarray:
    """Least-squares slope of ``values`` on time within each patient (per year for day times,
    so the numbers are readable; NaN with fewer than two distinct present times)."""
    present = np.isfinite(values)
    p = hist.patient[present]
    t = hist.since_first[present]
    v = values[present]
    n = np.bincount(p, minlength=hist.n_patients).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        t_mean = np.bincount(p, t, hist.n_patients) / n
        v_mean = np.bincount(p, v, hist.n_patients) / n
        dt, dv = t - t_mean[p], v - v_mean[p]
        stt = np.bincount(p, dt * dt, hist.n_patients)
        stv = np.bincount(p, dt * dv, hist.n_patients)
        slope = np.where(stt > 1e-12, stv / np.where(stt > 1e-12, stt, 1.0), np.nan)
    return slope


def patient_summary(
    hist: Histories, columns: Columns, schema: Schema, *, with_time: bool
) -> pd.DataFrame:
    """One row per patient: static values (their first row's), then for each varying number
    its first, last and mean present value and its slope over time, for each varying category
    its first and last present value, the number of events and (with a time) the follow-up."""
    patient = hist.patient
    out: dict[str, object] = {}
    starts = hist.starts
    for name in columns.static:
        out[name] = hist.frame[name].iloc[starts].reset_index(drop=True)
    groups = pd.Series(patient)
    for name in columns.numbers:
        values = number_column(hist, name)
        grouped = pd.Series(values).groupby(groups)
        stats = grouped.agg(["first", "last", "mean"]).reindex(range(hist.n_patients))
        for stat in ("first", "last", "mean"):
            out[f"{name}{SUMMARY_SEP}{stat}"] = stats[stat].to_numpy(dtype=float)
        out[f"{name}{SUMMARY_SEP}slope"] = _slopes(hist, values)
    for name in columns.categories:
        grouped = hist.frame[name].reset_index(drop=True).groupby(groups)
        for stat in CATEGORY_SUMMARIES:
            out[f"{name}{SUMMARY_SEP}{stat}"] = (
                getattr(grouped, stat)().reindex(range(hist.n_patients)).reset_index(drop=True)
            )
    out[f"events{SUMMARY_SEP}count"] = hist.counts.astype(float)
    if with_time:
        ends = starts + hist.counts - 1
        out[f"events{SUMMARY_SEP}follow_up"] = hist.since_first[ends]
    return pd.DataFrame(out)


def summary_schema(schema: Schema, columns: Columns, summary: pd.DataFrame) -> Schema:
    """Column kinds of :func:`patient_summary`'s table: static columns keep theirs, summaries
    of numbers are numbers, summaries of categories keep the category's kind."""
    specs = []
    for name in summary.columns:
        base, _, stat = name.partition(SUMMARY_SEP)
        if not stat:
            specs.append(schema[name])
        elif base in columns.categories and stat in CATEGORY_SUMMARIES:
            specs.append(schema[base].model_copy(update={"name": name, "nullable": True}))
        else:
            specs.append(ColumnSpec(name=name, kind="numeric", nullable=True))
    return Schema(columns=tuple(specs))


# -- splitting by patient --------------------------------------------------------------------
def split_patients(
    frame: pd.DataFrame, key: str, *, holdout_share: float = 0.25, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(training, holdout)`` rows of a long table, split by patient: every row of a patient
    goes to the same side, so the holdout holds only patients the generator never saw (a
    split by row would put the same patient on both sides and hide memorisation).

    Rows without a patient key stay in the training side. ``frame`` is not modified.

    Examples:
        >>> train, holdout = split_patients(pbcseq, "id", holdout_share=0.3, seed=0)
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidParameterError(f"Expected a pandas DataFrame; got {type(frame).__name__}.")
    if key not in frame.columns:
        raise DataError(f"The patient key '{key}' is not a column of the table.")
    if (
        isinstance(holdout_share, bool)
        or not isinstance(holdout_share, int | float)
        or not (0 < holdout_share < 1)
    ):
        raise InvalidParameterError(
            f"'holdout_share' must be a number between 0 and 1. Got {holdout_share!r}."
        )
    patients = frame[key].dropna().unique()
    n_holdout = int(round(holdout_share * len(patients)))
    if n_holdout < 1 or n_holdout >= len(patients):
        raise DataError(
            f"The table has {len(patients)} patient(s): too few to split "
            f"{holdout_share:g} of them off as a holdout."
        )
    rng = np.random.default_rng(seed)
    chosen = patients[rng.permutation(len(patients))[:n_holdout]]
    out = frame[key].isin(chosen).to_numpy()
    return frame.loc[~out], frame.loc[out]
