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

Rules files may come from anyone: expressions are bounded (see
:mod:`synthpatient.rules._expressions`), each rule has a time budget over the whole table,
and every error is a one-line :class:`~synthpatient.errors.RuleError` that names the rule.
"""

from __future__ import annotations

import ast
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from synthpatient.errors import DataError, InvalidParameterError, RuleError
from synthpatient.rules._expressions import (
    ExpressionError,
    ExpressionTimeout,
    evaluate_condition,
    parse_expression,
    referenced_columns,
)

#: Seconds one rule may take over a whole table before :class:`RuleError` (a parameter of
#: :class:`RuleSet` and :meth:`RuleSet.check`). A vectorised rule takes milliseconds on a
#: million rows; only a pathological expression comes near this.
DEFAULT_TIME_BUDGET_S = 5.0

Operator = Literal["<", "<=", ">", ">=", "==", "!="]
_KINDS = ("range", "compare", "implies", "expression")


class RangeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    column: str
    min: float | str | None = None
    max: float | str | None = None

    @field_validator("min", "max")
    @classmethod
    def _not_nan(cls, value: float | str | None) -> float | str | None:
        if isinstance(value, float) and math.isnan(value):
            raise ValueError("a bound must be a number or a date, not NaN")
        return value


class CompareSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    left: str
    op: Operator
    right: str | float

    @field_validator("right")
    @classmethod
    def _not_nan(cls, value: str | float) -> str | float:
        if isinstance(value, float) and math.isnan(value):
            raise ValueError("the right side must be a column, a number or a date, not NaN")
        return value


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
        kinds = [k for k in _KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "give exactly one of range, compare, implies, expression "
                f"(got {', '.join(kinds) or 'none'})"
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in _KINDS if getattr(self, k) is not None)

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
            right_text = right if isinstance(right, str) else _literal(right)
            return None, f"{self.compare.left} {self.compare.op} {right_text}"
        if self.implies is not None:
            return self.implies.if_, self.implies.then
        return None, str(self.expression)


def _literal(value: float | str) -> str:
    if isinstance(value, str):
        return repr(value)
    value = float(value)
    if math.isinf(value):  # repr() would give the name 'inf', read as a column
        return "1e999" if value > 0 else "-1e999"
    return repr(value)


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
        return f"{self.n_violations} of {self.n_applicable} rows break '{self.rule_id}'" + (
            f": {self.description}" if self.description else ""
        )


@dataclass(frozen=True)
class _Compiled:
    rule: Rule
    condition: ast.Expression | None
    check: ast.Expression
    columns: frozenset[str]


class RuleSet:
    """Rules loaded from YAML, checked against any table.

    Args:
        rules: the rules; ids must be unique.
        name: a name for reports.
        description: what the rules are for.
        time_budget_s: seconds each rule may take over a whole table before a
            :class:`~synthpatient.errors.RuleError` (a runaway expression must not hang a run).

    Examples:
        >>> rules = RuleSet.from_yaml("rules.yaml")       # or load_rule_pack("diabetes")
        >>> [r.message for r in rules.check(df)]
        >>> rules.compare(real, synthetic)                 # rates side by side
    """

    def __init__(
        self,
        rules: list[Rule],
        *,
        name: str = "rules",
        description: str = "",
        time_budget_s: float = DEFAULT_TIME_BUDGET_S,
    ) -> None:
        ids = [r.id for r in rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise RuleError(
                f"Rule ids must be unique; repeated: {', '.join(_label(d) for d in dupes)}."
            )
        self.name, self.description, self.rules = name, description, list(rules)
        self.time_budget_s = _budget(time_budget_s)
        self._compiled = [self._compile(r) for r in rules]

    @staticmethod
    def _compile(rule: Rule) -> _Compiled:
        condition_text, check_text = rule.expressions()
        try:
            condition = None if condition_text is None else parse_expression(condition_text)
            check = parse_expression(check_text)
        except ExpressionError as exc:
            raise RuleError(f"Rule '{_label(rule.id)}' has an invalid expression: {exc}.") from exc
        columns = referenced_columns(check)
        if condition is not None:
            columns |= referenced_columns(condition)
        return _Compiled(rule, condition, check, frozenset(columns - {"True", "False"}))

    # -- loading -------------------------------------------------------------------------------
    @classmethod
    def from_yaml(
        cls, source: str | Path, *, time_budget_s: float = DEFAULT_TIME_BUDGET_S
    ) -> RuleSet:
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
            raise DataError(
                f"The {where} is not valid YAML{at}: "
                f"{_one_line(getattr(exc, 'problem', None) or 'syntax error')}."
            ) from exc
        except RecursionError:
            raise DataError(
                f"The {where} nests too deeply to read; rules need only a list of mappings."
            ) from None
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
                raise RuleError(
                    f"Rule {_label(ident)} in the {where} is not valid: "
                    f"{loc + ': ' if loc else ''}{_one_line(err.get('msg'))}."
                ) from exc
        return cls(
            rules,
            name=str(data.get("name", "rules")),
            description=str(data.get("description", "")),
            time_budget_s=time_budget_s,
        )

    # -- checking ------------------------------------------------------------------------------
    def columns(self) -> set[str]:
        return set().union(*(c.columns for c in self._compiled)) if self._compiled else set()

    def restricted_to(self, columns: set[str] | list[str]) -> RuleSet:
        """The rules that read only ``columns`` (e.g. those a narrower table still has)."""
        kept = [c.rule for c in self._compiled if c.columns <= set(columns)]
        return RuleSet(
            kept, name=self.name, description=self.description, time_budget_s=self.time_budget_s
        )

    def check(self, frame: pd.DataFrame, *, time_budget_s: float | None = None) -> list[RuleResult]:
        """One result per rule.

        Args:
            frame: the table to check.
            time_budget_s: seconds each rule may take (default: the rule set's).

        Raises:
            RuleError: a rule reads a column the table lacks, cannot be evaluated on it, or
                takes longer than the budget; the message names the rule.
        """
        if not isinstance(frame, pd.DataFrame):
            raise InvalidParameterError(
                f"Rules check a pandas DataFrame; got {type(frame).__name__}."
            )
        budget = self.time_budget_s if time_budget_s is None else _budget(time_budget_s)
        have = set(frame.columns)
        lacking = [
            (c.rule.id, sorted(c.columns - have)) for c in self._compiled if not c.columns <= have
        ]
        if lacking:
            shown = "; ".join(
                f"'{_label(rule)}' reads {', '.join(cols)}" for rule, cols in lacking[:5]
            )
            more = f" (and {len(lacking) - 5} more rules)" if len(lacking) > 5 else ""
            raise RuleError(
                f"Rules read column(s) the table does not have: {shown}{more}. "
                "Fix the rules file or the table, or check only the rules it can "
                "(RuleSet.restricted_to)."
            )
        return [self._check_one(c, frame, budget) for c in self._compiled]

    @staticmethod
    def _check_one(compiled: _Compiled, frame: pd.DataFrame, budget: float) -> RuleResult:
        rule, n = compiled.rule, len(frame)
        deadline = time.monotonic() + budget
        try:
            present = np.ones(n, dtype=bool)
            for column in compiled.columns:
                present &= frame[column].notna().to_numpy(dtype=bool).reshape(n, -1).all(axis=1)
            applies = present.copy()
            if compiled.condition is not None:
                applies &= evaluate_condition(compiled.condition, frame, deadline=deadline)
            holds = evaluate_condition(compiled.check, frame, deadline=deadline)
        except ExpressionTimeout:
            raise RuleError(
                f"Rule '{_label(rule.id)}' took longer than {budget:g} s on {n:,} "
                "rows; simplify it or raise the budget (time_budget_s)."
            ) from None
        except ExpressionError as exc:
            raise RuleError(
                f"Rule '{_label(rule.id)}' cannot be checked on this table: {exc}."
            ) from exc
        violations = applies & ~holds
        return RuleResult(
            rule.id, rule.description, n, int(applies.sum()), int(violations.sum()), violations
        )

    def flags(self, frame: pd.DataFrame, *, time_budget_s: float | None = None) -> pd.DataFrame:
        """Row-level flags: one boolean column per rule, True where the row breaks it."""
        results = self.check(frame, time_budget_s=time_budget_s)
        return pd.DataFrame({r.rule_id: r.violations for r in results}, index=frame.index)

    def compare(
        self, real: pd.DataFrame, synthetic: pd.DataFrame, *, time_budget_s: float | None = None
    ) -> pd.DataFrame:
        """Violation rates in the real and the synthetic table, one row per rule."""
        rows: list[dict[str, Any]] = []
        pairs = zip(
            self.check(real, time_budget_s=time_budget_s),
            self.check(synthetic, time_budget_s=time_budget_s),
            strict=True,
        )
        for r, s in pairs:
            rows.append(
                {
                    "rule": r.rule_id,
                    "description": r.description,
                    "real_violations": r.n_violations,
                    "real_rate": r.violation_rate,
                    "synthetic_violations": s.n_violations,
                    "synthetic_rate": s.violation_rate,
                    "synthetic_applicable": s.n_applicable,
                }
            )
        return pd.DataFrame(rows)


def _budget(value: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise InvalidParameterError(
            f"time_budget_s must be a positive number of seconds; got {value!r}."
        )
    return float(value)


def _label(rule_id: object) -> str:
    """A rule id for a one-line message: whitespace collapsed, at most 80 characters."""
    text = _one_line(str(rule_id))
    return text if len(text) <= 80 else text[:77] + "..."


def _one_line(text: object) -> str:
    return " ".join(str(text).split())
