"""One learned column as the schema delivers it: dtype, rounding, bounds and conditions.

The base class runs :func:`enforce_column` on every learned column of every sample (and twice
when it keeps relations), so it works on numpy arrays and builds one Series at the end: the
per-column pandas conversions it replaced took a sixth of a 100,000-row copula sample's time
(issue 18). The values are those of the plain code, bit for bit (tests/unit/test_delivery.py
compares the two).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthpatient.schema import ColumnSpec
from synthpatient.synthesizers._conditions import Condition

ORDERED = ("numeric", "integer", "datetime")


def int_categories(spec: ColumnSpec) -> bool:
    """Whether a categorical column's categories are all whole numbers (not booleans): such a
    column is delivered as int64 when it has no missing value."""
    categories = spec.categories or ()
    return bool(categories) and all(
        isinstance(c, int) and not isinstance(c, bool) for c in categories
    )


def in_schema_dtype(spec: ColumnSpec, values: pd.Series) -> bool:
    """Whether an enforced column still has the dtype :func:`enforce_column` gives it (the
    relations' redraws and repairs may turn integers into floats: those are enforced again)."""
    if spec.kind == "numeric":
        return bool(values.dtype == np.float64)
    if spec.kind == "integer" or (spec.kind == "categorical" and int_categories(spec)):
        return bool(values.dtype == np.int64)
    return False


def enforce_column(spec: ColumnSpec, values: pd.Series, condition: Condition | None) -> pd.Series:
    """One learned column in the schema's dtype, rounding and bounds; conditions re-applied.

    ``values`` has a default index (0..n-1); it is never modified."""
    out = enforce_values(spec, values, condition)
    return pd.Series(out, copy=False) if isinstance(out, np.ndarray) else out


def enforce_values(
    spec: ColumnSpec, values: pd.Series, condition: Condition | None
) -> np.ndarray | pd.Series:
    """What :func:`enforce_column` gives, with float64 and int64 columns as fresh numpy
    arrays (a frame is built from arrays several times faster than from Series; any other
    column is a Series, whose dtype pandas must not infer again)."""
    if spec.kind in ORDERED:
        return _ordered(spec, values, condition)
    if spec.kind == "boolean":
        series = values.map(lambda v: bool(v), na_action="ignore")
        return series.astype("boolean") if series.isna().any() else series.astype(bool)
    # categorical: keep the category objects; a column of ints stays int when complete
    if int_categories(spec):
        if values.dtype == np.int64:  # already what the conversion below gives
            return values
        series = values.astype(object)
        try:  # fails exactly when a value is missing (None, NaN, NA, NaT cannot be ints)
            return series.astype("int64")
        except (TypeError, ValueError):
            if not series.isna().any():
                raise  # a value that is no whole number, as the plain conversion raised
            return series
    return values.astype(object)


def _ordered(
    spec: ColumnSpec, values: pd.Series, condition: Condition | None
) -> np.ndarray | pd.Series:
    is_date = spec.kind == "datetime"
    owned = False  # whether ``numbers`` is a fresh array this function may write into
    if is_date and pd.api.types.is_datetime64_any_dtype(values):
        numbers = values.astype("datetime64[ns]").astype("int64").to_numpy(dtype=float)
        numbers[values.isna().to_numpy()] = np.nan
        owned = True
    elif values.dtype.kind in "fiu":  # plain numbers: no conversion (may be a read-only view)
        numbers = values.to_numpy(dtype=float)
    else:
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    if is_date:
        low = None if spec.minimum is None else float(pd.Timestamp(spec.minimum).value)
        high = None if spec.maximum is None else float(pd.Timestamp(spec.maximum).value)
        step = 86_400e9 if spec.datetime_unit == "day" else 1e9
        numbers, owned = np.round(numbers / step) * step, True
    else:
        low = None if spec.minimum is None else float(spec.minimum)
        high = None if spec.maximum is None else float(spec.maximum)
        decimals = 0 if spec.kind == "integer" else spec.decimals
        if decimals is not None:
            numbers, owned = np.round(numbers, decimals), True
    if not owned:
        numbers = np.array(numbers)
    if condition is not None:
        if condition.kind == "equal":
            numbers[:] = float(condition.value)
        else:
            if condition.low is not None and (low is None or condition.low > low):
                low = condition.low
            if condition.high is not None and (high is None or condition.high < high):
                high = condition.high
    if low is not None or high is not None:
        np.clip(numbers, low, high, out=numbers)
    if is_date:
        out = pd.Series(pd.to_datetime(numbers, unit="ns"))
        return out.dt.normalize() if spec.datetime_unit == "day" else out
    if spec.kind == "integer":
        if np.isfinite(numbers).all():
            return numbers.astype(np.int64)
        series = pd.Series(numbers)  # missing values (Int64), or an infinity pandas refuses
        return series.astype("Int64") if series.isna().any() else series.astype("int64")
    return numbers
