"""Input types: what each pandas dtype becomes before inference and coercion, or why it is refused.

Every path (``Schema.infer``, ``Synthesizer.fit``, ``Schema.validate``) goes through
:func:`check_column_type` and :func:`plain_values`, so the Python API and the CLI accept and
refuse the same tables. Messages name the column and the type, never a cell value.

Supported as they are: booleans, integers, floats (nullable ``Int64``/``Float64``/``boolean``
too), text (``object``, ``str``, ``string``), dates and times. Converted, with the conversion
stated in the column's reason: categorical dtype (its values), sparse (dense), time-zone-aware
times (to UTC: the instant is kept exactly, only the display zone is dropped, and one zone is
needed to compare patients), durations (a number of days, hours, minutes or seconds: a duration
is a quantity, and learning it as a number keeps its distribution). Refused: nested cells
(lists, dicts, sets), bytes, complex numbers, periods, intervals and other Python objects.
Dates outside what pandas can compute with in nanoseconds are refused (year 9999 is usually a
placeholder for "unknown" or "ongoing"): the count and first row are given, not the date.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthpatient.errors import DataError

#: Python types an ``object`` column may hold; inference reads numbers and dates out of them.
_SCALARS: tuple[type, ...] = (
    str,
    bool,
    int,
    float,
    np.bool_,
    np.number,
    decimal.Decimal,
    dt.date,
    np.datetime64,
)
_NESTED: tuple[type, ...] = (list, tuple, dict, set, frozenset, np.ndarray, pd.Series)
_BINARY: tuple[type, ...] = (bytes, bytearray, memoryview)
#: Inside pandas' nanosecond range with a day to spare at each end, so rounding never leaves it.
DATE_MIN = pd.Timestamp("1677-09-22")
DATE_MAX = pd.Timestamp("2262-04-10")
DATE_RANGE_TEXT = "1677-09-22 to 2262-04-10"
#: UCUM units of time a duration column is learned in, largest first.
TIME_UNITS: dict[str, pd.Timedelta] = {
    "d": pd.Timedelta(days=1),
    "h": pd.Timedelta(hours=1),
    "min": pd.Timedelta(minutes=1),
    "s": pd.Timedelta(seconds=1),
}
_UNIT_WORDS = {"d": "days", "h": "hours", "min": "minutes", "s": "seconds"}


@dataclass(frozen=True)
class PlainColumn:
    """A column in a dtype inference and coercion understand, and what was done to get it."""

    values: pd.Series
    note: str | None = None
    unit: str | None = None
    n_failed: int = 0


def _row(series: pd.Series, mask: np.ndarray) -> Hashable:
    return series.index[int(np.flatnonzero(mask)[0])]


def check_column_type(name: str, series: pd.Series) -> None:
    """Raise :class:`DataError` if ``series`` holds a type no synthesizer can learn.

    The message names the column, the type, how many rows and the first one; never a value.
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        check_column_type(name, pd.Series(series.cat.categories))
        return
    if isinstance(dtype, pd.SparseDtype):
        check_column_type(name, series.sparse.to_dense())
        return
    if isinstance(dtype, pd.PeriodDtype):
        raise DataError(
            f"Column '{name}' holds pandas periods ({dtype}), which cannot be "
            "learned. Convert them to dates (.dt.to_timestamp()) or to text first."
        )
    if isinstance(dtype, pd.IntervalDtype):
        raise DataError(
            f"Column '{name}' holds intervals ({dtype}), which cannot be learned. "
            "Store each end in its own column."
        )
    if pd.api.types.is_complex_dtype(dtype):
        raise DataError(
            f"Column '{name}' holds complex numbers, which cannot be learned. Store "
            "the real and imaginary parts in two columns, or drop the column."
        )
    if not pd.api.types.is_object_dtype(dtype):
        return
    present = series.dropna()
    array = present.to_numpy(dtype=object)
    types = set(map(type, array))
    if all(issubclass(t, _SCALARS) for t in types):
        return
    for bad, what, fix in (
        (
            _NESTED,
            "lists or other nested values",
            "Store one value per cell (for example one column per item)",
        ),
        (_BINARY, "raw bytes (binary data)", "Decode them to text, or drop the column"),
        (
            (complex, np.complexfloating),
            "complex numbers",
            "Store the real and imaginary parts in two columns",
        ),
    ):
        mask = np.fromiter((isinstance(v, bad) for v in array), dtype=bool, count=len(array))
        if mask.any():
            raise DataError(
                f"Column '{name}' holds {what} in {int(mask.sum())} row(s) (first at "
                f"row {_row(present, mask)}), which cannot be learned. {fix}."
            )
    odd = sorted(t.__name__ for t in types if not issubclass(t, _SCALARS))
    mask = np.fromiter((not isinstance(v, _SCALARS) for v in array), dtype=bool, count=len(array))
    raise DataError(
        f"Column '{name}' holds values of type {', '.join(odd)} in {int(mask.sum())} "
        f"row(s) (first at row {_row(present, mask)}), which cannot be learned. "
        "Convert them to numbers, text or dates."
    )


