"""Rows an LLM wrote, read as untrusted input: each parsed row checked against the fitted
schema (types, the real category vocabulary, bounds, conditions), and its key for duplicates
and copies (the package's one row hash, :mod:`synthpatient._row_hash`)."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from synthpatient._row_hash import hash_keys, row_keys
from synthpatient.schema import ColumnSpec, category_key
from synthpatient.synthesizers._conditions import Condition

_MISSING_WORDS = {"", "null", "none", "nan", "na", "n/a", "missing", "unknown"}
_BOOL_WORDS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}
#: Numbers without declared decimals are compared at this many places.
DEFAULT_DECIMALS = 6
#: near copies (a value or two changed) are looked for in tables of at least this many columns
MIN_NEAR_COLUMNS = 5


class RowValidator:
    """One parsed row -> canonical values in column order, or None with the reason counted.

    A category is accepted when spelled exactly as in the real data (CSV-style ``"1"`` for
    ``1`` included); a different case or stray spaces is mapped back to the real spelling and
    counted (``spellings_fixed``); anything else is rejected, so the vocabulary stays the real
    one.
    """

    def __init__(self, specs: list[ColumnSpec], conditions: list[Condition]) -> None:
        self.specs = specs
        self.conditions = {c.column: c for c in conditions}
        self.lookup = {
            s.name: {category_key(c): c for c in s.categories or ()}
            for s in specs
            if s.kind == "categorical"
        }
        self.folded = {name: _folded(table) for name, table in self.lookup.items()}

    def check(self, raw: dict[str, Any], reasons: Counter[str]) -> tuple[tuple | None, int]:
        if not any(spec.name in raw for spec in self.specs):
            reasons["not_a_row"] += 1
            return None, 0
        values, fixed = [], 0
        for spec in self.specs:
            value, reason, was_fixed = self._value(spec, raw.get(spec.name))
            if (
                reason is None
                and spec.name in self.conditions
                and not _meets(spec, value, self.conditions[spec.name])
            ):
                reason = "breaks_condition"
            if reason is not None:
                reasons[reason] += 1
                return None, 0
            fixed += was_fixed
            values.append(value)
        return tuple(values), fixed

    def _value(self, spec: ColumnSpec, value: Any) -> tuple[Any, str | None, int]:
        """(canonical value, rejection reason or None, 1 if a spelling was fixed)."""
        if spec.kind == "categorical" and value is not None:
            table = self.lookup[spec.name]
            key = category_key(value)
            if key in table:
                return table[key], None, 0
            folded = self.folded[spec.name].get(key.strip().casefold())
            if folded is not None:
                return folded, None, 1
        if value is None or (isinstance(value, str) and value.strip().lower() in _MISSING_WORDS):
            return (None, None, 0) if spec.nullable else (None, "missing_value", 0)
        if spec.kind == "categorical":
            return None, "unknown_category", 0
        if spec.kind == "boolean":
            return _boolean(value)
        if spec.kind == "datetime":
            return _date(spec, value)
        return _number(spec, value)


def _folded(table: dict[str, Any]) -> dict[str, Any]:
    """Case- and space-insensitive lookup, only for spellings that stay unambiguous."""
    counts = Counter(k.strip().casefold() for k in table)
    return {k.strip().casefold(): v for k, v in table.items() if counts[k.strip().casefold()] == 1}


def _boolean(value: Any) -> tuple[Any, str | None, int]:
    if isinstance(value, bool):
        return value, None, 0
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value), None, 0
    if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
        return _BOOL_WORDS[value.strip().lower()], None, 0
    return None, "wrong_type", 0


def _number(spec: ColumnSpec, value: Any) -> tuple[Any, str | None, int]:
    if isinstance(value, bool):
        return None, "wrong_type", 0
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None, "wrong_type", 0
    if not math.isfinite(number):
        return None, "wrong_type", 0
    if spec.kind == "integer" and not number.is_integer():
        return None, "wrong_type", 0
    if (spec.minimum is not None and number < float(spec.minimum)) or (
        spec.maximum is not None and number > float(spec.maximum)
    ):
        return None, "out_of_range", 0
    decimals = 0 if spec.kind == "integer" else spec.decimals
    return (round(number, decimals) if decimals is not None else number), None, 0


def _date(spec: ColumnSpec, value: Any) -> tuple[Any, str | None, int]:
    if not isinstance(value, str):
        return None, "wrong_type", 0
    try:
        stamp = pd.Timestamp(value.strip())
    except (TypeError, ValueError):
        return None, "wrong_type", 0
    if stamp is pd.NaT or pd.isna(stamp):
        return None, "wrong_type", 0
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert(None)
    if spec.datetime_unit == "day":
        stamp = stamp.normalize()
    if (spec.minimum is not None and stamp < pd.Timestamp(spec.minimum)) or (
        spec.maximum is not None and stamp > pd.Timestamp(spec.maximum)
    ):
        return None, "out_of_range", 0
    return stamp, None, 0


def _meets(spec: ColumnSpec, value: Any, cond: Condition) -> bool:
    """Whether a validated value meets its condition (missing never does)."""
    if value is None:
        return False
    if spec.kind in ("categorical", "boolean"):
        return category_key(value) == category_key(cond.value)
    number = float(value.value) if isinstance(value, pd.Timestamp) else float(value)
    if cond.kind == "equal":
        return math.isclose(number, float(cond.value), rel_tol=0, abs_tol=1e-9)
    return (cond.low is None or number >= cond.low - 1e-9) and (
        cond.high is None or number <= cond.high + 1e-9
    )


class RowKeys:
    """The canonical text of validated rows (for duplicates and copies of prompt examples)
    and its keyed hash (for copies of training rows).

    Training rows are kept only as keyed 64-bit hashes of this text, so the saved model holds
    no training row; the key (random, saved with the model) stops precomputed tables, not a
    guess-and-check attack on a table with few, coarse columns. Numbers are compared at their
    declared decimals (``DEFAULT_DECIMALS`` when none), dates at the column's unit.
    """

    def __init__(self, specs: list[ColumnSpec]) -> None:
        self.specs = specs
        self.kinds = {s.name: s.kind for s in specs}
        self.decimals = {
            s.name: 0
            if s.kind == "integer"
            else (DEFAULT_DECIMALS if s.decimals is None else s.decimals)
            for s in specs
            if s.kind in ("numeric", "integer")
        }

    def frame_keys(self, frame: pd.DataFrame) -> np.ndarray:
        """One key per row of ``frame`` (the learned columns in canonical dtypes)."""
        frame = frame.reset_index(drop=True)
        for spec in self.specs:
            if spec.kind == "datetime" and spec.datetime_unit == "day":
                frame = frame.assign(**{spec.name: pd.to_datetime(frame[spec.name]).dt.normalize()})
        return row_keys(frame, self.kinds, self.decimals)

    def keys(self, rows: list[tuple[Any, ...]]) -> np.ndarray:
        """One key per validated row (values in column order)."""
        return self.frame_keys(rows_frame(self.specs, rows))

    @staticmethod
    def hashes(keys: np.ndarray, hash_key: str) -> np.ndarray:
        return hash_keys(keys, hash_key)


class NearCopies:
    """Rows too close to a prompt example: at most ``max(1, 10 %)`` of the columns differ
    from one example (in tables of ``MIN_NEAR_COLUMNS`` columns or more), or every column
    equals one of two examples (a splice, e.g. the first values of one and the rest of
    another). Exact copies are caught by the row key first.

    Values are compared as validated (numbers at their declared decimals, dates at their
    unit); splices are only looked for when the table has a numeric or date column, since
    rows of a few categories may legitimately combine two examples' values.
    """

    def __init__(self, specs: list[ColumnSpec], examples: list[tuple[Any, ...]]) -> None:
        self.examples = [tuple(_comparable(v) for v in row) for row in examples]
        self.max_differing = max(1, len(specs) // 10)
        self.splices = any(s.kind in ("numeric", "integer", "datetime") for s in specs)

    def is_near(self, values: tuple[Any, ...]) -> bool:
        if not self.examples:
            return False
        row = tuple(_comparable(v) for v in values)
        matches = [[a == b for a, b in zip(row, ex, strict=True)] for ex in self.examples]
        # in a table of few columns one differing value is an ordinary row, not a near copy
        if len(row) >= MIN_NEAR_COLUMNS and any(
            len(row) - sum(m) <= self.max_differing for m in matches
        ):
            return True
        if not self.splices:
            return False
        for i, first in enumerate(matches):
            for second in matches[i + 1 :]:
                if all(a or b for a, b in zip(first, second, strict=True)):
                    return True
        return False


def _comparable(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, DEFAULT_DECIMALS)
    return value


def rows_frame(specs: list[ColumnSpec], rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """Validated rows as a frame, one column per learned column in canonical dtypes."""
    out: dict[str, Any] = {}
    for j, spec in enumerate(specs):
        values = [row[j] for row in rows]
        if spec.kind in ("numeric", "integer"):
            out[spec.name] = pd.Series([np.nan if v is None else v for v in values], dtype=float)
        elif spec.kind == "datetime":
            out[spec.name] = pd.Series(pd.to_datetime(values), dtype="datetime64[ns]")
        else:
            out[spec.name] = pd.Series(values, dtype=object)
    return pd.DataFrame(out, columns=[s.name for s in specs])
