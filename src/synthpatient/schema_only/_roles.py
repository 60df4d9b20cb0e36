"""Which generator fills each column: matched on the column's name, description and kind.

A role is chosen only when the words say so ("Medication", "drug", "prescribed") and the
kind fits; a column that matches nothing and gives neither values nor a range cannot be
honoured, and is named rather than filled with something made up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from synthpatient.schema_only._role_words import ROLE_PATTERNS
from synthpatient.schema_only._spec import ColumnDef, TableSchema

#: What each role's generator reads, so a "depends on" relation is honoured only where true.
PARENTS: dict[str, frozenset[str]] = {
    "age": frozenset({"condition"}),
    "sex": frozenset({"condition"}),
    "person_name": frozenset({"sex"}),
    "doctor": frozenset({"hospital"}),
    "discharge_date": frozenset({"condition", "admission_type", "admission_date"}),
    "length of stay": frozenset({"condition", "admission_type"}),
    "billing": frozenset({"condition", "length of stay", "admission_type"}),
    "medication": frozenset({"condition"}),
    "test_result": frozenset({"condition", "sex"}),
}


@dataclass(frozen=True)
class Match:
    column: str
    role: str | None  # None: generic (from the schema's values or range) or not honoured
    generic: bool


def match_columns(schema: TableSchema) -> list[Match]:
    """Each column's role; two columns never share a role (the second becomes generic)."""
    taken: set[str] = set()
    matches = []
    for column in schema.columns:
        role = _role(column, taken)
        if role and role != "record_id":  # a table may hold several ids (patient, encounter)
            taken.add(role)
        generic = role is None and _generic_possible(column)
        matches.append(Match(column.name, role, generic))
    return matches


def _role(column: ColumnDef, taken: set[str]) -> str | None:
    name = column.name.lower()
    text = f"{name}. {column.description.lower()}"
    for role, pattern, kinds in ROLE_PATTERNS:
        if role in taken or column.kind not in kinds:
            continue
        # the name decides first; the description only when the name says nothing known
        if re.search(pattern, name) or (not _any_role_in(name) and re.search(pattern, text)):
            return role
    return None


def _any_role_in(name: str) -> bool:
    return any(re.search(pattern, name) for _, pattern, _ in ROLE_PATTERNS)


def _generic_possible(column: ColumnDef) -> bool:
    if column.kind in ("categorical", "text"):
        return bool(column.values)
    return column.range is not None
