"""Table schemas: column kinds, constraints, inference from data, validation, JSON io."""

from synthpatient.schema._dtypes import DATE_RANGE_TEXT, utc_datetimes
from synthpatient.schema._infer import (
    ColumnDecision,
    categorical_spec,
    check_table,
    explain_schema,
    infer_schema,
    normalise_name,
    repeated_patient_key,
    warn_unsure,
)
from synthpatient.schema._patients import (
    CONSTANT_SHARE,
    GroupProfile,
    codes_of,
    group_profile,
)
from synthpatient.schema._relations import Relation, Term
from synthpatient.schema._spec import LEARNED_KINDS, ColumnKind, ColumnSpec, Schema, SdType
from synthpatient.schema._validate import category_key, coerce_column, coerce_frame

__all__ = [
    "CONSTANT_SHARE",
    "DATE_RANGE_TEXT",
    "LEARNED_KINDS",
    "ColumnDecision",
    "ColumnKind",
    "SdType",
    "Term",
    "ColumnSpec",
    "GroupProfile",
    "Relation",
    "Schema",
    "categorical_spec",
    "category_key",
    "check_table",
    "codes_of",
    "coerce_column",
    "coerce_frame",
    "explain_schema",
    "group_profile",
    "infer_schema",
    "normalise_name",
    "repeated_patient_key",
    "utc_datetimes",
    "warn_unsure",
]
