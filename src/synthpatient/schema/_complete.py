"""Completing a schema from the data it is fitted on: the constraints a schema leaves open
(bounds, categories, decimals, datetime units, where fresh whole-number ids start), marked
``observed`` so that a shared schema never carries them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthpatient.schema._dtypes import plain_values
from synthpatient.schema._infer import _decimals, categorical_spec
from synthpatient.schema._spec import ColumnSpec, Schema


def _whole_number_ids(spec: ColumnSpec) -> bool:
    return spec.kind == "identifier" and spec.identifier_type == "integer_id"


def _id_floor(values: pd.Series) -> dict[str, object]:
    """Where fresh whole-number ids start: the power of ten above every real id (312 -> 1000),
    so that no synthetic id can equal a real one. Only the number of digits is kept, and as an
    observed bound it never leaves the model folder."""
    numbers = pd.to_numeric(values, errors="coerce").abs()
    top = int(numbers.max()) if numbers.notna().any() and np.isfinite(numbers.max()) else 0
    return {"minimum": float(10 ** len(str(top))), "observed": True}


def complete_schema(schema: Schema, data: pd.DataFrame) -> Schema:
    """Fill bounds, categories, decimals and datetime units that ``schema`` leaves open.

    Declared constraints are kept: they are the user's (public) knowledge, not the data's.
    """
    from synthpatient.schema._validate import coerce_frame

    typed = coerce_frame(schema, data)
    # one floor above the ids of every whole-number id column, so that no synthetic id equals
    # a real id of another column either (a matched case's id, a parent's id)
    id_columns = [s.name for s in schema if _whole_number_ids(s) and s.name in data]
    all_ids = pd.concat([data[c] for c in id_columns]) if id_columns else None
    columns = []
    for spec in schema:
        if _whole_number_ids(spec) and spec.minimum is None and all_ids is not None:
            columns.append(spec.model_copy(update=_id_floor(all_ids)))
            continue
        if spec.name not in typed or not spec.is_learned:
            columns.append(spec)
            continue
        values = typed[spec.name].dropna()
        update: dict[str, object] = {}
        if spec.kind == "categorical" and spec.categories is None:
            update["categories"] = categorical_spec(spec.name, values, spec.nullable).categories
        elif spec.kind in ("numeric", "integer"):
            array = values.to_numpy(dtype=float)
            if spec.minimum is None:
                update["minimum"] = float(array.min())
            if spec.maximum is None:
                update["maximum"] = float(array.max())
            if spec.decimals is None:
                update["decimals"] = 0 if spec.kind == "integer" else _decimals(array)
            if spec.unit is None and pd.api.types.is_timedelta64_dtype(data[spec.name]):
                # durations were counted in the unit coercion chose: say which
                update["unit"] = plain_values(spec.name, data[spec.name]).unit
        elif spec.kind == "datetime":
            if spec.minimum is None:
                update["minimum"] = values.min().isoformat()
            if spec.maximum is None:
                update["maximum"] = values.max().isoformat()
            if spec.datetime_unit is None:
                at_midnight = bool((values == values.dt.normalize()).all())
                update["datetime_unit"] = "day" if at_midnight else "second"
        if update:
            update["observed"] = True
            spec = spec.model_copy(update=update)
        columns.append(spec)
    return Schema(columns=tuple(columns))
