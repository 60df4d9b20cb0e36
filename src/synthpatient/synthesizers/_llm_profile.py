"""What the LLM synthesizer learns at fit, offline, and what its prompts say: each column's
schema facts and summary statistics, the strongest correlations, missing-value rules, and
conditions as the prompt and the JSON schema write them."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.schema import ColumnSpec, category_key
from synthpatient.synthesizers._conditions import Condition

_QUANTILES = {"p5": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95}
MAX_CORRELATIONS = 8
MAX_RULES = 6


def json_value(spec: ColumnSpec, value: Any) -> Any:
    """A value as the prompt writes it (dates as ISO text, numpy scalars as Python)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if spec.kind == "datetime":
        stamp = pd.Timestamp(value)
        return stamp.date().isoformat() if spec.datetime_unit == "day" else stamp.isoformat()
    if spec.kind in ("numeric", "integer"):
        decimals = 0 if spec.kind == "integer" else spec.decimals
        number = round(float(value), decimals) if decimals is not None else float(value)
        return int(number) if spec.kind == "integer" else number
    if spec.kind == "boolean":
        return bool(value)
    return value.item() if isinstance(value, np.generic) else value


def json_row(specs: list[ColumnSpec], row: pd.Series) -> dict[str, Any]:
    return {spec.name: json_value(spec, row[spec.name]) for spec in specs}


def column_profile(spec: ColumnSpec, values: pd.Series) -> dict[str, Any]:
    """Schema facts and summary statistics of one column; the prompt level picks which go."""
    out: dict[str, Any] = {
        "name": spec.name,
        "kind": spec.kind,
        "nullable": spec.nullable,
        "unit": spec.unit,
        "description": spec.description,
        "missing_rate": round(float(values.isna().mean()), 3),
    }
    present = values.dropna()
    if spec.kind == "categorical":
        categories = [json_value(spec, c) for c in spec.categories or ()]
        lookup = {category_key(c): c for c in spec.categories or ()}
        counts = Counter(category_key(v) for v in present)
        total = max(len(present), 1)
        out.update(
            categories=categories,
            frequencies=[
                [json_value(spec, lookup[k]), round(counts.get(k, 0) / total, 3)] for k in lookup
            ],
        )
    elif spec.kind == "boolean":
        out["share_true"] = round(
            float(np.mean([bool(v) for v in present])) if len(present) else 0.0, 3
        )
    elif spec.kind == "datetime":
        stamps = pd.to_datetime(present)
        out["date_format"] = "YYYY-MM-DD" if spec.datetime_unit == "day" else "YYYY-MM-DDTHH:MM:SS"
        for bound in ("minimum", "maximum"):
            if getattr(spec, bound) is not None:
                out[bound] = json_value(spec, pd.Timestamp(getattr(spec, bound)))
        if len(stamps):
            nanos = stamps.astype("int64").to_numpy(dtype=float)
            out["quantiles"] = {
                k: json_value(spec, pd.Timestamp(int(np.quantile(nanos, q))))
                for k, q in _QUANTILES.items()
            }
    else:
        decimals = 0 if spec.kind == "integer" else spec.decimals
        for bound in ("minimum", "maximum"):
            if getattr(spec, bound) is not None:
                out[bound] = json_value(spec, float(getattr(spec, bound)))
        out["decimals"] = decimals
        if len(present):
            numbers = present.to_numpy(dtype=float)
            digits = 3 if decimals is None else decimals + 1
            out["mean"] = round(float(numbers.mean()), digits)
            out["sd"] = round(float(numbers.std(ddof=1)) if len(numbers) > 1 else 0.0, digits)
            out["quantiles"] = {
                k: round(float(np.quantile(numbers, q)), digits) for k, q in _QUANTILES.items()
            }
    return out


