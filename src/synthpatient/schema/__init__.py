"""Table schemas: column kinds, constraints, inference from data, validation, JSON io."""

from synthpatient.schema._dtypes import DATE_RANGE_TEXT, utc_datetimes
from synthpatient.schema._infer import (
    ColumnDecision,
    check_table,
    explain_schema,
    infer_schema,
    normalise_name,
)
from synthpatient.schema._spec import LEARNED_KINDS, ColumnKind, ColumnSpec, Schema
from synthpatient.schema._validate import category_key, coerce_column, coerce_frame

__all__ = [
    "DATE_RANGE_TEXT",
    "LEARNED_KINDS",
    "ColumnDecision",
    "ColumnKind",
    "ColumnSpec",
    "Schema",
    "category_key",
    "check_table",
    "coerce_column",
    "coerce_frame",
    "explain_schema",
    "infer_schema",
    "normalise_name",
    "utc_datetimes",
]
