"""Enforcing a schema's relations on sampled rows, for every synthesizer (called by the base
class between a backend's draw and the schema's last enforcement).

1. **Derive**: an identity's or ratio's column is computed from its (rounded) inputs and
   rounded to its own step, a mapping's column looked up; so identities hold in the written
   table, not only before rounding.
2. **Resample**: rows that still break a relation (an order, a presence, a derived value
   outside its column's bounds or a condition) are replaced by fresh draws that keep them, a
   few rounds at most. Keeping only satisfying rows is drawing from the model conditioned on
   the relations, which real rows always satisfy.
3. **Repair** what is left: an order's two values swapped, a value present where it must not
   be removed (when its column may be missing). Whatever still breaks is counted and reported,
   never hidden.

A longitudinal model's rows belong to patients and are never replaced one by one: it gets
steps 1 and 3 only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synthpatient.relations._check import (
    check_relation,
    numbers,
    numeric_check,
    numeric_parts,
    step,
)
from synthpatient.schema import Relation, Schema

if TYPE_CHECKING:  # the base class imports this module: no import of synthesizers at run time
    from synthpatient.synthesizers import Condition

MAX_ROUNDS = 4


@dataclass
class RelationReport:
    """What enforcing the relations did to one sample (``last_relation_report_``).

    Attributes:
        n_rows: rows sampled.
        derived: per relation (its text), values computed from the other columns that the
            model had drawn differently.
        resampled: rows replaced by fresh draws that keep every relation.
        repaired: per relation, rows repaired after resampling (values swapped or removed).
        left: per relation, rows that still break it (reported, never hidden).
    """

    n_rows: int
    derived: dict[str, int] = field(default_factory=dict)
    resampled: int = 0
    repaired: dict[str, int] = field(default_factory=dict)
    left: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        lines = []
        derived = {k: v for k, v in self.derived.items() if v}
        if derived:
            lines.append(
                "Relations: computed "
                + "; ".join(f"{v} value(s) by '{k}'" for k, v in derived.items())
                + "."
            )
        if self.resampled:
            lines.append(
                f"Relations: {self.resampled} of {self.n_rows} rows were drawn again to keep them."
            )
        repaired = {k: v for k, v in self.repaired.items() if v}
        if repaired:
            lines.append(
                "Relations: repaired "
                + "; ".join(f"{v} row(s) for '{k}'" for k, v in repaired.items())
                + "."
            )
        left = {k: v for k, v in self.left.items() if v}
        if left:
            lines.append(
                "Relations NOT kept: "
                + "; ".join(f"{v} row(s) break '{k}'" for k, v in left.items())
                + " (edit the schema's relations to drop one)."
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_rows": self.n_rows,
            "derived": dict(self.derived),
            "resampled": self.resampled,
            "repaired": dict(self.repaired),
            "left": dict(self.left),
        }


def enforce_relations(
    rows: pd.DataFrame,
    schema: Schema,
    relations: Sequence[Relation],
    conditions: Sequence[Condition],
    redraw: Callable[[int], pd.DataFrame],
    *,
    resample: bool = True,
) -> tuple[pd.DataFrame, RelationReport]:
    """``rows`` (learned columns, as the schema delivers them) keeping ``relations``.

    ``redraw(k)`` gives ``k`` fresh rows meeting ``conditions`` (used only with ``resample``).
    Whole-number columns come back as integers where every row kept every relation (they are
    floats meanwhile, so that any value can be written), as the schema delivers them.
    """
    report = RelationReport(len(rows), derived={r.text: 0 for r in relations if r.derives})
    integers = [c for c in rows.columns if rows[c].dtype == np.int64]
    rows = canonical(rows)
    changed, known = derive(rows, schema, relations)
    bad = bad_rows(rows, schema, relations, conditions, known)
    keep = ~bad
    _count(report.derived, changed, keep)
    drawn = accepted = 0
    for _ in range(MAX_ROUNDS if resample else 0):
        need = int(bad.sum())
        if not need:
            break
        rate = max(accepted / drawn if drawn else 1.0, 0.05)
        k = int(min(need / rate * 1.2 + 8, 20 * need + 256))
        fresh = canonical(redraw(k))
        fresh_changed, fresh_known = derive(fresh, schema, relations)
        good = np.flatnonzero(~bad_rows(fresh, schema, relations, conditions, fresh_known))
        drawn, accepted = drawn + k, accepted + len(good)
        take = good[:need]
        slots = np.flatnonzero(bad)[: len(take)]
        rows = _replace(rows, slots, fresh, take)
        picked = np.zeros(len(fresh), dtype=bool)
        picked[take] = True
        _count(report.derived, fresh_changed, picked)
        bad[slots] = False
        report.resampled += len(slots)
    if not bad.any():
        # every row was checked against every relation (bad_rows) and kept or replaced by
        # one that keeps them all: nothing to repair, and integers are whole and in bounds
        return _as_integers(rows, integers), report
    for relation in relations:
        text = relation.text
        broken = check_relation(relation, rows, schema).violations
        fixed = _repair(relation, rows, schema, broken) if broken.any() else 0
        if fixed:
            report.repaired[text] = report.repaired.get(text, 0) + fixed
        left = int(check_relation(relation, rows, schema).violations.sum())
        if left:
            report.left[text] = left
    return rows, report


def _replace(
    rows: pd.DataFrame, slots: np.ndarray, fresh: pd.DataFrame, take: np.ndarray
) -> pd.DataFrame:
    """``rows`` whose rows ``slots`` are rows ``take`` of ``fresh``, as a new frame: numbers
    through numpy a column at a time (a masked pandas assignment per column cost more than
    drawing the new rows), the other columns as pandas writes them."""
    out: dict[str, Any] = {}
    others = []
    for column in rows.columns:
        current, new = rows[column], fresh[column].to_numpy()[take]
        if current.dtype == np.int64 and new.dtype != np.int64:
            current = _as_float(current)  # the fresh rows have a gap or a fraction here
        if current.dtype in (np.float64, np.int64) and new.dtype == current.dtype:
            values = current.to_numpy(copy=True)
            values[slots] = new
            out[column] = values
        else:
            out[column] = current
            others.append((column, new))
    replaced = pd.DataFrame(out, columns=rows.columns, copy=False)
    for column, new in others:
        _writable(replaced, column)
        replaced.loc[slots, column] = new
    return replaced


def _as_float(values: pd.Series) -> pd.Series:
    return pd.Series(values.to_numpy(dtype=float), copy=False)


def _writable(rows: pd.DataFrame, column: str) -> None:
    """Make ``column`` a column of its own that takes any value, before a write into some of
    its cells: integers become floats (as derived values or repairs may not be whole), and
    other columns, which may be shared with the caller's frame, are copied."""
    values = rows[column]
    rows[column] = _as_float(values) if values.dtype == np.int64 else values.copy(deep=True)


