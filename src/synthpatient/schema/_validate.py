"""Coerce a table to a schema's types, and report every way it breaks the schema at once.

Messages give column names and counts, never a cell value or a category.
"""

from __future__ import annotations

import re
from collections.abc import Hashable

import numpy as np
import pandas as pd

from synthpatient.errors import SchemaValidationError
from synthpatient.schema._dtypes import (
    DATE_RANGE_TEXT,
    check_column_type,
    out_of_range,
    plain_values,
)
from synthpatient.schema._spec import ColumnSpec, Schema

_BOOL_WORDS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
#: Decimal number syntax only: '1e308' and '2.50' are numbers; 'inf', 'nan', '1_000' are not.
_NUMBER_TEXT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def category_key(value: object) -> str:
    """A spelling-independent key, so CSV text '1', int 1 and float 1.0 name the same category."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        try:
            number = float(value)
        except OverflowError:  # beyond any float (10**400): the exact integer is its own key
            return _huge_integer_key(int(value))
        return str(int(number))
    if isinstance(value, float | np.floating):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    text = str(value).strip()
    if not _NUMBER_TEXT.match(text):
        return text
    number = float(text)
    if not np.isfinite(number):  # '1e999': keep the spelling rather than 'inf'
        return text
    # the same key as the number itself, so '1e308' text meets the float 1e308
    return str(int(number)) if number.is_integer() else repr(number)


def _huge_integer_key(number: int) -> str:
    """The key of an integer no float can hold; hexadecimal beyond Python's limit on decimal
    digits (4,300), where ``str`` itself raises."""
    try:
        return str(number)
    except ValueError:
        return hex(number)


def coerce_column(spec: ColumnSpec, series: pd.Series) -> tuple[pd.Series, int]:
    """``series`` in the spec's canonical dtype, and how many values could not be converted.

    Time-zone-aware times become UTC, durations numbers in the spec's unit (see ``_dtypes``);
    dates outside the range pandas computes with count as values that failed to convert.
    """
    present = series.notna()
    series = plain_values(spec.name, series, unit=spec.unit, strict=False).values
    if spec.kind in ("numeric", "integer"):
        out = pd.to_numeric(series, errors="coerce")
        out = (
            out.astype(float)
            if pd.api.types.is_numeric_dtype(out)
            else (pd.to_numeric(out.astype(str), errors="coerce").astype(float))
        )
    elif spec.kind == "datetime":
        out = _as_datetimes(series)
    elif spec.kind == "boolean":
        keys = series.map(lambda v: _BOOL_WORDS.get(category_key(v).lower()), na_action="ignore")
        out = keys.astype(object)
    elif spec.kind == "categorical" and spec.categories is not None:
        lookup = {category_key(c): c for c in spec.categories}
        out = series.map(lambda v: lookup.get(category_key(v), v), na_action="ignore")
        out = out.astype(object)
        return out, 0
    else:
        return series.copy(), 0
    failed = int((present & out.isna()).sum())
    return out, failed


def _as_datetimes(series: pd.Series) -> pd.Series:
    """Naive ``datetime64[ns]``: offsets to UTC, unparseable or out-of-range values missing."""
    if pd.api.types.is_datetime64_any_dtype(series):
        out = series
    else:
        out = pd.to_datetime(series, errors="coerce", format="mixed", utc=True)
        out = out.dt.tz_localize(None)
    mask = out_of_range(out)
    if mask.any():
        out = out.mask(mask)
    return out.astype("datetime64[ns]")


def coerce_frame(schema: Schema, data: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``data`` with every schema column in its canonical dtype (unparseable -> NaN)."""
    out = data.copy()
    for spec in schema:
        if spec.name in out.columns:
            out[spec.name] = coerce_column(spec, data[spec.name])[0]
    return out


def _column_problems(spec: ColumnSpec, series: pd.Series) -> list[str]:
    problems: list[str] = []
    name = spec.name
    values, failed = coerce_column(spec, series)
    if failed:
        extra = f" or are dates outside {DATE_RANGE_TEXT}" if spec.kind == "datetime" else ""
        problems.append(f"column '{name}': {failed} value(s) are not of kind {spec.kind}{extra}")
    n_missing = int(series.isna().sum())
    if n_missing and not spec.nullable:
        problems.append(
            f"column '{name}': {n_missing} missing value(s) but the column is not nullable"
        )
    present = values.dropna()
    if spec.kind in ("numeric", "integer") and len(present):
        array = present.to_numpy(dtype=float)
        if spec.kind == "integer" and np.any(np.mod(array, 1) != 0):
            problems.append(
                f"column '{name}': {int(np.sum(np.mod(array, 1) != 0))} value(s) "
                "are not whole numbers"
            )
        problems += _bound_problems(name, array, spec.minimum, spec.maximum)
    elif spec.kind == "datetime" and len(present):
        stamps = present.to_numpy(dtype="datetime64[ns]")
        low = None if spec.minimum is None else np.datetime64(pd.Timestamp(spec.minimum), "ns")
        high = None if spec.maximum is None else np.datetime64(pd.Timestamp(spec.maximum), "ns")
        problems += _bound_problems(name, stamps, low, high)
    elif spec.kind == "categorical" and spec.categories is not None and len(present):
        allowed = {category_key(c) for c in spec.categories}
        unknown = int((~present.map(category_key).isin(allowed)).sum())
        if unknown:
            problems.append(
                f"column '{name}': {unknown} value(s) are not among the schema's "
                f"{len(spec.categories)} categories"
            )
    return problems


def _bound_problems(name: str, array: np.ndarray, low: object, high: object) -> list[str]:
    problems = []
    if low is not None and (n := int(np.sum(array < low))):
        problems.append(f"column '{name}': {n} value(s) below the minimum")
    if high is not None and (n := int(np.sum(array > high))):
        problems.append(f"column '{name}': {n} value(s) above the maximum")
    return problems


def validate_frame(schema: Schema, data: pd.DataFrame) -> None:
    """Raise :class:`SchemaValidationError` listing every problem; values are never quoted."""
    problems: list[str] = []
    columns: list[Hashable] = list(data.columns)
    missing = [n for n in schema.names if n not in columns]
    extra = [str(c) for c in columns if c not in schema]
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    if extra:
        problems.append(f"column(s) not in the schema: {', '.join(extra)}")
    for spec in schema:
        if spec.name in columns:
            check_column_type(spec.name, data[spec.name])
            problems += _column_problems(spec, data[spec.name])
    if problems:
        raise SchemaValidationError(problems)
