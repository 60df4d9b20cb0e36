"""Per-column details beyond the quality score, and the mixed-type association matrix.

``MissingValueSimilarity``, ``RangeCoverage`` and ``CategoryCoverage`` follow SDMetrics'
definitions; Jensen-Shannon distance and a normalised Wasserstein distance are details for
diagnosis. The association matrix puts every pair on one [0, 1] scale for the heatmaps:
|Pearson r| for two numbers, Cramer's V for two categories, the correlation ratio (eta) for a
number and a category.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance
from scipy.stats.contingency import association

from synthpatient.evaluation._encoding import HUGE
from synthpatient.evaluation.similarity import CONTINUOUS, _as_datetime, _numbers

N_HISTOGRAM_BINS = 20


def _present(values: pd.Series) -> np.ndarray:
    """A continuous column's present values as floats (datetimes as epoch nanoseconds);
    infinities kept."""
    numbers = _numbers(values)
    return numbers[~np.isnan(numbers)]


def _finite(values: pd.Series) -> np.ndarray:
    numbers = _numbers(values)
    return numbers[np.isfinite(numbers)]


def scaled(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Finite arrays divided by their largest magnitude when it is near the float limits, so
    that differences and squares of values such as ±1e308 do not overflow (or of 1e-308
    underflow to 0); correlations and ratios of ranges and distances are unchanged."""
    peak = max((float(np.abs(a).max()) for a in arrays if len(a)), default=0.0)
    if peak == 0.0 or 1.0 / HUGE <= peak <= HUGE:  # the values as they are
        return arrays
    return tuple(a / peak for a in arrays)


def bin_edges(finite: np.ndarray, bins: int = N_HISTOGRAM_BINS) -> np.ndarray:
    """At most ``bins`` equal-width bins over the range of ``finite``; fewer where the range is
    too narrow for the floats there; a single edge (no bin) for one value or none."""
    if not len(finite) or finite.min() == finite.max():
        return finite[:1]
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # the failure below is handled
            return np.histogram_bin_edges(finite, bins=bins)
    except ValueError:  # a range wider than the largest float, or too narrow for 20 bins
        low, high = float(finite.min()), float(finite.max())
        steps = np.linspace(0.0, 1.0, bins + 1)
        # a convex combination never overflows, whereas high - low can (-1e308 to 1e308)
        return np.unique(low * (1.0 - steps) + high * steps)