def out_of_range(stamps: pd.Series) -> np.ndarray:
    """Which (naive, any-resolution) datetimes lie outside :data:`DATE_MIN`..:data:`DATE_MAX`."""
    array = stamps.to_numpy()
    present = ~pd.isna(array)
    low = np.datetime64(DATE_MIN.to_datetime64(), "s")
    high = np.datetime64(DATE_MAX.to_datetime64(), "s")
    with np.errstate(invalid="ignore"):
        return present & ((array < low) | (array > high))


def refuse_out_of_range(name: str, stamps: pd.Series, mask: np.ndarray) -> None:
    """The one message for dates this tool cannot compute with; the date is never quoted."""
    raise DataError(
        f"Column '{name}' has {int(mask.sum())} date(s) outside {DATE_RANGE_TEXT}, the range "
        f"this tool can compute with (first at row {_row(stamps, mask)}). Such dates are often "
        "placeholders for 'unknown' or 'ongoing': correct them or leave them blank."
    )


def to_nanoseconds(name: str, stamps: pd.Series, *, strict: bool) -> tuple[pd.Series, int]:
    """Naive ``datetime64[ns]``; out-of-range dates refused (strict) or made missing and counted."""
    mask = out_of_range(stamps)
    if mask.any():
        if strict:
            refuse_out_of_range(name, stamps, mask)
        stamps = stamps.mask(mask)
    return stamps.astype("datetime64[ns]"), int(mask.sum())


def _duration_unit(deltas: pd.Series) -> str:
    """The largest unit every duration is a whole number of (seconds when none is)."""
    present = deltas.dropna()
    for unit, step in TIME_UNITS.items():
        if bool(((present % step) == pd.Timedelta(0)).all()):
            return unit
    return "s"


def plain_values(
    name: str, series: pd.Series, *, unit: str | None = None, strict: bool = True
) -> PlainColumn:
    """``series`` in a dtype the rest of the schema code reads, and what was converted.

    Args:
        name: the column, for messages.
        series: the raw column.
        unit: for durations, the unit a schema gives (``d``, ``h``, ``min``, ``s``); None
            chooses the largest unit the values are whole numbers of.
        strict: refuse dates out of range (inference) rather than counting them as
            values that failed to convert (coercion against a given schema).
    """
    if isinstance(series.dtype, pd.SparseDtype):
        series = series.sparse.to_dense()
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        utc = series.dt.tz_convert("UTC").dt.tz_localize(None)
        values, failed = to_nanoseconds(name, utc, strict=strict)
        return PlainColumn(
            values, note=f"times with a time zone ({dtype.tz}) converted to UTC", n_failed=failed
        )
    if pd.api.types.is_datetime64_dtype(dtype):
        values, failed = to_nanoseconds(name, series, strict=strict)
        return PlainColumn(values, n_failed=failed)
    if pd.api.types.is_timedelta64_dtype(dtype):
        if unit is None:
            unit = _duration_unit(series)
        if unit not in TIME_UNITS:
            raise DataError(
                f"Column '{name}' holds durations, but its schema unit '{unit}' is "
                f"not one of {', '.join(TIME_UNITS)}. Set the unit to one of them."
            )
        numbers = (series / TIME_UNITS[unit]).astype(float)
        note = (
            f"durations learned as numbers of {_UNIT_WORDS[unit]} (unit '{unit}'); "
            "samples hold numbers"
        )
        return PlainColumn(numbers, note=note, unit=unit)
    return PlainColumn(series)


def utc_datetimes(values: pd.Series, *, nanoseconds: bool = True) -> pd.Series:
    """Dates and times as naive UTC datetimes, read the way inference and coercion read them.

    Time-zone-aware times are converted to UTC; text is parsed in any format pandas reads, its
    UTC offsets (which may differ from row to row) applied, so one column never mixes zones;
    what does not parse becomes NaT. Text without an offset is read as it stands.

    Args:
        values: a column of any dtype.
        nanoseconds: return ``datetime64[ns]`` with dates outside :data:`DATE_MIN` ..
            :data:`DATE_MAX` made NaT, as coercion does; False keeps pandas' own resolution
            and every date (for code that only spells dates, such as row hashes).
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = values
    else:
        stamps = pd.to_datetime(values, errors="coerce", format="mixed", utc=True)
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    if not nanoseconds:
        return stamps
    return to_nanoseconds("", stamps, strict=False)[0]
