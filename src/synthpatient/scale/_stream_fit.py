"""Fitting past one machine's memory: the Gaussian copula from a Parquet dataset or a Dask
DataFrame in passes over its partitions; any other synthesizer on a uniform sample.

The copula's fit, streamed (see ``synthesizers/copula.py`` for the in-memory one):

0. A uniform sample without replacement of ``sample_rows`` rows (exact size) is read; the
   schema is inferred from it when none is given.
1. Every learned column is summarised over all rows (``_profile``): a mergeable quantile
   sketch per ordered column (exact for up to 4,096 distinct values, rank error at most
   ``(1 + compressions) / 4096`` otherwise, see ``_sketch``), exact counts per category, missing
   counts. The schema's bounds, categories and nullability come from these, so a rare category
   the sample missed is still learned; the marginals are built from them.
2. Every row's normal score is taken through those marginals (ties broken at random, as in
   memory) and the pairwise-complete moments of the scores are summed over partitions; the
   Pearson matrix from them is repaired as in memory (ties undone, positive definite).

What is learned on the sample (stated in ``FitReport``): the order of categories along the
latent axis, the chain of missing-value trees, the relations between columns and each
column's kind (when inferred) and decimals. Partition ``i`` breaks ties with the seed
(seed, pass, i, batch), so the fit is the same whatever the number of workers. The result is
an ordinary :class:`GaussianCopulaSynthesizer`: it saves as the usual folder (no pickle) and
``sample_partitioned`` reads it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from synthpatient.errors import DataError, InvalidParameterError, SynthPatientWarning
from synthpatient.scale._partitions import (
    Engine,
    Partition,
    columns_of,
    map_partitions,
    partitions_of,
    sample_plan,
    session,
    take_rows,
)
from synthpatient.scale._profile import (
    ORDERED,
    Profile,
    category_counts,
    coerce_batch,
    complete_from_profile,
    open_schema,
    profile_partition,
)
from synthpatient.scale._sketch import MixtureCDF
from synthpatient.schema import Schema, explain_schema, warn_unsure
from synthpatient.synthesizers.base import Synthesizer
from synthpatient.synthesizers.copula import GaussianCopulaSynthesizer
from synthpatient.synthesizers.copula_parts import (
    EPS,
    CategoricalMarginal,
    NumericMarginal,
    fit_missingness,
    group_score_variance,
    repair_correlation,
    to_numbers,
)

SAMPLE_ROWS = 200_000


@dataclass(frozen=True)
class FitReport:
    """How a streamed fit went: rows read, the sample's size, passes, the worst rank error
    of a quantile sketch, and what was learned on the sample only."""

    rows: int
    partitions: int
    sample_rows: int
    passes: int
    max_rank_error: float
    learned_on_sample: tuple[str, ...]


def fit_partitioned(
    source: Any,
    synthesizer: str | Synthesizer = "copula",
    *,
    schema: Schema | None = None,
    sample_rows: int = SAMPLE_ROWS,
    engine: Engine = "local",
    scheduler: str | None = None,
    workers: int | None = None,
) -> Synthesizer:
    """Fit ``synthesizer`` on a dataset larger than memory.

    Args:
        source: a folder of Parquet files (one partition each, read in bounded batches), one
            Parquet file, or a Dask DataFrame.
        synthesizer: a registry key or an unfitted instance. The copula is fitted from all
            rows in passes (see the module); any other is fitted on a uniform sample of
            ``sample_rows`` rows, with a warning that says so.
        schema: the table's schema; None infers it from the uniform sample.
        sample_rows: size of the uniform sample (rows without replacement, all if fewer).
        engine, scheduler, workers: where the passes run, as for ``sample_partitioned``.

    Returns:
        The fitted synthesizer; a copula also has ``fit_report_`` (a :class:`FitReport`).

    Raises:
        DataError: the source holds no rows or cannot be read; a declared schema disagrees.
        InvalidParameterError: ``sample_rows`` or ``engine`` out of range.

    Examples:
        >>> from synthpatient.scale import fit_partitioned
        >>> model = fit_partitioned("big_table/", "copula", engine="dask")
        >>> model.save("model/")
    """
    from synthpatient.synthesizers import make_synthesizer

    if isinstance(sample_rows, bool) or not isinstance(sample_rows, int) or sample_rows < 10:
        raise InvalidParameterError(
            f"sample_rows must be a whole number >= 10; got {sample_rows!r}."
        )
    synth = make_synthesizer(synthesizer) if isinstance(synthesizer, str) else synthesizer
    parts = [p for p in partitions_of(source) if p.rows]
    total = sum(p.rows for p in parts)
    if total < synth.min_rows:
        raise DataError(
            f"{type(synth).__name__} needs at least {synth.min_rows} rows; the dataset has {total}."
        )
    seed = 0 if synth.seed is None else int(synth.seed)
    with session(engine, scheduler, workers) as run:
        return _fit(synth, parts, total, schema, sample_rows, seed, run)


def _fit(
    synth: Synthesizer,
    parts: list[Partition],
    total: int,
    schema: Schema | None,
    sample_rows: int,
    seed: int,
    run: dict[str, Any],
) -> Synthesizer:
    sample = _uniform_sample(parts, sample_rows, seed, run)
    if not isinstance(synth, GaussianCopulaSynthesizer):
        if len(sample) < total:
            warnings.warn(
                f"{type(synth).__name__} cannot be fitted in passes over partitions: it is "
                f"fitted on a uniform sample of {len(sample):,} of the {total:,} rows.",
                SynthPatientWarning,
                stacklevel=3,
            )
        return synth.fit(sample, schema=schema)
    _fit_copula(synth, parts, sample, schema, run, seed)
    return synth


def _uniform_sample(
    parts: list[Partition], sample_rows: int, seed: int, run: dict[str, Any]
) -> pd.DataFrame:
    plan = sample_plan(parts, sample_rows, seed)
    columns = columns_of(parts)
    tasks = [(p, rows, columns) for p, rows in zip(parts, plan, strict=True) if len(rows)]
    pieces = map_partitions(take_rows, tasks, **run)
    return pd.concat(pieces, ignore_index=True)


def _schema_of(sample: pd.DataFrame, schema: Schema | None) -> tuple[Schema, bool]:
    if schema is not None:
        schema.validate(sample)  # kinds and columns, on the sample; bounds on every row later
        return schema, False
    schema, decisions = explain_schema(sample)
    warn_unsure(decisions, advice="Check them, or give a schema.", stacklevel=5)
    return schema, True


def _fit_copula(
    synth: GaussianCopulaSynthesizer,
    parts: list[Partition],
    sample: pd.DataFrame,
    schema: Schema | None,
    run: dict[str, Any],
    seed: int,
) -> None:
    schema, inferred = _schema_of(sample, schema)
    reading = open_schema(schema)
    profiles = map_partitions(profile_partition, [(p, reading) for p in parts], **run)
    profile = profiles[0]
    for other in profiles[1:]:
        profile = profile.merge(other)
    # the sample fills what only a table can (decimals, relations); the profile the rest
    schema = complete_from_profile(schema.complete(sample), schema, profile, inferred)
    specs = schema.learned
    if not specs:
        raise DataError(
            "Every column is an identifier or free text, so there is nothing to learn. "
            "Give a table with clinical values, or edit the schema."
        )
    rng = np.random.default_rng([seed, 1])
    synth.columns_ = [s.name for s in specs]
    synth.marginals_ = _marginals(schema, profile, synth.n_quantiles)
    cdfs = {n: MixtureCDF.of(profile.sketches[n]) for n in synth.columns_ if n in profile.sketches}
    typed = coerce_batch(schema, sample, synth.columns_)
    z = normal_scores(typed, synth.marginals_, cdfs, rng)
    synth._order_categories(typed, z, rng)  # on the sample: see the module
    tasks = [(p, schema, synth.marginals_, cdfs, seed) for p in parts]
    moments = map_partitions(score_moments, tasks, **run)
    total = moments[0]
    for other in moments[1:]:
        total = total.merge(other)
    variance = np.array(
        [
            _score_variance(m, cdfs.get(n))
            for n, m in zip(synth.columns_, synth.marginals_, strict=True)
        ]
    )
    synth.correlation_ = repair_correlation(total.pearson(), variance)
    missing = np.isnan(z)
    nullable = [i for i, s in enumerate(specs) if s.nullable]
    synth.missing_trees_ = fit_missingness(
        synth._encode_features(z, missing),
        missing,
        nullable,
        rng,
        max_depth=synth.missing_tree_depth,
        min_leaf=synth.missing_min_leaf,
    )
    synth.schema_ = schema
    synth.n_training_rows_ = profile.rows
    errors = [s.rank_error for s in profile.sketches.values()]
    report = FitReport(
        rows=profile.rows,
        partitions=len(parts),
        sample_rows=len(sample),
        passes=3,
        max_rank_error=max(errors, default=0.0),
        learned_on_sample=(
            "order of categories",
            "missing-value trees",
            "relations",
            "decimals",
            *(("column kinds",) if inferred else ()),
        ),
    )
    # an attribute of this fit, not of the model: it is not saved with it
    setattr(synth, "fit_report_", report)  # noqa: B010


def _marginals(schema: Schema, profile: Profile, n_quantiles: int) -> list[Any]:
    out: list[Any] = []
    for spec in schema.learned:
        if spec.kind in ORDERED:
            sketch = profile.sketches[spec.name]
            if not sketch.n:
                raise DataError(f"Column '{spec.name}' has no values to learn; leave it out.")
            k = int(min(n_quantiles, max(sketch.n, 2)))
            levels = np.linspace(0.0, 1.0, k)
            out.append(NumericMarginal(levels, sketch.quantiles(levels), spec.kind == "datetime"))
        else:
            categories = (
                list(spec.categories or ()) if spec.kind == "categorical" else [True, False]
            )
            counts = category_counts(categories, profile.counts.get(spec.name, {}))
            if not counts.sum():
                raise DataError(f"Column '{spec.name}' has no values to learn; leave it out.")
            out.append(CategoricalMarginal.from_counts(categories, counts))
    return out


def _score_variance(marginal: Any, cdf: MixtureCDF | None) -> float:
    if cdf is None:
        return group_score_variance(np.diff(marginal.edges))
    return group_score_variance(cdf.group_shares())


def normal_scores(
    typed: pd.DataFrame,
    marginals: list[Any],
    cdfs: dict[str, MixtureCDF],
    rng: np.random.Generator,
) -> np.ndarray:
    """Each value's normal score through the whole data's marginals (NaN where missing);
    ties (point masses, categories) are broken at random, as the in-memory fit breaks them."""
    z = np.full(typed.shape, np.nan)
    for j, (name, marginal) in enumerate(zip(typed.columns, marginals, strict=True)):
        if name in cdfs:
            numbers = to_numbers(typed[name])
            present = ~np.isnan(numbers)
            low, high = cdfs[name].interval(numbers[present])
            u = np.full(len(numbers), np.nan)
            u[present] = low + rng.random(int(present.sum())) * (high - low)
        else:
            u = marginal.to_uniform(typed[name], rng)
        z[:, j] = ndtri(np.clip(u, EPS, 1 - EPS))
    return z


@dataclass
class Moments:
    """Sums for pairwise-complete Pearson correlations of normal scores: for columns i, j,
    over rows where both are present: count, sums of z_i, of z_i^2, and of z_i z_j."""

    count: np.ndarray
    sums: np.ndarray  # sums[i, j]: z_i over rows with i and j present
    squares: np.ndarray
    products: np.ndarray

    @classmethod
    def of(cls, z: np.ndarray) -> Moments:
        present = (~np.isnan(z)).astype(float)
        filled = np.where(np.isnan(z), 0.0, z)
        return cls(
            present.T @ present, filled.T @ present, (filled**2).T @ present, filled.T @ filled
        )

    def merge(self, other: Moments) -> Moments:
        return Moments(
            self.count + other.count,
            self.sums + other.sums,
            self.squares + other.squares,
            self.products + other.products,
        )

    def pearson(self) -> np.ndarray:
        """As ``DataFrame.corr(min_periods=3)``: NaN where fewer than 3 rows share a pair."""
        n, s, q = self.count, self.sums, self.squares
        with np.errstate(invalid="ignore", divide="ignore"):
            cov = n * self.products - s * s.T
            var_i, var_j = n * q - s**2, (n * q - s**2).T
            corr = cov / np.sqrt(var_i * var_j)
        corr[n < 3] = np.nan
        return corr


def score_moments(
    part: Partition,
    schema: Schema,
    marginals: list[Any],
    cdfs: dict[str, MixtureCDF],
    seed: int,
) -> Moments:
    """Pass two over one partition (runs on a worker)."""
    names = [s.name for s in schema.learned]
    d = len(names)
    total = Moments(np.zeros((d, d)), np.zeros((d, d)), np.zeros((d, d)), np.zeros((d, d)))
    for b, batch in enumerate(part.batches()):
        typed = coerce_batch(schema, batch, names)
        rng = np.random.default_rng([seed, 2, part.index, b])
        total = total.merge(Moments.of(normal_scores(typed, marginals, cdfs, rng)))
    return total
