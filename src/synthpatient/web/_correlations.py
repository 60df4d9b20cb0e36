"""Correlations between the numeric columns, real beside synthetic, for the results page's
interactive heatmap (drawn as SVG by ``static/heatmap.js``).

Spearman's rank correlation (monotone relations, robust to skewed lab values), over at most
:data:`MAX_ROWS` rows drawn with a fixed seed so a large cohort stays quick. Only the matrix
travels to the page, with each column's human name and unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.web._distributions import unit_words
from synthpatient.web.words import humanize

MAX_COLUMNS = 12  # more cells than this would be too small to read or to point at
MAX_ROWS = 50_000
MIN_ROWS = 10


def _numeric(frame: pd.DataFrame, skip: set[str] | frozenset[str]) -> list[str]:
    names = []
    for column in frame.columns:
        name, series = str(column), frame[column]
        if name in skip or pd.api.types.is_bool_dtype(series):
            continue
        if not pd.api.types.is_numeric_dtype(series):
            continue
        if series.nunique(dropna=True) <= 2:  # a 0/1 flag: its shares are in the bar chart
            continue
        names.append(name)
    return names


def _matrix(frame: pd.DataFrame, columns: list[str]) -> list[list[float | None]] | None:
    if len(frame) > MAX_ROWS:
        frame = frame.sample(MAX_ROWS, random_state=0)
    numbers = frame[columns].apply(pd.to_numeric, errors="coerce").astype("float64")
    if numbers.dropna(how="all").shape[0] < MIN_ROWS:
        return None
    corr = numbers.corr(method="spearman", min_periods=MIN_ROWS).to_numpy()
    return [[None if not np.isfinite(v) else round(float(v), 3) for v in row] for row in corr]


def correlations(
    synthetic: pd.DataFrame,
    real: pd.DataFrame | None = None,
    *,
    labels: Mapping[str, tuple[str, str | None]] | None = None,
    skip: set[str] | frozenset[str] = frozenset(),
) -> dict[str, Any] | None:
    """The correlation matrices of up to :data:`MAX_COLUMNS` numeric columns (those of the
    real table when there is one), or None when fewer than two columns are numeric."""
    labels = labels or {}
    columns = _numeric(synthetic, skip)
    if real is not None:
        columns = [c for c in columns if c in real.columns]
    columns = columns[:MAX_COLUMNS]
    if len(columns) < 2:
        return None
    synthetic_matrix = _matrix(synthetic, columns)
    if synthetic_matrix is None:
        return None
    described = []
    for name in columns:
        label, unit = labels.get(name, (humanize(name), None))
        described.append({"column": name, "label": label, "unit": unit_words(unit)})
    return {
        "method": "Spearman rank correlation",
        "columns": described,
        "synthetic": synthetic_matrix,
        "real": None if real is None else _matrix(real, columns),
    }
