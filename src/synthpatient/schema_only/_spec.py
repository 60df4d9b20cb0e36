"""A table described by its columns alone: reading and checking the schema file.

The file (YAML or JSON) names each column with a kind, an optional description, value list,
range and unit, and lists relations in plain words ("Discharge Date after Date of Admission",
"Billing Amount depends on Medical Condition and length of stay"). Every problem is gathered
and raised once, in lines that name the column; a relation that cannot be read is an error,
never dropped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from synthpatient.errors import DataError
from synthpatient.schema_only._role_words import ROLE_PATTERNS

Kind = Literal["text", "categorical", "integer", "numeric", "date"]
#: Words of a relation that stand for the stay between the admission and discharge dates.
STAY_WORDS = ("length of stay", "stay length", "los", "stay")
BUNDLED = ("admissions",)


class ColumnDef(BaseModel):
    """One column of a table described without data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    # None: read from the name, description, values or range, and said (see read_kind)
    kind: Kind | None = None
    description: str = ""
    values: tuple[str, ...] | None = None
    range: tuple[Any, Any] | None = None
    unit: str | None = None


class TableSchemaFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "table"
    description: str = ""
    columns: tuple[ColumnDef, ...] = Field(min_length=1)
    relations: tuple[str, ...] = ()


@dataclass(frozen=True)
class Relation:
    """``after``: ``target`` strictly after ``sources[0]`` (``before`` is stored reversed);
    ``depends``: ``target`` depends on each of ``sources`` (a column, or ``length of stay``)."""

    kind: Literal["after", "depends"]
    target: str
    sources: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class TableSchema:
    """A checked table description: columns in order and the relations between them.

    Examples:
        >>> schema = load_table_schema("admissions")  # the bundled example
        >>> [c.name for c in schema.columns][:3]
        ['Name', 'Age', 'Gender']
    """

    name: str
    description: str
    columns: tuple[ColumnDef, ...]
    relations: tuple[Relation, ...]
    #: how each column without a kind was read ("'admitted': date, from 'date of ...'")
    notes: tuple[str, ...] = ()

    def column(self, name: str) -> ColumnDef:
        return next(c for c in self.columns if c.name == name)


def load_table_schema(source: str | Path | dict[str, Any]) -> TableSchema:
    """Read a table description: a YAML/JSON path, a bundled name (``admissions``) or a dict."""
    if isinstance(source, dict):
        raw, where = source, "the schema"
    else:
        raw, where = _read(source), Path(source).name
    try:
        spec = TableSchemaFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise DataError(f"{where} is not a valid table description ({problems}).") from None
    return _checked(spec, where)


def _read(source: str | Path) -> dict[str, Any]:
    if str(source) in BUNDLED:
        bundled = resources.files("synthpatient.schema_only").joinpath(f"data/{source}.yaml")
        loaded: dict[str, Any] = yaml.safe_load(bundled.read_text(encoding="utf-8"))
        return loaded
    path = Path(source)
    if not path.is_file():
        raise DataError(
            f"No table description at '{path}'. Give a YAML or JSON file, or a bundled one "
            f"({', '.join(BUNDLED)})."
        )
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise DataError(
            f"{path.name} cannot be read as {'JSON' if path.suffix == '.json' else 'YAML'} "
            f"({type(exc).__name__}). Check its syntax."
        ) from None
    if not isinstance(data, dict):
        raise DataError(
            f"{path.name} must hold a mapping with 'columns' (got {type(data).__name__})."
        )
    return data


def _checked(spec: TableSchemaFile, where: str) -> TableSchema:
    problems: list[str] = []
    names = [c.name for c in spec.columns]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"column '{name}' is listed twice")
    columns, notes = [], []
    for column in spec.columns:
        if column.kind is None:
            read = read_kind(column)
            if read is None:
                problems.append(
                    f"column '{column.name}' has no kind and its name and description do not "
                    "say one: give kind (text, categorical, integer, numeric or date)"
                )
                continue
            column, why = read
            notes.append(f"'{column.name}' read as {column.kind} ({why})")
        columns.append(column)
        problems.extend(_column_problems(column))
    relations = []
    for text in spec.relations:
        try:
            relations.append(parse_relation(text, names))
        except DataError as exc:
            problems.append(str(exc))
    if problems:
        raise DataError(f"{where}: " + "; ".join(problems) + ".")
    return TableSchema(spec.name, spec.description, tuple(columns), tuple(relations), tuple(notes))


_DATE_WORDS = re.compile(r"\b(?:date|dob|day of|admitted on|discharged on|born on)\b")
_WHOLE_WORDS = re.compile(r"\b(?:years?|score|count|number of|days|age)\b")
_MEASURE_WORDS = re.compile(
    r"\b(?:mmhg|mg/dl|mmol/l|kg|cm|bpm|beats per minute|percent|%|g/dl|u/l|meq/l|ml/min|"
    r"kg/m2|index|level|rate|pressure|concentration|weight|height|temperature)\b"
)
# "(sepsis, pneumonia, trauma)" or "(yes/no)": the values, listed by the description itself
_LISTED = re.compile(r"\(([^()]+?(?:,|/)[^()]+?)\)")
_SPAN = re.compile(r"\((\d+(?:\.\d+)?)\s*(?:-|–|to)\s*(\d+(?:\.\d+)?)\)")


