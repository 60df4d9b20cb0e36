"""Clinical-consistency rules as data: a YAML file -> :class:`RuleSet` -> per-rule results.

Four rule types, each a mapping under its own key::

    - id: bmi-range
      description: BMI is physiologically possible
      range: {column: bmi, min: 12, max: 70}
    - id: discharge-after-admission
      compare: {left: discharged, op: ">=", right: admitted}
    - id: pregnancy-female
      implies: {if: "pregnant == True", then: "sex == 'female'"}
    - id: friedewald
      expression: "abs(ldl - (total_cholesterol - hdl - exp(log_triglycerides) / 5)) <= 1"

A row is checked by a rule only where every column the rule reads has a value; a missing
value is not a violation (and is counted as not applicable).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from synthpatient.errors import DataError
from synthpatient.rules._expressions import (
    ExpressionError,
    evaluate,
    parse_expression,
    referenced_columns,
)

Operator = Literal["<", "<=", ">", ">=", "==", "!="]


class RangeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    column: str
    min: float | str | None = None
    max: float | str | None = None


class CompareSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    left: str
    op: Operator
    right: str | float


class ImpliesSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    if_: str = Field(alias="if")
    then: str


class Rule(BaseModel):
    """One rule; exactly one of ``range``, ``compare``, ``implies``, ``expression``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1)
    description: str = ""
    source: str | None = None
    range: RangeSpec | None = None
    compare: CompareSpec | None = None
    implies: ImpliesSpec | None = None
    expression: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Rule:
        kinds = [k for k in ("range", "compare", "implies", "expression") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("give exactly one of range, compare, implies, expression "
                             f"(got {', '.join(kinds) or 'none'})")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("range", "compare", "implies", "expression") if getattr(self, k) is not None)

    def expressions(self) -> tuple[str | None, str]:
        """``(applies_when, must_hold)`` as rule expressions."""
        if self.range is not None:
            col, parts = self.range.column, []
            if self.range.min is not None:
                parts.append(f"{col} >= {_literal(self.range.min)}")
            if self.range.max is not None:
                parts.append(f"{col} <= {_literal(self.range.max)}")
            return None, " and ".join(parts) or "True"
        if self.compare is not None:
            right = self.compare.right
            return None, f"{self.compare.left} {self.compare.op} {right if isinstance(right, str) else repr(right)}"
        if self.implies is not None:
            return self.implies.if_, self.implies.then
        return None, str(self.expression)


def _literal(value: float | str) -> str:
    return repr(value) if isinstance(value, str) else repr(float(value))


@dataclass(frozen=True)
class RuleResult:
    """How one table fares on one rule. ``violations`` is the row-level flag."""

    rule_id: str
    description: str
    n_rows: int
    n_applicable: int
    n_violations: int
    violations: np.ndarray

    @property
    def violation_rate(self) -> float:
        return self.n_violations / self.n_applicable if self.n_applicable else float("nan")

    @property
    def message(self) -> str:
        return (f"{self.n_violations} of {self.n_applicable} rows break '{self.rule_id}'"
                + (f": {self.description}" if self.description else ""))


@dataclass(frozen=True)
class _Compiled:
    rule: Rule
    condition: ast.Expression | None
    check: ast.Expression
    columns: frozenset[str]


