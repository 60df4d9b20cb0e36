"""A small, safe, bounded evaluator for rule expressions over table columns.

Expressions are Python syntax restricted to arithmetic, comparisons, ``and``/``or``/``not``,
``in`` with literal lists, and a few functions (abs, exp, log, sqrt, isnull, notnull). They are
parsed with :mod:`ast` and evaluated column-wise with numpy, never with ``eval``: a rules file
shared by someone else cannot run code.

Rules files come from anyone, so every operation is bounded:

* the text is at most :data:`MAX_EXPRESSION_CHARS` characters and nests at most
  :data:`MAX_DEPTH` levels;
* numbers are evaluated as floats (``numpy.float64``), never as Python ints, whose powers
  grow without limit (``9**9**9**9`` would run for ever); an exponent above
  :data:`MAX_EXPONENT` in absolute value, or a power that overflows, is refused: when both
  sides are constants while parsing, otherwise while evaluating;
* text cannot take part in arithmetic, so there is no repetition (``'a' * 10**10``) nor
  ``%``-formatting; lists are literal and only follow ``in``; so no operation makes more
  than one value per row of the table;
* :func:`evaluate` takes a deadline and checks the clock between nodes, each of which is
  one vectorised operation over the rows.

Errors are :class:`ExpressionError` with a one-line message that shows the part of the
expression at fault (the rule's own text, never a value from the table) and what to do.
"""

from __future__ import annotations

import ast
import operator
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.errors import (  # noqa: F401  (defined in errors.py; re-exported)
    ExpressionError,
    ExpressionTimeout,
    RuleError,
)

#: Longest expression accepted, in characters.
MAX_EXPRESSION_CHARS = 2_000
#: Deepest nesting of sub-expressions accepted.
MAX_DEPTH = 50
#: Largest exponent (in absolute value) of a power.
MAX_EXPONENT = 1_000.0

_ARITHMETIC: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.Mod: np.mod,
}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_NUMERIC_FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "abs": np.abs,
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
}
_FUNCTIONS = (*_NUMERIC_FUNCTIONS, "isnull", "notnull")
_ALLOWED = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.Name,
    ast.Constant,
    ast.Load,
    ast.Call,
    ast.List,
    ast.Tuple,
    ast.And,
    ast.Or,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.In,
    ast.NotIn,
    ast.Pow,
    *_ARITHMETIC,
    *_COMPARE,
)
# object columns whose values are all numbers or booleans (missing values aside)
_NUMBER_KINDS = {"boolean", "integer", "floating", "mixed-integer-float", "decimal", "empty"}
_VARIES = object()  # a sub-expression that reads a column: not foldable while parsing
_HELP = "write it like `ldl + hdl <= total_cholesterol` or `sex in ['female', 'male']`"


# --- parsing ------------------------------------------------------------------------------


def parse_expression(text: str) -> ast.Expression:
    """Parse and check ``text``; constant parts are computed now, so limits fail early."""
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be text; {_HELP}")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(
            f"the expression is {len(text):,} characters long; keep it under "
            f"{MAX_EXPRESSION_CHARS:,} (split it into several rules)"
        )
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        raise ExpressionError(f"syntax error{where}: {_one_line(exc.msg)}; {_HELP}") from exc
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes; absurd nesting
        raise ExpressionError(
            f"the expression cannot be read (control characters or extreme nesting); {_HELP}"
        ) from exc
    _check_structure(tree)
    with np.errstate(all="ignore"):
        _Evaluator(None, None)(tree)  # constant parts: a bad power fails here, not per table
    return tree


