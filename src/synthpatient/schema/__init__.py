"""Table schemas: column kinds, constraints, inference from data, validation, JSON io."""

from synthpatient.schema._infer import check_table, infer_schema
from synthpatient.schema._spec import LEARNED_KINDS, ColumnKind, ColumnSpec, Schema
from synthpatient.schema._validate import category_key, coerce_frame

__all__ = ["LEARNED_KINDS", "ColumnKind", "ColumnSpec", "Schema", "category_key", "check_table",
           "coerce_frame", "infer_schema"]