class RuleSet:
    """Rules loaded from YAML, checked against any table.

    Examples:
        >>> rules = RuleSet.from_yaml("rules.yaml")       # or load_rule_pack("diabetes")
        >>> [r.message for r in rules.check(df)]
        >>> rules.compare(real, synthetic)                 # rates side by side
    """

    def __init__(self, rules: list[Rule], *, name: str = "rules", description: str = "") -> None:
        ids = [r.id for r in rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise DataError(f"Rule ids must be unique; repeated: {', '.join(dupes)}.")
        self.name, self.description, self.rules = name, description, list(rules)
        self._compiled = [self._compile(r) for r in rules]

    @staticmethod
    def _compile(rule: Rule) -> _Compiled:
        condition_text, check_text = rule.expressions()
        try:
            condition = None if condition_text is None else parse_expression(condition_text)
            check = parse_expression(check_text)
        except ExpressionError as exc:
            raise DataError(f"Rule '{rule.id}' has an invalid expression: {exc}.") from exc
        columns = referenced_columns(check) | (referenced_columns(condition) if condition else set())
        return _Compiled(rule, condition, check, frozenset(columns - {"True", "False"}))

    # -- loading -------------------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, source: str | Path) -> RuleSet:
        """Load from a YAML file path or YAML text; errors name the line and column."""
        import yaml

        text, where = str(source), "rules text"
        if "\n" not in text and Path(text).suffix.lower() in (".yaml", ".yml"):
            from synthpatient._io import read_text

            where, text = Path(text).name, read_text(Path(text), what="rules file")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise DataError(f"The {where} is not valid YAML{at}: "
                            f"{getattr(exc, 'problem', None) or 'syntax error'}.") from exc
        if isinstance(data, list):
            data = {"rules": data}
        if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
            raise DataError(f"The {where} must hold a list of rules under 'rules:'.")
        rules = []
        for i, item in enumerate(data["rules"], start=1):
            try:
                rules.append(Rule.model_validate(item))
            except ValidationError as exc:
                err = exc.errors()[0]
                loc = ".".join(str(p) for p in err.get("loc", ()))
                ident = item.get("id", f"#{i}") if isinstance(item, dict) else f"#{i}"
                raise DataError(f"Rule {ident} in the {where} is not valid: "
                                f"{loc + ': ' if loc else ''}{err.get('msg')}.") from exc
        return cls(rules, name=str(data.get("name", "rules")), description=str(data.get("description", "")))

    # -- checking ------------------------------------------------------------------------------
    def columns(self) -> set[str]:
        return set().union(*(c.columns for c in self._compiled)) if self._compiled else set()

    def restricted_to(self, columns: set[str] | list[str]) -> RuleSet:
        """The rules that read only ``columns`` (e.g. those a narrower table still has)."""
        kept = [c.rule for c in self._compiled if c.columns <= set(columns)]
        return RuleSet(kept, name=self.name, description=self.description)

    def check(self, frame: pd.DataFrame) -> list[RuleResult]:
        """One result per rule. Rules reading a column the table lacks raise a clear error."""
        missing = sorted(self.columns() - set(frame.columns))
        if missing:
            raise DataError(f"The rules read column(s) the table does not have: "
                            f"{', '.join(missing)}. Fix the rules file or the table.")
        return [self._check_one(c, frame) for c in self._compiled]

    @staticmethod
    def _check_one(compiled: _Compiled, frame: pd.DataFrame) -> RuleResult:
        n = len(frame)
        present = np.ones(n, dtype=bool)
        for column in compiled.columns:
            present &= frame[column].notna().to_numpy()
        applies = present.copy()
        if compiled.condition is not None:
            applies &= _as_bool(evaluate(compiled.condition, frame))
        try:
            holds = _as_bool(evaluate(compiled.check, frame))
        except TypeError as exc:
            raise DataError(f"Rule '{compiled.rule.id}' compares values of different kinds "
                            f"({exc}). Check the columns it reads.") from exc
        violations = applies & ~holds
        return RuleResult(compiled.rule.id, compiled.rule.description, n, int(applies.sum()),
                          int(violations.sum()), violations)

    def flags(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Row-level flags: one boolean column per rule, True where the row breaks it."""
        return pd.DataFrame({r.rule_id: r.violations for r in self.check(frame)}, index=frame.index)

    def compare(self, real: pd.DataFrame, synthetic: pd.DataFrame) -> pd.DataFrame:
        """Violation rates in the real and the synthetic table, one row per rule."""
        rows: list[dict[str, Any]] = []
        for r, s in zip(self.check(real), self.check(synthetic), strict=True):
            rows.append({"rule": r.rule_id, "description": r.description,
                         "real_violations": r.n_violations, "real_rate": r.violation_rate,
                         "synthetic_violations": s.n_violations, "synthetic_rate": s.violation_rate,
                         "synthetic_applicable": s.n_applicable})
        return pd.DataFrame(rows)


def _as_bool(values: np.ndarray) -> np.ndarray:
    out = pd.Series(values).fillna(False).to_numpy()
    return out.astype(bool)
