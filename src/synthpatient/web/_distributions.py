"""Per-column distributions for the results page's interactive chart: shares per bin (numbers)
or per category, real beside synthetic, with a human label and unit.

The page draws them itself as SVG (``static/charts.js``): no plotting library, nothing that
the strict Content-Security-Policy would have to allow. Only aggregates travel: the share of
rows in each bin or category, of the user's own table or cohort, inside their session.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from synthpatient._labels import humanize, unit_words

__all__ = ["distributions", "unit_words"]

BINS = 20
MAX_CATEGORIES = 12  # more are folded into "other" so the bars stay legible
MAX_COLUMNS = 40


def _floats(series: pd.Series) -> pd.Series:
    """Numbers as float64 (a nullable Int64 column cannot hold a clipped 61.56)."""
    return pd.to_numeric(series, errors="coerce").astype("float64").dropna()


def _numeric_bins(real: pd.Series | None, synthetic: pd.Series) -> list[dict[str, Any]]:
    values = _floats(synthetic)
    both = values if real is None else pd.concat([values, _floats(real)])
    if both.empty:
        return []
    # the 1st to 99th percentile: one extreme value would squeeze every other bar into one
    low, high = (float(v) for v in np.nanpercentile(both, [1, 99]))
    if high <= low:
        low, high = float(both.min()), float(both.max()) + 1
    edges = np.linspace(low, high, BINS + 1)

    def shares(series: pd.Series | None) -> list[float] | None:
        if series is None:
            return None
        numbers = _floats(series).clip(low, high)
        counts, _ = np.histogram(numbers, bins=edges)
        total = counts.sum()
        return [float(c / total) if total else 0.0 for c in counts]

    real_shares, synthetic_shares = shares(real), shares(synthetic)
    digits = max(0, 2 - int(np.floor(np.log10(max(abs(high - low), 1e-9)))))
    return [
        {
            "label": f"{edges[i]:.{digits}f}-{edges[i + 1]:.{digits}f}",
            "real": None if real_shares is None else round(real_shares[i], 4),
            "synthetic": round(synthetic_shares[i], 4) if synthetic_shares else 0.0,
        }
        for i in range(BINS)
    ]


def _category_bins(real: pd.Series | None, synthetic: pd.Series) -> list[dict[str, Any]]:
    syn = synthetic.dropna().astype(str).value_counts(normalize=True)
    rea = None if real is None else real.dropna().astype(str).value_counts(normalize=True)
    order = list((rea if rea is not None else syn).index)
    order += [c for c in syn.index if c not in order]
    shown, rest = order[:MAX_CATEGORIES], order[MAX_CATEGORIES:]
    bins = [
        {
            "label": humanize(c, title=True),
            "real": None if rea is None else round(float(rea.get(c, 0.0)), 4),
            "synthetic": round(float(syn.get(c, 0.0)), 4),
        }
        for c in shown
    ]
    if rest:
        bins.append(
            {
                "label": f"{len(rest)} others",
                "real": None if rea is None else round(float(rea[rea.index.isin(rest)].sum()), 4),
                "synthetic": round(float(syn[syn.index.isin(rest)].sum()), 4),
            }
        )
    return bins


def distributions(
    synthetic: pd.DataFrame,
    real: pd.DataFrame | None = None,
    *,
    labels: Mapping[str, tuple[str, str | None]] | None = None,
    skip: set[str] | frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """One entry per column (identifiers and free text in ``skip`` left out): its label and
    unit in words, whether numeric, and its bins (share of real and synthetic rows)."""
    labels = labels or {}
    out = []
    for name in [str(c) for c in synthetic.columns][:MAX_COLUMNS]:
        if name in skip:
            continue
        series = synthetic[name]
        other = None if real is None or name not in real else real[name]
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        if pd.api.types.is_datetime64_any_dtype(series):
            continue  # dates are shown in the preview and the report's timeline plots
        if numeric and series.nunique(dropna=True) <= 2:
            numeric = False  # a 0/1 flag reads better as two bars
        bins = _numeric_bins(other, series) if numeric else _category_bins(other, series)
        if not bins:
            continue
        label, unit = labels.get(name, (humanize(name), None))
        out.append(
            {
                "column": name,
                "label": label,
                "unit": unit_words(unit),
                "numeric": numeric,
                "bins": bins,
            }
        )
    return out