def _dates(bounds: tuple[Any, Any]) -> bool:
    return all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(v)) for v in bounds)


def _said(role: str) -> str:
    return role.replace("_", " ")


def read_kind(column: ColumnDef) -> tuple[ColumnDef, str] | None:
    """A column given without a kind, read from what the file says of it, with the reason;
    None when nothing says (the caller asks for the kind rather than guess)."""
    name, text = column.name.lower(), column.description.lower()
    both = f"{name} {text}"
    if column.values:
        return column.model_copy(update={"kind": "categorical"}), "it lists values"
    span = _SPAN.search(text)
    if column.range is None and span:
        low, high = span.group(1), span.group(2)
        bounds: tuple[Any, Any] = (
            (int(low), int(high)) if "." not in low + high else (float(low), float(high))
        )
        kind = "integer" if isinstance(bounds[0], int) else "numeric"
        return column.model_copy(update={"kind": kind, "range": bounds}), (
            f"the range ({low}-{high}) in its description"
        )
    if _DATE_WORDS.search(both) or (column.range is not None and _dates(column.range)):
        return column.model_copy(update={"kind": "date"}), "its name or description says date"
    listed = _LISTED.search(text)
    if listed:
        values = tuple(v.strip() for v in re.split(r",|/", listed.group(1)) if v.strip())
        if 2 <= len(values) <= 50 and all(len(v) <= 60 for v in values):
            return column.model_copy(update={"kind": "categorical", "values": values}), (
                f"the values listed in its description: {', '.join(values)}"
            )
    if re.match(r"(?:whether|if|yes/no|true/false)\b", text):
        return column.model_copy(update={"kind": "categorical", "values": ("yes", "no")}), (
            "its description asks yes or no: values yes, no"
        )
    for role, pattern, kinds in ROLE_PATTERNS:  # "sex", "medication", "patient_id"...
        # a date role needs a date word (above): "discharge disposition" is no date
        if kinds != ("date",) and re.search(pattern, name):
            return column.model_copy(update={"kind": kinds[0]}), f"its name: {_said(role)}"
    if column.range is not None:
        whole = all(isinstance(v, int) for v in column.range)
        return column.model_copy(update={"kind": "integer" if whole else "numeric"}), ("its range")
    if _MEASURE_WORDS.search(both):
        return column.model_copy(update={"kind": "numeric"}), "a measurement with a unit"
    if _WHOLE_WORDS.search(both):
        return column.model_copy(update={"kind": "integer"}), "a count, score or age"
    return None


def _column_problems(column: ColumnDef) -> list[str]:
    problems = []
    if column.values is not None and column.kind in ("integer", "numeric", "date"):
        problems.append(f"column '{column.name}' ({column.kind}) takes a range, not values")
    if column.values is not None and len(set(column.values)) < len(column.values):
        problems.append(f"column '{column.name}' repeats a value")
    if column.range is not None:
        low, high = column.range
        try:
            ordered = _as_comparable(low, column.kind) < _as_comparable(high, column.kind)
        except (TypeError, ValueError):
            problems.append(
                f"column '{column.name}': range [{low}, {high}] is not a {column.kind} range"
            )
        else:
            if not ordered:
                problems.append(f"column '{column.name}': range low must be below high")
    return problems


def _as_comparable(value: Any, kind: str | None) -> Any:
    import pandas as pd

    if kind == "date":
        return pd.Timestamp(str(value))
    if kind in ("integer", "numeric"):
        return float(value)
    raise TypeError(kind)


_AFTER = re.compile(r"^(?P<a>.+?)\s+(?:is\s+|comes\s+|must\s+be\s+)?after\s+(?P<b>.+)$", re.I)
_BEFORE = re.compile(r"^(?P<a>.+?)\s+(?:is\s+|comes\s+|must\s+be\s+)?before\s+(?P<b>.+)$", re.I)
_DEPENDS = re.compile(r"^(?P<a>.+?)\s+depends\s+on\s+(?P<b>.+)$", re.I)


def parse_relation(text: str, columns: list[str]) -> Relation:
    """One relation sentence -> :class:`Relation`; unknown words are an error naming them."""
    clean = " ".join(text.strip().rstrip(".").split())
    for pattern, kind in ((_AFTER, "after"), (_BEFORE, "before"), (_DEPENDS, "depends")):
        match = pattern.match(clean)
        if not match:
            continue
        target = _column(match["a"], columns, clean)
        if kind == "depends":
            parts = [p for p in re.split(r",\s*|\s+and\s+", match["b"]) if p.strip()]
            sources = tuple(_term(p, columns, clean) for p in parts)
            return Relation("depends", target, sources, clean)
        other = _column(match["b"], columns, clean)
        if kind == "before":
            return Relation("after", other, (target,), clean)
        return Relation("after", target, (other,), clean)
    raise DataError(
        f"relation '{clean}' is not understood (write 'A after B', 'A before B' or "
        "'A depends on B and C', with column names)"
    )


def _column(words: str, columns: list[str], text: str) -> str:
    wanted = words.strip().strip("'\"").lower()
    for name in columns:
        if name.lower() == wanted:
            return name
    raise DataError(f"relation '{text}' names '{words.strip()}', which is not a column")


def _term(words: str, columns: list[str], text: str) -> str:
    if words.strip().lower() in STAY_WORDS:
        return "length of stay"
    return _column(words, columns, text)
