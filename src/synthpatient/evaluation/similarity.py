"""SDMetrics' single-column and column-pair metrics, with SDMetrics' names AND definitions.

KSComplement, TVComplement, CorrelationSimilarity and ContingencySimilarity, and the
conversions they share. The values equal SDMetrics 0.32's on the same data (checked by
``benchmarks/check_sdmetrics_parity.py``), so that quality figures compare across tools, but
the code uses numpy, pandas and scipy only: SDMetrics depends on BUSL-licensed code. SDMetrics
behaviours kept on purpose, because they change the numbers:

* KSComplement drops missing values, rounds floats to 14 decimals and compares datetimes as
  integers (exactly: as floats, timestamps a few hundred nanoseconds apart would tie).
* TVComplement drops missing values; a category seen only in the synthetic column is added to
  the real counts with weight 1e-6 before normalising.
* CorrelationSimilarity uses Pearson on the rows where both columns are present; a pair with a
  constant column (one distinct value, missing values aside) is NaN, and so is a real
  correlation of exactly 0 under a threshold.
* ContingencySimilarity counts missing values as a cell of their own. For a pandas categorical
  column, Cramer's V also sees the declared categories that the real data never uses (pandas 2
  ``groupby(observed=False)``, which SDMetrics relies on); such an empty row makes SDMetrics'
  chi-squared fail, so that pair is NaN under a threshold.

The QualityReport built from them (which bins numbers differently) is in
:mod:`synthpatient.evaluation.fidelity`.
"""

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats.contingency import association

from synthpatient.errors import DataError
from synthpatient.evaluation._metric import ColumnMetric, MetricResult
from synthpatient.schema import utc_datetimes

#: sdtypes scored as continuous (KSComplement, Pearson) and as discrete (TVComplement,
#: contingency tables); "ordinal" is accepted because SDMetrics accepts it. Any other sdtype
#: (id, pii, text, ...) is ignored, as SDMetrics ignores it.
CONTINUOUS = frozenset({"numerical", "datetime"})
DISCRETE = frozenset({"categorical", "boolean", "ordinal"})
#: SDMetrics rounds KS inputs to ``sys.float_info.dig - 1`` decimals.
KS_DECIMALS = sys.float_info.dig - 1
#: Regularisation SDMetrics gives a category that only the synthetic column has.
UNSEEN_CATEGORY_WEIGHT = 1e-6
N_BINS = 10

_NAN = float("nan")
_NO_LABELS = np.array([], dtype=np.int64)