def _check_structure(tree: ast.Expression) -> None:
    in_lists = {
        id(c)
        for n in ast.walk(tree)
        if isinstance(n, ast.Compare)
        for op, c in zip(n.ops, n.comparators, strict=True)
        if isinstance(op, ast.In | ast.NotIn)
    }
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]  # iterative: no recursion on deep input
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExpressionError(
                f"the expression nests more than {MAX_DEPTH} levels deep; "
                "split it into simpler rules"
            )
        if not isinstance(node, _ALLOWED):
            raise ExpressionError(
                f"'{type(node).__name__}' is not allowed in a rule expression; {_HELP}"
            )
        if isinstance(node, ast.Call) and (
            not isinstance(node.func, ast.Name)
            or node.func.id not in _FUNCTIONS
            or node.keywords
            or len(node.args) != 1
        ):
            raise ExpressionError(
                f"only these one-argument functions are allowed: {', '.join(sorted(_FUNCTIONS))}"
            )
        if isinstance(node, ast.Compare) and any(
            isinstance(op, ast.In | ast.NotIn) and not isinstance(c, ast.List | ast.Tuple)
            for op, c in zip(node.ops, node.comparators, strict=True)
        ):
            raise ExpressionError(
                "'in' and 'not in' need a literal list on their right, "
                "e.g. `smoker in ['never', 'former']`"
            )
        if isinstance(node, ast.List | ast.Tuple):
            if id(node) not in in_lists:
                raise ExpressionError(
                    f"a list is allowed only after 'in' or 'not in' (`{_show(node)}`)"
                )
            if not all(_is_literal(e) for e in node.elts):
                raise ExpressionError(
                    f"a list after 'in' may hold only numbers, text, True, "
                    f"False or None (`{_show(node)}`)"
                )
        if isinstance(node, ast.Constant):
            _constant(node)  # refuses complex numbers, bytes, numbers too large for a float
        if isinstance(node, ast.BinOp) and any(
            isinstance(side, ast.Constant) and isinstance(side.value, str)
            for side in (node.left, node.right)
        ):
            raise ExpressionError(
                f"text cannot be used in arithmetic (`{_show(node)}`); "
                "compare it instead, e.g. `sex == 'female'`"
            )
        child_depth = depth + 1 if isinstance(node, ast.expr) else depth
        stack.extend((child, child_depth) for child in ast.iter_child_nodes(node))


def _is_literal(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        node = node.operand
        return isinstance(node, ast.Constant) and type(node.value) in (int, float)
    return isinstance(node, ast.Constant)


def _constant(node: ast.Constant) -> Any:
    value = node.value
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):  # bool was returned above
        try:
            return np.float64(value)  # floats only: no unbounded Python-int arithmetic
        except OverflowError:
            raise ExpressionError(
                "a number in the expression is too large; numbers up to about 1e308 can be used"
            ) from None
    raise ExpressionError(
        f"'{type(value).__name__}' values are not allowed in a rule "
        "expression; use numbers, text in quotes, True, False or None"
    )


def referenced_columns(tree: ast.Expression) -> set[str]:
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called}


# --- evaluating ---------------------------------------------------------------------------


def evaluate(
    tree: ast.Expression, frame: pd.DataFrame, *, deadline: float | None = None
) -> np.ndarray:
    """Evaluate to one value per row (a boolean array for a condition).

    Args:
        tree: from :func:`parse_expression`.
        frame: the table; names in the expression are its columns.
        deadline: a :func:`time.monotonic` time; :class:`ExpressionTimeout` once it passes.
    """
    with np.errstate(all="ignore"):
        result = _Evaluator(frame, deadline)(tree)
    try:
        return np.broadcast_to(np.asarray(result), (len(frame),))
    except ValueError:
        raise ExpressionError(f"the expression does not give one value per row; {_HELP}") from None


def evaluate_condition(
    tree: ast.Expression, frame: pd.DataFrame, *, deadline: float | None = None
) -> np.ndarray:
    """Evaluate a condition to a writable boolean array; a missing value counts as False."""
    values = evaluate(tree, frame, deadline=deadline)
    return np.array(_truth(values, tree.body), dtype=bool)


