"""The latent multivariate normal of the copula: estimation and (conditional) sampling.

Conditions become boxes in latent space (a category is an interval of its column's uniform
score; a numeric range likewise). The conditioned coordinates are drawn from the truncated
normal exactly when there is one, by a vectorised Gibbs sampler when there are several, and
the rest from the Gaussian conditional on them: no draw is rejected.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

MIN_EIGENVALUE = 1e-6
GIBBS_SWEEPS = 40


MAX_CORRELATION = 0.995


def estimate_correlation(z: np.ndarray, score_variance: np.ndarray | None = None) -> np.ndarray:
    """Pairwise-complete Pearson correlation of normal scores, repaired to a valid matrix.

    ``score_variance`` (per column, <= 1) undoes the attenuation that ties and categories
    cause: the latent correlation is the observed one divided by both columns' variance.
    """
    d = z.shape[1]
    if d == 0:
        return np.zeros((0, 0))
    return repair_correlation(pd.DataFrame(z).corr(min_periods=3).to_numpy(), score_variance)


def repair_correlation(corr: np.ndarray, score_variance: np.ndarray | None = None) -> np.ndarray:
    """The copula's matrix from pairwise Pearson correlations of normal scores (NaN where
    undefined): ties undone, clipped, made positive definite. A streamed fit computes the
    Pearson matrix from moments summed over partitions and finishes here."""
    corr = np.where(np.isfinite(corr), corr, 0.0)
    if score_variance is not None:
        corr = corr / np.outer(score_variance, score_variance)
        corr = np.clip(corr, -MAX_CORRELATION, MAX_CORRELATION)
    np.fill_diagonal(corr, 1.0)
    return nearest_correlation(corr)


def nearest_correlation(corr: np.ndarray) -> np.ndarray:
    """Clip eigenvalues so the matrix is positive definite, then restore the unit diagonal."""
    corr = (corr + corr.T) / 2
    values, vectors = np.linalg.eigh(corr)
    if values.min() >= MIN_EIGENVALUE:
        return corr
    fixed = (vectors * np.maximum(values, MIN_EIGENVALUE)) @ vectors.T
    scale = np.sqrt(np.diag(fixed))
    fixed = fixed / np.outer(scale, scale)
    np.fill_diagonal(fixed, 1.0)
    return fixed


def truncated_normal(
    mean: np.ndarray, sd: np.ndarray, low: np.ndarray, high: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Inverse-CDF draws from N(mean, sd^2) truncated to [low, high], stable in both tails."""
    a = (low - mean) / sd
    b = (high - mean) / sd
    # Work in the lower tail, where ndtr/ndtri keep their precision: flip when a > 0.
    flip = a > 0
    a2, b2 = np.where(flip, -b, a), np.where(flip, -a, b)
    pa, pb = ndtr(a2), ndtr(b2)
    u = pa + rng.random(np.shape(mean)) * (pb - pa)
    x = ndtri(np.clip(u, 1e-300, 1 - 1e-16))
    x = np.where(flip, -x, x)
    x = np.clip(x, a, b)
    return mean + sd * x


def sample_latent(
    corr: np.ndarray,
    n_rows: int,
    rng: np.random.Generator,
    boxes: dict[int, tuple[float, float]] | None = None,
    *,
    matched: bool = False,
) -> np.ndarray:
    """``n_rows`` draws of N(0, corr), with coordinate ``j`` inside ``boxes[j]`` (z-space).

    ``matched`` (without boxes): a draw of ``MATCHED_MAX_ROWS`` rows or fewer as a whole
    matches the model, see :func:`matched_latent`; with boxes it has no effect (a conditioned
    draw is a slice of the model, whose moments it should not have).
    """
    d = corr.shape[0]
    boxes = boxes or {}
    if (
        not boxes
        and matched
        and MATCHED_MIN_ROWS_PER_COLUMN * max(d, 1) <= n_rows <= MATCHED_MAX_ROWS
    ):
        return matched_latent(corr, n_rows, rng)
    if not boxes:  # the common case, without the copies that fancy indexing makes
        return _rows_times(rng.standard_normal((n_rows, d)), _sqrt_psd(corr).T)
    z = np.empty((n_rows, d))
    fixed = sorted(boxes)
    free = [j for j in range(d) if j not in boxes]
    if fixed:
        z[:, fixed] = _sample_box(
            corr[np.ix_(fixed, fixed)],
            n_rows,
            rng,
            np.array([boxes[j][0] for j in fixed]),
            np.array([boxes[j][1] for j in fixed]),
        )
    if free:
        cov_ff = corr[np.ix_(free, free)]
        if fixed:
            cov_fc = corr[np.ix_(free, fixed)]
            weights = np.linalg.solve(corr[np.ix_(fixed, fixed)], cov_fc.T).T
            mean = z[:, fixed] @ weights.T
            cov = cov_ff - weights @ cov_fc.T
        else:
            mean = np.zeros((n_rows, len(free)))
            cov = cov_ff
        root = _sqrt_psd(cov)
        z[:, free] = mean + _rows_times(rng.standard_normal((n_rows, len(free))), root.T)
    return z


