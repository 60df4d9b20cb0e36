"""Fidelity metrics with SDMetrics' names AND definitions, and its QualityReport averaging.

Same value as SDMetrics on the same data (checked by benchmarks/check_sdmetrics_parity.py), so
that quality figures compare across tools, but written on numpy/pandas only: SDMetrics depends
on BUSL-licensed code. SDMetrics quirks kept on purpose, because they change the numbers:

* KSComplement drops missing values and rounds to 14 decimals; datetimes become nanoseconds.
* TVComplement drops missing values; a category seen only in the synthetic column is added to
  the real counts with weight 1e-6 before normalising.
* Column Pair Trends: numeric/datetime pairs use Pearson on complete rows (NaN if a column is
  constant); every other pair uses ContingencySimilarity, where numeric columns are cut into the
  10 bins of ``np.histogram_bin_edges`` computed on each table *separately*, and missing values
  are their own cell. ContingencySimilarity subsamples tables above 50,000 rows, as SDMetrics
  does (we do it with a fixed seed so results repeat).
* The QualityReport of SDMetrics 0.32 (the current one) scores a pair only when the real data
  shows a relation: |Pearson| > 0.5, or Cramer's V > 0.3 on the real contingency table (NaN
  cells included). Other pairs get NaN and do not count. ``quality_report`` does the same by
  default; pass both thresholds as 0 for the older all-pairs average. ``similarity`` in the
  pair details is always computed, threshold or not, for heatmaps and diagnosis.
* Property scores are plain means that skip NaN; the overall score is their NaN-mean.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from scipy.stats.contingency import association

from synthpatient.evaluation._metric import Metric, MetricResult

SdType = Literal["numerical", "categorical", "boolean", "datetime"]
CONTINUOUS = frozenset({"numerical", "datetime"})
KS_DECIMALS = 14
N_BINS = 10
SUBSAMPLE_ROWS = 50_000
#: SDMetrics 0.32 QualityReport defaults
REAL_CORRELATION_THRESHOLD = 0.5
REAL_ASSOCIATION_THRESHOLD = 0.3


def _numbers(values: pd.Series) -> np.ndarray:
    """Values as floats; datetimes as nanoseconds since the epoch (NaT -> NaN)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        out = values.astype("datetime64[ns]").astype("int64").to_numpy(dtype=float)
        out[values.isna().to_numpy()] = np.nan
        return out
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov D: the largest gap between the two empirical CDFs."""
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    gap = np.searchsorted(a, grid, side="right") / len(a) - np.searchsorted(b, grid, side="right") / len(b)
    return float(np.max(np.abs(gap)))


class KSComplement(Metric):
    """1 - Kolmogorov-Smirnov statistic of a numeric or datetime column (SDMetrics)."""

    key, family = "KSComplement", "fidelity"

    @staticmethod
    def compute(real: pd.Series, synthetic: pd.Series) -> MetricResult:
        a = np.round(_numbers(real), KS_DECIMALS)
        b = np.round(_numbers(synthetic), KS_DECIMALS)
        a, b = a[~np.isnan(a)], b[~np.isnan(b)]
        if not len(a) or not len(b):
            return MetricResult(float("nan"), {"reason": "no values to compare"})
        statistic = ks_statistic(a, b)
        return MetricResult(1.0 - statistic, {"ks_statistic": statistic})


class TVComplement(Metric):
    """1 - total variation distance between category frequencies (SDMetrics)."""

    key, family = "TVComplement", "fidelity"

    @staticmethod
    def compute(real: pd.Series, synthetic: pd.Series) -> MetricResult:
        real_counts = pd.Series(real).dropna().value_counts(sort=False)
        synth_counts = pd.Series(synthetic).dropna().value_counts(sort=False)
        if not len(real_counts) or not len(synth_counts):
            return MetricResult(float("nan"), {"reason": "no values to compare"})
        unseen = synth_counts.index.difference(real_counts.index)
        real_counts = pd.concat([real_counts.astype(float), pd.Series(1e-6, index=unseen)])
        real_share = real_counts / real_counts.sum()
        synth_share = (synth_counts / synth_counts.sum()).reindex(real_share.index, fill_value=0.0)
        distance = 0.5 * float(np.abs(synth_share.to_numpy() - real_share.to_numpy()).sum())
        return MetricResult(1.0 - distance, {"total_variation": distance,
                                             "synthetic_only_categories": int(len(unseen))})


class CorrelationSimilarity(Metric):
    """1 - |Pearson(real) - Pearson(synthetic)| / 2 for two numeric columns (SDMetrics)."""

    key, family = "CorrelationSimilarity", "fidelity"

    @staticmethod
    def compute(real: pd.DataFrame, synthetic: pd.DataFrame, *,
                real_correlation_threshold: float = 0.0) -> MetricResult:
        r = _pearson(real)
        s = _pearson(synthetic)
        details = {"real": r, "synthetic": s,
                   "similarity": 1.0 - abs(r - s) / 2 if not (np.isnan(r) or np.isnan(s)) else float("nan")}
        if np.isnan(r) or abs(r) <= real_correlation_threshold:
            return MetricResult(float("nan"), {**details, "meets_threshold": False})
        return MetricResult(details["similarity"], {**details, "meets_threshold": not np.isnan(s)})


def _pearson(frame: pd.DataFrame) -> float:
    if (frame.nunique() == 1).any():  # SDMetrics refuses constant columns
        return float("nan")
    x = np.column_stack([_numbers(frame.iloc[:, 0]), _numbers(frame.iloc[:, 1])])
    x = x[~np.isnan(x).any(axis=1)]
    if len(x) < 2 or np.ptp(x[:, 0]) == 0 or np.ptp(x[:, 1]) == 0:
        return float("nan")
    x = x - x.mean(axis=0)
    return float(np.clip((x[:, 0] @ x[:, 1]) / np.sqrt((x[:, 0] @ x[:, 0]) * (x[:, 1] @ x[:, 1])), -1, 1))


class ContingencySimilarity(Metric):
    """1 - total variation distance between two-way contingency tables (SDMetrics)."""

    key, family = "ContingencySimilarity", "fidelity"

    @staticmethod
    def compute(real: pd.DataFrame, synthetic: pd.DataFrame, *,
                real_association_threshold: float = 0.0) -> MetricResult:
        columns = list(real.columns[:2])
        real_counts = real.groupby(columns, dropna=False).size()
        strength = float("nan")
        if real_association_threshold > 0:
            table = real_counts.unstack(fill_value=0)
            if table.to_numpy().sum() > 0 and min(table.shape) >= 2:
                strength = float(association(table.to_numpy(), method="cramer"))
        real_share = real_counts / len(real)
        synth_share = synthetic[columns].groupby(columns, dropna=False).size() / len(synthetic)
        cells = real_share.index.union(synth_share.index, sort=False).drop_duplicates()
        gap = (real_share.reindex(cells, fill_value=0) - synth_share.reindex(cells, fill_value=0))
        similarity = 1.0 - float(gap.abs().fillna(0).sum()) / 2
        details = {"cells": int(len(cells)), "real_association": strength, "similarity": similarity}
        if real_association_threshold > 0 and not strength > real_association_threshold:
            return MetricResult(float("nan"), {**details, "meets_threshold": False})
        return MetricResult(similarity, {**details, "meets_threshold": True})


def discretize(values: pd.Series) -> pd.Series:
    """SDMetrics' binning for pair trends: 10 equal-width bins of this table's own range,
    ``np.digitize`` labels, missing values in bin 11."""
    numbers = _numbers(values)
    present = numbers[~np.isnan(numbers)]
    if not len(present):
        return pd.Series(np.full(len(numbers), N_BINS + 1), index=values.index)
    edges = np.histogram_bin_edges(present, bins=N_BINS)
    return pd.Series(np.digitize(numbers, bins=edges), index=values.index)


@dataclass(frozen=True)
class QualityResult:
    """SDMetrics QualityReport-style scores with per-column and per-pair details."""

    score: float
    column_shapes: float
    column_pair_trends: float
    column_details: pd.DataFrame
    pair_details: pd.DataFrame


def _nanmean(values: pd.Series) -> float:
    return float(values.mean()) if values.notna().any() else float("nan")


def column_shapes(real: pd.DataFrame, synthetic: pd.DataFrame,
                  sdtypes: Mapping[str, SdType]) -> pd.DataFrame:
    rows = []
    for column, sdtype in sdtypes.items():
        metric = KSComplement if sdtype in CONTINUOUS else TVComplement
        rows.append({"column": column, "metric": metric.key,
                     "score": metric.compute(real[column], synthetic[column]).score})
    return pd.DataFrame(rows, columns=["column", "metric", "score"])


def column_pair_trends(real: pd.DataFrame, synthetic: pd.DataFrame,
                       sdtypes: Mapping[str, SdType], *, seed: int = 0,
                       real_correlation_threshold: float = REAL_CORRELATION_THRESHOLD,
                       real_association_threshold: float = REAL_ASSOCIATION_THRESHOLD,
                       ) -> pd.DataFrame:
    continuous = [c for c, t in sdtypes.items() if t in CONTINUOUS]
    real_bins = {c: discretize(real[c]) for c in continuous}
    synth_bins = {c: discretize(synthetic[c]) for c in continuous}
    # SDMetrics subsamples big tables for contingency tables; a fixed seed keeps ours repeatable.
    rng = np.random.default_rng(seed)
    real_rows = _subsample_index(len(real), rng)
    synth_rows = _subsample_index(len(synthetic), rng)
    rows = []
    for first, second in itertools.combinations(list(sdtypes), 2):
        both_continuous = first in real_bins and second in real_bins
        if both_continuous:
            result = CorrelationSimilarity.compute(
                real[[first, second]], synthetic[[first, second]],
                real_correlation_threshold=real_correlation_threshold)
            real_corr, synth_corr = result.details["real"], result.details["synthetic"]
            metric = CorrelationSimilarity.key
        else:
            mixed = (first in real_bins) != (second in real_bins)

            def pick(frame: pd.DataFrame, bins: dict[str, pd.Series], name: str) -> pd.Series:
                return bins[name] if mixed and name in bins else frame[name]

            pair_real = pd.DataFrame({first: pick(real, real_bins, first),
                                      second: pick(real, real_bins, second)})
            pair_synth = pd.DataFrame({first: pick(synthetic, synth_bins, first),
                                       second: pick(synthetic, synth_bins, second)})
            if real_rows is not None:
                pair_real = pair_real.iloc[real_rows]
            if synth_rows is not None:
                pair_synth = pair_synth.iloc[synth_rows]
            result = ContingencySimilarity.compute(
                pair_real, pair_synth, real_association_threshold=real_association_threshold)
            real_corr = synth_corr = float("nan")
            metric = ContingencySimilarity.key
        rows.append({"column_1": first, "column_2": second, "metric": metric,
                     "score": result.score, "similarity": result.details["similarity"],
                     "meets_threshold": result.details["meets_threshold"],
                     "real_correlation": real_corr, "synthetic_correlation": synth_corr})
    return pd.DataFrame(rows, columns=["column_1", "column_2", "metric", "score", "similarity",
                                       "meets_threshold", "real_correlation",
                                       "synthetic_correlation"])


def _subsample_index(n_rows: int, rng: np.random.Generator) -> np.ndarray | None:
    if n_rows <= SUBSAMPLE_ROWS:
        return None
    return np.sort(rng.choice(n_rows, SUBSAMPLE_ROWS, replace=False))


def quality_report(real: pd.DataFrame, synthetic: pd.DataFrame,
                   sdtypes: Mapping[str, SdType], *,
                   real_correlation_threshold: float = REAL_CORRELATION_THRESHOLD,
                   real_association_threshold: float = REAL_ASSOCIATION_THRESHOLD) -> QualityResult:
    """Column Shapes, Column Pair Trends and their mean, as SDMetrics' QualityReport computes.

    Columns missing from ``sdtypes`` (identifiers, free text) are ignored. Neither table is
    modified.

    Examples:
        >>> result = quality_report(real, synthetic, schema.sdtypes())
        >>> result.score, result.column_shapes, result.column_pair_trends
    """
    shapes = column_shapes(real, synthetic, sdtypes)
    pairs = column_pair_trends(real, synthetic, sdtypes,
                               real_correlation_threshold=real_correlation_threshold,
                               real_association_threshold=real_association_threshold)
    shape_score, pair_score = _nanmean(shapes["score"]), _nanmean(pairs["score"])
    parts = [s for s in (shape_score, pair_score) if not np.isnan(s)]
    overall = float(np.mean(parts)) if parts else float("nan")
    return QualityResult(overall, shape_score, pair_score, shapes, pairs)
