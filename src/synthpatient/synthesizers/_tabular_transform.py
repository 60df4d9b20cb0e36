"""Mode-specific normalisation (Xu et al. 2019) and back, plus the conditional vector.

Every learned column becomes a block of the network's input and output:

* a number, integer or date (as ns since the epoch) is standardised, then described by a
  variational Gaussian mixture (scikit-learn's ``BayesianGaussianMixture``, at most
  ``max_modes`` modes, modes lighter than ``weight_threshold`` dropped). A value becomes the
  one-hot of a mode drawn from its posterior and a scalar ``(x - mu_k) / (4 sigma_k)`` in
  (-1, 1). Multi-modal lab values keep their shape, which a single min-max scale flattens;
* in differentially private mode the mixture, which would read the data outside DP-SGD, is
  replaced by a min-max scale to ``[-1, 1]`` between public bounds;
* a category or boolean becomes a one-hot over the categories;
* a column that may be missing gets one more slot: a "missing" category for categories, a
  present/missing one-hot for numbers (the value is then drawn, but not used).

Blocks are described by :class:`Span` s: ``tanh`` scalars and ``softmax`` one-hots, which the
networks use to pick output activations and losses.

:class:`ConditionalSampler` builds CTGAN's conditional vector (one category of one discrete
column) and does training-by-sampling: columns are picked uniformly, categories by
log-frequency, so that rare categories are seen often enough to be learned.

Everything here is numpy: no torch, and every draw comes from a numpy Generator.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from synthpatient.schema import ColumnSpec, category_key
from synthpatient.synthesizers._persistence import expect

#: Scalars are kept strictly inside tanh's range so that they can be produced exactly.
ALPHA_CLIP = 0.99
MIN_STD = 1e-6


@dataclass(frozen=True)
class Span:
    """One block of the transformed row: ``dim`` slots from ``start`` with one activation."""

    start: int
    dim: int
    activation: Literal["tanh", "softmax"]

    @property
    def stop(self) -> int:
        return self.start + self.dim


def _as_numbers(spec: ColumnSpec, values: pd.Series) -> np.ndarray:
    """Floats with NaN for missing; datetimes as ns since the epoch."""
    if spec.kind == "datetime":
        stamps = pd.to_datetime(values)
        out = stamps.astype("datetime64[ns]").astype("int64").to_numpy(dtype=float)
        out[stamps.isna().to_numpy()] = np.nan
        return out
    return np.array(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float))


def _public_bound(spec: ColumnSpec, bound: Any) -> float | None:
    if bound is None:
        return None
    return float(pd.Timestamp(bound).value) if spec.kind == "datetime" else float(bound)


class ContinuousColumn:
    """A number, integer or date: mixture modes (or a min-max scale) plus a missing flag."""

    def __init__(
        self,
        name: str,
        *,
        method: str,
        nullable: bool,
        center: float,
        scale: float,
        means: np.ndarray,
        stds: np.ndarray,
        weights: np.ndarray,
    ) -> None:
        self.name, self.method, self.nullable = name, method, nullable
        self.center, self.scale = center, scale
        self.means, self.stds, self.weights = means, stds, weights

    @property
    def n_modes(self) -> int:
        return len(self.means)

    def spans(self, start: int) -> list[Span]:
        out = [Span(start, 1, "tanh")]
        if self.method == "gmm" and self.n_modes > 1:
            out.append(Span(out[-1].stop, self.n_modes, "softmax"))
        if self.nullable:
            out.append(Span(out[-1].stop, 2, "softmax"))
        return out

    @classmethod
    def fit_gmm(
        cls,
        name: str,
        x: np.ndarray,
        *,
        nullable: bool,
        max_modes: int,
        weight_threshold: float,
        rng: np.random.Generator,
    ) -> ContinuousColumn:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.mixture import BayesianGaussianMixture

        present = x[~np.isnan(x)]
        center = float(present.mean()) if len(present) else 0.0
        scale = float(present.std()) if len(present) else 1.0
        scale = scale if scale > MIN_STD else 1.0
        z = (present - center) / scale
        n_components = int(min(max_modes, len(np.unique(z)), max(len(z), 1)))
        if n_components < 2:
            means, stds, weights = np.array([0.0]), np.array([1.0]), np.array([1.0])
        else:
            # A Dirichlet-process prior switches unneeded modes off, as the method prescribes.
            mixture = BayesianGaussianMixture(
                n_components=n_components,
                weight_concentration_prior_type="dirichlet_process",
                weight_concentration_prior=1e-3,
                n_init=1,
                max_iter=100,
                random_state=int(rng.integers(2**31 - 1)),
            )
            with warnings.catch_warnings():
                # 100 iterations are plenty for modes; an unconverged fit still gives usable
                # ones, and the warning would only alarm users about a detail of ours
                warnings.simplefilter("ignore", ConvergenceWarning)
                mixture.fit(z.reshape(-1, 1))
            keep = mixture.weights_ > weight_threshold
            if not keep.any():
                keep = mixture.weights_ == mixture.weights_.max()
            means = mixture.means_[keep, 0].astype(float)
            stds = np.sqrt(mixture.covariances_[keep].reshape(-1)).astype(float)
            weights = mixture.weights_[keep] / mixture.weights_[keep].sum()
        return cls(
            name,
            method="gmm",
            nullable=nullable,
            center=center,
            scale=scale,
            means=means,
            stds=np.maximum(stds, MIN_STD),
            weights=weights,
        )

    @classmethod
    def fit_minmax(cls, name: str, low: float, high: float, *, nullable: bool) -> ContinuousColumn:
        center = (low + high) / 2
        half = (high - low) / 2
        return cls(
            name,
            method="minmax",
            nullable=nullable,
            center=center,
            scale=half if half > MIN_STD else 1.0,
            means=np.array([0.0]),
            stds=np.array([1.0]),
            weights=np.array([1.0]),
        )

    def encode(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        missing = np.isnan(x)
        # Missing values get the centre: the value slots must hold something, and the
        # missing flag tells the decoder to ignore it.
        z = (np.where(missing, self.center, x) - self.center) / self.scale
        blocks = []
        if self.method == "minmax":
            blocks.append(np.clip(z, -1.0, 1.0)[:, None])
        else:
            if self.n_modes > 1:
                log_p = (
                    np.log(self.weights)
                    - np.log(self.stds)
                    - 0.5 * ((z[:, None] - self.means) / self.stds) ** 2
                )
                log_p -= log_p.max(axis=1, keepdims=True)
                p = np.exp(log_p)
                p /= p.sum(axis=1, keepdims=True)
                # A mode drawn from the posterior, not the most likely one: the method's
                # choice, which lets neighbouring modes overlap smoothly.
                u = rng.random(len(z))[:, None]
                mode = np.minimum((np.cumsum(p, axis=1) < u).sum(axis=1), self.n_modes - 1)
            else:
                mode = np.zeros(len(z), dtype=int)
            alpha = (z - self.means[mode]) / (4 * self.stds[mode])
            blocks.append(np.clip(alpha, -ALPHA_CLIP, ALPHA_CLIP)[:, None])
            if self.n_modes > 1:
                blocks.append(np.eye(self.n_modes)[mode])
        if self.nullable:
            blocks.append(np.column_stack([~missing, missing]).astype(float))
        return np.hstack(blocks)

    def decode(self, block: np.ndarray) -> np.ndarray:
        alpha = np.clip(block[:, 0], -1.0, 1.0)
        if self.method == "minmax":
            z = alpha
        else:
            mode = (
                np.argmax(block[:, 1 : 1 + self.n_modes], axis=1)
                if self.n_modes > 1
                else np.zeros(len(block), dtype=int)
            )
            z = alpha * 4 * self.stds[mode] + self.means[mode]
        x = z * self.scale + self.center
        if self.nullable:
            x = np.where(block[:, -1] > block[:, -2], np.nan, x)
        return x

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta = {
            "type": "continuous",
            "name": self.name,
            "method": self.method,
            "nullable": self.nullable,
        }
        arrays = {
            "affine": np.array([self.center, self.scale]),
            "means": self.means,
            "stds": self.stds,
            "weights": self.weights,
        }
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> ContinuousColumn:
        what = f"the transform of column '{meta['name']}'"
        affine = np.asarray(arrays["affine"], dtype=float)
        means, stds, weights = (
            np.asarray(arrays[k], dtype=float) for k in ("means", "stds", "weights")
        )
        expect(
            meta["method"] in ("gmm", "minmax")
            and affine.shape == (2,)
            and means.ndim == 1
            and len(means) >= 1
            and stds.shape == means.shape
            and weights.shape == means.shape,
            f"{what} has a method or mixture arrays of the wrong size",
        )
        expect(
            all(bool(np.isfinite(a).all()) for a in (affine, means, stds, weights))
            and affine[1] > 0
            and bool(np.all(stds > 0))
            and bool(np.all(weights >= 0)),
            f"{what} has a scale or mixture modes that are not positive",
        )
        return cls(
            str(meta["name"]),
            method=str(meta["method"]),
            nullable=bool(meta["nullable"]),
            center=float(affine[0]),
            scale=float(affine[1]),
            means=means,
            stds=stds,
            weights=weights,
        )


class DiscreteColumn:
    """A category or boolean: a one-hot, with a last "missing" slot when it may be missing."""

    def __init__(self, name: str, categories: list[Any], *, nullable: bool) -> None:
        self.name, self.categories, self.nullable = name, list(categories), nullable
        self._lookup = {category_key(c): i for i, c in enumerate(self.categories)}

    @property
    def n_slots(self) -> int:
        return len(self.categories) + int(self.nullable)

    def spans(self, start: int) -> list[Span]:
        return [Span(start, self.n_slots, "softmax")]

    def codes(self, values: pd.Series) -> np.ndarray:
        """Slot index per row; missing (or, defensively, unknown) values -> the missing slot."""
        missing_code = len(self.categories) if self.nullable else -1
        keys = values.map(category_key, na_action="ignore")
        codes = keys.map(self._lookup).to_numpy(dtype=float, na_value=np.nan)
        codes = np.where(np.isnan(codes), missing_code, codes).astype(int)
        if (codes < 0).any():  # the schema rules this out; fail loudly rather than guess
            raise ValueError(f"column '{self.name}' holds a value outside its categories")
        return codes

    def encode(self, values: pd.Series) -> np.ndarray:
        return np.eye(self.n_slots)[self.codes(values)]

    def decode_codes(self, block: np.ndarray) -> np.ndarray:
        return np.argmax(block, axis=1)

    def decode(self, block: np.ndarray) -> pd.Series:
        codes = self.decode_codes(block)
        lookup = np.array([*self.categories, None], dtype=object)
        return pd.Series(lookup[np.minimum(codes, len(self.categories))], dtype=object)

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {
            "type": "discrete",
            "name": self.name,
            "categories": self.categories,
            "nullable": self.nullable,
        }, {}

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> DiscreteColumn:
        return cls(str(meta["name"]), list(meta["categories"]), nullable=bool(meta["nullable"]))


Column = ContinuousColumn | DiscreteColumn


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