def _counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin, with -inf and +inf in bins of their own at either end."""
    finite = values[np.isfinite(values)]
    inner = np.histogram(finite, edges)[0] if len(edges) >= 2 else np.array([len(finite)])
    return np.concatenate([[np.sum(values == -np.inf)], inner, [np.sum(values == np.inf)]]).astype(
        float
    )


def read_column(frame: pd.DataFrame, name: str, sdtype: str) -> pd.Series:
    """A column as the metrics read it: a datetime one held as text is parsed as the schema
    parses it (mixed UTC offsets included); others as they are."""
    return _as_datetime(frame[name]) if sdtype == "datetime" else frame[name]


def missing_value_similarity(real: pd.Series, synthetic: pd.Series) -> float:
    """1 - |share missing in real - share missing in synthetic| (SDMetrics)."""
    return 1.0 - abs(float(real.isna().mean()) - float(synthetic.isna().mean()))


def range_coverage(real: pd.Series, synthetic: pd.Series) -> float:
    """How much of the real [min, max] the synthetic values span (SDMetrics); NaN if constant."""
    r, s = scaled(_finite(real), _finite(synthetic))
    if not len(r) or not len(s) or r.min() == r.max():
        return float("nan")
    width = r.max() - r.min()
    below = max((s.min() - r.min()) / width, 0.0)
    above = max((r.max() - s.max()) / width, 0.0)
    return max(1.0 - (below + above), 0.0)


def category_coverage(real: pd.Series, synthetic: pd.Series) -> float:
    """Share of the real categories that appear in the synthetic column (SDMetrics)."""
    real_values = set(real.dropna().unique())
    if not real_values:
        return float("nan")
    return len(real_values & set(synthetic.dropna().unique())) / len(real_values)


def _histograms(
    real: pd.Series, synthetic: pd.Series, continuous: bool
) -> tuple[np.ndarray, np.ndarray]:
    if continuous:
        r, s = _present(real), _present(synthetic)
        edges = bin_edges(np.concatenate([r[np.isfinite(r)], s[np.isfinite(s)]]))
        return _counts(r, edges), _counts(s, edges)
    levels = pd.Index(real.dropna().unique()).union(pd.Index(synthetic.dropna().unique()))
    return (
        real.value_counts().reindex(levels, fill_value=0).to_numpy(dtype=float),
        synthetic.value_counts().reindex(levels, fill_value=0).to_numpy(dtype=float),
    )


def column_details(
    real: pd.DataFrame, synthetic: pd.DataFrame, sdtypes: Mapping[str, str]
) -> pd.DataFrame:
    """One row per column: missing-value similarity, coverage, JS and Wasserstein distances."""
    rows = []
    for column, sdtype in sdtypes.items():
        continuous = sdtype in CONTINUOUS
        r_col, s_col = read_column(real, column, sdtype), read_column(synthetic, column, sdtype)
        h_real, h_synth = _histograms(r_col, s_col, continuous)
        js = (
            float(jensenshannon(h_real, h_synth, base=2))
            if h_real.sum() and h_synth.sum()
            else float("nan")
        )
        wasserstein = float("nan")
        if continuous:
            r, s = scaled(_finite(r_col), _finite(s_col))
            spread = np.ptp(r) if len(r) else 0.0
            if len(r) and len(s) and spread > 0:
                wasserstein = float(wasserstein_distance(r, s) / spread)
        rows.append(
            {
                "column": column,
                "missing_real": float(r_col.isna().mean()),
                "missing_synthetic": float(s_col.isna().mean()),
                "missing_value_similarity": missing_value_similarity(r_col, s_col),
                "coverage": range_coverage(r_col, s_col)
                if continuous
                else category_coverage(r_col, s_col),
                "coverage_metric": "RangeCoverage" if continuous else "CategoryCoverage",
                "jensen_shannon": js,
                "wasserstein_normalised": wasserstein,
            }
        )
    return pd.DataFrame(rows)


def association_matrix(frame: pd.DataFrame, sdtypes: Mapping[str, str]) -> pd.DataFrame:
    """Symmetric [0, 1] association of every pair of columns (see the module docstring)."""
    names = list(sdtypes)
    values = {
        c: (_numbers(read_column(frame, c, sdtypes[c])) if sdtypes[c] in CONTINUOUS else frame[c])
        for c in names
    }
    out = np.eye(len(names))
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            b = names[j]
            out[i, j] = out[j, i] = _association(
                values[a], values[b], sdtypes[a] in CONTINUOUS, sdtypes[b] in CONTINUOUS
            )
    return pd.DataFrame(out, index=names, columns=names)


def _association(
    a: np.ndarray | pd.Series, b: np.ndarray | pd.Series, a_num: bool, b_num: bool
) -> float:
    """Association of two columns: numbers (an array) or categories (a Series) each."""
    # infinities have no place on a correlation scale; huge values are scaled down so that
    # sums of squares do not overflow (neither statistic depends on the scale)
    if a_num and b_num:
        keep = np.isfinite(a) & np.isfinite(b)
        x, y = scaled(a[keep]) + scaled(b[keep])
        if keep.sum() < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
            return float("nan")
        return float(abs(np.corrcoef(x, y)[0, 1]))
    if not a_num and not b_num:
        table = pd.crosstab(pd.Series(a).to_numpy(), pd.Series(b).to_numpy())
        if min(table.shape) < 2:
            return float("nan")
        return float(association(table.to_numpy(), method="cramer"))
    numbers, groups = (a, b) if a_num else (b, a)
    groups = pd.Series(groups).to_numpy()
    keep = np.isfinite(numbers) & pd.notna(groups)
    (x,), g = scaled(numbers[keep]), groups[keep]
    if len(x) < 3 or np.ptp(x) == 0:
        return float("nan")
    frame = pd.DataFrame({"x": x, "g": g})
    means = frame.groupby("g")["x"].agg(["mean", "size"])
    between = float((means["size"] * (means["mean"] - x.mean()) ** 2).sum())
    total = float(((x - x.mean()) ** 2).sum())
    return float(np.sqrt(between / total)) if total > 0 else float("nan")
