"""Fidelity: SDMetrics' QualityReport (Column Shapes, Column Pair Trends) as table metrics.

The report's scores equal SDMetrics 0.32's on the same data (checked by
``benchmarks/check_sdmetrics_parity.py``); the column and pair metrics it averages, with
SDMetrics' own behaviours, are in :mod:`synthpatient.evaluation.similarity` and re-exported
here. Report behaviours kept on purpose, because they change the numbers:

* Column Pair Trends: two numerical/datetime columns use CorrelationSimilarity; every other
  pair uses ContingencySimilarity with missing values as their own cell; a numerical column
  paired with a categorical one is first cut into the 10 equal-width bins of
  ``np.histogram_bin_edges`` computed on EACH table's own range (not the real one), with
  ``np.digitize`` labels, so the maximum and missing values share label 11.
* The report scores a pair only when the real data shows a relation: |Pearson| > 0.5, or
  Cramer's V > 0.3 on the real contingency table. Other pairs are NaN and do not count.
* Above 50,000 rows, contingency tables are built on a 50,000-row sample of each table, drawn
  as ``DataFrame.sample`` draws it. With ``seed=s`` the draws equal SDMetrics' after
  ``np.random.seed(s)``; with ``seed=None`` they come from numpy's global generator, as
  SDMetrics' do.
* Property scores are means that skip NaN; the overall score is the NaN-mean of the two.

Deliberate differences, none of which changes a score on data SDMetrics accepts: datetime
columns held as strings are parsed with ``pd.to_datetime`` (SDMetrics needs a
``datetime_format`` for that); the synthetic correlation in the pair details is reported even
when the real one is below the threshold (SDMetrics leaves it NaN); nullable integer columns
are read as floats.

The registered metrics ``quality``, ``column_shapes`` and ``column_pair_trends`` share one
computation of each property when ``evaluate()`` runs them together.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.errors import DataError
from synthpatient.evaluation._metric import Inputs, Metric, MetricResult, Verdicts
from synthpatient.evaluation.similarity import (
    _NAN,
    _NO_LABELS,
    CONTINUOUS,
    DISCRETE,
    N_BINS,
    ContingencySimilarity,
    CorrelationSimilarity,
    KSComplement,
    TVComplement,
    _as_datetime,
    _codes,
    _constant,
    _contingency_breakdown,
    _correlation_breakdown,
    _numbers,
    _own_range_bins,
    discretize,
    ks_statistic,
)
from synthpatient.schema import SdType

__all__ = [
    "CONTINUOUS",
    "DISCRETE",
    "ColumnPairTrends",
    "ColumnShapes",
    "ContingencySimilarity",
    "CorrelationSimilarity",
    "KSComplement",
    "Metric",
    "MetricResult",
    "Quality",
    "QualityResult",
    "SdType",
    "TVComplement",
    "column_pair_trends",
    "column_shapes",
    "discretize",
    "ks_statistic",
    "quality_report",
]

#: SDMetrics 0.32 QualityReport defaults.
SUBSAMPLE_ROWS = 50_000
REAL_CORRELATION_THRESHOLD = 0.5
REAL_ASSOCIATION_THRESHOLD = 0.3


# -- the report --------------------------------------------------------------------------------
@dataclass(frozen=True)
class QualityResult:
    """SDMetrics QualityReport scores with per-column and per-pair details.

    Attributes:
        score: Overall score, the NaN-mean of the two property scores.
        column_shapes: Mean of the column scores (NaN skipped).
        column_pair_trends: Mean of the scores of the pairs that meet the threshold.
        column_details: One row per column: ``column``, ``metric``, ``score``.
        pair_details: One row per pair: ``column_1``, ``column_2``, ``metric``, ``score`` (NaN
            where the pair does not count), ``real_correlation``, ``synthetic_correlation``
            (NaN for contingency pairs), ``real_association`` (Cramer's V, contingency pairs
            under a threshold), ``meets_threshold`` (whether the pair counts) and
            ``similarity`` (the pair's metric without threshold, for heatmaps and diagnosis).
    """

    score: float
    column_shapes: float
    column_pair_trends: float
    column_details: pd.DataFrame
    pair_details: pd.DataFrame


PAIR_COLUMNS = [
    "column_1",
    "column_2",
    "metric",
    "score",
    "real_correlation",
    "synthetic_correlation",
    "real_association",
    "meets_threshold",
    "similarity",
]


def _scored_columns(
    real: pd.DataFrame, synthetic: pd.DataFrame, sdtypes: Mapping[str, str]
) -> dict[str, str]:
    scored = {c: t for c, t in sdtypes.items() if t in CONTINUOUS or t in DISCRETE}
    missing = [c for c in scored if c not in real.columns or c not in synthetic.columns]
    if missing:
        raise DataError(
            f"Columns {missing} are in sdtypes but not in both tables. Give tables "
            "with the same columns, or leave those columns out of sdtypes."
        )
    return scored


def column_shapes(
    real: pd.DataFrame, synthetic: pd.DataFrame, sdtypes: Mapping[str, str]
) -> pd.DataFrame:
    """SDMetrics' Column Shapes details: KSComplement or TVComplement per column."""
    rows = []
    for column, sdtype in _scored_columns(real, synthetic, sdtypes).items():
        r, s = real[column], synthetic[column]
        if sdtype == "datetime":
            r, s = _as_datetime(r), _as_datetime(s)
        metric = KSComplement if sdtype in CONTINUOUS else TVComplement
        rows.append({"column": column, "metric": metric.key, "score": metric.compute(r, s).score})
    return pd.DataFrame(rows, columns=["column", "metric", "score"]).astype({"score": float})


@dataclass
class _Prepared:
    """What the pair loop needs of one column, computed once."""

    continuous: bool
    real: np.ndarray | None  # continuous: floats in the column's own unit
    synthetic: np.ndarray | None
    real_labels: np.ndarray | None  # contingency labels; own-range bins if continuous,
    synth_labels: np.ndarray | None  # None where binning failed
    n_labels: int = N_BINS + 2
    # labels of the real column's declared categories (pandas categorical dtype)
    declared: np.ndarray = field(default_factory=lambda: _NO_LABELS)
    constant: bool = False  # continuous: one distinct value in either table


def _prepare(real: pd.Series, synthetic: pd.Series, sdtype: str) -> _Prepared:
    if sdtype in CONTINUOUS:
        if sdtype == "datetime":
            real, synthetic = _as_datetime(real), _as_datetime(synthetic)
        r, s = _numbers(real, None), _numbers(synthetic, None)
        return _Prepared(
            True,
            r,
            s,
            _own_range_bins(r),
            _own_range_bins(s),
            constant=_constant(r) or _constant(s),
        )
    r_codes, s_codes, n_labels, declared = _codes(real, synthetic)
    return _Prepared(False, None, None, r_codes, s_codes, n_labels, declared)


def column_pair_trends(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    sdtypes: Mapping[str, str],
    *,
    real_correlation_threshold: float = REAL_CORRELATION_THRESHOLD,
    real_association_threshold: float = REAL_ASSOCIATION_THRESHOLD,
    num_rows_subsample: int | None = SUBSAMPLE_ROWS,
    seed: int | None = 0,
) -> pd.DataFrame:
    """SDMetrics' Column Pair Trends details (see :func:`quality_report` for the arguments)."""
    scored = _scored_columns(real, synthetic, sdtypes)
    prepared = {c: _prepare(real[c], synthetic[c], t) for c, t in scored.items()}
    # DataFrame.sample(n) draws RandomState.choice(len, n, replace=False), i.e. the first n of
    # a permutation, from numpy's global generator; drawing the same way repeats its sample.
    permutation: Callable[[int], np.ndarray] = (
        np.random.permutation if seed is None else np.random.RandomState(seed).permutation
    )
    n_real, n_synth = len(real), len(synthetic)
    subsample = (
        num_rows_subsample
        if (num_rows_subsample and max(n_real, n_synth) > num_rows_subsample)
        else None
    )
    rows = []
    for first, second in itertools.combinations(scored, 2):
        a, b = prepared[first], prepared[second]
        metric, correlations = ContingencySimilarity.key, (_NAN, _NAN)
        if a.continuous and b.continuous:
            metric = CorrelationSimilarity.key
            # continuous columns always carry their values (None is for categorical ones)
            assert a.real is not None and b.real is not None
            assert a.synthetic is not None and b.synthetic is not None
            details = _correlation_breakdown(
                (a.real, b.real),
                (a.synthetic, b.synthetic),
                max(real_correlation_threshold, 0.0),
                a.constant or b.constant,
            )
            correlations = (details["real"], details["synthetic"])
        elif any(
            labels is None
            for labels in (a.real_labels, b.real_labels, a.synth_labels, b.synth_labels)
        ):
            # SDMetrics skips the metric (and its sampling) when binning either table failed
            details = {"score": _NAN, "meets_threshold": False, "similarity": _NAN}
        else:
            r1, r2, s1, s2 = a.real_labels, b.real_labels, a.synth_labels, b.synth_labels
            assert r1 is not None and r2 is not None and s1 is not None and s2 is not None
            if subsample:  # real first, then synthetic, as SDMetrics samples them
                real_rows = permutation(n_real)[: min(subsample, n_real)]
                synth_rows = permutation(n_synth)[: min(subsample, n_synth)]
                r1, r2 = r1[real_rows], r2[real_rows]
                s1, s2 = s1[synth_rows], s2[synth_rows]
            details = _contingency_breakdown(
                (r1, r2),
                (s1, s2),
                b.n_labels,
                max(real_association_threshold, 0.0),
                (a.declared, b.declared),
            )
        rows.append(
            {
                "column_1": first,
                "column_2": second,
                "metric": metric,
                "score": details["score"],
                "real_correlation": correlations[0],
                "synthetic_correlation": correlations[1],
                "real_association": details.get("real_association", _NAN),
                "meets_threshold": bool(details["meets_threshold"]),
                "similarity": details["similarity"],
            }
        )
    types = {c: float for c in PAIR_COLUMNS[3:]}
    return pd.DataFrame(rows, columns=PAIR_COLUMNS).astype({**types, "meets_threshold": bool})


def _mean(values: pd.Series) -> float:
    """pandas' NaN-skipping mean, NaN (without a warning) when nothing is left."""
    values = values.dropna()
    return float(values.mean()) if len(values) else _NAN


def quality_report(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    sdtypes: Mapping[str, SdType],
    *,
    real_correlation_threshold: float = REAL_CORRELATION_THRESHOLD,
    real_association_threshold: float = REAL_ASSOCIATION_THRESHOLD,
    num_rows_subsample: int | None = SUBSAMPLE_ROWS,
    seed: int | None = 0,
) -> QualityResult:
    """Column Shapes, Column Pair Trends and their mean, as SDMetrics' QualityReport computes.

    Neither table is modified.

    Args:
        real: The real table.
        synthetic: The synthetic table, with at least the columns of ``sdtypes``.
        sdtypes: Column name to "numerical", "categorical", "boolean" or "datetime". Columns
            not listed (identifiers, free text), or with another sdtype, are ignored.
        real_correlation_threshold: A numerical pair counts only if |real Pearson| exceeds
            this; 0 scores every pair whose real correlation is not exactly 0.
        real_association_threshold: Any other pair counts only if the real Cramer's V exceeds
            this; 0 scores every pair.
        num_rows_subsample: Contingency tables of tables longer than this are built on this
            many rows of each; None or 0 uses every row.
        seed: Seed of that sample; None draws from numpy's global generator as SDMetrics does.

    Returns:
        The overall, Column Shapes and Column Pair Trends scores with their details.

    Raises:
        DataError: If a scored column is missing from either table (a ``ValueError``).

    Examples:
        >>> result = quality_report(real, synthetic, {"age": "numerical", "sex": "categorical"})
        >>> result.score, result.column_shapes, result.column_pair_trends
    """
    shapes = column_shapes(real, synthetic, sdtypes)
    pairs = column_pair_trends(
        real,
        synthetic,
        sdtypes,
        real_correlation_threshold=real_correlation_threshold,
        real_association_threshold=real_association_threshold,
        num_rows_subsample=num_rows_subsample,
        seed=seed,
    )
    overall, shape_score, pair_score = _scores(shapes, pairs)
    return QualityResult(overall, shape_score, pair_score, shapes, pairs)


def _scores(shapes: pd.DataFrame, pairs: pd.DataFrame) -> tuple[float, float, float]:
    """The overall score and the two property scores, averaged as SDMetrics averages them."""
    shape_score = _mean(shapes["score"])
    pair_score = _mean(pairs.loc[pairs["meets_threshold"], "score"])
    parts = [s for s in (shape_score, pair_score) if not np.isnan(s)]
    return (float(np.mean(parts)) if parts else _NAN), shape_score, pair_score


# -- the registered metrics ------------------------------------------------------------------
def _shapes(inputs: Inputs) -> pd.DataFrame:
    return inputs.shared(
        "fidelity.column_shapes",
        lambda: column_shapes(inputs.real, inputs.synthetic, inputs.schema.sdtypes()),
    )


def _pairs(inputs: Inputs) -> pd.DataFrame:
    # the subsample seed only matters above SUBSAMPLE_ROWS rows; 0 keeps unseeded runs stable
    seed = 0 if inputs.seed is None else inputs.seed
    return inputs.shared(
        "fidelity.column_pair_trends",
        lambda: column_pair_trends(
            inputs.real, inputs.synthetic, inputs.schema.sdtypes(), seed=seed
        ),
    )


class Quality(Metric):
    """SDMetrics' QualityReport score: the mean of Column Shapes and Column Pair Trends.

    Details: ``column_shapes`` and ``column_pair_trends``, the two property scores.

    Examples:
        >>> Quality().compute(real, synthetic).score
        0.93
    """

    key = "quality"
    family = "fidelity"
    name = "Quality (SDMetrics)"
    verdicts = Verdicts(
        0.9, 0.8, "close to the real data", "roughly like the real data", "far from the real data"
    )

    def _compute(self, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        overall, shape_score, pair_score = _scores(_shapes(inputs), _pairs(inputs))
        return overall, {"column_shapes": shape_score, "column_pair_trends": pair_score}


class ColumnShapes(Metric):
    """SDMetrics' Column Shapes: the mean KSComplement or TVComplement over the columns.

    Details: ``column_details`` (column, metric, score); when detailed, ``columns``: missing
    values, coverage, Jensen-Shannon and Wasserstein distances per column
    (:func:`~synthpatient.evaluation.columns.column_details`).

    Examples:
        >>> ColumnShapes().compute(real, synthetic).details["column_details"]
    """

    key = "column_shapes"
    family = "fidelity"
    name = "Column shapes"
    verdicts = Verdicts(
        0.9,
        0.8,
        "column distributions match",
        "distributions differ somewhat",
        "distributions differ a lot",
    )

    def _compute(self, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        from synthpatient.evaluation.columns import column_details

        shapes = _shapes(inputs)
        details: dict[str, Any] = {"column_details": shapes}
        if inputs.detailed:
            details["columns"] = column_details(
                inputs.real, inputs.synthetic, inputs.schema.sdtypes()
            )
        return _mean(shapes["score"]), details


class ColumnPairTrends(Metric):
    """SDMetrics' Column Pair Trends: the mean pair similarity over the pairs the real data
    relates (|Pearson| > 0.5 or Cramer's V > 0.3).

    Details: ``pair_details`` (see :class:`QualityResult`); when detailed, ``association``:
    the real and synthetic association matrices
    (:func:`~synthpatient.evaluation.columns.association_matrix`) for the heatmaps.

    Examples:
        >>> ColumnPairTrends().compute(real, synthetic).details["pair_details"]
    """

    key = "column_pair_trends"
    family = "fidelity"
    name = "Column pair trends"
    verdicts = Verdicts(
        0.9, 0.8, "relations between columns kept", "relations partly kept", "relations lost"
    )

    def _compute(self, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        from synthpatient.evaluation.columns import association_matrix

        pairs = _pairs(inputs)
        details: dict[str, Any] = {"pair_details": pairs}
        if inputs.detailed:
            sdtypes = inputs.schema.sdtypes()
            details["association"] = {
                "real": association_matrix(inputs.real, sdtypes),
                "synthetic": association_matrix(inputs.synthetic, sdtypes),
            }
        return _mean(pairs.loc[pairs["meets_threshold"], "score"]), details