class _Evaluator:
    """Evaluates a tree node by node; with no frame, folds the constant parts only."""

    def __init__(self, frame: pd.DataFrame | None, deadline: float | None) -> None:
        self.frame, self.deadline = frame, deadline
        self.rows = 1 if frame is None else max(len(frame), 1)

    def __call__(self, node: ast.AST) -> Any:
        self._tick()
        if isinstance(node, ast.Expression):
            return self(node.body)
        if isinstance(node, ast.Constant):
            return _constant(node)
        if isinstance(node, ast.Name):
            return _VARIES if self.frame is None else _column(self.frame, node.id)
        if isinstance(node, ast.List | ast.Tuple):
            return [self(e) for e in node.elts]
        children = [self(c) for c in _operands(node)]
        if any(c is _VARIES for c in children):
            return _VARIES
        self._tick()
        try:
            result = _apply(node, children)
        except ExpressionError:
            raise
        except Exception as exc:  # numpy and pandas type errors: said in words, no values
            kinds = " and ".join(dict.fromkeys(_kind(c) for c in children))
            raise ExpressionError(
                f"`{_show(node)}` cannot be computed for {kinds}; check the "
                "types of the columns it reads"
            ) from exc
        if isinstance(result, np.ndarray) and result.size > self.rows:
            raise ExpressionError(
                f"`{_show(node)}` would make more values than the table has "
                "rows; compare columns with single values"
            )
        return result

    def _tick(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise ExpressionTimeout("the time budget ran out")


def _operands(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.BoolOp):
        return list(node.values)
    if isinstance(node, ast.Compare):
        return [node.left, *node.comparators]
    if isinstance(node, ast.Call):
        return [node.args[0]]
    raise ExpressionError(f"cannot evaluate {type(node).__name__}")  # pragma: no cover


def _apply(node: ast.AST, values: list[Any]) -> Any:
    if isinstance(node, ast.BinOp):
        left, right = values
        if isinstance(node.op, ast.Pow):
            return _power(node, left, right)
        timely = isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div)
        return _ARITHMETIC[type(node.op)](_number(node, left, timely), _number(node, right, timely))
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            return np.logical_not(_truth(values[0], node))
        number = _number(node, values[0], dates=True)
        return np.negative(number) if isinstance(node.op, ast.USub) else number
    if isinstance(node, ast.BoolOp):
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        out = _truth(values[0], node)
        for value in values[1:]:
            out = combine(out, _truth(value, node))
        return out
    if isinstance(node, ast.Compare):
        return _compare(node, values)
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    name, value = node.func.id, values[0]
    if name == "isnull":
        return pd.isna(value)
    if name == "notnull":
        return ~pd.isna(value)
    return _NUMERIC_FUNCTIONS[name](_number(node, value, dates=name == "abs"))


def _power(node: ast.BinOp, base: Any, exponent: Any) -> Any:
    base, exponent = _number(node, base, False), _number(node, exponent, False)
    too_big = int(np.count_nonzero(np.abs(exponent) > MAX_EXPONENT))  # NaN compares False
    if too_big:
        raise ExpressionError(
            f"`{_show(node)}` raises to a power above {MAX_EXPONENT:,.0f} in "
            f"absolute value{_on_rows(too_big, exponent)}; use a smaller power"
        )
    result = np.power(base, exponent)
    overflow = int(
        np.count_nonzero(np.isinf(result) & np.isfinite(base) & np.isfinite(exponent) & (base != 0))
    )
    if overflow:
        raise ExpressionError(
            f"`{_show(node)}` is too large to compute (it overflows)"
            f"{_on_rows(overflow, result)}; use a smaller power"
        )
    return result


def _on_rows(count: int, values: Any) -> str:
    return f" on {count:,} row{'s' if count != 1 else ''}" if np.ndim(values) else ""


def _compare(node: ast.Compare, values: list[Any]) -> Any:
    left, result = values[0], None
    for op, right in zip(node.ops, values[1:], strict=True):
        if isinstance(op, ast.In | ast.NotIn):
            column = left if isinstance(left, np.ndarray) else [left]
            step = pd.Series(column).isin(right).to_numpy(dtype=bool)
            step = ~step if isinstance(op, ast.NotIn) else step
        else:
            a, b = _as_date_if_needed(left, right), _as_date_if_needed(right, left)
            if isinstance(op, _ORDERING):
                a, b = _numeric_if_possible(a), _numeric_if_possible(b)
            step = _present_only(_COMPARE[type(op)], a, b)
        result = step if result is None else np.logical_and(result, step)
        left = right
    return result


def _as_date_if_needed(value: Any, other: Any) -> Any:
    """Text beside a date column is read as a date: `admitted >= '2020-01-01'`."""
    if isinstance(value, str) and isinstance(other, np.ndarray) and other.dtype.kind == "M":
        try:
            return pd.Timestamp(value).tz_localize(None).to_datetime64()
        except (ValueError, TypeError):
            raise ExpressionError(
                f"the text '{_one_line(value)[:40]}' is compared with a date "
                "but is not a date; write dates as 'YYYY-MM-DD'"
            ) from None
    return value


def _numeric_if_possible(value: Any) -> Any:
    if (
        isinstance(value, np.ndarray)
        and value.dtype.kind == "O"
        and pd.api.types.infer_dtype(value, skipna=True) in _NUMBER_KINDS
    ):
        return _to_float(value)
    return value


