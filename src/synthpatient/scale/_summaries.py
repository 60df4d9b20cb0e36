"""Mergeable summaries of a partitioned synthetic table, from which the fidelity quality
score (SDMetrics' QualityReport, ``evaluation.fidelity``) is computed as in memory.

Everything fixed comes from the real table: the grid of its distinct values per continuous
column (KSComplement); what varies is counted per partition and added:

* continuous column: counts of synthetic values equal to each real value and strictly between
  two consecutive ones. The KS statistic needs the synthetic CDF only there (its largest gap
  to the real CDF is at a real value or at the last synthetic value before the next one), so
  it is exact.
* discrete column: counts per value (TVComplement).
* two continuous columns: count, means and co-moments over the rows where both are present,
  merged with Chan's formulas (Pearson, CorrelationSimilarity).
* any other pair: the contingency table of (value or bin, value or bin), missing values a cell
  of their own; a continuous column is cut into the report's 10 equal-width bins over the
  SYNTHETIC table's own range, found in a first pass (minimum and maximum).

The in-memory report builds contingency tables of tables longer than 50,000 rows on a 50,000-row
sample; these counts use every row, so they equal the in-memory report with
``num_rows_subsample=None``.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.evaluation.similarity import (
    CONTINUOUS,
    DISCRETE,
    N_BINS,
    _as_datetime,
    _is_datetime,
    _ks_values,
    _numbers,
)
from synthpatient.scale._partitions import Partition

Cell = tuple[Hashable, Hashable]
MISSING = ("<missing>",)  # a key no real value equals: missing values' own cell


@dataclass
class Plan:
    """What every partition is summarised against: the scored columns, whether each is a
    date (judged from the real column, as SDMetrics does), the real value grids, and the
    synthetic table's own-range bin edges (None where they cannot be made)."""

    sdtypes: dict[str, str]
    datetime: dict[str, bool]
    grids: dict[str, np.ndarray]
    edges: dict[str, np.ndarray | None] = field(default_factory=dict)

    @property
    def continuous(self) -> list[str]:
        return [c for c, t in self.sdtypes.items() if t in CONTINUOUS]


@dataclass
class PairMoments:
    """Count, means and co-moments of two columns over the rows where both are present."""

    n: float = 0.0
    mean_x: float = 0.0
    mean_y: float = 0.0
    m2_x: float = 0.0
    m2_y: float = 0.0
    c_xy: float = 0.0

    @classmethod
    def of(cls, x: np.ndarray, y: np.ndarray) -> PairMoments:
        keep = ~(np.isnan(x) | np.isnan(y))
        x, y = x[keep], y[keep]
        if not len(x):
            return cls()
        dx, dy = x - x.mean(), y - y.mean()
        # sums of products, not BLAS dot, which is many times slower on a busy machine
        return cls(
            len(x),
            x.mean(),
            y.mean(),
            float(np.sum(dx * dx)),
            float(np.sum(dy * dy)),
            float(np.sum(dx * dy)),
        )

    @classmethod
    def all_pairs(cls, columns: dict[str, np.ndarray]) -> dict[Cell, PairMoments]:
        """Every pair's moments; at once when no value is missing (the common case)."""
        names = list(columns)
        x = np.column_stack([columns[c] for c in names]) if names else np.empty((0, 0))
        if np.isnan(x).any():
            return {
                (a, b): cls.of(columns[a], columns[b]) for a, b in itertools.combinations(names, 2)
            }
        means = x.mean(axis=0) if len(x) else np.zeros(len(names))
        centred = x - means
        co = np.einsum("ri,rj->ij", centred, centred)
        out: dict[Cell, PairMoments] = {}
        for (i, a), (j, b) in itertools.combinations(enumerate(names), 2):
            if len(x):
                out[(a, b)] = cls(len(x), means[i], means[j], co[i, i], co[j, j], co[i, j])
            else:
                out[(a, b)] = cls()
        return out

    def merge(self, o: PairMoments) -> PairMoments:
        if not o.n:
            return self
        if not self.n:
            return o
        n = self.n + o.n
        ddx, ddy = o.mean_x - self.mean_x, o.mean_y - self.mean_y
        w = self.n * o.n / n
        return PairMoments(
            n,
            self.mean_x + ddx * o.n / n,
            self.mean_y + ddy * o.n / n,
            self.m2_x + o.m2_x + ddx * ddx * w,
            self.m2_y + o.m2_y + ddy * ddy * w,
            self.c_xy + o.c_xy + ddx * ddy * w,
        )

    @property
    def pearson(self) -> float:
        if self.n < 2 or self.m2_x <= 0 or self.m2_y <= 0:
            return float("nan")
        return float(np.clip(self.c_xy / np.sqrt(self.m2_x * self.m2_y), -1.0, 1.0))


