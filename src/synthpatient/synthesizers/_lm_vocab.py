"""Rows as token sequences for the tabular language model, and tokens back to values.

Every learned column gets its own small vocabulary of *symbols* (the column-specific
vocabulary of REaLTabFormer rather than a text tokenizer, so nothing has to be downloaded):

* ``category``: one symbol per category (booleans are the categories True and False);
* ``exact``: one symbol per distinct number, when a numeric, integer or date column has few
  distinct values (an age in years, a 1-5 score): decoding gives the value itself;
* ``bins``: quantile bins for the rest, so every symbol holds about as many training rows;
  decoding draws a rank uniformly inside the bin's share of the column and reads the value
  off the column's quantile function (``QUANTILES`` points, as the copula keeps), so values
  spread over the bin with the column's own shape there (its tails) instead of sitting on
  training values or spreading evenly; a heaped value (one held by at least a bin's share of
  the rows) is a symbol of its own, edges ``[v, v]``, and decodes to exactly v;
* a nullable column gets one more symbol, last, for "missing".

A row is the text ``"age is 54, sex is female, ..."``; :meth:`ColumnVocab.render` gives a
symbol's text, and the model sees one token per ``"<column> is"`` and one per value. Decoding
can be restricted to a range (a sampling condition), and :meth:`ColumnVocab.allowed` says
which symbols a condition leaves possible, which is how conditions are honoured natively.
:func:`prior_shift` finds the weights that give sampled symbols the training shares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from synthpatient.schema import ColumnSpec, category_key
from synthpatient.synthesizers._persistence import expect

VocabKind = Literal["category", "exact", "bins"]
#: Points of the quantile function kept for decoding binned columns.
QUANTILES = 200


@dataclass
class ColumnVocab:
    """The symbols of one column.

    Attributes:
        name: The column.
        column_kind: The schema kind.
        kind: ``category``, ``exact`` or ``bins`` (see the module docstring).
        values: Category values (``category``), the distinct numbers (``exact``) or the bin
            edges, ``n_bins + 1`` of them (``bins``); dates as nanoseconds.
        nullable: Whether the last symbol means "missing".
        ranks: For ordered columns, the share of the column below each symbol's lower edge,
            and 1 (``n_values + 1`` values).
        quantiles: For bins, the column's quantile function at ``QUANTILES`` even ranks.
    """

    name: str
    column_kind: str
    kind: VocabKind
    values: list[Any]
    nullable: bool
    ranks: list[float] | None = None
    quantiles: list[float] | None = None

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def fit(cls, spec: ColumnSpec, values: pd.Series, n_bins: int) -> ColumnVocab:
        nullable = bool(values.isna().any()) or spec.nullable
        if spec.kind in ("categorical", "boolean"):
            categories = (
                list(spec.categories or []) if spec.kind == "categorical" else [True, False]
            )
            return cls(spec.name, spec.kind, "category", categories, nullable)
        numbers = _as_numbers(spec.kind, values)
        numbers = numbers[~np.isnan(numbers)]
        if not len(numbers):
            numbers = np.array([0.0])
        distinct, counts = np.unique(numbers, return_counts=True)
        if len(distinct) <= n_bins:
            ranks = np.concatenate([[0.0], np.cumsum(counts) / counts.sum()])
            return cls(spec.name, spec.kind, "exact", distinct.tolist(), nullable, ranks.tolist())
        edges, ranks = _bin_edges(np.sort(numbers), distinct, counts, n_bins)
        quantiles = np.quantile(numbers, np.linspace(0, 1, min(QUANTILES, len(numbers))))
        return cls(
            spec.name,
            spec.kind,
            "bins",
            edges.tolist(),
            nullable,
            ranks.tolist(),
            quantiles.tolist(),
        )

    # -- sizes and features --------------------------------------------------------------------
    @property
    def n_values(self) -> int:
        return len(self.values) - 1 if self.kind == "bins" else len(self.values)

    @property
    def n_symbols(self) -> int:
        return self.n_values + int(self.nullable)

    @property
    def missing_symbol(self) -> int | None:
        return self.n_values if self.nullable else None

    @property
    def is_ordered(self) -> bool:
        return self.kind != "category"

    def score_edges(self) -> np.ndarray:
        """For ordered columns, the symbols' edges on the normal-score scale (``n_values + 1``,
        infinite at the ends): symbol i holds the scores between edges i and i + 1, and the
        whole column is standard normal on that scale, as in a Gaussian copula. The model
        predicts a mixture of normals there, so it learns a smooth conditional from a few
        hundred rows instead of a free probability per bin."""
        from scipy.stats import norm

        assert self.is_ordered and self.ranks is not None
        return norm.ppf(np.clip(np.asarray(self.ranks, dtype=float), 0.0, 1.0))

    def positions(self) -> np.ndarray:
        """Where each symbol sits on the column's normal-score scale, divided by 3 (0 for
        categories and "missing"): added to the symbol's embedding so that neighbouring values
        share what they learn."""
        out = np.zeros(self.n_symbols)
        if self.is_ordered:
            edges = np.clip(self.score_edges(), -3.5, 3.5)
            out[: self.n_values] = (edges[:-1] + edges[1:]) / 6
        return out

    # -- encoding ------------------------------------------------------------------------------
    def encode(self, values: pd.Series) -> np.ndarray:
        """One symbol per value; missing values get the missing symbol."""
        missing = values.isna().to_numpy()
        codes = np.zeros(len(values), dtype=np.int64)
        if self.kind == "category":
            lookup = {category_key(v): i for i, v in enumerate(self.values)}
            keys = values.map(category_key, na_action="ignore")
            codes[~missing] = [lookup.get(k, 0) for k in keys[~missing]]
        else:
            numbers = _as_numbers(self.column_kind, values)
            grid = np.asarray(self.values, dtype=float)
            if self.kind == "exact":
                nearest = np.clip(np.searchsorted(grid, numbers[~missing]), 0, len(grid) - 1)
                below = np.clip(nearest - 1, 0, len(grid) - 1)
                closer_below = np.abs(grid[below] - numbers[~missing]) < np.abs(
                    grid[nearest] - numbers[~missing]
                )
                codes[~missing] = np.where(closer_below, below, nearest)
            else:
                present = numbers[~missing]
                inner = np.searchsorted(grid, present, side="right") - 1
                # a value with its own symbol (edges [v, v]) is that symbol, not the bin from v
                on_point = (inner >= 1) & (grid[np.clip(inner - 1, 0, None)] == present)
                codes[~missing] = np.clip(inner - on_point, 0, self.n_values - 1)
        if self.nullable:
            codes[missing] = self.n_values
        return codes

    # -- conditions ----------------------------------------------------------------------------
    def allowed(
        self, kind: str, value: Any = None, low: float | None = None, high: float | None = None
    ) -> np.ndarray:
        """Which symbols a condition leaves possible (never "missing")."""
        mask = np.zeros(self.n_symbols, dtype=bool)
        if self.kind == "category":
            key = category_key(value)
            mask[: self.n_values] = [category_key(v) == key for v in self.values]
            return mask
        grid = np.asarray(self.values, dtype=float)
        if kind == "equal":
            low = high = float(value)
        lo = -np.inf if low is None else low
        hi = np.inf if high is None else high
        if self.kind == "exact":
            mask[: self.n_values] = (grid >= lo - 1e-9) & (grid <= hi + 1e-9)
            if kind == "equal" and not mask.any():  # an unseen value: its nearest neighbour
                mask[int(np.argmin(np.abs(grid - lo)))] = True
        else:
            mask[: self.n_values] = (grid[1:] >= lo - 1e-9) & (grid[:-1] <= hi + 1e-9)
        return mask

    # -- decoding ------------------------------------------------------------------------------
    def decode(
        self,
        codes: np.ndarray,
        rng: np.random.Generator,
        *,
        low: float | None = None,
        high: float | None = None,
    ) -> pd.Series:
        """Values for ``codes``; numbers drawn inside their bin and inside [low, high]."""
        codes = np.asarray(codes, dtype=np.int64)
        missing = (codes == self.n_values) if self.nullable else np.zeros(len(codes), bool)
        if self.kind == "category":
            table = np.array(list(self.values) + [None], dtype=object)
            return pd.Series(table[np.where(missing, len(table) - 1, codes)], dtype=object)
        grid = np.asarray(self.values, dtype=float)
        inner = np.clip(codes, 0, self.n_values - 1)
        if self.kind == "exact":
            numbers = grid[inner].copy()
        else:
            numbers = self._from_ranks(inner, rng, low, high)
        numbers[missing] = np.nan
        if self.column_kind == "datetime":
            stamps = pd.Series(
                pd.to_datetime(np.round(np.nan_to_num(numbers)).astype("int64"), unit="ns")
            )
            stamps[missing] = pd.NaT
            return stamps
        return pd.Series(numbers, dtype=float)

    def _from_ranks(
        self, bins: np.ndarray, rng: np.random.Generator, low: float | None, high: float | None
    ) -> np.ndarray:
        """A rank drawn inside each bin's share (and inside [low, high]), read off the
        quantile function."""
        assert self.ranks is not None and self.quantiles is not None
        ranks, quantiles = np.asarray(self.ranks), np.asarray(self.quantiles)
        levels = np.linspace(0, 1, len(quantiles))
        lo, hi = ranks[bins], ranks[bins + 1]
        if low is not None:
            lo = np.maximum(lo, np.interp(low, quantiles, levels, left=0.0, right=1.0))
        if high is not None:
            hi = np.minimum(hi, np.interp(high, quantiles, levels, left=0.0, right=1.0))
        hi = np.maximum(hi, lo)
        numbers = np.interp(lo + rng.random(len(bins)) * (hi - lo), levels, quantiles)
        edges = np.asarray(self.values, dtype=float)
        lower = edges[bins] if low is None else np.maximum(edges[bins], low)
        upper = edges[bins + 1] if high is None else np.minimum(edges[bins + 1], high)
        return np.clip(numbers, lower, np.maximum(upper, lower))

    def calibrate(self, values: pd.Series, rng: np.random.Generator) -> pd.Series:
        """The same ranks, with the fitted marginal: the values' order is kept and their
        distribution becomes the column's quantile function, as a Gaussian copula's is.

        A sorted uniform sample (not evenly spaced ranks) is mapped through the quantile
        function, so the calibrated column keeps ordinary sampling noise.
        """
        if not self.is_ordered or self.ranks is None:
            return values
        numbers = _as_numbers(self.column_kind, values)
        present = np.flatnonzero(~np.isnan(numbers))
        if len(present) < 2:
            return values
        jitter = rng.random(len(present)) * 1e-9 * (1 + np.abs(numbers[present]))
        order = np.argsort(numbers[present] + jitter, kind="stable")
        u = np.sort(rng.random(len(present)))
        if self.kind == "exact":
            grid = np.asarray(self.values, dtype=float)
            cdf = np.asarray(self.ranks, dtype=float)[1:]
            new = grid[np.minimum(np.searchsorted(cdf, u, side="right"), len(grid) - 1)]
        else:
            quantiles = np.asarray(self.quantiles, dtype=float)
            new = np.interp(u, np.linspace(0, 1, len(quantiles)), quantiles)
        out = numbers.copy()
        out[present[order]] = new
        if self.column_kind == "datetime":
            stamps = pd.Series(
                pd.to_datetime(np.round(np.nan_to_num(out)).astype("int64"), unit="ns")
            )
            stamps[np.isnan(out)] = pd.NaT
            return stamps
        return pd.Series(out, dtype=float)

    def render(self, code: int, decimals: int | None = None) -> str:
        """A symbol as text: a category, a number, or a bin's middle (for serialisation)."""
        if code == self.missing_symbol:
            return "missing"
        if self.kind == "category":
            return str(self.values[code])
        grid = np.asarray(self.values, dtype=float)
        number = grid[code] if self.kind == "exact" else (grid[code] + grid[code + 1]) / 2
        if self.column_kind == "datetime":
            return str(pd.Timestamp(int(round(number))).date())
        places = 0 if self.column_kind == "integer" else (2 if decimals is None else decimals)
        return f"{number:.{places}f}"

    # -- state ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        values = self.values
        if self.kind == "category":  # JSON keeps str/int/float/bool categories as they are
            values = [v.item() if isinstance(v, np.generic) else v for v in values]
        return {
            "name": self.name,
            "column_kind": self.column_kind,
            "kind": self.kind,
            "values": values,
            "nullable": self.nullable,
            "ranks": self.ranks,
            "quantiles": self.quantiles,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], spec: ColumnSpec) -> ColumnVocab:
        """The saved vocabulary of ``spec``'s column, checked against it and against itself."""
        what = f"the vocabulary of column '{spec.name}'"
        ordered = spec.kind in ("numeric", "integer", "datetime")
        expect(
            data["name"] == spec.name
            and data["column_kind"] == spec.kind
            and data["kind"] in (("exact", "bins") if ordered else ("category",)),
            f"{what} is not of the column's kind",
        )
        vocab = cls(
            spec.name,
            spec.kind,
            data["kind"],
            list(data["values"]),
            bool(data["nullable"]),
            data.get("ranks"),
            data.get("quantiles"),
        )
        if not ordered:
            declared = list(spec.categories or ()) if spec.kind == "categorical" else [True, False]
            expect(
                [category_key(v) for v in vocab.values] == [category_key(c) for c in declared],
                f"{what} lists other categories than the schema",
            )
            return vocab
        values = np.asarray(vocab.values, dtype=float)
        ranks = np.asarray(vocab.ranks if vocab.ranks is not None else [], dtype=float)
        expect(
            vocab.n_values >= 1
            and values.ndim == 1
            and bool(np.isfinite(values).all())
            and bool(np.all(np.diff(values) >= 0)),
            f"{what} has unsorted values or edges",
        )
        # decoding indexes ranks by symbol and reads values off the quantile function
        expect(
            ranks.shape == (vocab.n_values + 1,)
            and bool(np.all(np.diff(ranks) >= 0))
            and ranks[0] >= 0
            and ranks[-1] <= 1,
            f"{what} has ranks that are not shares",
        )
        if vocab.kind == "bins":
            quantiles = np.asarray(
                vocab.quantiles if vocab.quantiles is not None else [], dtype=float
            )
            expect(
                quantiles.ndim == 1
                and len(quantiles) >= 1
                and bool(np.isfinite(quantiles).all())
                and bool(np.all(np.diff(quantiles) >= 0)),
                f"{what} has no increasing quantile function",
            )
        return vocab