def _as_integers(rows: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``columns`` (int64 when given) as int64 again where something written into them made
    them floats of whole numbers, as the schema delivers them (not enforced a second time)."""
    for column in columns:
        values = rows[column].to_numpy()
        if values.dtype == np.float64 and bool(np.isfinite(values).all()):
            whole = values.astype(np.int64)
            if np.array_equal(whole, values):
                rows[column] = whole
    return rows


def _count(counts: dict[str, int], changed: dict[str, np.ndarray], rows: np.ndarray) -> None:
    for text, mask in changed.items():
        counts[text] = counts.get(text, 0) + int((mask & rows).sum())


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """A new frame whose numbers are floats or int64 and whose nullable types are objects, so
    that derived values and replacement rows can be written into any cell (an int64 column
    becomes floats when something is written into it, see ``_writable``; ``frame`` is never
    changed: its columns are converted, or shared and copied before any write)."""
    frame = frame.reset_index(drop=True)  # a new frame (sharing the columns until written)
    if all(dtype in (np.float64, np.int64) for dtype in frame.dtypes):
        return frame  # numbers only, as they are: building a frame again took longer
    out: dict[str, Any] = {}
    for column in frame.columns:
        values = frame[column]
        if values.dtype in (np.float64, np.int64):  # the common case, asked first
            out[column] = values  # whole columns are replaced; cells only after _writable
        elif pd.api.types.is_datetime64_any_dtype(values):
            out[column] = values
        elif pd.api.types.is_bool_dtype(values) or isinstance(values.dtype, pd.BooleanDtype):
            out[column] = values.astype(object).where(values.notna(), None)
        elif pd.api.types.is_numeric_dtype(values):
            out[column] = numbers(values)
        else:
            out[column] = values.astype(object).where(values.notna(), None)
    return pd.DataFrame(out, columns=frame.columns, copy=False)


def derive(
    rows: pd.DataFrame, schema: Schema, relations: Sequence[Relation]
) -> tuple[dict[str, np.ndarray], dict[int, np.ndarray]]:
    """Compute each identity's, ratio's and mapping's column in place (in the relations'
    order, so a derived input is ready before it is read); per relation, the rows changed,
    and per position in ``relations``, the rows that still break it where that is known
    without reading the inputs again (for :func:`bad_rows`)."""
    changed: dict[str, np.ndarray] = {}
    known: dict[int, np.ndarray] = {}
    for i, relation in enumerate(relations):
        if not relation.derives:
            continue
        if relation.kind == "mapping":
            before = check_relation(relation, rows, schema)
            table = {str(k): v for k, v in relation.mapping or ()}
            other = rows[str(relation.other)]
            looked = other.map(lambda v, table=table: table.get(_text(v)), na_action="ignore")
            where = before.applicable
            _writable(rows, relation.column)
            rows.loc[where, relation.column] = looked[where].to_numpy()
        else:
            predicted, allowed = numeric_parts(relation, rows, schema)
            current = numbers(rows[relation.column])
            before = numeric_check(current, predicted, allowed)
            unit = step(schema[relation.column])
            value = predicted
            if relation.tolerance is not None:  # a band: the drawn value, moved into it
                width = max(relation.tolerance - unit, 0.0)
                value = np.clip(current, value - width, value + width)
            if unit:  # in place on a fresh array: the same steps as round(value / unit) * unit
                value = np.divide(value, unit)
                np.round(value, out=value)
                value *= unit
                np.round(value, 12, out=value)
            written = _write(rows, relation.column, before.applicable, value, current)
            if written is not None and not _rewritten_later(relation, relations[i + 1 :]):
                known[i] = numeric_check(written, predicted, allowed).violations
        changed[relation.text] = before.violations
    return changed, known


def _rewritten_later(relation: Relation, later: Sequence[Relation]) -> bool:
    """Whether a later relation derives the column or an input of ``relation``."""
    read = {relation.column, *(term.column for term in relation.terms or ())}
    return any(other.derives and other.column in read for other in later)


def _write(
    rows: pd.DataFrame, column: str, where: np.ndarray, value: np.ndarray, current: np.ndarray
) -> np.ndarray | None:
    """``value`` into ``column`` where ``where`` holds: one new float column (a masked pandas
    assignment took most of deriving's time; the column is returned), or as pandas writes
    into another dtype (None)."""
    if rows[column].dtype in (np.float64, np.int64):
        written = np.where(where, value, current)  # floats, as ``current`` is
        rows[column] = written
        return written
    _writable(rows, column)
    rows.loc[where, column] = value[where]
    return None


def _text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def bad_rows(
    rows: pd.DataFrame,
    schema: Schema,
    relations: Sequence[Relation],
    conditions: Sequence[Condition],
    known: dict[int, np.ndarray] | None = None,
) -> np.ndarray:
    """Rows that break a relation, a derived column's bounds, or a condition (``known``:
    what :func:`derive` already knows of the relation at that position)."""
    bad = np.zeros(len(rows), dtype=bool)
    for i, relation in enumerate(relations):
        if known is not None and i in known:
            bad |= known[i]
        else:
            bad |= check_relation(relation, rows, schema).violations
        if relation.kind in ("identity", "ratio"):
            spec = schema[relation.column]
            y = numbers(rows[relation.column])
            with np.errstate(invalid="ignore"):
                if spec.minimum is not None:
                    bad |= y < float(spec.minimum) - 1e-9
                if spec.maximum is not None:
                    bad |= y > float(spec.maximum) + 1e-9
    for cond in conditions:
        bad |= ~np.asarray(cond.mask(schema[cond.column], rows[cond.column]), dtype=bool)
    return bad


def _repair(relation: Relation, rows: pd.DataFrame, schema: Schema, broken: np.ndarray) -> int:
    """Repair the rows that break an order or a presence; the number repaired."""
    where = np.flatnonzero(broken)
    if relation.kind == "order":
        left, right = relation.column, str(relation.other)
        _writable(rows, left)
        _writable(rows, right)
        a, b = rows.loc[where, left].to_numpy(), rows.loc[where, right].to_numpy()
        rows.loc[where, left], rows.loc[where, right] = b, a
    elif relation.kind == "presence" and schema[relation.column].nullable:
        has = rows[relation.column].notna().to_numpy()
        _writable(rows, relation.column)
        rows.loc[where[has[where]], relation.column] = None
    else:
        return 0
    return int((broken & ~check_relation(relation, rows, schema).violations).sum())