# -- conversions -----------------------------------------------------------------------------
def _is_datetime(values: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(values)


def _as_datetime(values: pd.Series) -> pd.Series:
    """A datetime column as datetime64; other values are read as the schema reads them (UTC
    offsets, mixed ones too, to naive UTC; unparseable or out-of-range values become NaT)."""
    if _is_datetime(values):
        return values  # its own unit kept, as SDMetrics keeps it
    return utc_datetimes(values)


def _datetime_integers(values: pd.Series, unit: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Epoch integers of a datetime column in ``unit`` (its own unit if None), and the NaT mask."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        # pd.to_numeric, which SDMetrics uses, counts tz-aware times from the UTC epoch.
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    raw = values.to_numpy() if unit is None else values.to_numpy(dtype=f"datetime64[{unit}]")
    return raw.view("int64"), np.isnat(raw)


def _numbers(values: pd.Series, unit: str | None = "ns") -> np.ndarray:
    """Values as floats; datetimes as epoch counts of ``unit`` (NaT, non-numbers -> NaN).

    Nanoseconds by default, so that real and synthetic columns stored with different units
    compare. ``unit=None`` keeps the column's own unit, as SDMetrics' ``pd.to_numeric`` does for
    one table's pair computations (Pearson and own-range bins do not depend on the unit, but
    this keeps even the float rounding at bin edges identical).
    """
    values = pd.Series(values)
    if _is_datetime(values):
        integers, missing = _datetime_integers(values, unit)
        out = integers.astype(float)
        out[missing] = np.nan
        return out
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _ks_values(values: pd.Series, as_datetime: bool) -> np.ndarray:
    """The present values KSComplement compares, in SDMetrics' precision."""
    values = pd.Series(values).dropna()
    if as_datetime:
        # Integers, as SDMetrics passes them to ks_2samp; ns keeps the order exact.
        return _datetime_integers(_as_datetime(values), "ns")[0]
    if pd.api.types.is_integer_dtype(values):
        return values.to_numpy(dtype="int64")
    numbers = _numbers(values)
    numbers = numbers[~np.isnan(numbers)]
    with np.errstate(over="ignore", invalid="ignore"):
        rounded = np.round(numbers, KS_DECIMALS)
    # rounding scales by 10**14 first, which is infinite near the float limit (1e308): keep
    # such numbers as they are rather than let distinct ones tie at infinity
    overflow = np.isfinite(numbers) & ~np.isfinite(rounded)
    rounded[overflow] = numbers[overflow]
    return rounded


def _codes(real: pd.Series, synthetic: pd.Series) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Shared integer labels of two discrete columns, missing values being one more label.

    Returns the real and synthetic labels, the number of labels, and the labels of the real
    column's declared categories (empty unless it has a pandas categorical dtype).
    """
    parts = [real.reset_index(drop=True), synthetic.reset_index(drop=True)]
    n_declared, n_real = 0, len(real)
    if isinstance(real.dtype, pd.CategoricalDtype):
        n_declared = len(real.cat.categories)
        parts.insert(0, pd.Series(real.cat.categories, dtype=object))
    if any(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
        # categoricals with different categories concatenate to object anyway; be explicit
        parts = [p.astype(object) for p in parts]
    codes, uniques = pd.factorize(pd.concat(parts, ignore_index=True))
    n_labels = len(uniques) + 1
    codes[codes < 0] = n_labels - 1  # groupby(dropna=False): missing values are a group
    return (
        codes[n_declared : n_declared + n_real],
        codes[n_declared + n_real :],
        n_labels,
        codes[:n_declared],
    )


def _own_range_bins(numbers: np.ndarray) -> np.ndarray | None:
    """ColumnPairTrends' bins: equal-width on this table's range; None where numpy refuses."""
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # the failure below is handled
            edges = np.histogram_bin_edges(numbers[~np.isnan(numbers)], bins=N_BINS)
    except ValueError:  # infinite values: SDMetrics records the discretisation as failed
        return None
    return np.digitize(numbers, edges)


def _real_range_bins(
    real: np.ndarray, synthetic: np.ndarray, n_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """``sdmetrics.utils.discretize_column``: edges from the real values, outer edges open."""
    edges = np.histogram_bin_edges(real[~np.isnan(real)], bins=n_bins)
    edges[0], edges[-1] = -np.inf, np.inf
    return np.digitize(real, edges), np.digitize(synthetic, edges)


def discretize(values: pd.Series) -> pd.Series:
    """The labels ColumnPairTrends gives a numerical or datetime column of one table.

    Ten equal-width bins over the column's own range, ``np.digitize`` labels 1..11; the maximum
    and missing values both get label 11.
    """
    labels = _own_range_bins(_numbers(values, None))
    if labels is None:
        raise DataError(
            f"Column '{values.name}' cannot be cut into bins: it holds infinite "
            "values or a range wider than a float. Replace those values with blanks "
            "or real numbers."
        )
    return pd.Series(labels, index=values.index, name=values.name)


# -- single columns ----------------------------------------------------------------------------
def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov D: the largest gap between the two empirical CDFs.

    The same arithmetic as ``scipy.stats.ks_2samp``'s statistic; ``a`` and ``b`` non-empty.
    """
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    gap = np.searchsorted(a, grid, side="right") / len(a) - np.searchsorted(
        b, grid, side="right"
    ) / len(b)
    return float(np.max(np.abs(gap)))


class KSComplement(ColumnMetric):
    """1 - Kolmogorov-Smirnov D of a numerical or datetime column (SDMetrics ``KSComplement``)."""

    key, family = "KSComplement", "fidelity"

    @staticmethod
    def compute(real: pd.Series, synthetic: pd.Series) -> MetricResult:
        """Compare the distributions of two continuous columns.

        Args:
            real: Real values; missing ones are dropped. A datetime column (judged from the
                real one, as SDMetrics does) is compared as integer timestamps.
            synthetic: Synthetic values of the same column.

        Returns:
            Score in [0, 1], 1 for identical empirical distributions; NaN if either column has
            no values. ``details["ks_statistic"]`` is D.
        """
        as_datetime = _is_datetime(pd.Series(real))
        a, b = _ks_values(real, as_datetime), _ks_values(synthetic, as_datetime)
        if not len(a) or not len(b):
            return MetricResult(_NAN, {"error": "no values to compare"})
        statistic = ks_statistic(a, b)
        return MetricResult(1.0 - statistic, {"ks_statistic": statistic})


class TVComplement(ColumnMetric):
    """1 - total variation distance between category frequencies (SDMetrics ``TVComplement``)."""

    key, family = "TVComplement", "fidelity"

    @staticmethod
    def compute(real: pd.Series, synthetic: pd.Series) -> MetricResult:
        """Compare the category frequencies of two discrete columns.

        Args:
            real: Real values; missing ones are dropped.
            synthetic: Synthetic values of the same column.

        Returns:
            Score in [0, 1]; NaN if either column has no values (SDMetrics raises there and its
            report records NaN).
        """
        real, synthetic = pd.Series(real).dropna(), pd.Series(synthetic).dropna()
        if not len(real) or not len(synthetic):
            return MetricResult(_NAN, {"error": "no values to compare"})
        real_codes, synth_codes, n_labels, _ = _codes(real, synthetic)
        real_counts = np.bincount(real_codes, minlength=n_labels).astype(float)
        synth_counts = np.bincount(synth_codes, minlength=n_labels).astype(float)
        unseen = (synth_counts > 0) & (real_counts == 0)
        real_counts[unseen] = UNSEEN_CATEGORY_WEIGHT
        distance = 0.5 * float(
            np.abs(synth_counts / synth_counts.sum() - real_counts / real_counts.sum()).sum()
        )
        return MetricResult(
            1.0 - distance,
            {"total_variation": distance, "synthetic_only_categories": int(unseen.sum())},
        )


# -- column pairs ------------------------------------------------------------------------------
def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """``scipy.stats.pearsonr``'s statistic with its arithmetic; NaN for a constant input."""
    if (x == x[0]).all() or (y == y[0]).all():
        return _NAN
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        xm, ym = x - x.mean(), y - y.mean()
        # scale before the norm, as scipy does, so that huge values do not overflow; sums of
        # products rather than BLAS dot, which can be 50 times slower on a busy machine
        xmax, ymax = np.abs(xm).max(), np.abs(ym).max()
        xm /= xmax * np.sqrt(np.sum(np.square(xm / xmax)))
        ym /= ymax * np.sqrt(np.sum(np.square(ym / ymax)))
        r = float(np.sum(xm * ym))
    return float(np.clip(r, -1.0, 1.0)) if not np.isnan(r) else _NAN


def _constant(values: np.ndarray) -> bool:
    """SDMetrics' ``nunique() == 1``: exactly one distinct present value."""
    present = values[~np.isnan(values)]
    return bool(len(present)) and bool((present == present[0]).all())


def _correlation_breakdown(
    real_xy: tuple[np.ndarray, np.ndarray],
    synth_xy: tuple[np.ndarray, np.ndarray],
    threshold: float,
    constant: bool = False,
) -> dict[str, Any]:
    """CorrelationSimilarity as ColumnPairTrends runs it, on float columns with NaN.

    ``constant`` says a column is constant in either table (checked on whole columns, before
    rows with missing values are dropped).
    """
    failed = {
        "score": _NAN,
        "real": _NAN,
        "synthetic": _NAN,
        "similarity": _NAN,
        "meets_threshold": False,
    }
    if constant:
        return {**failed, "error": "a column is constant; correlation is undefined"}
    pairs = []
    for x, y in (real_xy, synth_xy):
        keep = ~(np.isnan(x) | np.isnan(y))
        pairs.append((x[keep], y[keep]))
    (rx, ry), (sx, sy) = pairs
    if len(rx) < 2:  # pearsonr raises; the report records NaN
        return {**failed, "error": "fewer than 2 complete real rows"}
    real = _pearson(rx, ry)
    synthetic = _pearson(sx, sy) if len(sx) >= 2 else _NAN
    similarity = 1.0 - abs(real - synthetic) / 2 if not np.isnan(real - synthetic) else _NAN
    if abs(real) <= threshold:  # False for NaN, as in SDMetrics: a NaN real goes on
        return {
            "score": _NAN,
            "real": real,
            "synthetic": synthetic,
            "similarity": similarity,
            "meets_threshold": False,
        }
    if len(sx) < 2:
        return {**failed, "error": "fewer than 2 complete synthetic rows"}
    meets = threshold <= 0 or not np.isnan(real)
    return {
        "score": similarity,
        "real": real,
        "synthetic": synthetic,
        "similarity": similarity,
        "meets_threshold": meets,
    }


class CorrelationSimilarity(ColumnMetric):
    """1 - |Pearson(real) - Pearson(synthetic)| / 2 for two continuous columns (SDMetrics)."""

    key, family = "CorrelationSimilarity", "fidelity"

    @staticmethod
    def compute(
        real: pd.DataFrame, synthetic: pd.DataFrame, *, real_correlation_threshold: float = 0.0
    ) -> MetricResult:
        """Compare the Pearson correlation of two numerical or datetime columns.

        Args:
            real: Real table; its first two columns are compared. Rows with a missing value in
                either column are dropped; datetimes become integers.
            synthetic: Synthetic table with the same columns.
            real_correlation_threshold: Score only if |real correlation| exceeds this (the
                report uses 0.5); otherwise NaN.

        Returns:
            Score in [0, 1]; NaN if a column is constant (SDMetrics raises), a correlation is
            undefined, or the real correlation is at or below the threshold (so exactly 0
            always is). ``details`` has ``real``, ``synthetic``, ``similarity`` (the score
            without threshold) and ``meets_threshold``.
        """
        x, y = real.columns[:2]
        real_xy = _numbers(real[x], None), _numbers(real[y], None)
        synth_xy = _numbers(synthetic[x], None), _numbers(synthetic[y], None)
        constant = any(_constant(v) for v in (*real_xy, *synth_xy))
        details = _correlation_breakdown(real_xy, synth_xy, real_correlation_threshold, constant)
        return MetricResult(details.pop("score"), details)


def _joint_counts(
    real_keys: np.ndarray, synth_keys: np.ndarray, n_cells: int
) -> tuple[np.ndarray, np.ndarray]:
    """Counts of each cell in both tables, aligned; only observed cells when there are many."""
    if n_cells <= max(1 << 16, 2 * (len(real_keys) + len(synth_keys))):
        return np.bincount(real_keys, minlength=n_cells), np.bincount(synth_keys, minlength=n_cells)
    # high-cardinality pairs: a dense table of every label combination would not fit
    _, inverse = np.unique(np.concatenate([real_keys, synth_keys]), return_inverse=True)
    n_seen = int(inverse.max()) + 1 if len(inverse) else 0
    return (
        np.bincount(inverse[: len(real_keys)], minlength=n_seen),
        np.bincount(inverse[len(real_keys) :], minlength=n_seen),
    )


def _real_table(
    first: np.ndarray, second: np.ndarray, declared: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """The real contingency table as SDMetrics' ``unstack`` shows it: a row per observed label
    and per declared category (pandas 2 groupby with ``observed=False``), likewise columns."""
    rows, cols = np.union1d(first, declared[0]), np.union1d(second, declared[1])
    cells = np.searchsorted(rows, first) * len(cols) + np.searchsorted(cols, second)
    return np.bincount(cells, minlength=len(rows) * len(cols)).reshape(len(rows), len(cols))


def _contingency_breakdown(
    real: tuple[np.ndarray, np.ndarray],
    synthetic: tuple[np.ndarray, np.ndarray],
    n_second: int,
    threshold: float,
    declared: tuple[np.ndarray, np.ndarray],
) -> dict[str, Any]:
    """ContingencySimilarity on integer labels (missing values already a label of their own).

    ``n_second`` is the number of labels of the second column; ``declared`` the labels of the
    real columns' declared categories (empty if not pandas categoricals).
    """
    real_keys = real[0].astype(np.int64) * n_second + real[1]
    synth_keys = synthetic[0].astype(np.int64) * n_second + synthetic[1]
    n_cells = int(max(real_keys.max(initial=0), synth_keys.max(initial=0))) + 1
    similarity = _similarity(*_joint_counts(real_keys, synth_keys, n_cells))
    if threshold <= 0:
        return {
            "score": similarity,
            "real_association": _NAN,
            "meets_threshold": True,
            "similarity": similarity,
        }
    failed = {
        "score": _NAN,
        "real_association": _NAN,
        "meets_threshold": False,
        "similarity": similarity,
    }
    table = _real_table(real[0], real[1], declared)
    if table.sum() == 0 or min(table.shape) < 2:
        return failed
    if (table.sum(axis=0) == 0).any() or (table.sum(axis=1) == 0).any():
        # a declared but unused category: chi-squared fails in SDMetrics, the pair is NaN
        return {**failed, "error": "a category never used in the real data leaves an empty row"}
    strength = float(association(table, method="cramer"))
    if not strength > threshold:
        return {**failed, "real_association": strength}
    return {
        "score": similarity,
        "real_association": strength,
        "meets_threshold": True,
        "similarity": similarity,
    }


def _similarity(real_counts: np.ndarray, synth_counts: np.ndarray) -> float:
    """1 - total variation distance between two tables of counts (empty tables: all zero)."""
    real_share = real_counts / real_counts.sum() if real_counts.sum() else real_counts * 0.0
    synth_share = synth_counts / synth_counts.sum() if synth_counts.sum() else synth_counts * 0.0
    return 1.0 - 0.5 * float(np.abs(real_share - synth_share).sum())


class ContingencySimilarity(ColumnMetric):
    """1 - total variation distance between two-way contingency tables (SDMetrics)."""

    key, family = "ContingencySimilarity", "fidelity"

    @staticmethod
    def compute(
        real: pd.DataFrame,
        synthetic: pd.DataFrame,
        *,
        continuous_columns: Sequence[str] | None = None,
        num_discrete_bins: int = 10,
        real_association_threshold: float = 0.0,
    ) -> MetricResult:
        """Compare the joint frequencies of two discrete columns.

        Args:
            real: Real table; its first two columns are compared. Missing values are a
                category of their own.
            synthetic: Synthetic table with the same columns.
            continuous_columns: Columns to bin first, into ``num_discrete_bins`` equal-width
                bins of the REAL range with open outer bins (SDMetrics' ``continuous_column_names``;
                the QualityReport bins differently, see :func:`discretize`).
            num_discrete_bins: Number of bins for ``continuous_columns``.
            real_association_threshold: Score only if Cramer's V of the real table exceeds
                this (the report uses 0.3); otherwise NaN.

        Returns:
            Score in [0, 1]. ``details`` has ``real_association`` (NaN unless a threshold is
            set), ``similarity`` (the score without threshold) and ``meets_threshold``.

        Raises:
            DataError: If the tables do not have the same two columns (a ``ValueError``).
        """
        if real.shape[1] != 2 or synthetic.shape[1] != 2 or set(real) != set(synthetic):
            raise DataError("ContingencySimilarity needs two tables with the same 2 columns.")
        columns = list(real.columns[:2])
        labels: list[tuple[np.ndarray, np.ndarray, int, np.ndarray]] = []
        for column in columns:
            if column in (continuous_columns or ()):
                try:
                    r, s = _real_range_bins(
                        _numbers(real[column], None),
                        _numbers(synthetic[column], None),
                        num_discrete_bins,
                    )
                except ValueError:  # infinite real values: SDMetrics cannot bin them either
                    return MetricResult(
                        _NAN,
                        {
                            "error": f"column '{column}' cannot be binned: "
                            "infinite values or too wide a range"
                        },
                    )
                labels.append((r, s, num_discrete_bins + 2, _NO_LABELS))
            else:
                labels.append(_codes(real[column], synthetic[column]))
        (r1, s1, _, d1), (r2, s2, k2, d2) = labels
        details = _contingency_breakdown(
            (r1, r2), (s1, s2), k2, real_association_threshold, (d1, d2)
        )
        return MetricResult(details.pop("score"), details)