#: Fewest rows per column for a matched draw: its sample covariance must be well conditioned
#: to be whitened (below this the plain draw is used).
MATCHED_MIN_ROWS_PER_COLUMN = 3
#: Most rows a matched draw sorts. The sampling error it removes shrinks as 1/sqrt(rows): at
#: 20,000 a column's expected KS distance from its marginal is under 0.007, below what the
#: 100 stored quantiles resolve, while sorting every column of a 100,000-row draw tripled the
#: copula's sampling time. Larger draws are independent rows.
MATCHED_MAX_ROWS = 20_000


def matched_latent(corr: np.ndarray, n_rows: int, rng: np.random.Generator) -> np.ndarray:
    """``n_rows`` normal-score rows whose sample correlation is ``corr`` and whose every column
    is a stratified standard-normal sample (one value in each 1/n_rows slice of probability).

    Why: an independent draw of a few hundred rows adds its own sampling error on top of the
    model's (the model was estimated from as few real rows): each column's histogram wanders
    from the fitted marginal and every correlation from the fitted one, which costs fidelity
    and the relations a model trained on the rows learns. Removing that second error is
    moment matching and Latin hypercube sampling with rank-preserving reordering (Iman and
    Conover, 1982): the rows are whitened to an exact identity covariance and coloured with
    the model's correlation, then each column keeps its ranks (the dependence) and takes
    stratified normal scores. For a large draw it changes almost nothing; rows are still
    random (a new seed gives other rows), and nothing beyond the fitted model is used.
    """
    d = corr.shape[0]
    x = rng.standard_normal((n_rows, d))
    x -= x.mean(axis=0)
    # whiten: x' x / (n - 1) becomes the identity exactly
    chol = np.linalg.cholesky((x.T @ x) / (n_rows - 1))
    x = np.linalg.solve(chol, x.T).T
    z = _rows_times(x, _sqrt_psd(corr).T)
    slices = (np.arange(n_rows)[:, None] + rng.random((n_rows, d))) / n_rows
    for j in range(d):
        z[np.argsort(z[:, j], kind="stable"), j] = ndtri(slices[:, j])
    return z


#: Rows per matrix product: below OpenBLAS's threading threshold for a copula's few columns.
ROW_BLOCK = 4096


def _rows_times(z: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``z @ matrix``, a block of rows at a time. The same numbers (each cell is computed by
    the same kernel over the same inner sum), but one product of 100,000 rows woke OpenBLAS's
    threads, and on a busy machine waiting for them took 0.1 s where the work takes 2 ms."""
    out = np.empty((z.shape[0], matrix.shape[1]))
    for start in range(0, z.shape[0], ROW_BLOCK):
        np.matmul(z[start : start + ROW_BLOCK], matrix, out=out[start : start + ROW_BLOCK])
    return out


def _sample_box(
    corr: np.ndarray, n_rows: int, rng: np.random.Generator, low: np.ndarray, high: np.ndarray
) -> np.ndarray:
    k = len(low)
    lows, highs = np.broadcast_to(low, (n_rows, k)), np.broadcast_to(high, (n_rows, k))
    ones = np.ones((n_rows, k))
    z = truncated_normal(np.zeros((n_rows, k)), ones, lows, highs, rng)
    if k == 1:
        return z
    precision = np.linalg.inv(corr)
    for _ in range(GIBBS_SWEEPS):
        for j in range(k):
            others = [i for i in range(k) if i != j]
            sd = 1.0 / np.sqrt(precision[j, j])
            mean = -(z[:, others] @ precision[j, others]) / precision[j, j]
            z[:, j] = truncated_normal(mean, np.full(n_rows, sd), lows[:, j], highs[:, j], rng)
    return z


def _sqrt_psd(cov: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((cov + cov.T) / 2)
    return vectors * np.sqrt(np.clip(values, 0.0, None))


def uniform_to_latent(u_low: float, u_high: float) -> tuple[float, float]:
    low = float(ndtri(u_low)) if u_low > 0 else -np.inf
    return low, float(ndtri(u_high)) if u_high < 1 else np.inf
