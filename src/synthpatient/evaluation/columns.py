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

from synthpatient.evaluation.similarity import CONTINUOUS, _numbers

N_HISTOGRAM_BINS = 20


def missing_value_similarity(real: pd.Series, synthetic: pd.Series) -> float:
    """1 - |share missing in real - share missing in synthetic| (SDMetrics)."""
    return 1.0 - abs(float(real.isna().mean()) - float(synthetic.isna().mean()))


def range_coverage(real: pd.Series, synthetic: pd.Series) -> float:
    """How much of the real [min, max] the synthetic values span (SDMetrics); NaN if constant."""
    r, s = _numbers(real), _numbers(synthetic)
    r, s = r[~np.isnan(r)], s[~np.isnan(s)]
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


def _histograms(real: pd.Series, synthetic: pd.Series,
                continuous: bool) -> tuple[np.ndarray, np.ndarray]:
    if continuous:
        r, s = _numbers(real), _numbers(synthetic)
        r, s = r[~np.isnan(r)], s[~np.isnan(s)]
        both = np.concatenate([r, s])
        if len(both) and np.ptp(both) == 0:
            # one value: numpy cannot cut 20 bins around a large one (a datetime in ns)
            return np.array([len(r)], dtype=float), np.array([len(s)], dtype=float)
        edges = np.histogram_bin_edges(both, bins=N_HISTOGRAM_BINS)
        return np.histogram(r, edges)[0].astype(float), np.histogram(s, edges)[0].astype(float)
    levels = pd.Index(real.dropna().unique()).union(pd.Index(synthetic.dropna().unique()))
    return (real.value_counts().reindex(levels, fill_value=0).to_numpy(dtype=float),
            synthetic.value_counts().reindex(levels, fill_value=0).to_numpy(dtype=float))


def column_details(real: pd.DataFrame, synthetic: pd.DataFrame,
                   sdtypes: Mapping[str, str]) -> pd.DataFrame:
    """One row per column: missing-value similarity, coverage, JS and Wasserstein distances."""
    rows = []
    for column, sdtype in sdtypes.items():
        continuous = sdtype in CONTINUOUS
        h_real, h_synth = _histograms(real[column], synthetic[column], continuous)
        js = (float(jensenshannon(h_real, h_synth, base=2)) if h_real.sum() and h_synth.sum()
              else float("nan"))
        wasserstein = float("nan")
        if continuous:
            r, s = _numbers(real[column]), _numbers(synthetic[column])
            r, s = r[~np.isnan(r)], s[~np.isnan(s)]
            spread = np.ptp(r) if len(r) else 0.0
            if len(r) and len(s) and spread > 0:
                wasserstein = float(wasserstein_distance(r, s) / spread)
        rows.append({
            "column": column,
            "missing_real": float(real[column].isna().mean()),
            "missing_synthetic": float(synthetic[column].isna().mean()),
            "missing_value_similarity": missing_value_similarity(real[column], synthetic[column]),
            "coverage": range_coverage(real[column], synthetic[column]) if continuous
            else category_coverage(real[column], synthetic[column]),
            "coverage_metric": "RangeCoverage" if continuous else "CategoryCoverage",
            "jensen_shannon": js,
            "wasserstein_normalised": wasserstein,
        })
    return pd.DataFrame(rows)


def association_matrix(frame: pd.DataFrame, sdtypes: Mapping[str, str]) -> pd.DataFrame:
    """Symmetric [0, 1] association of every pair of columns (see the module docstring)."""
    names = list(sdtypes)
    values = {c: (_numbers(frame[c]) if sdtypes[c] in CONTINUOUS else frame[c]) for c in names}
    out = np.eye(len(names))
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            b = names[j]
            out[i, j] = out[j, i] = _association(values[a], values[b], sdtypes[a] in CONTINUOUS,
                                                 sdtypes[b] in CONTINUOUS)
    return pd.DataFrame(out, index=names, columns=names)


def _association(a, b, a_num: bool, b_num: bool) -> float:  # type: ignore[no-untyped-def]
    if a_num and b_num:
        keep = ~(np.isnan(a) | np.isnan(b))
        if keep.sum() < 3 or np.ptp(a[keep]) == 0 or np.ptp(b[keep]) == 0:
            return float("nan")
        return float(abs(np.corrcoef(a[keep], b[keep])[0, 1]))
    if not a_num and not b_num:
        table = pd.crosstab(pd.Series(a).to_numpy(), pd.Series(b).to_numpy())
        if min(table.shape) < 2:
            return float("nan")
        return float(association(table.to_numpy(), method="cramer"))
    numbers, groups = (a, b) if a_num else (b, a)
    groups = pd.Series(groups).to_numpy()
    keep = ~np.isnan(numbers) & pd.notna(groups)
    x, g = numbers[keep], groups[keep]
    if len(x) < 3 or np.ptp(x) == 0:
        return float("nan")
    frame = pd.DataFrame({"x": x, "g": g})
    means = frame.groupby("g")["x"].agg(["mean", "size"])
    between = float((means["size"] * (means["mean"] - x.mean()) ** 2).sum())
    return float(np.sqrt(between / float(((x - x.mean()) ** 2).sum())))
