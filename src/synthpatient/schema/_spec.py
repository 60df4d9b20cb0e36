"""Column specifications and the table schema: frozen, JSON round-trippable, editable by hand."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from synthpatient.errors import DataError, InvalidParameterError
from synthpatient.schema._relations import Relation

ColumnKind = Literal[
    "numeric",
    "integer",
    "categorical",
    "boolean",
    "datetime",
    "identifier",
    "text",
]
IdentifierType = Literal[
    "integer_id",
    "string_id",
    "name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "address",
    "postcode",
    "national_id",
]
CategoryValue = str | int | float | bool

#: SDMetrics' names for the kinds of learned columns.
SdType = Literal["numerical", "categorical", "boolean", "datetime"]

#: Kinds a synthesizer learns from. Identifiers and free text never are: they are regenerated.
LEARNED_KINDS: frozenset[str] = frozenset(
    {"numeric", "integer", "categorical", "boolean", "datetime"}
)
SCHEMA_FORMAT = "synthpatient.schema/1"


class ColumnSpec(BaseModel):
    """One column: its kind, whether it may be missing, and its constraints.

    ``minimum``/``maximum`` (numbers, or ISO dates for datetimes) and ``categories`` are
    constraints. When they were learned from the data (``observed=True``) they are dropped
    when the schema is saved, unless the user asks to keep them: they are real patients'
    extreme values and category lists.

    Examples:
        >>> ColumnSpec(name="age", kind="integer", minimum=18, maximum=90, unit="years")
        ColumnSpec(name='age', kind='integer', ...)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    kind: ColumnKind
    nullable: bool = False
    minimum: float | str | None = None
    maximum: float | str | None = None
    decimals: int | None = Field(default=None, ge=0, le=12)
    categories: tuple[CategoryValue, ...] | None = None
    identifier_type: IdentifierType | None = None
    datetime_unit: Literal["day", "second"] | None = None
    observed: bool = False
    unit: str | None = None
    description: str | None = None
    code: str | None = None

    @model_validator(mode="after")
    def _check_consistency(self) -> ColumnSpec:
        if self.kind == "identifier" and self.identifier_type is None:
            raise ValueError(f"column '{self.name}': an identifier needs an identifier_type")
        if self.kind in ("numeric", "integer"):
            for bound in (self.minimum, self.maximum):
                if isinstance(bound, str):
                    raise ValueError(f"column '{self.name}': numeric bounds must be numbers")
            if (
                self.minimum is not None
                and self.maximum is not None
                and float(self.minimum) > float(self.maximum)
            ):
                raise ValueError(f"column '{self.name}': minimum is above maximum")
        if self.categories is not None and len(set(map(str, self.categories))) != len(
            self.categories
        ):
            raise ValueError(f"column '{self.name}': categories must be unique")
        return self

    @property
    def is_learned(self) -> bool:
        """Whether synthesizers learn this column (identifiers and free text are regenerated)."""
        return self.kind in LEARNED_KINDS

    def without_observed(self) -> ColumnSpec:
        """This spec less the constraints that were read off real data."""
        if not self.observed:
            return self
        return self.model_copy(
            update={"minimum": None, "maximum": None, "categories": None, "observed": False}
        )


