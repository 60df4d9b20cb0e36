"""The conditional Gaussian copula the sequential synthesizer chains: values <-> normal scores
per column, and a block of scores drawn given another block in closed form.

A visit's values given the patient and the previous visit are one multivariate normal on the
normal-score scale: the correlation of ``[given, target]`` is learned from training rows, and
the target block is drawn from N(W z_given, S_tt - W S_gt) with W = S_tg S_gg^-1. A given value
that is missing (a cholesterol not measured at the previous visit) is left out of the solve,
which is what marginalising it means for a Gaussian, so every missingness pattern gets its own
(cached) solve rather than an imputed value.

Scores are encoded the same way at fit and at sampling (the column's quantile function read
backwards, ties and categories broken at random inside their interval), and the correlations
of tied columns are corrected for the attenuation that tie-breaking causes, as the copula does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from synthpatient.schema import ColumnSpec
from synthpatient.synthesizers._gaussian import nearest_correlation
from synthpatient.synthesizers._marginals import (
    EPS,
    CategoricalMarginal,
    Marginal,
    NumericMarginal,
    marginal_from_state,
)
from synthpatient.synthesizers._persistence import expect

#: Added to the diagonal of a given block before solving: keeps the solve stable when two given
#: columns are nearly the same (a static value and its copy in the previous visit).
RIDGE = 1e-6


def fit_marginal(spec: ColumnSpec, values: pd.Series, n_quantiles: int) -> Marginal:
    """The marginal of one column. Numeric categories (a stage 1-4) keep their numeric order,
    so that a later stage sits next to an earlier one in latent space; others are ordered by
    frequency, as in the copula."""
    if spec.kind in ("categorical", "boolean"):
        categories = list(spec.categories or ()) if spec.kind == "categorical" else [True, False]
        marginal = CategoricalMarginal.fit(values, categories)
        numbers = [c for c in marginal.categories if _is_number(c)]
        if len(numbers) == len(marginal.categories) and len(numbers) > 1:
            marginal = marginal.reordered(np.array([float(c) for c in marginal.categories]))
        return marginal
    return NumericMarginal.fit(values, n_quantiles, is_datetime=spec.kind == "datetime")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def encode(
    marginal: Marginal, values: pd.Series, rng: np.random.Generator, *, given: bool = False
) -> np.ndarray:
    """Normal scores of ``values`` (NaN where missing), for training rows and sampled rows
    alike: a value's place in the stored quantile function.

    A tie or a category owns an interval of scores. As a value to be drawn (a target) it
    gets a score drawn at random inside it, so that the targets' scores are continuous; as
    a value conditioned on (``given``) it gets the interval's middle: noise there would only
    weaken the regression (a bilirubin of 0.7, a common value, says as much about the next
    visit as any other; random scores inside its tie cut the learned lag-1 correlation).
    """
    if isinstance(marginal, CategoricalMarginal):
        codes = marginal.codes(values)
        u = np.full(len(codes), np.nan)
        present = codes >= 0
        low, high = marginal.edges[codes[present]], marginal.edges[codes[present] + 1]
        share = 0.5 if given else rng.random(int(present.sum()))
        u[present] = low + share * (high - low)
    else:
        u = numeric_uniform(marginal, _numbers(values), rng, given=given)
    return np.asarray(ndtri(np.clip(u, EPS, 1 - EPS)), dtype=float)


def numeric_uniform(
    marginal: NumericMarginal, numbers: np.ndarray, rng: np.random.Generator, *, given: bool
) -> np.ndarray:
    """The uniform score of each number: the inverse of ``from_uniform``; a value held by
    several levels (a point mass) gets the middle of them (``given``) or a random one."""
    q, p = marginal.quantiles, marginal.levels
    unique, first = np.unique(q, return_index=True)
    last = len(q) - 1 - np.unique(q[::-1], return_index=True)[1]
    u = np.full(len(numbers), np.nan)
    present = ~np.isnan(numbers)
    x = numbers[present]
    if len(unique) == 1:  # a constant column: every value ties with every other
        low, high = np.zeros(len(x)), np.ones(len(x))
    else:
        low = np.interp(x, unique, p[first])
        high = np.interp(x, unique, p[last])
    share = 0.5 if given else rng.random(len(x))
    u[present] = low + share * (high - low)
    return u


def decode(marginal: Marginal, z: np.ndarray) -> np.ndarray:
    """Values from normal scores (floats; datetimes as ns since the epoch; category objects)."""
    return np.asarray(marginal.from_uniform(np.clip(ndtr(z), EPS, 1 - EPS)))


def _numbers(values: pd.Series | np.ndarray) -> np.ndarray:
    series = pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(series):
        out = series.astype("datetime64[ns]").astype("int64").to_numpy(dtype=float)
        out[series.isna().to_numpy()] = np.nan
        return out
    return np.array(pd.to_numeric(series, errors="coerce").to_numpy(dtype=float))


def rank_correlation(z: np.ndarray) -> np.ndarray:
    """The normal correlation whose Spearman correlation is the data's, pairwise over the
    rows where both columns are present (2 sin(pi r_s / 6)), made positive definite.

    Pearson's correlation of normal scores is swayed by the tails, where labs measured near
    their detection limit pair at random between visits: on pbcseq it put bilirubin's lag-1
    correlation at 0.86 where the ranks say 0.92, and the chained visits kept the lower one.
    """
    d = z.shape[1]
    if d == 0:
        return np.zeros((0, 0))
    ranks = pd.DataFrame(z).corr(method="spearman", min_periods=3).to_numpy()
    corr = 2 * np.sin(np.pi * np.where(np.isfinite(ranks), ranks, 0.0) / 6)
    np.fill_diagonal(corr, 1.0)
    return nearest_correlation(corr)


class ConditionalGaussian:
    """N(0, correlation) over ``[given, target]`` scores, sampled as target given given.

    Args:
        correlation: the joint correlation, given columns first.
        n_given: how many of its columns are given.
    """

    def __init__(self, correlation: np.ndarray, n_given: int) -> None:
        self.correlation = correlation
        self.n_given = n_given
        self._cache: dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    @classmethod
    def fit(cls, given: np.ndarray, target: np.ndarray) -> ConditionalGaussian:
        """From training scores (NaN where missing): the pairwise-complete correlation, made
        positive definite.

        Not corrected for ties: the given scores are encoded alike at fit and at sampling (a
        tie drawn inside its interval), so the solve is the regression of the training rows.
        Correcting every tied column (a category, a visit number) as the copula does made
        the joint matrix of about 40 columns indefinite; its repair moved the weights far
        enough to halve a lab's lag-1 correlation.
        """
        z = np.column_stack([given, target])
        return cls(rank_correlation(z), given.shape[1])

    @property
    def n_target(self) -> int:
        return self.correlation.shape[0] - self.n_given

    def sample(self, given: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One target row per given row. Rows are grouped by which given scores they have
        (NaN = not observed: left out of the solve); each group gets its own closed-form
        conditional."""
        n, t = len(given), self.n_target
        out = np.empty((n, t))
        if n == 0:
            return out
        observed = ~np.isnan(given)
        patterns, inverse = np.unique(observed, axis=0, return_inverse=True)
        inverse = np.asarray(inverse).reshape(-1)
        for i, pattern in enumerate(patterns):
            rows = np.flatnonzero(inverse == i)
            columns, weights, root = self._solve(pattern)
            mean = given[np.ix_(rows, columns)] @ weights.T
            out[rows] = mean + rng.standard_normal((len(rows), t)) @ root.T
        return out

    def _solve(self, pattern: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        key = pattern.tobytes()
        if key not in self._cache:
            corr, g = self.correlation, np.flatnonzero(pattern)
            targets = np.arange(self.n_given, corr.shape[0])
            cov_tt = corr[np.ix_(targets, targets)]
            if len(g):
                cov_gg = corr[np.ix_(g, g)] + RIDGE * np.eye(len(g))
                cov_gt = corr[np.ix_(g, targets)]
                weights = np.linalg.solve(cov_gg, cov_gt).T
                cov = cov_tt - weights @ cov_gt
            else:
                weights = np.zeros((len(targets), 0))
                cov = cov_tt
            values, vectors = np.linalg.eigh((cov + cov.T) / 2)
            self._cache[key] = (g, weights, vectors * np.sqrt(np.clip(values, 0.0, None)))
        return self._cache[key]

    @classmethod
    def from_state(cls, correlation: np.ndarray, n_given: int, what: str) -> ConditionalGaussian:
        """A saved one, checked: a correlation matrix (symmetric, unit diagonal, positive
        semi-definite) with a target block."""
        corr = np.asarray(correlation, dtype=float)
        d = corr.shape[0] if corr.ndim == 2 else -1
        expect(
            corr.ndim == 2
            and corr.shape == (d, d)
            and isinstance(n_given, int)
            and 0 <= n_given < d,
            f"{what} does not have a given and a target block",
        )
        expect(
            bool(np.isfinite(corr).all())
            and np.allclose(corr, corr.T)
            and np.allclose(np.diag(corr), 1.0)
            and np.linalg.eigvalsh(corr).min() > -1e-8,
            f"{what} is not a correlation matrix (symmetric, unit diagonal, positive "
            "semi-definite)",
        )
        return cls(corr, n_given)


def marginals_state(
    marginals: list[Marginal], prefix: str
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Marginals as JSON metadata and arrays named ``{prefix}{j}_{part}``."""
    metas, arrays = [], {}
    for j, marginal in enumerate(marginals):
        meta, parts = marginal.state()
        metas.append(meta)
        arrays.update({f"{prefix}{j}_{k}": v for k, v in parts.items()})
    return metas, arrays


def marginals_from_state(
    metas: list[dict[str, Any]],
    arrays: dict[str, np.ndarray],
    prefix: str,
    specs: list[ColumnSpec],
) -> list[Marginal]:
    """The saved marginals, each checked against its column's spec."""
    expect(len(metas) == len(specs), f"the model does not have one '{prefix}' marginal per column")
    out = []
    for j, (meta, spec) in enumerate(zip(metas, specs, strict=True)):
        head = f"{prefix}{j}_"
        parts = {k[len(head) :]: v for k, v in arrays.items() if k.startswith(head)}
        out.append(marginal_from_state(meta, parts, spec))
    return out
