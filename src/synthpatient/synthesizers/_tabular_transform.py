"""Mode-specific normalisation (Xu et al. 2019) and back, plus the conditional vector.

Every learned column becomes a block of the network's input and output (the column
encoders, :class:`Span` s included, are in ``_column_encoders``; they stay importable from
here): numbers by a Gaussian mixture's modes, categories as one-hots, missingness as a slot.

:class:`ConditionalSampler` builds CTGAN's conditional vector (one category of one discrete
column) and does training-by-sampling: columns are picked uniformly, categories by
log-frequency, so that rare categories are seen often enough to be learned.

Everything here is numpy: no torch, and every draw comes from a numpy Generator.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthpatient.schema import ColumnSpec, category_key
from synthpatient.synthesizers._column_encoders import (
    Column,
    ContinuousColumn,
    DiscreteColumn,
    Span,
    _as_numbers,
    _public_bound,
)
from synthpatient.synthesizers._persistence import expect

__all__ = [
    "Column",
    "ConditionalSampler",
    "ContinuousColumn",
    "DiscreteColumn",
    "Span",
    "TabularTransform",
    "discrete_codes",
    "noisy_counts",
]


class TabularTransform:
    """Rows <-> the networks' vectors, one block per learned column.

    Examples:
        >>> transform = TabularTransform.fit(data, schema.learned, rng)
        >>> matrix = transform.transform(data, rng)     # (n_rows, transform.dim) floats
        >>> transform.inverse(matrix)                   # the columns again
    """

    def __init__(self, columns: list[Column]) -> None:
        self.columns = columns
        self.column_spans: list[list[Span]] = []
        start = 0
        for column in columns:
            spans = column.spans(start)
            self.column_spans.append(spans)
            start = spans[-1].stop
        self.dim = start

    @property
    def spans(self) -> list[Span]:
        return [span for spans in self.column_spans for span in spans]

    @property
    def discrete(self) -> list[tuple[int, DiscreteColumn, Span]]:
        """(column index, column, its one-hot span) of every discrete column."""
        return [
            (j, c, self.column_spans[j][0])
            for j, c in enumerate(self.columns)
            if isinstance(c, DiscreteColumn)
        ]

    @property
    def conditional_blocks(self) -> list[tuple[int, Column, Span]]:
        """(column index, column, span) of every block the conditional vector covers: each
        discrete column's one-hot and each nullable number's missing flag (present, missing).

        Conditioning on the missing flags too (as SDV's CTGAN does through its null columns)
        makes training-by-sampling show the networks missing and present values in their
        real proportions; learned only adversarially, missing rates drift far from the real.
        """
        blocks: list[tuple[int, Column, Span]] = []
        for j, column in enumerate(self.columns):
            if isinstance(column, DiscreteColumn):
                blocks.append((j, column, self.column_spans[j][0]))
            elif column.nullable:
                blocks.append((j, column, self.column_spans[j][-1]))
        return blocks

    @classmethod
    def fit(
        cls,
        data: pd.DataFrame,
        specs: list[ColumnSpec],
        rng: np.random.Generator,
        *,
        private: bool = False,
        max_modes: int = 10,
        weight_threshold: float = 0.005,
    ) -> tuple[TabularTransform, list[str]]:
        """Fit every column; return the transform and the columns whose bounds or categories
        were read from the data although ``private`` asked for public ones."""
        columns: list[Column] = []
        read_from_data: list[str] = []
        for spec in specs:
            nullable = bool(spec.nullable or data[spec.name].isna().any())
            if spec.kind in ("categorical", "boolean"):
                categories = (
                    list(spec.categories or ()) if spec.kind == "categorical" else [True, False]
                )
                if private and spec.kind == "categorical" and spec.observed:
                    read_from_data.append(spec.name)
                columns.append(DiscreteColumn(spec.name, categories, nullable=nullable))
                continue
            x = _as_numbers(spec, data[spec.name])
            if not private:
                columns.append(
                    ContinuousColumn.fit_gmm(
                        spec.name,
                        x,
                        nullable=nullable,
                        max_modes=max_modes,
                        weight_threshold=weight_threshold,
                        rng=rng,
                    )
                )
                continue
            low, high = _public_bound(spec, spec.minimum), _public_bound(spec, spec.maximum)
            if spec.observed or low is None or high is None:
                read_from_data.append(spec.name)
                present = x[~np.isnan(x)]
                low = float(present.min()) if low is None or spec.observed else low
                high = float(present.max()) if high is None or spec.observed else high
            columns.append(ContinuousColumn.fit_minmax(spec.name, low, high, nullable=nullable))
        return cls(columns), read_from_data

    def transform(
        self, data: pd.DataFrame, specs: list[ColumnSpec], rng: np.random.Generator
    ) -> np.ndarray:
        blocks = []
        for column, spec in zip(self.columns, specs, strict=True):
            if isinstance(column, DiscreteColumn):
                blocks.append(column.encode(data[spec.name]))
            else:
                blocks.append(column.encode(_as_numbers(spec, data[spec.name]), rng))
        return np.hstack(blocks).astype(np.float32)

    def _block(self, matrix: np.ndarray, j: int) -> np.ndarray:
        spans = self.column_spans[j]
        return matrix[:, spans[0].start : spans[-1].stop]

    def inverse(self, matrix: np.ndarray) -> pd.DataFrame:
        """Columns again: floats (dates as ns floats, NaN if missing) and category objects."""
        out: dict[str, Any] = {}
        for j, column in enumerate(self.columns):
            block = self._block(matrix, j)
            out[column.name] = (
                column.decode(block)
                if isinstance(column, DiscreteColumn)
                else pd.Series(column.decode(block))
            )
        return pd.DataFrame(out)

    def numeric(self, matrix: np.ndarray) -> np.ndarray:
        """Each column as one float: numbers as such, categories as slot codes (NaN if missing).

        The cheap view the early-stopping score is computed on.
        """
        out = np.empty((len(matrix), len(self.columns)))
        for j, column in enumerate(self.columns):
            block = self._block(matrix, j)
            if isinstance(column, DiscreteColumn):
                codes = column.decode_codes(block).astype(float)
                if column.nullable:
                    codes[codes == len(column.categories)] = np.nan
                out[:, j] = codes
            else:
                out[:, j] = column.decode(block)
        return out

    def is_discrete(self) -> np.ndarray:
        return np.array([isinstance(c, DiscreteColumn) for c in self.columns])

    def state(self) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
        metas, arrays = [], {}
        for j, column in enumerate(self.columns):
            meta, parts = column.state()
            metas.append(meta)
            arrays.update({f"transform.{j}.{k}": v for k, v in parts.items()})
        return metas, arrays

    @classmethod
    def from_state(
        cls, metas: list[dict[str, Any]], arrays: dict[str, np.ndarray], specs: list[ColumnSpec]
    ) -> TabularTransform:
        """The saved transform of the learned columns ``specs``, checked against them."""
        expect(
            [str(m["name"]) for m in metas] == [s.name for s in specs],
            "the transform's columns differ from the schema's learned columns",
        )
        columns: list[Column] = []
        for j, (meta, spec) in enumerate(zip(metas, specs, strict=True)):
            prefix = f"transform.{j}."
            parts = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            discrete = spec.kind in ("categorical", "boolean")
            expect(
                meta["type"] == ("discrete" if discrete else "continuous"),
                f"the transform of column '{spec.name}' is not of the column's kind",
            )
            if not discrete:
                columns.append(ContinuousColumn.from_state(meta, parts))
                continue
            column = DiscreteColumn.from_state(meta, parts)
            declared = list(spec.categories or ()) if spec.kind == "categorical" else [True, False]
            expect(
                [category_key(c) for c in column.categories] == [category_key(c) for c in declared],
                f"the transform of column '{spec.name}' lists other categories than the schema",
            )
            columns.append(column)
        return cls(columns)


class ConditionalSampler:
    """CTGAN's conditional vector over the discrete columns, and training-by-sampling.

    The vector concatenates one one-hot block per discrete column; a condition sets one slot
    of one block. ``frequencies`` are the share of each category per column: the training
    counts, or noisy counts in private mode (see ``noisy_counts``).

    Examples:
        >>> sampler = ConditionalSampler(block_sizes=[2, 4], frequencies=[...])
        >>> cond, mask, column, slot = sampler.sample_training(500, rng)
    """

    def __init__(self, block_sizes: list[int], frequencies: list[np.ndarray]) -> None:
        self.block_sizes = list(block_sizes)
        self.offsets = np.concatenate([[0], np.cumsum(self.block_sizes)]).astype(int)
        self.dim = int(self.offsets[-1])
        self.frequencies = [np.asarray(f, dtype=float) for f in frequencies]
        # Log-frequency for training: rare categories come up often enough to be learned,
        # while categories never seen (count 0) never come up.
        self._log_p = []
        self._p = []
        for f in self.frequencies:
            counts = np.maximum(f, 0.0)
            log_f = np.log1p(counts)
            uniform = np.full(len(f), 1 / len(f))
            self._log_p.append(log_f / log_f.sum() if log_f.sum() > 0 else uniform)
            self._p.append(counts / counts.sum() if counts.sum() > 0 else uniform)
        self._rows_by_slot: list[list[np.ndarray]] | None = None
        self._n_rows = 0

    @property
    def n_columns(self) -> int:
        return len(self.block_sizes)

    def index_rows(self, codes: np.ndarray) -> None:
        """Remember which training rows hold each category (``codes``: rows x discrete columns)."""
        self._n_rows = len(codes)
        self._rows_by_slot = [
            [np.flatnonzero(codes[:, d] == k) for k in range(size)]
            for d, size in enumerate(self.block_sizes)
        ]

    def _vectors(self, columns: np.ndarray, slots: np.ndarray) -> np.ndarray:
        cond = np.zeros((len(columns), self.dim), dtype=np.float32)
        if not self.n_columns:
            return cond
        cond[np.arange(len(columns)), self.offsets[columns] + slots] = 1.0
        return cond

    def _draw(
        self, n_rows: int, rng: np.random.Generator, probs: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        if not self.n_columns:  # no discrete column: an empty vector
            return np.zeros(n_rows, dtype=int), np.zeros(n_rows, dtype=int)
        columns = rng.integers(0, self.n_columns, n_rows)
        slots = np.empty(n_rows, dtype=int)
        for d in range(self.n_columns):
            at = columns == d
            slots[at] = rng.choice(self.block_sizes[d], size=int(at.sum()), p=probs[d])
        return columns, slots

    def sample_training(
        self, n_rows: int, rng: np.random.Generator, *, log_frequency: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Vectors by log-frequency (or the frequencies), with the mask of the chosen column
        and the chosen column and slot of each row."""
        columns, slots = self._draw(n_rows, rng, self._log_p if log_frequency else self._p)
        return self._vectors(columns, slots), self.mask(columns), columns, slots

    def sample_original(self, n_rows: int, rng: np.random.Generator) -> np.ndarray:
        """Vectors by the real frequencies: unconditional samples follow the real marginals."""
        columns, slots = self._draw(n_rows, rng, self._p)
        return self._vectors(columns, slots)

    def fixed(self, n_rows: int, column: int, slot: int) -> np.ndarray:
        return self._vectors(np.full(n_rows, column), np.full(n_rows, slot))

    def from_codes(
        self, codes: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each row's own category in a column picked uniformly: a vector that depends on that
        row alone (what private training and the conditional VAE need)."""
        if not self.n_columns:
            return np.zeros((len(codes), 0), dtype=np.float32), self.mask(np.zeros(len(codes), int))
        columns = rng.integers(0, self.n_columns, len(codes))
        slots = codes[np.arange(len(codes)), columns]
        return self._vectors(columns, slots), self.mask(columns)

    def mask(self, columns: np.ndarray) -> np.ndarray:
        out = np.zeros((len(columns), self.n_columns), dtype=np.float32)
        if not self.n_columns:
            return out
        out[np.arange(len(columns)), columns] = 1.0
        return out

    def rows_for(
        self, columns: np.ndarray, slots: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """One training row (with replacement) holding each asked category."""
        assert self._rows_by_slot is not None, "index_rows() first"
        if not self.n_columns:
            return rng.integers(0, self._n_rows, len(columns))
        out = np.empty(len(columns), dtype=int)
        for i, (d, k) in enumerate(zip(columns, slots, strict=True)):
            rows = self._rows_by_slot[d][k]
            out[i] = rows[rng.integers(len(rows))]
        return out

    def probability(self, column: int, slot: int) -> float:
        return float(self._p[column][slot])

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return (
            {"block_sizes": self.block_sizes},
            {f"cond.freq.{d}": f for d, f in enumerate(self.frequencies)},
        )

    @classmethod
    def from_state(
        cls, meta: dict[str, Any], arrays: dict[str, np.ndarray], transform: TabularTransform
    ) -> ConditionalSampler:
        """The saved sampler, checked against the blocks of ``transform`` it conditions on."""
        sizes = [int(s) for s in meta["block_sizes"]]
        expect(
            sizes == [span.dim for _, _, span in transform.conditional_blocks],
            "the conditional vector's blocks do not match the transform's columns",
        )
        frequencies = [np.asarray(arrays[f"cond.freq.{d}"], dtype=float) for d in range(len(sizes))]
        expect(
            all(
                f.shape == (size,) and bool(np.isfinite(f).all()) and bool(np.all(f >= 0))
                for f, size in zip(frequencies, sizes, strict=True)
            ),
            "the conditional vector's category frequencies are not counts, one per category",
        )
        return cls(sizes, frequencies)


def discrete_codes(transform: TabularTransform, data: pd.DataFrame) -> np.ndarray:
    """Rows x conditional blocks matrix of slot codes (a missing flag: 0 present, 1 missing)."""
    blocks = [
        column.codes(data[column.name])
        if isinstance(column, DiscreteColumn)
        else data[column.name].isna().to_numpy().astype(int)
        for _, column, _ in transform.conditional_blocks
    ]
    return np.column_stack(blocks) if blocks else np.zeros((len(data), 0), dtype=int)


def noisy_counts(
    codes: np.ndarray, block_sizes: list[int], noise_std: float, rng: np.random.Generator
) -> list[np.ndarray]:
    """Category counts per discrete column, each with Gaussian noise of ``noise_std``
    (0 for exact counts). Negative noisy counts are clipped to 0 (post-processing)."""
    out = []
    for d, size in enumerate(block_sizes):
        counts = np.bincount(codes[:, d], minlength=size).astype(float)
        if noise_std > 0:
            counts = np.maximum(counts + rng.normal(0.0, noise_std, size), 0.0)
        out.append(counts)
    return out
