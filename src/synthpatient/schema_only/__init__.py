"""Tables described by their columns alone: generated offline and evaluated without real data.

``load_table_schema`` reads the description (YAML/JSON: columns with kinds, values, ranges,
units; relations in words), ``generate_from_schema`` makes the rows (knowledge base for the
clinical columns, Faker for people and places, sourced stay figures, relations enforced) and
says what it did for each column, ``evaluate_schema_only`` measures validity, relations,
diversity and plausibility against the knowledge base.
"""

from synthpatient.schema_only._evaluate import evaluate_schema_only
from synthpatient.schema_only._generate import ColumnChoice, SchemaGeneration, generate_from_schema
from synthpatient.schema_only._spec import ColumnDef, Relation, TableSchema, load_table_schema

__all__ = [
    "ColumnChoice",
    "ColumnDef",
    "Relation",
    "SchemaGeneration",
    "TableSchema",
    "evaluate_schema_only",
    "generate_from_schema",
    "load_table_schema",
]