def _as_numbers(kind: str, values: pd.Series) -> np.ndarray:
    if kind == "datetime":
        stamps = pd.to_datetime(values)
        out = stamps.astype("int64").to_numpy(dtype=float)
        out[stamps.isna().to_numpy()] = np.nan
        return out
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)


def _bin_edges(
    ordered: np.ndarray, distinct: np.ndarray, counts: np.ndarray, n_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges and the share of the column below each, for sorted numbers.

    A value held by at least a bin's share of the rows (a heap: a ratio recorded as 3.0, a
    blood pressure as 120, a lab value at its detection limit) is a point mass and gets its
    own symbol, edges ``[v, v]``: it decodes to exactly v, and the model decides from the
    other columns whether a row sits on the heap or beside it. Quantile bins of the other
    values fill the gaps, split at the heaps. Without heaps these are plain quantile bins.
    """
    # more than n_bins distinct values (fewer are "exact"), so some are not heaps and there
    # are at least two cuts
    n = len(ordered)
    heaps = distinct[counts >= max(2, n / n_bins)]
    rest = ordered[~np.isin(ordered, heaps)]
    n_rest = max(1, int(round(n_bins * len(rest) / n)))
    cuts = np.unique(np.concatenate([np.quantile(rest, np.linspace(0, 1, n_rest + 1)), heaps]))
    below = np.searchsorted(ordered, cuts, side="left") / n
    above = np.searchsorted(ordered, cuts, side="right") / n
    below[0], above[-1] = 0.0, 1.0
    edges, ranks = [], []
    for i, cut in enumerate(cuts):
        edges.append(cut)
        ranks.append(below[i])
        if cut in heaps:  # [.., cut) ends below the heap; [cut, cut]; [cut, ..) from above it
            edges.append(cut)
            ranks.append(above[i])
    if cuts[-1] not in heaps:
        ranks[-1] = 1.0
    return np.asarray(edges, dtype=float), np.asarray(ranks, dtype=float)


def default_bins(n_rows: int) -> int:
    """About 1.5 sqrt(n) bins, 8 to 100: ~20 rows a bin for small tables, fine grids for big
    ones (a bin the model sees a dozen times is one it can learn)."""
    return int(np.clip(round(1.5 * np.sqrt(n_rows)), 8, 100))


def row_texts(
    vocabs: list[ColumnVocab],
    codes: np.ndarray,
    order: np.ndarray | None = None,
    decimals: dict[str, int | None] | None = None,
) -> list[str]:
    """Rows of symbols as the model's text: ``"age is 54, sex is female"``."""
    order = np.arange(len(vocabs)) if order is None else order
    decimals = decimals or {}
    return [
        ", ".join(
            f"{vocabs[j].name} is {vocabs[j].render(int(row[j]), decimals.get(vocabs[j].name))}"
            for j in order
        )
        for row in codes
    ]


#: The prior-shift correction multiplies a symbol's probability by at most this, or divides
#: it by this.
MAX_PRIOR_WEIGHT = 20.0


def prior_shift(probs: np.ndarray, groups: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Log-weights, one per symbol and equal within a group, such that the rows' reweighted
    and renormalised probabilities average to ``shares`` per group (fixed-point iteration,
    bounded by ``MAX_PRIOR_WEIGHT``)."""
    bound = math.log(MAX_PRIOR_WEIGHT)
    members = np.eye(len(shares))[groups]  # (symbols, groups)
    log_weights = np.zeros(len(shares))
    for _ in range(100):
        weighted = probs * np.exp(log_weights)[groups]
        weighted /= np.maximum(weighted.sum(axis=1, keepdims=True), 1e-300)
        current = weighted.mean(axis=0) @ members
        step = np.log(np.maximum(shares, 1e-9)) - np.log(np.maximum(current, 1e-9))
        log_weights = np.clip(log_weights + step, -bound, bound)
        if np.abs(step).max() < 1e-5:
            break
    return log_weights[groups] - log_weights.max()
