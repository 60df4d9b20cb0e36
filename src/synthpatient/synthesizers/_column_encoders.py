"""The columns of the tabular transform: each learned column as blocks of the network's row.

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
networks use to pick output activations and losses. ``_tabular_transform`` puts the columns
together and re-exports these names.
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