class Schema(BaseModel):
    """The columns of a table, in order.

    Examples:
        >>> schema = Schema.infer(df)
        >>> schema.validate(df)            # raises SchemaValidationError listing every problem
        >>> schema.to_json("schema.json")  # no real min/max or category lists unless asked
        >>> Schema.from_json("schema.json")
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    columns: tuple[ColumnSpec, ...]
    #: Relations between columns (see ``_relations``): None until discovered (``complete``
    #: discovers them), ``()`` when there are none or the user deleted them all.
    relations: tuple[Relation, ...] | None = None

    @model_validator(mode="after")
    def _check_unique_names(self) -> Schema:
        names = [c.name for c in self.columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate column names in schema: {', '.join(dupes)}")
        learned = {c.name for c in self.columns if c.is_learned}
        for relation in self.relations or ():
            unknown = [c for c in relation.columns if c not in learned]
            if unknown:
                raise ValueError(
                    f"the relation '{relation.text}' names {', '.join(unknown)}, not a learned "
                    "column of this schema"
                )
        return self

    # -- access ------------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def learned(self) -> list[ColumnSpec]:
        """Columns synthesizers learn from, in table order."""
        return [c for c in self.columns if c.is_learned]

    def __getitem__(self, name: str) -> ColumnSpec:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self.columns)

    # pydantic's BaseModel.__iter__ yields (field, value) pairs; a Schema yields its columns
    def __iter__(self) -> Iterator[ColumnSpec]:  # type: ignore[override]  # columns, not fields
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def replace(self, name: str, **changes: Any) -> Schema:
        """A copy with one column's spec changed (specs are frozen), re-validated."""
        if name not in self:
            raise InvalidParameterError(
                f"The schema has no column '{name}'. Columns: {self.names}."
            )
        data = self[name].model_dump()
        data.update(changes)
        new = ColumnSpec.model_validate(data)
        columns = tuple(new if c.name == name else c for c in self.columns)
        relations = self.relations
        if relations is not None and not new.is_learned:
            dropped = [r.text for r in relations if name in r.columns]
            if dropped:  # a relation cannot read a column that is no longer learned: say so
                import warnings

                from synthpatient.errors import SynthPatientWarning

                warnings.warn(
                    f"Column '{name}' is no longer learned, so its relations are dropped: "
                    + "; ".join(dropped)
                    + ".",
                    SynthPatientWarning,
                    stacklevel=2,
                )
                relations = tuple(r for r in relations if name not in r.columns)
        return Schema(columns=columns, relations=relations)

    def with_relations(self, relations: tuple[Relation, ...] | None) -> Schema:
        """A copy with these relations (None: discover them at the next ``complete``)."""
        return Schema(columns=self.columns, relations=relations)

    def sdtypes(self) -> dict[str, SdType]:
        """SDMetrics-style types of the learned columns, for the evaluation suite."""
        mapping: dict[str, SdType] = {
            "numeric": "numerical",
            "integer": "numerical",
            "categorical": "categorical",
            "boolean": "boolean",
            "datetime": "datetime",
        }
        return {c.name: mapping[c.kind] for c in self.columns if c.kind in mapping}

    # -- inference, validation ---------------------------------------------------------------
    @classmethod
    def infer(cls, data: pd.DataFrame, **options: Any) -> Schema:
        """Infer a schema from a table; see :func:`synthpatient.schema.infer_schema`."""
        from synthpatient.schema._infer import infer_schema

        return infer_schema(data, **options)

    # shadows pydantic's deprecated classmethod BaseModel.validate (this name is public API)
    def validate(self, data: pd.DataFrame) -> None:  # type: ignore[override]  # shadows BaseModel's
        """Raise :class:`SchemaValidationError` listing every way ``data`` breaks this schema."""
        from synthpatient.schema._validate import validate_frame

        validate_frame(self, data)

    def complete(self, data: pd.DataFrame) -> Schema:
        """Fill constraints the schema leaves open (bounds, categories, decimals) from ``data``;
        relations are discovered when the schema has none recorded (None, not ``()``)."""
        from synthpatient.schema._complete import complete_schema

        completed = complete_schema(self, data)
        if self.relations is not None:
            return completed.with_relations(self.relations)
        from synthpatient.relations import discover_relations

        return completed.with_relations(discover_relations(data, completed))

    # -- JSON --------------------------------------------------------------------------------
    def to_dict(self, *, include_observed: bool = False) -> dict[str, Any]:
        columns = self.columns if include_observed else [c.without_observed() for c in self]
        out: dict[str, Any] = {
            "format": SCHEMA_FORMAT,
            "columns": [c.model_dump(mode="json", exclude_defaults=True) for c in columns],
        }
        if self.relations is not None:  # relations naming real values are observed ones
            kept = [r for r in self.relations if include_observed or not r.observed]
            out["relations"] = [r.model_dump(mode="json", exclude_defaults=True) for r in kept]
        return out

    def to_json(self, path: str | Path | None = None, *, include_observed: bool = False) -> str:
        """Serialise to JSON (and write it atomically when ``path`` is given).

        ``include_observed=False`` (the default) leaves out every minimum, maximum and category
        list that was read off the real data, so a shared schema carries no patient's values.
        """
        text = json.dumps(self.to_dict(include_observed=include_observed), indent=2) + "\n"
        if path is not None:
            from synthpatient._io import write_text_atomic

            write_text_atomic(Path(path), text)
        return text

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        try:
            if data.get("format", SCHEMA_FORMAT) != SCHEMA_FORMAT:
                raise DataError(
                    f"Unsupported schema format {data.get('format')!r}; expected {SCHEMA_FORMAT!r}."
                )
            relations = data.get("relations")
            return cls(
                columns=tuple(ColumnSpec.model_validate(c) for c in data["columns"]),
                relations=None
                if relations is None
                else tuple(Relation.model_validate(r) for r in relations),
            )
        except (ValidationError, KeyError, TypeError, AttributeError) as exc:
            raise DataError(
                f"The schema is not valid: {_first_error(exc)}. "
                "Fix the JSON or infer a new one with `synthpatient schema`."
            ) from exc

    @classmethod
    def from_json(cls, source: str | Path) -> Schema:
        """Load a schema from a JSON file path or a JSON string."""
        text = str(source)
        if not text.lstrip().startswith("{"):
            from synthpatient._io import read_text

            text = read_text(Path(source), what="schema file")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"The schema file is not valid JSON (line {exc.lineno}): {exc.msg}. "
                "Fix the JSON or infer a new schema."
            ) from exc
        if not isinstance(data, dict):
            raise DataError("The schema JSON must be an object with a 'columns' list.")
        return cls.from_dict(data)


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        return f"{where}: {err.get('msg')}" if where else str(err.get("msg"))
    return str(exc)
