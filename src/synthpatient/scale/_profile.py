"""The first pass of a streamed fit: each learned column summarised over every row, and the
schema completed from those summaries rather than from the sample alone.

A numeric, integer or datetime column gets a :class:`NumericSketch` (datetimes as
nanoseconds); a categorical or boolean column the exact count of each value; every column its
missing count; a whole-number identifier its largest value. Summaries of partitions merge by
addition, in partition order.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.errors import DataError
from synthpatient.scale._partitions import Partition
from synthpatient.scale._sketch import NumericSketch
from synthpatient.schema import ColumnSpec, Schema, categorical_spec, category_key, coerce_column
from synthpatient.synthesizers.copula_parts import to_numbers

ORDERED = ("numeric", "integer", "datetime")


@dataclass
class Profile:
    """Every learned column of a dataset, summarised (see the module)."""

    rows: int = 0
    sketches: dict[str, NumericSketch] = field(default_factory=dict)
    counts: dict[str, dict[Hashable, int]] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)
    id_max: dict[str, float] = field(default_factory=dict)

    def merge(self, other: Profile) -> Profile:
        out = Profile(rows=self.rows + other.rows)
        for name in {**self.sketches, **other.sketches}:
            a, b = self.sketches.get(name), other.sketches.get(name)
            out.sketches[name] = a.merge(b) if a and b else (a or b)  # type: ignore[assignment]
        for name in {**self.counts, **other.counts}:
            merged = dict(self.counts.get(name, {}))
            for value, n in other.counts.get(name, {}).items():
                merged[value] = merged.get(value, 0) + n
            out.counts[name] = merged
        for name in {**self.missing, **other.missing}:
            out.missing[name] = self.missing.get(name, 0) + other.missing.get(name, 0)
        for name in {**self.id_max, **other.id_max}:
            out.id_max[name] = max(self.id_max.get(name, -np.inf), other.id_max.get(name, -np.inf))
        return out


def open_schema(schema: Schema) -> Schema:
    """The schema to read batches with before the data's categories are known: observed
    (not declared) categories are dropped so that a value the sample missed is counted."""
    columns = [
        s.model_copy(update={"categories": None}) if s.kind == "categorical" and s.observed else s
        for s in schema
    ]
    return schema.model_copy(update={"columns": tuple(columns)})


def coerce_batch(schema: Schema, batch: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """``coerce_frame(schema, batch)[names]``, with categories read once per distinct value
    rather than once per row (the row-wise lookup took most of a pass's time)."""
    out = {}
    for name in names:
        spec = schema[name]
        values = batch[name]
        if spec.kind in ("categorical", "boolean"):
            codes, uniques = pd.factorize(values)
            read = coerce_column(spec, pd.Series(np.asarray(uniques, dtype=object)))[0]
            typed = np.asarray(read, dtype=object)[np.maximum(codes, 0)]
            typed[codes < 0] = None
            out[name] = pd.Series(typed, dtype=object)
        else:
            out[name] = coerce_column(spec, values)[0].reset_index(drop=True)
    return pd.DataFrame(out)


def profile_partition(part: Partition, schema: Schema) -> Profile:
    """Pass one over one partition (runs on a worker)."""
    learned = [s for s in schema.learned]
    int_ids = [
        s.name for s in schema if s.kind == "identifier" and s.identifier_type == "integer_id"
    ]
    out = Profile()
    for batch in part.batches():
        typed = coerce_batch(schema, batch, [s.name for s in learned])
        piece = Profile(rows=len(batch))
        for spec in learned:
            values = typed[spec.name]
            piece.missing[spec.name] = int(values.isna().sum())
            if spec.kind in ORDERED:
                piece.sketches[spec.name] = NumericSketch.of(to_numbers(values))
            else:
                counted = values.dropna().value_counts(sort=False)
                piece.counts[spec.name] = {k: int(v) for k, v in counted.items()}
        for name in int_ids:
            numbers = pd.to_numeric(batch[name], errors="coerce").abs()
            if numbers.notna().any():
                piece.id_max[name] = float(numbers.max())
        out = out.merge(piece)
    return out


def complete_from_profile(
    completed: Schema, given: Schema, profile: Profile, inferred: bool
) -> Schema:
    """``completed`` (``given`` completed on the sample) with what only the whole data can
    tell: the bounds, categories and nullability ``given`` leaves open (all of them when it was
    inferred from the sample), and where fresh whole-number ids start. Those a given schema
    states are checked against every row instead, as the in-memory fit's validation does.

    Raises:
        DataError: a declared column that is not nullable has missing values, a value lies
            outside declared bounds, or a declared category list misses values.
    """
    columns = []
    for spec in completed:
        before = given[spec.name]
        update: dict[str, Any] = {}
        if spec.name in profile.id_max and (inferred or before.minimum is None):
            top = int(profile.id_max[spec.name])
            update["minimum"] = float(10 ** len(str(top)))
        if spec.is_learned and profile.missing.get(spec.name, 0) and not spec.nullable:
            if not inferred:
                raise DataError(
                    f"Column '{spec.name}' has {profile.missing[spec.name]} missing value(s) "
                    "but the schema says it is not nullable; make it nullable."
                )
            update["nullable"] = True
        if spec.name in profile.sketches:
            update.update(_bounds(before, profile.sketches[spec.name], inferred))
        if spec.name in profile.counts and spec.kind == "categorical":
            update.update(_categories(before, profile.counts[spec.name], inferred))
        if update and any(k != "nullable" for k in update):
            update["observed"] = True
        columns.append(spec.model_copy(update=update) if update else spec)
    return completed.model_copy(update={"columns": tuple(columns)})


def _bounds(before: ColumnSpec, sketch: NumericSketch, inferred: bool) -> dict[str, Any]:
    """Open bounds from every row; declared ones checked against every row."""
    if not sketch.n:
        return {}
    update: dict[str, Any] = {}
    for key, found, outside in (
        ("minimum", sketch.minimum, lambda bound: sketch.minimum < bound),
        ("maximum", sketch.maximum, lambda bound: sketch.maximum > bound),
    ):
        declared = getattr(before, key)
        if declared is None or inferred:
            update[key] = (
                pd.Timestamp(int(found)).isoformat() if before.kind == "datetime" else float(found)
            )
        elif outside(_as_number(declared, before.kind)):
            side = (
                "below the schema's minimum" if key == "minimum" else "above the schema's maximum"
            )
            raise DataError(
                f"Column '{before.name}' has values {side}; widen the bounds in the schema."
            )
    return update


def _as_number(bound: Any, kind: str) -> float:
    return float(pd.Timestamp(bound).value) if kind == "datetime" else float(bound)


def _categories(spec: ColumnSpec, counts: dict[Hashable, int], inferred: bool) -> dict[str, Any]:
    if inferred or spec.categories is None:
        found = categorical_spec(spec.name, pd.Series(list(counts), dtype=object), spec.nullable)
        return {"categories": found.categories}
    allowed = {category_key(c) for c in spec.categories}
    unknown = sum(n for v, n in counts.items() if category_key(v) not in allowed)
    if unknown:
        raise DataError(
            f"Column '{spec.name}': {unknown} value(s) are not among the schema's "
            f"{len(spec.categories)} categories; add them to the schema."
        )
    return {}


def category_counts(categories: list[Any], counts: dict[Hashable, int]) -> np.ndarray:
    """``counts`` aligned with ``categories`` (matched as the schema matches them)."""
    index = {category_key(c): k for k, c in enumerate(categories)}
    out = np.zeros(len(categories))
    for value, n in counts.items():
        k = index.get(category_key(value))
        if k is not None:
            out[k] += n
    return out
