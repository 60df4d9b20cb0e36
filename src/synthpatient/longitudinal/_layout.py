"""What a long table is made of: the patient key, the time column, static and varying columns.

The patient key is found by :mod:`synthpatient.schema`'s patient-key finder (a column whose
values repeat and group the rows, named as a key or backed by attributes such as sex that stay
constant within its groups), so ``synthpatient schema`` and a :class:`PatientTable` never
disagree about which column is the patient. The time column is a column of dates, or of numbers
named like a time (``day``, ``visit``, ``week``, ``age_at_visit``...), that changes within
patients; among several, the one most often increasing within patients in row order wins.
A column is *static* when it holds one value within (nearly) every patient with several values:
it belongs to the patients table; every other column is *varying* and belongs to the event table.
Reasons name counts and shares, never a value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from synthpatient.errors import DataError
from synthpatient.schema import (
    CONSTANT_SHARE,
    ColumnDecision,
    codes_of,
    explain_schema,
    group_profile,
    normalise_name,
    utc_datetimes,
)

TimeKind = Literal["datetime", "numeric", "order"]

#: Name tokens that mark a numeric column as a time (``study_day``, ``visit_no``, ``weeks``).
_TIME_TOKENS = frozenset(
    {
        "day",
        "days",
        "dy",
        "time",
        "times",
        "visit",
        "visits",
        "visitnum",
        "week",
        "weeks",
        "wk",
        "month",
        "months",
        "year",
        "years",
        "date",
        "dates",
        "hour",
        "hours",
        "timepoint",
        "tp",
    }
)
_AGE_AT = re.compile(r"^age_at_")
#: Dates written as text count as dates when at least this share of them parse.
_DATE_SHARE = 0.95


@dataclass(frozen=True)
class Layout:
    """What was inferred (or given) about a long table.

    Attributes:
        key: the patient id column.
        time: the time column (dates, or numeric days or visit index); None = row order.
        time_kind: ``"datetime"``, ``"numeric"`` or ``"order"`` (no time column).
        static: columns constant within every patient: the patients table.
        varying: columns that change within patients: the event table.
        reasons: column -> one line why (shown by ``synthpatient schema``); no values.
        columns: every column in the order of the original table (``to_long`` keeps it).
        identifiers: static or varying columns the schema flags as identifiers (names, phones,
            record numbers, free text): kept with their patient or event, never learned.
    """

    key: str
    time: str | None
    time_kind: TimeKind
    static: tuple[str, ...]
    varying: tuple[str, ...]
    reasons: dict[str, str] = field(hash=False)
    columns: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()


def infer_layout(
    df: pd.DataFrame,
    *,
    key: str | None = None,
    time: str | None = None,
    static: Sequence[str] | None = None,
) -> Layout:
    """Find the patient key, the time column and the static/varying split of a long table.

    Args:
        df: one row per event (visit, lab result...), several rows per patient.
        key: the patient id column; found by :mod:`synthpatient.schema` when None.
        time: the time column (dates or numbers); found from names and values when None,
            and row order is used when there is none.
        static: the columns of the patients table, when known (a multi-table model knows
            them); every other column is varying. None: found from the values.

    Raises:
        DataError: a named column is not in the table; no column groups the rows into
            patients, or every patient has a single row (a row-level table: use the row-level
            synthesizers); the time column holds neither dates nor numbers, or never changes
            within a patient; and whatever :func:`synthpatient.schema.explain_schema` refuses.

    Examples:
        >>> layout = infer_layout(datasets.load("pbcseq"))
        >>> layout.key, layout.time, layout.static
        ('id', 'day', ('futime', 'status', 'trt', 'age', 'sex'))
    """
    _check_names(df, key, time)
    df = named_by_text(df)
    _, decisions = explain_schema(df, identifiers=[key] if key is not None else ())
    by_name = {d.name: d for d in decisions}
    key, key_reason = _key(key, decisions)
    check_key_type(df, key, "table")
    key_codes, n_patients = codes_of(df[key])
    _check_repeats(key_codes, n_patients, key)
    if key_reason.endswith("(key=)"):
        key_reason += f"; groups the {len(df)} rows into {n_patients} patients"
    others = [str(c) for c in df.columns if str(c) != key]
    if time is None:
        time, time_kind, time_reason = _find_time(df, others, by_name, key_codes, n_patients)
    else:
        time_kind, time_reason = _given_time(df, time, key_codes, n_patients)
    reasons = {key: key_reason}
    if time is None:
        reasons[key] += "; no time column found: events keep their row order"
    else:
        reasons[time] = time_reason
    given = None if static is None else [str(c) for c in static]
    unknown = sorted(set(given or ()) - (set(others) - {time or ""}))
    if unknown:
        raise DataError(
            f"Static column(s) {', '.join(map(str, unknown))} are not columns of the table "
            "other than the patient key and the time."
        )
    static = []
    varying: list[str] = []
    for name in others:
        if name == time:
            continue
        if given is not None:
            is_given = name in given
            (static if is_given else varying).append(name)
            reasons[name] = ("static" if is_given else "varying") + ": given"
            reasons[name] += _identifier_note(by_name[name], is_given)
            continue
        profile = group_profile(key_codes, n_patients, codes_of(df[name])[0])
        is_static = profile.constant >= CONSTANT_SHARE
        (static if is_static else varying).append(name)
        reasons[name] = _split_reason(is_static, profile.constant, profile.n_multi)
        reasons[name] += _identifier_note(by_name[name], is_static)
    identifiers = tuple(n for n in others if n != time and by_name[n].kind == "identifier")
    return Layout(
        key=key,
        time=time,
        time_kind=time_kind,
        static=tuple(static),
        varying=tuple(varying),
        reasons=reasons,
        columns=tuple(str(c) for c in df.columns),
        identifiers=identifiers,
    )


def _check_names(df: pd.DataFrame, key: str | None, time: str | None) -> None:
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"Expected a pandas DataFrame; got {type(df).__name__}.")
    names = {str(c) for c in df.columns}
    for what, name in (("patient key", key), ("time column", time)):
        if name is not None and name not in names:
            raise DataError(
                f"The {what} '{name}' is not a column of the table; give one of its columns."
            )
    if key is not None and key == time:
        raise DataError(
            f"'{key}' is given as both the patient key and the time column; they must differ."
        )


def named_by_text(df: pd.DataFrame) -> pd.DataFrame:
    """The table with its column names as text (the names layouts and reasons use)."""
    if all(isinstance(c, str) for c in df.columns):
        return df
    return df.set_axis([str(c) for c in df.columns], axis=1)


def check_key_type(df: pd.DataFrame, key: str, table: str) -> None:
    """Patient ids must be of one type: ids 7 and '7' would be two patients, and could not be
    sorted."""
    kind = pd.api.types.infer_dtype(df[key], skipna=True)
    if kind.startswith("mixed"):
        raise DataError(
            f"The patient key '{key}' of the {table} mixes types (numbers, text or others); "
            "give every patient id as text, or every one as a number."
        )


def _key(key: str | None, decisions: Sequence[ColumnDecision]) -> tuple[str, str]:
    if key is not None:
        return key, "patient key: given (key=)"
    found = next((d for d in decisions if d.patient_key), None)
    if found is None:
        raise DataError(
            "No column groups the rows into patients (no patient id repeats over several "
            "rows): a table with one row per patient is not longitudinal. Use the row-level "
            "synthesizers (--synthesizer copula, the default, or another), or name the patient "
            "id column (key=; patient_key= for the sequential synthesizer, -p patient_key=NAME "
            "on the command line)."
        )
    return found.name, found.reason


def _check_repeats(key_codes: np.ndarray, n_patients: int, key: str) -> None:
    rows = np.bincount(key_codes[key_codes >= 0], minlength=max(n_patients, 1))
    if n_patients == 0:
        raise DataError(f"The patient key '{key}' has no values; give a column of patient ids.")
    if rows.max() < 2:
        raise DataError(
            f"Every patient of key '{key}' has a single row: the table is not longitudinal. "
            "Use the row-level synthesizers (--synthesizer copula, the default, or another) "
            "for one row per patient."
        )


# -- the time column -------------------------------------------------------------------------
def time_values(series: pd.Series) -> tuple[pd.Series, TimeKind] | None:
    """A column read as times (datetime64 or float/int numbers) and its kind, or None.

    Dates written as text are parsed the way the schema reads them (UTC, one zone); values that
    do not parse become missing (and are then counted as rows with no time value).
    """
    if pd.api.types.is_bool_dtype(series):
        return None
    if pd.api.types.is_datetime64_any_dtype(series):
        return utc_datetimes(series), "datetime"
    if pd.api.types.is_numeric_dtype(series):
        return series, "numeric"
    present = series.dropna()
    if not len(present):
        return None
    numbers = pd.to_numeric(present.astype(str).str.strip(), errors="coerce")
    if numbers.notna().all():
        return pd.to_numeric(series.astype("string").str.strip(), errors="coerce"), "numeric"
    stamps = utc_datetimes(series)
    if stamps.notna().sum() >= _DATE_SHARE * len(present):
        return stamps, "datetime"
    return None


def _is_time_name(name: str) -> bool:
    normal = normalise_name(name)
    return bool(set(normal.split("_")) & _TIME_TOKENS or _AGE_AT.match(normal))


def increasing_share(key_codes: np.ndarray, times: pd.Series) -> tuple[float, int]:
    """Share of patients with several times whose times never decrease in row order, and how
    many such patients there are."""
    values = times.to_numpy(dtype="datetime64[ns]" if times.dtype.kind == "M" else float)
    mask = (key_codes >= 0) & ~pd.isna(values)
    keys, values = key_codes[mask], values[mask]
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    same = keys[1:] == keys[:-1]
    drops = np.unique(keys[1:][same & (values[1:] < values[:-1])])
    n_multi = len(np.unique(keys[1:][same]))
    return (1.0 - len(drops) / n_multi if n_multi else 1.0), n_multi


def _find_time(
    df: pd.DataFrame,
    names: list[str],
    decisions: dict[str, ColumnDecision],
    key_codes: np.ndarray,
    n_patients: int,
) -> tuple[str | None, TimeKind, str]:
    """The candidate most often increasing within patients (dates first on ties)."""
    best: tuple[tuple[float, bool, int], str, TimeKind, str] | None = None
    for position, name in enumerate(names):
        decision = decisions[name]
        if decision.kind == "identifier":
            continue
        is_date = decision.kind == "datetime"
        if not is_date and not (pd.api.types.is_numeric_dtype(df[name]) and _is_time_name(name)):
            continue
        read = time_values(df[name])
        if read is None:
            continue
        profile = group_profile(key_codes, n_patients, codes_of(read[0])[0])
        if profile.n_multi and profile.constant >= CONSTANT_SHARE:
            continue  # a birth date or a follow-up time: one per patient, not an event's time
        share, n_multi = increasing_share(key_codes, read[0])
        what = "dates" if read[1] == "datetime" else "numbers named as a time"
        reason = (
            f"time: {what}, increasing within {share:.0%} of the {n_multi} patients with "
            "several values"
        )
        score = (round(share, 2), is_date, -position)
        if best is None or score > best[0]:
            best = (score, name, read[1], reason)
    if best is None:
        return None, "order", ""
    return best[1], best[2], best[3]


def _given_time(
    df: pd.DataFrame, time: str, key_codes: np.ndarray, n_patients: int
) -> tuple[TimeKind, str]:
    read = time_values(df[time])
    if read is None:
        raise DataError(
            f"The time column '{time}' holds neither dates nor numbers; give a column of "
            "dates, or of days or visit numbers."
        )
    profile = group_profile(key_codes, n_patients, codes_of(read[0])[0])
    if profile.n_multi and profile.constant >= CONSTANT_SHARE:
        raise DataError(
            f"The time column '{time}' does not change within {profile.constant:.0%} of "
            "patients: it holds one value per patient, not event times. Give the column of "
            "visit or event times with time=."
        )
    share, n_multi = increasing_share(key_codes, read[0])
    kind = "dates" if read[1] == "datetime" else "numbers"
    return read[1], (
        f"time: given (time=), {kind}, increasing within {share:.0%} of the {n_multi} "
        "patients with several values"
    )


# -- static or varying -----------------------------------------------------------------------
def _split_reason(is_static: bool, constant: float, n_multi: int) -> str:
    if not n_multi:
        return "static: never more than one value per patient (patients table)"
    if is_static:
        return (
            f"static: one value within {constant:.0%} of the {n_multi} patients with several "
            "values (patients table)"
        )
    return (
        f"varying: changes within {1 - constant:.0%} of the {n_multi} patients with several "
        "values (event table)"
    )


def _identifier_note(decision: ColumnDecision, is_static: bool) -> str:
    if decision.kind == "identifier":
        kind = (decision.identifier_type or "identifier").replace("_", " ")
        where = "kept with its patient" if is_static else "kept with its event"
        return f"; an identifier ({kind}): {where}, never learned"
    if decision.kind == "text":
        return "; free text: never learned"
    return ""


# -- two tables ------------------------------------------------------------------------------
def frames_layout(
    patients: pd.DataFrame, events: pd.DataFrame, *, key: str, time: str | None
) -> Layout:
    """The layout of a patients table and an events table joined by ``key``.

    The split is given by the tables (patients: static, events: varying); the time column is
    found in the events table as :func:`infer_layout` finds it when ``time`` is None.

    Raises:
        DataError: either is not a table, the key is missing from one of them, a column other
            than the key is in both, the time column is not in the events table or holds
            neither dates nor numbers, or :func:`synthpatient.schema.explain_schema` refuses
            a table.
    """
    for table, frame in (("patients table", patients), ("events table", events)):
        if not isinstance(frame, pd.DataFrame):
            raise DataError(
                f"The {table}: expected a pandas DataFrame; got {type(frame).__name__}."
            )
        if key not in {str(c) for c in frame.columns}:
            raise DataError(
                f"The patient key '{key}' is not a column of the {table}; both tables need it."
            )
    patients, events = named_by_text(patients), named_by_text(events)
    check_key_type(patients, key, "patients table")
    check_key_type(events, key, "events table")
    static = [str(c) for c in patients.columns if str(c) != key]
    varying = [str(c) for c in events.columns if str(c) != key]
    both = sorted(set(static) & set(varying))
    if both:
        raise DataError(
            f"Column(s) {', '.join(both)} are in both the patients and the events table; keep "
            "each column in one of them (static in the patients table, changing in the events)."
        )
    if time is not None and time not in varying:
        raise DataError(f"The time column '{time}' is not a column of the events table.")
    p_decisions = _explained(patients, "patients table", key)
    e_decisions = _explained(events, "events table", key)
    key_codes, n_patients = codes_of(events[key])
    if time is None:
        time, time_kind, time_reason = _find_time(
            events, varying, e_decisions, key_codes, n_patients
        )
    else:
        time_kind, time_reason = _given_time(events, time, key_codes, n_patients)
    varying = [name for name in varying if name != time]
    reasons = {key: "patient key: given (key=), joins the patients and events tables"}
    if time is None:
        reasons[key] += "; no time column found: events keep their row order"
    else:
        reasons[time] = time_reason
    for name in static:
        reasons[name] = "static: a column of the patients table" + _identifier_note(
            p_decisions[name], True
        )
    for name in varying:
        reasons[name] = "varying: a column of the events table" + _identifier_note(
            e_decisions[name], False
        )
    identifiers = [n for n in static if p_decisions[n].kind == "identifier"]
    identifiers += [n for n in varying if e_decisions[n].kind == "identifier"]
    return Layout(
        key=key,
        time=time,
        time_kind=time_kind,
        static=tuple(static),
        varying=tuple(varying),
        reasons=reasons,
        columns=(key, *static, *([time] if time else []), *varying),
        identifiers=tuple(identifiers),
    )


def _explained(frame: pd.DataFrame, table: str, key: str) -> dict[str, ColumnDecision]:
    try:
        _, decisions = explain_schema(frame, identifiers=[key])
    except DataError as error:
        raise type(error)(f"In the {table}: {error}") from error
    return {d.name: d for d in decisions}
