"""Rows for a table described by its columns alone, offline, with each column's choice named.

Order of work: every column is matched to a generator (or found impossible, which is an
error naming it); relations are checked against what the generators can honour; then one
hidden condition per row drives the clinical columns (age, sex, stay, bill, drug, test), the
people and places follow, and plain columns take the schema's values or range.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthpatient._random import as_generator
from synthpatient.errors import DataError
from synthpatient.schema_only import _clinical as clinical
from synthpatient.schema_only import _people as people
from synthpatient.schema_only._makers import ROLE_MAKERS, admission_type
from synthpatient.schema_only._roles import PARENTS, Match, match_columns
from synthpatient.schema_only._spec import ColumnDef, Relation, TableSchema, load_table_schema

DEFAULT_DATES = ("2020-01-01", "2024-12-31")


@dataclass(frozen=True)
class ColumnChoice:
    column: str
    role: str
    how: str


@dataclass
class SchemaGeneration:
    """Rows made from a table description, and what was done for each column and relation.

    Examples:
        >>> result = generate_from_schema("admissions", 1000, seed=0)
        >>> result.data.shape
        (1000, 15)
        >>> print(result.describe())
    """

    data: pd.DataFrame
    schema: TableSchema
    choices: list[ColumnChoice]
    relations: list[str]
    notices: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: hidden per-row values the evaluation reads (the condition's knowledge-base key)
    hidden: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def describe(self) -> str:
        lines = [f"{c.column}: {c.how}" for c in self.choices]
        lines += [f"Relation '{r}'" for r in self.relations]
        lines += [f"Note: {n}" for n in self.notices]
        return "\n".join(lines)


def generate_from_schema(
    schema: TableSchema | str | dict[str, Any],
    n_rows: int,
    *,
    seed: int | None = None,
    llm: Mapping[str, Any] | None = None,
) -> SchemaGeneration:
    """``n_rows`` rows for a table description (a :class:`TableSchema`, a file path, a bundled
    name such as ``admissions``, or a dict), without any real data and without network.

    ``llm``: parameters of :class:`~synthpatient.synthesizers.llm.LLMSynthesizer`
    (``base_url``, ``model``, ``prompt_level``, ``system_level``...) to have a language model
    write the structured columns instead (see :mod:`synthpatient.schema_only._llm`).
    """
    if isinstance(n_rows, bool) or not isinstance(n_rows, int) or n_rows < 1:
        raise DataError(f"The number of rows must be a whole number >= 1. Got {n_rows!r}.")
    table = schema if isinstance(schema, TableSchema) else load_table_schema(schema)
    if llm is not None:
        from synthpatient.schema_only._llm import generate_with_llm

        return generate_with_llm(table, n_rows, seed=seed, llm=llm)
    start = time.perf_counter()
    matches, notes = _unknown_conditions_plain(match_columns(table), table)
    _refuse_unhonoured(matches, table)
    roles = {m.role: m.column for m in matches if m.role}
    _check_relations(table.relations, roles, table)
    work = _Work(table, roles, n_rows, as_generator(seed))
    for match in matches:
        work.fill(match)
    relation_notes = [_apply_relation(r, work) for r in table.relations]
    frame = pd.DataFrame({c.name: work.columns[c.name] for c in table.columns})
    return SchemaGeneration(
        data=frame,
        schema=table,
        choices=work.choices,
        relations=relation_notes,
        notices=[*table.notes, *notes, *work.notices],
        seconds=time.perf_counter() - start,
        hidden=_hidden(work),
    )


def _unknown_conditions_plain(
    matches: list[Match], table: TableSchema
) -> tuple[list[Match], list[str]]:
    """A diagnosis column whose listed values are none of the knowledge base's conditions
    ("sepsis", "trauma") is a plain column over those values, said so: nothing else can be
    drawn from it. Some known and some not stays an error (see ``_conditions``)."""
    kb = clinical.knowledge_base()
    out, notes = [], []
    for match in matches:
        values = table.column(match.column).values
        if (
            match.role == "condition"
            and values
            and all(kb.find_condition(v) is None for v in values)
        ):
            match = Match(match.column, None, True)
            notes.append(
                f"'{match.column}': none of its values is a condition of the knowledge base, "
                "so it is drawn uniformly over them and no other column depends on it"
            )
        out.append(match)
    return out, notes


def _hidden(work: _Work) -> dict[str, np.ndarray]:
    hidden = {"condition_key": np.array(work.keys, dtype=object)[work.drawn.condition]}
    if work.hidden_tests is not None:
        hidden["test_value"] = work.hidden_tests
    return hidden


def _refuse_unhonoured(matches: list[Match], table: TableSchema) -> None:
    missing = [m.column for m in matches if m.role is None and not m.generic]
    if missing:
        raise DataError(
            "Cannot generate column(s) "
            + ", ".join(f"'{c}' ({table.column(c).kind})" for c in missing)
            + ": nothing known matches their name or description, and they give no values "
            "(categorical/text) or range (numbers, dates). Add one (e.g. 'range: [40, 180]' "
            "or 'values: [a, b]'), or leave the column out."
        )


def _check_relations(
    relations: tuple[Relation, ...], roles: dict[str, str], table: TableSchema
) -> None:
    role_of = {column: role for role, column in roles.items()}
    for relation in relations:
        if relation.kind == "after":
            kinds = {table.column(c).kind for c in (relation.target, *relation.sources)}
            if kinds != {"date"}:
                raise DataError(f"Relation '{relation.text}': 'after' needs two date columns.")
            continue
        target = role_of.get(relation.target)
        stay = {"admission_date", "discharge_date"} <= set(roles)
        for source in relation.sources:
            source_role = "length of stay" if source == "length of stay" else role_of.get(source)
            if source == "length of stay" and not stay:
                raise DataError(
                    f"Relation '{relation.text}': 'length of stay' needs admission and "
                    "discharge date columns."
                )
            if target is None or source_role not in PARENTS.get(target, frozenset()):
                raise DataError(
                    f"Relation '{relation.text}' cannot be honoured: '{relation.target}' is not "
                    f"generated from '{source}'. Remove it, or describe the columns so that they "
                    "match a known generator."
                )


class _Work:
    """The rows being built: shared draws (condition, sex, stay, hospital) made once."""

    def __init__(
        self, table: TableSchema, roles: dict[str, str], n: int, rng: np.random.Generator
    ) -> None:
        self.table, self.roles, self.n, self.rng = table, roles, n, rng
        self.columns: dict[str, Any] = {}
        self.choices: list[ColumnChoice] = []
        self.notices: list[str] = []
        self.conditions, self.labels = _conditions(table, roles)
        self.keys = [c.key for c in self.conditions]
        self.drawn = clinical.draw_people(self.conditions, rng, n)
        self._cache: dict[str, Any] = {}
        self.hidden_tests: np.ndarray | None = None  # the numbers behind a test-result column

    def once(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def fill(self, match: Match) -> None:
        column = self.table.column(match.column)
        if match.role is None:
            values, how = _generic(column, self.n, self.rng)
            role = "generic"
        else:
            values, how = ROLE_MAKERS[match.role](self, column)
            role = match.role
        self.columns[column.name] = values
        self.choices.append(ColumnChoice(column.name, role, how))

    def admission_types(self) -> np.ndarray | None:
        column = self.roles.get("admission_type")
        if column is None:
            return None
        made = self.once("admission_type", lambda: admission_type(self, self.table.column(column)))
        return made[0]

    def stays(self) -> np.ndarray:
        return self.once(
            "stay",
            lambda: clinical.stay_days(
                self.keys, self.drawn.condition, self.admission_types(), self.rng
            ),
        )

    def admissions(self) -> pd.Series:
        def make() -> pd.Series:
            name = self.roles.get("admission_date")
            given = self.table.column(name).range if name else None
            low, high = given if given is not None else DEFAULT_DATES
            return _uniform_dates(str(low), str(high), self.n, self.rng)

        return self.once("admission", make)

    def hospital_index(self) -> tuple[list[str], np.ndarray]:
        def make() -> tuple[list[str], np.ndarray]:
            name = self.roles.get("hospital")
            given = self.table.column(name).values if name else None
            pool = list(given) if given else people.hospitals(self.n, self.rng)
            return pool, self.rng.integers(0, len(pool), self.n)

        return self.once("hospital", make)


def _conditions(table: TableSchema, roles: dict[str, str]) -> tuple[list[Any], list[str]]:
    kb = clinical.knowledge_base()
    name = roles.get("condition")
    values = table.column(name).values if name else None
    if not values:
        conditions = list(kb.conditions.values())
        return conditions, [c.name for c in conditions]
    found = [(v, kb.find_condition(v)) for v in values]
    unknown = [v for v, c in found if c is None]
    if unknown:
        raise DataError(
            f"Column '{name}': {', '.join(repr(v) for v in unknown)} not in the knowledge base, "
            "so no age, sex, drug, test or stay can be drawn for them. It knows: "
            + ", ".join(c.name for c in kb.conditions.values())
            + ". Use those values or leave the values out."
        )
    return [c for _, c in found if c is not None], list(values)


def _uniform_dates(low: str, high: str, n: int, rng: np.random.Generator) -> pd.Series:
    start, end = pd.Timestamp(low).normalize(), pd.Timestamp(high).normalize()
    days = rng.integers(0, (end - start).days + 1, n)
    return pd.Series(start + pd.to_timedelta(days, unit="D"))


def _generic(column: ColumnDef, n: int, rng: np.random.Generator) -> tuple[Any, str]:
    if column.values:
        values = np.array(column.values, dtype=object)[rng.integers(0, len(column.values), n)]
        return (
            values,
            f"uniform over the schema's {len(column.values)} values (no known generator matches)",
        )
    low, high = column.range  # type: ignore[misc]
    where = f"[{low}, {high}]"
    if column.kind == "date":
        return _uniform_dates(str(low), str(high), n, rng), f"uniform dates in {where}"
    if column.kind == "integer":
        return rng.integers(int(low), int(high) + 1, n), f"uniform whole numbers in {where}"
    return np.round(rng.uniform(float(low), float(high), n), 2), f"uniform in {where}"


def _apply_relation(relation: Relation, work: _Work) -> str:
    if relation.kind == "depends":
        reads = ", ".join(relation.sources)
        return (
            f"{relation.text}: honoured by construction (the generator of "
            f"'{relation.target}' reads {reads})"
        )
    target, source = relation.target, relation.sources[0]
    roles = {column: role for role, column in work.roles.items()}
    if roles.get(target) == "discharge_date" and roles.get(source) == "admission_date":
        return (
            f"{relation.text}: honoured by construction (discharge = admission + a stay of "
            "at least one day)"
        )
    later, earlier = pd.Series(work.columns[target]), pd.Series(work.columns[source])
    swap = (later < earlier).to_numpy()
    work.columns[target] = later.where(~swap, earlier).to_numpy()
    work.columns[source] = earlier.where(~swap, later).to_numpy()
    same = pd.Series(work.columns[target]) == pd.Series(work.columns[source])
    work.columns[target] = (
        pd.Series(work.columns[target]) + pd.to_timedelta(same.astype(int), unit="D")
    ).to_numpy()
    return (
        f"{relation.text}: enforced by ordering each row's two dates "
        f"({int(swap.sum())} swapped, {int(same.sum())} moved one day)"
    )
