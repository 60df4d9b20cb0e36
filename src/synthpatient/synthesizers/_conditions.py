"""Sampling conditions: parsed and checked against the fitted schema before any sampling.

``{"sex": "female"}`` asks for one category; ``{"age": (40, 65)}`` for a numeric or date range
(either end may be ``None``); ``{"age": 50}`` for one numeric value. The CLI spells these
``sex=female``, ``age=40..65``, ``age=65..`` and ``age=50``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from synthpatient.errors import ConditionError
from synthpatient.schema import ColumnSpec, Schema, category_key


@dataclass(frozen=True)
class Condition:
    """One column's condition, in the column's own units (datetimes as ns since the epoch)."""

    column: str
    kind: Literal["equal", "range"]
    value: Any = None
    low: float | None = None
    high: float | None = None

    def mask(self, spec: ColumnSpec, values: pd.Series) -> np.ndarray:
        """Which rows satisfy this condition."""
        if spec.kind in ("categorical", "boolean"):
            keys = values.map(category_key, na_action="ignore")
            return (keys == category_key(self.value)).to_numpy()
        numbers = _as_number(spec, values)
        if self.kind == "equal":
            return np.isclose(numbers, float(self.value), rtol=0, atol=1e-9)
        low = -np.inf if self.low is None else self.low
        high = np.inf if self.high is None else self.high
        with np.errstate(invalid="ignore"):
            return (numbers >= low - 1e-9) & (numbers <= high + 1e-9)


def _as_number(spec: ColumnSpec, values: pd.Series) -> np.ndarray:
    if spec.kind == "datetime":
        stamps = pd.to_datetime(values)
        out = stamps.astype("int64").to_numpy(dtype=float)
        out[stamps.isna().to_numpy()] = np.nan
        return out
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)


def shown(raw: Any) -> str:
    """The user's own value, quoted on one line and cut short: a message stays one line even
    when the value holds a line break or is very long."""
    text = json.dumps(str(raw), ensure_ascii=False)[1:-1]
    return f"'{text[:60]}...'" if len(text) > 60 else f"'{text}'"


def parse_condition_text(text: str) -> tuple[str, Any]:
    """``'sex=female'`` -> ``('sex', 'female')``; ``'age=40..65'`` -> ``('age', ('40', '65'))``."""
    column, sep, value = text.partition("=")
    if not sep or not column.strip() or not value.strip():
        raise ConditionError(
            f"Cannot read the condition '{text}'. Write COLUMN=VALUE "
            "(sex=female) or COLUMN=LOW..HIGH (age=40..65, age=65..)."
        )
    value = value.strip()
    if ".." in value:
        low, _, high = value.partition("..")
        return column.strip(), (low.strip() or None, high.strip() or None)
    return column.strip(), value


def _to_number(spec: ColumnSpec, raw: Any, column: str) -> float:
    try:
        if spec.kind == "datetime":
            return float(pd.Timestamp(raw).value)
        number = float(raw)
    except (TypeError, ValueError, OverflowError) as exc:
        wanted = "date" if spec.kind == "datetime" else "number"
        raise ConditionError(
            f"The condition on '{column}' needs a {wanted}; got {shown(raw)}."
        ) from exc
    if not math.isfinite(number):
        raise ConditionError(f"The condition on '{column}' must be a finite number.")
    return number


def _bounds(spec: ColumnSpec) -> tuple[float, float]:
    def conv(bound: Any, default: float) -> float:
        if bound is None:
            return default
        return float(pd.Timestamp(bound).value) if spec.kind == "datetime" else float(bound)

    return conv(spec.minimum, -np.inf), conv(spec.maximum, np.inf)


def parse_conditions(conditions: Mapping[str, Any] | None, schema: Schema) -> list[Condition]:
    """Check ``conditions`` against the fitted schema; impossible ones fail here, before
    sampling."""
    if not conditions:
        return []
    if not isinstance(conditions, Mapping):
        raise ConditionError(
            "Conditions must be a mapping of column name to value, "
            "e.g. {'sex': 'female', 'age': (40, 65)}."
        )
    parsed = []
    for column, raw in conditions.items():
        if column not in schema:
            raise ConditionError(
                f"Cannot condition on '{column}': no such column. "
                f"Columns: {', '.join(schema.names)}."
            )
        spec = schema[column]
        if not spec.is_learned:
            raise ConditionError(
                f"Cannot condition on '{column}': it is {spec.kind} data, which "
                "is regenerated, not learned."
            )
        parsed.append(_parse_one(spec, raw))
    return parsed


def _parse_one(spec: ColumnSpec, raw: Any) -> Condition:
    column = spec.name
    if spec.kind in ("categorical", "boolean"):
        if isinstance(raw, tuple | list | set):
            raise ConditionError(
                f"A condition on the {spec.kind} column '{column}' takes one "
                "value, not a range or list."
            )
        categories = spec.categories if spec.kind == "categorical" else (True, False)
        lookup = {category_key(c): c for c in categories or ()}
        key = category_key(raw)
        if spec.kind == "boolean":
            key = {
                "true": "True",
                "false": "False",
                "1": "True",
                "0": "False",
                "yes": "True",
                "no": "False",
            }.get(key.lower(), key)
        if key not in lookup:
            # the user's own value may be echoed; the column's categories are real patients'
            # values (read off the data), so they are only pointed to, never listed
            if spec.kind == "boolean":
                raise ConditionError(
                    f"Impossible condition: {shown(raw)} is not a value of "
                    f"the boolean column '{column}'. Give true or false."
                )
            raise ConditionError(
                f"Impossible condition: {shown(raw)} is not a category of column '{column}'. "
                "List them with `synthpatient schema DATA --show-categories` (prints real values) "
                "or `schema.to_json(..., include_observed=True)`."
            )
        return Condition(column, "equal", value=lookup[key])
    low_bound, high_bound = _bounds(spec)
    if isinstance(raw, tuple | list):
        if len(raw) != 2:
            raise ConditionError(
                f"A range condition on '{column}' needs (low, high); got {len(raw)} values."
            )
        low = None if raw[0] is None else _to_number(spec, raw[0], column)
        high = None if raw[1] is None else _to_number(spec, raw[1], column)
        if low is None and high is None:
            raise ConditionError(f"The range condition on '{column}' has neither end set.")
        if low is not None and high is not None and low > high:
            raise ConditionError(
                f"Impossible condition on '{column}': the low end is above the high end."
            )
        if spec.kind == "integer":
            low = None if low is None else float(math.ceil(low - 1e-9))
            high = None if high is None else float(math.floor(high + 1e-9))
            if low is not None and high is not None and low > high:
                raise ConditionError(
                    f"Impossible condition on '{column}': no whole number lies in the range."
                )
        if (low is not None and low > high_bound) or (high is not None and high < low_bound):
            raise ConditionError(
                f"Impossible condition: the range for '{column}' lies outside "
                "the values this model can produce. Widen the range."
            )
        return Condition(column, "range", low=low, high=high)
    value = _to_number(spec, raw, column)
    if spec.kind == "integer" and not float(value).is_integer():
        raise ConditionError(
            f"Impossible condition: '{column}' holds whole numbers; got {shown(raw)}."
        )
    if not low_bound <= value <= high_bound:
        raise ConditionError(
            f"Impossible condition: the value for '{column}' lies outside the "
            "values this model can produce."
        )
    return Condition(column, "equal", value=value)


def as_mapping(conditions: list[Condition], schema: Schema) -> dict[str, Any]:
    """Parsed conditions back in the form ``sample`` takes, for a model that hands them on to
    another (the hybrid to its base); parsing the result gives the same conditions."""
    out: dict[str, Any] = {}
    for cond in conditions:
        is_date = schema[cond.column].kind == "datetime"

        def back(value: Any, is_date: bool = is_date) -> Any:
            return pd.Timestamp(int(value)) if is_date and value is not None else value

        out[cond.column] = (
            back(cond.value) if cond.kind == "equal" else (back(cond.low), back(cond.high))
        )
    return out
