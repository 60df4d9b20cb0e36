"""Checking and deriving relations on a table: the row masks every other part reads.

Numbers and dates are compared as floats (dates as nanoseconds); a row is checked by a relation
only where the columns it needs have values (a presence relation needs none: missingness is
what it is about).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.schema import ColumnSpec, Relation, Schema, Term

#: The most a value may be off its relation when the schema gives no rounding to go by.
DEFAULT_RELATIVE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class RelationCheck:
    """Where a relation applies in a table and where it holds there."""

    applicable: np.ndarray
    holds: np.ndarray

    @property
    def violations(self) -> np.ndarray:
        return self.applicable & ~self.holds

    @property
    def share(self) -> float:
        """Share of applicable rows that satisfy it (NaN when it applies nowhere)."""
        n = int(self.applicable.sum())
        return float(self.holds[self.applicable].mean()) if n else float("nan")


def numbers(values: pd.Series) -> np.ndarray:
    """A column as floats: dates as nanoseconds, NaN where missing or not a number."""
    if pd.api.types.is_datetime64_any_dtype(values):
        out = values.astype("datetime64[ns]").astype("int64").to_numpy(dtype=float)
        out[values.isna().to_numpy()] = np.nan
        return out
    if values.dtype.kind in "fiu":  # plain numpy numbers: the fast path
        return values.to_numpy(dtype=float)
    converted = pd.to_numeric(values.astype(object).where(values.notna(), None), errors="coerce")
    return np.asarray(converted, dtype=float)


def present(values: pd.Series) -> np.ndarray:
    return values.notna().to_numpy()


def step(spec: ColumnSpec) -> float:
    """The rounding step of a numeric column (0 when unknown)."""
    if spec.kind == "integer":
        return 1.0
    return 10.0**-spec.decimals if spec.decimals is not None else 0.0


def term_values(term: Term, frame: pd.DataFrame) -> np.ndarray:
    x = numbers(frame[term.column])
    with np.errstate(over="ignore", invalid="ignore"):
        return np.exp(x) if term.transform == "exp" else x


def predict(relation: Relation, frame: pd.DataFrame) -> np.ndarray:
    """The value an identity or ratio gives its column (NaN where an input is missing)."""
    return _predict(relation, len(frame), _inputs(relation, frame))


def _inputs(relation: Relation, frame: pd.DataFrame) -> list[np.ndarray]:
    """Each term's values, read once: the prediction and the tolerance both need them (an
    exp term's values twice), and reading them per use took a third of the checks' time."""
    return [term_values(term, frame) for term in relation.terms or ()]


def _predict(relation: Relation, n: int, inputs: list[np.ndarray]) -> np.ndarray:
    # in place, through one scratch array: the same operations in the same order as
    # out = out + c * x (bit for bit), without a fresh 100,000-row array per term
    terms = relation.terms or ()
    scratch = np.empty(n)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if relation.kind == "identity":
            out = np.full(n, float(relation.constant or 0.0))  # a float array to add into
            for term, x in zip(terms, inputs, strict=True):
                out += np.multiply(x, term.coefficient, out=scratch)
            return out
        constant = relation.constant if relation.constant is not None else 1.0
        out = np.full(n, float(constant))
        for term, x in zip(terms, inputs, strict=True):
            out *= np.power(x, term.coefficient, out=scratch)
        return out


def tolerance(relation: Relation, frame: pd.DataFrame, schema: Schema) -> np.ndarray:
    """How far a value may be off its identity or ratio: the relation's own tolerance, or
    what rounding the column and its inputs allows (half a step each, propagated)."""
    inputs = _inputs(relation, frame)
    return _tolerance(relation, schema, inputs, _predict(relation, len(frame), inputs))


def _tolerance(
    relation: Relation, schema: Schema, inputs: list[np.ndarray], predicted: np.ndarray
) -> np.ndarray:
    n = len(predicted)
    if relation.tolerance is not None:
        return np.full(n, relation.tolerance)
    # a number while every term adds a number (an identity's plain terms), an array from
    # the first term that varies by row: the same sums in the same order, fewer arrays
    total: Any = step(schema[relation.column]) / 2
    magnitude = np.abs(predicted)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for term, x in zip(relation.terms or (), inputs, strict=True):
            half = step(schema[term.column]) / 2
            if relation.kind == "identity" and term.transform != "exp":
                total = total + np.abs(term.coefficient) * 1.0 * half  # a number
                continue
            if relation.kind == "identity":  # (|c| * |x|) * half
                error = np.abs(x)
                error *= np.abs(term.coefficient)  # x * y == y * x exactly
            else:  # ((|predicted| * |c|) * half) / |x|: a power's relative error, propagated
                error = magnitude * np.abs(term.coefficient)
            error *= half
            if relation.kind != "identity":
                error /= np.abs(x)
            error += total  # total + error, exactly
            total = error
    magnitude *= DEFAULT_RELATIVE_TOLERANCE
    out = np.maximum(total, magnitude, out=magnitude)
    out += 1e-9
    return out


def check_relation(relation: Relation, frame: pd.DataFrame, schema: Schema) -> RelationCheck:
    """Where ``relation`` applies in ``frame`` and where it holds."""
    column = frame[relation.column]
    if relation.kind in ("identity", "ratio"):
        return numeric_check(numbers(column), *numeric_parts(relation, frame, schema))
    other = frame[str(relation.other)]
    if relation.kind == "order":
        left, right = numbers(column), numbers(other)
        applicable = np.isfinite(left) & np.isfinite(right)
        with np.errstate(invalid="ignore"):
            holds = {
                "<": left < right,
                "<=": left <= right,
                ">": left > right,
                ">=": left >= right,
            }[str(relation.op)]
        return RelationCheck(applicable, holds & applicable)
    if relation.kind == "mapping":
        table: dict[object, object] = dict(relation.mapping or ())
        keys = other.map(lambda v: _key(v) in _keys(table), na_action="ignore")
        applicable = present(column) & keys.fillna(False).to_numpy(dtype=bool)
        expected = other.map(lambda v: _lookup(table, v), na_action="ignore")
        holds = np.array(
            [
                ok and _key(a) == _key(b)
                for ok, a, b in zip(applicable, column, expected, strict=True)
            ]
        )
        return RelationCheck(applicable, holds)
    # presence: the column's having a value against the other's (or its being one value)
    has = present(column)
    if relation.value is None:
        cue = present(other)
    else:
        cue = other.map(lambda v: _key(v) == _key(relation.value), na_action="ignore")
        cue = cue.fillna(False).to_numpy(dtype=bool)
    applicable = np.ones(len(frame), dtype=bool)
    holds = {
        "exclusive": has != cue,
        "same": has == cue,
        "only_if": ~has | cue,
    }[str(relation.presence)]
    return RelationCheck(applicable, holds)


def numeric_parts(
    relation: Relation, frame: pd.DataFrame, schema: Schema
) -> tuple[np.ndarray, np.ndarray]:
    """The value an identity or ratio gives its column, and how far off it the column may be
    (both read off the inputs: a derived column checked again after it is written needs no
    new ones)."""
    inputs = _inputs(relation, frame)
    predicted = _predict(relation, len(frame), inputs)
    return predicted, _tolerance(relation, schema, inputs, predicted)


def numeric_check(y: np.ndarray, predicted: np.ndarray, allowed: np.ndarray) -> RelationCheck:
    """Where a column ``y`` is within ``allowed`` of its ``predicted`` value."""
    applicable = np.isfinite(y)
    applicable &= np.isfinite(predicted)
    with np.errstate(invalid="ignore"):
        off = np.subtract(y, predicted)
        np.abs(off, out=off)
        holds = off <= allowed
    holds &= applicable
    return RelationCheck(applicable, holds)


def _key(value: object) -> str:
    """Category values compared as text (a CSV's 1 and a schema's "1" are the same)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _keys(table: dict[object, object]) -> set[str]:
    return {_key(k) for k in table}


def _lookup(table: dict[object, object], value: object) -> object:
    wanted = _key(value)
    for key, mapped in table.items():
        if _key(key) == wanted:
            return mapped
    return None
