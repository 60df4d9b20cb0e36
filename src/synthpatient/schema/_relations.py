"""Relations between columns that a schema records: identities, orders, presence, mappings.

A relation is data in the schema (JSON, editable: delete one, or write one by hand), found by
:func:`synthpatient.relations.discover_relations` or declared by the user, and enforced on
every synthesizer's rows by the base class (see :mod:`synthpatient.relations`). Five kinds:

* ``identity``: ``column = constant + sum(coefficient * f(term))`` with ``f`` the value or
  ``exp`` (Friedewald: ``ldl = total_cholesterol - hdl - 0.2 * exp(log_triglycerides)``),
  within ``tolerance`` (what rounding allows).
* ``ratio``: ``column = constant * prod(term ** coefficient)`` (BMI = 10000 weight/height^2).
* ``order``: ``column op other`` in every row where both have a value (diastolic < systolic,
  discharged >= admitted).
* ``presence``: ``column`` has a value exactly when ``other`` has none (``exclusive``), exactly
  when it has one (``same``), or only when it has one (``only_if``); with ``value``, "has a
  value" on the ``other`` side reads "equals ``value``" (a cause of death only when died).
* ``mapping``: ``column`` is fixed by ``other`` (pairs ``(other value, column value)``).

Only a mapping and a presence conditioned on a category name real category values: those are
``observed`` and, like observed categories, left out of a schema saved for sharing.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

RelationKind = Literal["identity", "ratio", "order", "presence", "mapping"]
OrderOp = Literal["<", "<=", ">", ">="]
PresenceMode = Literal["exclusive", "same", "only_if"]
RelationValue = str | int | float | bool


class Term(BaseModel):
    """One input of an identity (``coefficient * f(column)``) or a ratio (``column **
    coefficient``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    column: str = Field(min_length=1)
    coefficient: float
    transform: Literal["value", "exp"] = "value"

    @model_validator(mode="after")
    def _finite(self) -> Term:
        if not math.isfinite(self.coefficient):
            raise ValueError(f"term '{self.column}': the coefficient must be a finite number")
        return self


class Relation(BaseModel):
    """One relation between columns; see the module docstring for the kinds.

    ``share`` is the share of training rows (where it applies) that satisfy it, ``source``
    says whether it was discovered or declared.

    Examples:
        >>> Relation(kind="order", column="diastolic", op="<", other="systolic")
        >>> Relation(kind="identity", column="total", terms=(Term(column="a", coefficient=1),
        ...          Term(column="b", coefficient=1)), tolerance=0.5)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: RelationKind
    column: str = Field(min_length=1)
    terms: tuple[Term, ...] | None = None
    constant: float | None = None
    tolerance: float | None = Field(default=None, ge=0)
    other: str | None = None
    op: OrderOp | None = None
    presence: PresenceMode | None = None
    value: RelationValue | None = None
    mapping: tuple[tuple[RelationValue, RelationValue], ...] | None = None
    share: float | None = Field(default=None, ge=0, le=1)
    source: Literal["discovered", "user"] = "user"
    observed: bool = False

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Relation:
        need = {
            "identity": ("terms",),
            "ratio": ("terms",),
            "order": ("other", "op"),
            "presence": ("other", "presence"),
            "mapping": ("other", "mapping"),
        }[self.kind]
        missing = [name for name in need if getattr(self, name) is None]
        if missing:
            raise ValueError(
                f"a {self.kind} relation on '{self.column}' needs {', '.join(missing)}"
            )
        if self.terms is not None and not self.terms:
            raise ValueError(f"the {self.kind} relation on '{self.column}' has no terms")
        if self.constant is not None and not math.isfinite(self.constant):
            raise ValueError(f"the relation on '{self.column}': the constant must be finite")
        if self.kind == "ratio" and self.constant is not None and self.constant <= 0:
            raise ValueError(f"the ratio relation on '{self.column}': the constant must be > 0")
        if self.column in self.columns[1:]:
            raise ValueError(f"the relation on '{self.column}' uses that column on both sides")
        return self

    @property
    def columns(self) -> tuple[str, ...]:
        """The column it constrains, then the columns it reads."""
        if self.terms is not None:
            return (self.column, *(t.column for t in self.terms))
        return (self.column,) if self.other is None else (self.column, str(self.other))

    @property
    def derives(self) -> bool:
        """Whether the column is computed from the others (otherwise rows are resampled)."""
        return self.kind in ("identity", "ratio", "mapping")

    @property
    def text(self) -> str:
        """The relation in words, for people: ``ldl = total_cholesterol - hdl - 0.2*exp(...)``.
        A mapping's and a category's values are not shown (they are real values)."""
        if self.kind == "identity":
            return f"{self.column} = {_linear(self.terms or (), self.constant or 0.0)}"
        if self.kind == "ratio":
            factors = " * ".join(
                t.column if t.coefficient == 1 else f"{t.column}^{_number(t.coefficient)}"
                for t in self.terms or ()
            )
            constant = self.constant if self.constant is not None else 1.0
            return f"{self.column} = " + (
                factors if constant == 1 else f"{_number(constant)} * {factors}"
            )
        if self.kind == "order":
            return f"{self.column} {self.op} {self.other}"
        if self.kind == "mapping":
            return f"{self.column} is fixed by {self.other} ({len(self.mapping or ())} pairs)"
        other = f"{self.other} has a value" if self.value is None else f"{self.other} is one value"
        return {
            "exclusive": f"{self.column} has a value exactly when {self.other} has none",
            "same": f"{self.column} has a value exactly when {other}",
            "only_if": f"{self.column} has a value only when {other}",
        }[str(self.presence)]

    def without_observed(self) -> Relation | None:
        """None when the relation names real values (it is then left out of a shared schema)."""
        return None if self.observed else self


def _number(value: float) -> str:
    return f"{value:.6g}"


def _linear(terms: tuple[Term, ...], constant: float) -> str:
    parts: list[str] = []
    for term in terms:
        name = term.column if term.transform == "value" else f"exp({term.column})"
        size = abs(term.coefficient)
        piece = name if size == 1 else f"{_number(size)}*{name}"
        if not parts:
            parts.append(f"-{piece}" if term.coefficient < 0 else piece)
        else:
            parts.append(f"{'-' if term.coefficient < 0 else '+'} {piece}")
    if constant:
        parts.append(f"{'-' if constant < 0 else '+'} {_number(abs(constant))}")
    return " ".join(parts)