@dataclass
class TableSummary:
    """The counts and moments of one table (or partition); ``merge`` adds two."""

    rows: int = 0
    ks: dict[str, tuple[np.ndarray, np.ndarray, int]] = field(default_factory=dict)
    values: dict[str, dict[Hashable, int]] = field(default_factory=dict)
    moments: dict[Cell, PairMoments] = field(default_factory=dict)
    cells: dict[Cell, dict[Cell, int]] = field(default_factory=dict)

    def merge(self, o: TableSummary) -> TableSummary:
        out = TableSummary(rows=self.rows + o.rows)
        for c in {**self.ks, **o.ks}:
            a, b = self.ks.get(c), o.ks.get(c)
            out.ks[c] = (a[0] + b[0], a[1] + b[1], a[2] + b[2]) if a and b else (a or b)  # type: ignore[assignment]
        for c in {**self.values, **o.values}:
            out.values[c] = _add(self.values.get(c, {}), o.values.get(c, {}))
        for pair in {**self.moments, **o.moments}:
            out.moments[pair] = self.moments.get(pair, PairMoments()).merge(
                o.moments.get(pair, PairMoments())
            )
        for pair in {**self.cells, **o.cells}:
            out.cells[pair] = _add(self.cells.get(pair, {}), o.cells.get(pair, {}))
        return out


def _add(a: Mapping[Any, int], b: Mapping[Any, int]) -> dict[Any, int]:
    out = dict(a)
    for k, n in b.items():
        out[k] = out.get(k, 0) + n
    return out


def make_plan(real: pd.DataFrame, sdtypes: Mapping[str, str]) -> Plan:
    scored = {c: t for c, t in sdtypes.items() if t in CONTINUOUS or t in DISCRETE}
    # judged after the report reads a datetime column as dates, as the report judges it
    datetime = {c: t == "datetime" or _is_datetime(pd.Series(real[c])) for c, t in scored.items()}
    grids = {
        c: np.unique(_ks_values(_as_datetime(real[c]) if t == "datetime" else real[c], datetime[c]))
        for c, t in scored.items()
        if t in CONTINUOUS
    }
    return Plan(scored, datetime, grids)


def own_range_edges(low: float, high: float) -> np.ndarray | None:
    """The report's own-range bins for a column whose present values span [low, high]."""
    values = np.array([low, high]) if np.isfinite([low, high]).all() else np.array([low])
    if np.isnan(low):
        values = np.array([])
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            return np.histogram_bin_edges(values, bins=N_BINS)
    except ValueError:  # infinite values: the report records the binning as failed
        return None


def value_range(part: Partition, plan: Plan) -> dict[str, tuple[float, float]]:
    """Pass one: each continuous column's smallest and largest present value."""
    out: dict[str, tuple[float, float]] = {}
    for batch in part.batches(plan.continuous):
        for c in plan.continuous:
            numbers = _column_numbers(batch[c], plan.sdtypes[c])
            present = numbers[~np.isnan(numbers)]
            if not len(present):
                continue
            low, high = float(present.min()), float(present.max())
            old = out.get(c, (low, high))
            out[c] = (min(old[0], low), max(old[1], high))
    return out


def _column_numbers(values: pd.Series, sdtype: str) -> np.ndarray:
    if sdtype == "datetime":
        values = _as_datetime(values)
    return _numbers(values, None)


def summarize(frame: pd.DataFrame, plan: Plan) -> TableSummary:
    """The summary of one table or batch (see the module)."""
    out = TableSummary(rows=len(frame))
    numbers: dict[str, np.ndarray] = {}
    labels: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for c, sdtype in plan.sdtypes.items():
        if sdtype in CONTINUOUS:
            numbers[c] = _column_numbers(frame[c], sdtype)
            out.ks[c] = _ks_counts(frame[c], sdtype, plan.datetime[c], plan.grids[c])
            edges = plan.edges.get(c)
            if edges is not None:
                labels[c] = _codes_and_keys(np.digitize(numbers[c], edges))
        else:
            present = frame[c].dropna()
            out.values[c] = {k: int(n) for k, n in present.value_counts(sort=False).items()}
            labels[c] = _codes_and_keys(frame[c].to_numpy())
    out.moments = PairMoments.all_pairs(numbers)
    for first, second in itertools.combinations(plan.sdtypes, 2):
        if first in numbers and second in numbers:
            continue
        if first in labels and second in labels:
            out.cells[(first, second)] = _joint(labels[first], labels[second])
    return out


def _ks_counts(
    values: pd.Series, sdtype: str, as_datetime: bool, grid: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """Counts of values equal to each grid value, and strictly inside each gap (below the
    first, between two, above the last), as the KS statistic needs them."""
    if sdtype == "datetime":
        values = _as_datetime(values)
    s = _ks_values(values, as_datetime)
    at = np.searchsorted(grid, s, side="left")
    equal = at < len(grid)
    equal[equal] = grid[at[equal]] == s[equal]
    on = np.bincount(at[equal], minlength=len(grid))
    gaps = np.bincount(at[~equal], minlength=len(grid) + 1)
    return on, gaps, len(s)


def _codes_and_keys(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    keys = np.empty(len(uniques) + 1, dtype=object)
    keys[: len(uniques)] = list(uniques)
    keys[-1] = MISSING
    codes = np.where(codes < 0, len(uniques), codes)
    return codes, keys


def _joint(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> dict[Cell, int]:
    (ca, ka), (cb, kb) = a, b
    counts = np.bincount(ca.astype(np.int64) * len(kb) + cb, minlength=len(ka) * len(kb))
    seen = np.flatnonzero(counts)
    return {(ka[i // len(kb)], kb[i % len(kb)]): int(counts[i]) for i in seen}


def summarize_partition(part: Partition, plan: Plan) -> TableSummary:
    """Pass two over one partition (runs on a worker)."""
    total = TableSummary()
    for batch in part.batches(list(plan.sdtypes)):
        total = total.merge(summarize(batch, plan))
    return total
