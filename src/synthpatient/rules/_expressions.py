"""A small, safe evaluator for rule expressions over table columns.

Expressions are Python syntax restricted to arithmetic, comparisons, ``and``/``or``/``not``,
``in`` with literal lists, and a few functions (abs, exp, log, sqrt, isnull, notnull). They are
parsed with :mod:`ast` and evaluated column-wise with numpy, never with ``eval``: a rules file
shared by someone else cannot run code.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Pow: operator.pow, ast.Mod: operator.mod,
}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}
_FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "abs": np.abs, "exp": np.exp, "log": np.log, "sqrt": np.sqrt,
    "isnull": lambda v: pd.isna(v), "notnull": lambda v: ~pd.isna(v),
}


class ExpressionError(ValueError):
    """The expression is not valid rule syntax."""


def parse_expression(text: str) -> ast.Expression:
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error at column {exc.offset}: {exc.msg}") from exc
    for node in ast.walk(tree):
        allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Name,
                   ast.Constant, ast.Load, ast.Call, ast.List, ast.Tuple, ast.And, ast.Or,
                   ast.Not, ast.USub, ast.UAdd, ast.In, ast.NotIn, *_BINARY, *_COMPARE)
        if not isinstance(node, allowed):
            raise ExpressionError(f"'{type(node).__name__}' is not allowed in a rule expression")
        if isinstance(node, ast.Call) and (not isinstance(node.func, ast.Name)
                                           or node.func.id not in _FUNCTIONS or node.keywords
                                           or len(node.args) != 1):
            raise ExpressionError(f"only these one-argument functions are allowed: "
                                  f"{', '.join(sorted(_FUNCTIONS))}")
    return tree


def referenced_columns(tree: ast.Expression) -> set[str]:
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called}


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    values = frame[name]
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.to_numpy(dtype="datetime64[ns]")
    if pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=object)
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=float, na_value=np.nan)
    return values.to_numpy(dtype=object)


def evaluate(tree: ast.Expression, frame: pd.DataFrame) -> np.ndarray:
    """Evaluate to one value per row (a boolean array for a condition)."""

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Name):
            if node.id in ("True", "False"):
                return node.id == "True"
            return _column(frame, node.id)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.List | ast.Tuple):
            return [ev(e) for e in node.elts]
        if isinstance(node, ast.BinOp):
            return _BINARY[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp):
            value = ev(node.operand)
            if isinstance(node.op, ast.Not):
                return ~np.asarray(value, dtype=bool)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BoolOp):
            parts = [np.asarray(ev(v), dtype=bool) for v in node.values]
            combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            out = parts[0]
            for part in parts[1:]:
                out = combine(out, part)
            return out
        if isinstance(node, ast.Compare):
            left, result = ev(node.left), None
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                right = ev(right_node)
                if isinstance(op, ast.In | ast.NotIn):
                    step = pd.Series(left).isin(right).to_numpy()
                    step = ~step if isinstance(op, ast.NotIn) else step
                else:
                    step = np.asarray(_COMPARE[type(op)](left, right), dtype=bool)
                result = step if result is None else result & step
                left = right
            return result
        if isinstance(node, ast.Call):
            return _FUNCTIONS[node.func.id](ev(node.args[0]))  # type: ignore[union-attr]
        raise ExpressionError(f"cannot evaluate {type(node).__name__}")  # pragma: no cover

    with np.errstate(all="ignore"):
        result = ev(tree)
    return np.broadcast_to(np.asarray(result), (len(frame),))