def correlations(data: pd.DataFrame, specs: list[ColumnSpec]) -> list[list[Any]]:
    """The strongest Spearman correlations between numeric-like columns: [a, b, rho]."""
    numeric: dict[str, pd.Series] = {}
    for spec in specs:
        column = data[spec.name]
        if spec.kind in ("numeric", "integer"):
            numeric[spec.name] = pd.to_numeric(column, errors="coerce")
        elif spec.kind == "boolean":
            numeric[spec.name] = column.map(lambda v: float(bool(v)), na_action="ignore")
        elif spec.kind == "datetime":
            stamps = pd.to_datetime(column)
            numeric[spec.name] = stamps.astype("int64").where(stamps.notna()).astype(float)
    if len(numeric) < 2:
        return []
    ranks = pd.DataFrame(numeric).rank()
    matrix = ranks.corr(min_periods=10)
    names = list(matrix.columns)
    pairs = [
        (names[i], names[j], float(matrix.iloc[i, j]))
        for i in range(len(names))
        for j in range(i + 1, len(names))
        if np.isfinite(matrix.iloc[i, j])
    ]
    pairs = [p for p in pairs if abs(p[2]) >= 0.1]
    pairs.sort(key=lambda p: -abs(p[2]))
    return [[a, b, round(r, 2)] for a, b, r in pairs[:MAX_CORRELATIONS]]


def missing_rules(data: pd.DataFrame, specs: list[ColumnSpec]) -> list[str]:
    """Missing-value rules that hold in every real row, e.g. a cause of death only when died
    is true: the structure that independent draws would break most visibly."""
    rules: list[str] = []
    groups = [s for s in specs if s.kind in ("categorical", "boolean")]
    min_group = max(5, int(0.02 * len(data)))
    for spec in specs:
        present = data[spec.name].notna()
        if present.all() or not present.any():
            continue
        for group in groups:
            if group.name == spec.name:
                continue
            column = data[group.name]
            for value in column.dropna().unique():
                mask = (column == value).to_numpy()
                shown = json_value(group, value)
                if mask.sum() >= min_group and not present[mask].any():
                    rules.append(f"'{spec.name}' is null whenever '{group.name}' is {shown!r}.")
                elif present[mask].all() and (~present[~mask]).all() and mask.sum() >= min_group:
                    rules.append(
                        f"'{spec.name}' is present exactly when '{group.name}' is {shown!r}."
                    )
    return rules[:MAX_RULES]


def condition_json(spec: ColumnSpec, cond: Condition) -> dict[str, Any]:
    """A condition as the prompt and the JSON schema write it."""

    def value(v: float | None) -> Any:
        if v is None:
            return None
        if spec.kind == "datetime":
            return json_value(spec, pd.Timestamp(int(v)))
        return int(v) if spec.kind == "integer" else float(v)

    if cond.kind == "equal":
        shown = (
            json_value(spec, cond.value)
            if spec.kind in ("categorical", "boolean")
            else value(cond.value)
        )
        return {"column": cond.column, "equals": shown}
    out: dict[str, Any] = {"column": cond.column}
    if cond.low is not None:
        out["minimum"] = value(cond.low)
    if cond.high is not None:
        out["maximum"] = value(cond.high)
    return out


def tokens_per_row(profile: dict[str, Any]) -> float:
    """An upper bound of one row's output tokens whatever the tokenizer.

    Some tokenizers (Gemma's, Llama 3's for long numbers) give every digit its own token, so
    digits are counted one token each; other text at most one token per two characters; each
    key costs its quotes, colon, comma and space. A bound that assumed ~2.5 characters a token
    cut 20-row answers off at about 13 rows on such a tokenizer.
    """
    tokens = 2.0  # the row's braces
    for column in profile["columns"]:
        tokens += _text_tokens(str(column["name"])) + 4
        kind = column["kind"]
        if kind == "categorical":
            tokens += max(_text_tokens(str(c)) for c in column.get("categories") or ["x"]) + 2
        elif kind == "datetime":
            tokens += 21  # YYYY-MM-DDTHH:MM:SS: 14 digits, 5 separators, 2 quotes
        elif kind == "boolean":
            tokens += 2
        else:
            whole = len(str(int(abs(float(column.get("maximum") or 1e6)))))
            low = column.get("minimum")
            whole = max(whole, len(str(int(abs(float(low))))) if low is not None else whole)
            tokens += whole + (column.get("decimals") or 0) + 2  # sign and decimal point
    return tokens


def _text_tokens(text: str) -> int:
    digits = sum(ch.isdigit() for ch in text)
    return digits + math.ceil((len(text) - digits) / 2)