def _present_only(compare: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    """Compare object columns (text, nullable booleans) only where both sides have a value:
    a missing value is neither ordered nor equal (``pd.NA == True`` is not a boolean), and
    a rule does not apply to a row that lacks one anyway."""
    objects = [v for v in (a, b) if isinstance(v, np.ndarray) and v.dtype.kind == "O"]
    if not objects:
        return np.asarray(compare(a, b), dtype=bool)
    present = np.ones(len(objects[0]), dtype=bool)
    for v in (a, b):
        present &= ~np.asarray(pd.isna(v), dtype=bool)
    out = np.zeros(len(present), dtype=bool)
    if present.any():
        a_part = a[present] if isinstance(a, np.ndarray) else a
        b_part = b[present] if isinstance(b, np.ndarray) else b
        out[present] = np.asarray(compare(a_part, b_part), dtype=bool)
    return out


def _number(node: ast.AST, value: Any, dates: bool) -> Any:
    """``value`` as floats (or dates and durations where ``dates``); anything else refused."""
    if isinstance(value, bool | int | float | np.bool_ | np.integer | np.floating):
        return np.float64(value)
    if isinstance(value, np.ndarray):
        kind = value.dtype.kind
        if kind == "f":
            return value
        if kind in "biu":
            return value.astype(float)
        if kind in "mM" and dates:
            return value
        if kind == "O" and pd.api.types.infer_dtype(value, skipna=True) in _NUMBER_KINDS:
            return _to_float(value)
    if isinstance(value, np.datetime64 | np.timedelta64) and dates:
        return value
    what = _kind(value)
    if what == "text":
        raise ExpressionError(
            f"text cannot be used in arithmetic (`{_show(node)}`); compare "
            "it instead, e.g. `sex == 'female'`"
        )
    raise ExpressionError(
        f"`{_show(node)}` needs numbers but got {what}; check the types of the columns it reads"
    )


def _to_float(values: np.ndarray) -> np.ndarray:
    numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
    return numbers.to_numpy(dtype=float, na_value=np.nan)


def _truth(value: Any, node: ast.AST) -> Any:
    """True/false values for ``and``/``or``/``not`` and for a rule's result."""
    if isinstance(value, bool | np.bool_):
        return np.bool_(value)
    if isinstance(value, int | float | np.integer | np.floating):
        return np.bool_(value != 0)
    if isinstance(value, np.ndarray):
        kind = value.dtype.kind
        if kind == "b":
            return value
        if kind in "fiu":
            return value != 0
        if kind == "O":
            inferred = pd.api.types.infer_dtype(value, skipna=True)
            if inferred == "boolean" or inferred == "empty":
                present = ~np.asarray(pd.isna(value), dtype=bool)
                out = np.zeros(len(value), dtype=bool)
                out[present] = value[present].astype(bool)
                return out
            if inferred in _NUMBER_KINDS:
                return _to_float(value) != 0
    raise ExpressionError(
        f"`{_show(node)}` needs true/false values (comparisons such as "
        f"`x > 1`) but got {_kind(value)}"
    )


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        raise ExpressionError(f"the table has no column '{name}'; fix the expression or the table")
    values = frame[name]
    if isinstance(values, pd.DataFrame):
        raise ExpressionError(
            f"the table has more than one column named '{name}'; rename them so each name is unique"
        )
    try:
        if pd.api.types.is_datetime64_any_dtype(values):
            return values.to_numpy(dtype="datetime64[ns]")
        if pd.api.types.is_bool_dtype(values):
            return values.to_numpy(dtype=object)
        if pd.api.types.is_numeric_dtype(values):
            return values.to_numpy(dtype=float, na_value=np.nan)
        return values.to_numpy(dtype=object)
    except (TypeError, ValueError, OverflowError):
        raise ExpressionError(
            f"column '{name}' has a type rules cannot read "
            f"({values.dtype}); convert it to numbers, text or dates"
        ) from None


def _kind(value: Any) -> str:
    if value is None:
        return "a missing value"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool | np.bool_):
        return "true/false values"
    if isinstance(value, str | np.str_):
        return "text"
    if isinstance(value, np.datetime64):
        return "dates"
    if isinstance(value, np.timedelta64):
        return "durations"
    if isinstance(value, int | float | np.number):
        return "numbers"
    if isinstance(value, np.ndarray):
        kind = value.dtype.kind
        if kind == "O":
            inferred = pd.api.types.infer_dtype(value, skipna=True)
            return {
                "string": "text",
                "boolean": "true/false values",
                "empty": "missing values",
            }.get(inferred, "numbers" if inferred in _NUMBER_KINDS else "mixed values")
        return {
            "b": "true/false values",
            "M": "dates",
            "m": "durations",
            "U": "text",
            "S": "text",
        }.get(kind, "numbers")
    return "values of an unsupported kind"


def _show(node: ast.AST, limit: int = 60) -> str:
    """The rule's own text for ``node`` (never table values), on one line and short."""
    text = _one_line(ast.unparse(node))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
