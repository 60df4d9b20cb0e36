"""Numbers from mixed tables: one encoding for distances (privacy) and for models (utility).

The encoder is fitted on the REAL table and then applied, unchanged, to every other table
(synthetic, holdout), so that all of them live in the same space.

Encoding and weights (``mode="onehot"``, used for distances and linear models):

* numeric, integer and datetime columns (datetimes as days since 1970) are robust-scaled with
  the real median and interquartile range: ``(x - median) / IQR``. When the IQR is 0 (a column
  that is mostly one value) we use ``1.349 * std`` (the IQR of a normal with that spread), and
  1 when that is 0 too. Median and IQR, not mean and std, so that a few extreme lab values do
  not shrink everyone else's differences to nothing.
* a missing numeric value is replaced by the real median, and an extra 0/1 indicator column is
  added when the real column has missing values (or the schema says it is nullable).
* categorical and boolean columns are one-hot over the real categories; missing is its own
  category when the real column has missing values (or is nullable). A category the real data
  never had encodes as all zeros. Above ``max_categories`` distinct real values, the rarest go
  to one shared "other" column, so a free-text-like column cannot blow up memory.
* every one-hot block is multiplied by ``1/sqrt(2)``, so that two different categories are at
  Euclidean distance 1, the same as two numeric values one IQR apart, and a missing/present
  mismatch costs 1 (the indicator) plus the gap to the median. Each original column therefore
  contributes about equally to a distance, whatever its type or number of categories.

``mode="ordinal"`` (for gradient boosting) keeps one column per original column: scaled numbers
with NaN left in place (the trees handle missing values), and category codes (NaN for missing
or unknown) flagged in :attr:`Encoder.categorical_mask`.

Also here, shared by ``privacy`` and ``utility``: table checks whose errors name columns and
counts but never values, seeded row sampling, spelling-independent category keys, row hashes
for exact-copy checks, an exact nearest-neighbour search and a k-NN vote.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from synthpatient._random import check_seed, fresh_seed
from synthpatient.errors import DataError, InvalidParameterError
from synthpatient.schema import Schema, category_key, utc_datetimes

EncodingMode = Literal["onehot", "ordinal"]
NUMERIC_KINDS = frozenset({"numeric", "integer", "datetime"})
CATEGORY_KINDS = frozenset({"categorical", "boolean"})
MAX_CATEGORIES = 64
#: HistGradientBoosting needs category codes below max_bins (255), "other" included.
MAX_ORDINAL_CATEGORIES = 250
ONE_HOT_WEIGHT = float(1.0 / np.sqrt(2.0))
NORMAL_IQR_PER_STD = 1.349
#: Scaled numbers are clipped to this many IQRs from the real median (see ``transform``).
MAX_SCALED = 1e12
#: Above this magnitude, statistics are computed on values divided by their largest magnitude
#: (1e100 squared is still a finite float); no measured clinical quantity comes near it.
HUGE = 1e100
#: Models trained on at most this many rows run on one thread (see :func:`model_threads`).
ONE_THREAD_ROWS = 20_000
_BOOL_WORDS = {
    "true": "True",
    "false": "False",
    "1": "True",
    "0": "False",
    "yes": "True",
    "no": "False",
}
_MISSING_KEY = "\x00missing"
_DAY_NS = 86_400 * 10**9


# -- checks shared by the evaluators ---------------------------------------------------------
def check_frame(frame: object, what: str) -> pd.DataFrame:
    """Raise a clear error unless ``frame`` is a non-empty DataFrame with unique column names."""
    if not isinstance(frame, pd.DataFrame):
        raise InvalidParameterError(
            f"The {what} table must be a pandas DataFrame. Got {type(frame).__name__}."
        )
    if len(frame) == 0:
        raise DataError(f"The {what} table has no rows; give at least one row.")
    if frame.columns.duplicated().any():
        dupes = sorted(map(str, frame.columns[frame.columns.duplicated()].unique()))
        raise DataError(f"The {what} table has duplicate column names: {dupes}.")
    return frame


@contextlib.contextmanager
def model_threads(n_rows: int) -> Iterator[None]:
    """One OpenMP/BLAS thread for models fitted on ``n_rows`` <= ONE_THREAD_ROWS rows.

    On small tables threads gain nothing, and on a busy machine gradient boosting's OpenMP
    threads wait for each other: 300 rows took 20 times longer with them than without. The
    fitted models are the same either way (scikit-learn's histograms sum each feature on one
    thread), so scores do not change.
    """
    if n_rows > ONE_THREAD_ROWS:
        yield
        return
    with threadpool_limits(limits=1):
        yield


def learned_columns(schema: Schema) -> list[str]:
    """Columns evaluators compare: learned kinds only (identifiers and free text are ignored)."""
    columns = [c.name for c in schema.learned]
    if not columns:
        raise DataError(
            "The schema has no learned columns (numeric, integer, categorical, "
            "boolean, datetime); there is nothing to compare."
        )
    return columns


def check_columns(
    frame: pd.DataFrame, required: Sequence[str], what: str, reference: pd.DataFrame | None = None
) -> None:
    """Raise a :class:`DataError` naming the learned columns ``frame`` lacks, and the columns it
    has that the real table (``reference``) does not. Only names are listed, never values."""
    missing = [c for c in required if c not in frame.columns]
    extra = (
        [] if reference is None else [str(c) for c in frame.columns if c not in reference.columns]
    )
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"it lacks {len(missing)} column(s) of the real table: {missing}")
        if extra:
            parts.append(f"it has {len(extra)} column(s) the real table does not: {extra}")
        raise DataError(
            f"The {what} table does not have the real table's columns: "
            + "; ".join(parts)
            + ". Give tables with the same columns."
        )


def sample_rows(n: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Row positions: all of them, or ``cap`` drawn without replacement (sorted)."""
    if n <= cap:
        return np.arange(n)
    return np.sort(rng.choice(n, size=cap, replace=False))


def check_positive_int(value: int, name: str) -> int:
    """``value`` as an int, or an :class:`InvalidParameterError` unless it is 1 or more."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InvalidParameterError(f"'{name}' must be a positive integer. Got {value!r}.")
    return int(value)


@dataclass(frozen=True)
class Tables:
    """What every privacy evaluator starts from: the schema, its learned columns, a seeded RNG."""

    schema: Schema
    columns: list[str]
    rng: np.random.Generator
    seed: int


def prepare_tables(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None,
    schema: Schema | None,
    seed: int | None,
) -> Tables:
    """Check the tables, infer the schema if needed, and draw a seed when None (recorded)."""
    check_frame(real, "real")
    check_frame(synthetic, "synthetic")
    if holdout is not None:
        check_frame(holdout, "holdout")
    check_seed(seed)
    schema = schema or Schema.infer(real)
    columns = learned_columns(schema)
    check_columns(real, columns, "real")
    check_columns(synthetic, columns, "synthetic", real)
    if holdout is not None:
        check_columns(holdout, columns, "holdout", real)
    seed = fresh_seed() if seed is None else int(seed)
    return Tables(schema, columns, np.random.default_rng(seed), seed)


# -- per-column conversions ------------------------------------------------------------------
def category_keys(series: pd.Series, kind: str = "categorical") -> np.ndarray:
    """Spelling-independent category keys (object array; None where missing).

    ``1``, ``1.0`` and ``"1"`` give the same key (see :func:`synthpatient.schema.category_key`);
    for booleans ``True``/``"yes"``/``1`` all give ``"True"``. Keys are computed once per
    distinct value, so this is fast on large tables.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    keys = [category_key(v) for v in uniques]
    if kind == "boolean":
        keys = [_BOOL_WORDS.get(k.lower(), k) for k in keys]
    lookup = np.array(keys + [None], dtype=object)
    return lookup[codes]  # code -1 (missing) picks the trailing None


def numbers(series: pd.Series, kind: str) -> np.ndarray:
    """Values as float64 (datetimes as days since 1970); missing or unparseable -> NaN."""
    if kind == "datetime":
        values = utc_datetimes(series)  # as the schema reads dates: offsets to UTC
        out = values.to_numpy().astype("int64").astype(float) / _DAY_NS
        out[values.isna().to_numpy()] = np.nan
        return out
    if series.dtype == bool:
        return series.to_numpy(dtype=float)
    # np.array copies: under pandas copy-on-write to_numpy() may hand back a read-only view
    out = np.array(pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan))
    out[~np.isfinite(out)] = np.nan
    return out


# -- the encoder -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _NumericBlock:
    name: str
    kind: str
    center: float
    scale: float
    indicator: bool


@dataclass(frozen=True)
class _CategoryBlock:
    name: str
    kind: str
    categories: tuple[str, ...]  # kept categories, most frequent first
    other: frozenset[str]  # real categories beyond the cap -> one shared column
    missing_column: bool


@dataclass(frozen=True)
class Encoder:
    """A fitted encoding of the learned columns; apply it with :meth:`transform`."""

    blocks: tuple[_NumericBlock | _CategoryBlock, ...]
    mode: EncodingMode = "onehot"

    @property
    def columns(self) -> list[str]:
        """The original columns, in order."""
        return [b.name for b in self.blocks]

    @property
    def feature_names(self) -> list[str]:
        """Names of the output columns (e.g. ``bmi``, ``bmi__missing``, ``sex==female``)."""
        names: list[str] = []
        for b in self.blocks:
            if isinstance(b, _NumericBlock):
                names.append(b.name)
                if b.indicator and self.mode == "onehot":
                    names.append(f"{b.name}__missing")
            elif self.mode == "ordinal":
                names.append(b.name)
            else:
                names += [f"{b.name}=={c}" for c in b.categories]
                names += [f"{b.name}__other"] if b.other else []
                names += [f"{b.name}__missing"] if b.missing_column else []
        return names

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def categorical_mask(self) -> np.ndarray:
        """Which output columns are category codes (``mode="ordinal"``; all False otherwise)."""
        if self.mode != "ordinal":
            return np.zeros(self.n_features, dtype=bool)
        return np.array([isinstance(b, _CategoryBlock) for b in self.blocks], dtype=bool)

    def transform(self, frame: pd.DataFrame, dtype: type = np.float32) -> np.ndarray:
        """Encode ``frame`` (which is not modified) as a ``(rows, n_features)`` array."""
        check_columns(frame, self.columns, "given")
        parts: list[np.ndarray] = []
        for b in self.blocks:
            series = frame[b.name]
            if isinstance(b, _NumericBlock):
                values = numbers(series, b.kind)
                missing = np.isnan(values)
                with np.errstate(over="ignore", invalid="ignore"):
                    # absurd values (infinite, beyond MAX_SCALED IQRs) stay the farthest
                    # there are, but finite in float32 and in squared distances
                    scaled = np.clip((values - b.center) / b.scale, -MAX_SCALED, MAX_SCALED)
                if self.mode == "ordinal":
                    parts.append(scaled[:, None])
                    continue
                scaled[np.isnan(scaled)] = 0.0  # missing: the real median, after centring
                parts.append(scaled[:, None])
                if b.indicator:
                    parts.append(missing.astype(float)[:, None])
            else:
                parts.append(self._encode_categories(b, category_keys(series, b.kind)))
        if not parts:
            return np.zeros((len(frame), 0), dtype=dtype)
        return np.hstack(parts).astype(dtype, copy=False)

    def _encode_categories(self, block: _CategoryBlock, keys: np.ndarray) -> np.ndarray:
        index = {c: i for i, c in enumerate(block.categories)}
        n_cat = len(block.categories)
        other_code, missing_code = n_cat, n_cat + 1
        # codes per distinct key only: keys repeat a lot
        uniq, inverse = np.unique(
            np.where(pd.isna(keys), _MISSING_KEY, keys).astype(str), return_inverse=True
        )
        lookup = np.array(
            [
                missing_code
                if k == _MISSING_KEY
                else index.get(k, other_code if k in block.other else -1)
                for k in uniq
            ],
            dtype=np.int64,
        )
        codes = lookup[inverse] if len(uniq) else np.zeros(0, dtype=np.int64)
        if self.mode == "ordinal":
            out = codes.astype(float)
            out[(codes == missing_code) | (codes < 0)] = np.nan  # trees: missing/unknown
            return out[:, None]
        width = n_cat + bool(block.other) + block.missing_column
        onehot = np.zeros((len(codes), width))
        columns = codes.copy()
        columns[codes == missing_code] = n_cat + bool(block.other) if block.missing_column else -1
        rows = np.flatnonzero(columns >= 0)
        onehot[rows, columns[rows]] = ONE_HOT_WEIGHT
        return onehot


def _center_scale(present: np.ndarray) -> tuple[float, float]:
    """Median and IQR of finite values (a normal-equivalent spread when the IQR is 0, else 1).

    Values near the float limits (a column holding ±1e308, or 1e-308) are divided by their
    largest magnitude first, so quartiles and spreads do not overflow to infinity or NaN (or
    underflow to 0); a spread wider than a float can hold becomes the largest float.
    """
    peak = float(np.abs(present).max())
    unit = 1.0 if peak == 0.0 or 1.0 / HUGE <= peak <= HUGE else peak
    q1, center, q3 = np.percentile(present / unit, [25, 50, 75])
    scale = q3 - q1
    if not scale > 0:
        scale = NORMAL_IQR_PER_STD * float(np.std(present / unit))
    if not scale > 0:
        return float(center * unit), 1.0
    with np.errstate(over="ignore"):  # an overflowing spread becomes the largest float
        return float(center * unit), float(min(scale * unit, np.finfo(float).max))


def _fit_blocks(
    real: pd.DataFrame, kinds: Mapping[str, str], nullable: Mapping[str, bool], max_categories: int
) -> tuple[_NumericBlock | _CategoryBlock, ...]:
    blocks: list[_NumericBlock | _CategoryBlock] = []
    for name, kind in kinds.items():
        series = real[name]
        if kind in NUMERIC_KINDS:
            values = numbers(series, kind)
            present = values[~np.isnan(values)]
            center, scale = _center_scale(present) if len(present) else (0.0, 1.0)
            has_missing = bool(len(present) < len(values)) or nullable.get(name, False)
            blocks.append(_NumericBlock(name, kind, float(center), float(scale), has_missing))
        elif kind in CATEGORY_KINDS:
            keys = category_keys(series, kind)
            counts = pd.Series(keys[~pd.isna(keys)]).value_counts(sort=True)
            ordered = [str(k) for k in counts.index]
            kept, rest = ordered[:max_categories], ordered[max_categories:]
            has_missing = bool(pd.isna(keys).any()) or nullable.get(name, False)
            blocks.append(_CategoryBlock(name, kind, tuple(kept), frozenset(rest), has_missing))
        else:
            raise InvalidParameterError(
                f"Column '{name}' is of kind '{kind}', which evaluators do not encode."
            )
    return tuple(blocks)


def fit_encoder(
    real: pd.DataFrame,
    schema: Schema | None = None,
    *,
    columns: Sequence[str] | None = None,
    mode: EncodingMode = "onehot",
    max_categories: int = MAX_CATEGORIES,
) -> Encoder:
    """Fit the encoding of ``real``'s learned columns (``real`` is not modified).

    Args:
        real: The table whose medians, IQRs and categories define the encoding.
        schema: Column kinds; inferred from ``real`` when None.
        columns: Encode only these learned columns (default: all learned columns).
        mode: ``"onehot"`` for distances and linear models, ``"ordinal"`` for trees.
        max_categories: Categories kept per column; rarer real ones share an "other" column.

    Returns:
        An :class:`Encoder`; ``encoder.transform(frame)`` gives a float32 array.
    """
    check_frame(real, "real")
    schema = schema or Schema.infer(real)
    learned = learned_columns(schema)
    if columns is None:
        columns = learned
    unknown = [c for c in columns if c not in learned]
    if unknown:
        raise InvalidParameterError(
            f"Columns {unknown} are not learned columns of the schema; choose among {learned}."
        )
    check_columns(real, columns, "real")
    if mode not in ("onehot", "ordinal"):
        raise InvalidParameterError(f"mode must be 'onehot' or 'ordinal'. Got {mode!r}.")
    cap = min(max_categories, MAX_ORDINAL_CATEGORIES) if mode == "ordinal" else max_categories
    kinds = {c: schema[c].kind for c in columns}
    nullable = {c: schema[c].nullable for c in columns}
    return Encoder(_fit_blocks(real, kinds, nullable, cap), mode)


# -- rows: nearest neighbours ---------------------------------------------------------------
def nearest_neighbours(
    query: np.ndarray, reference: np.ndarray, k: int = 1, *, chunk_rows: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """Exact Euclidean k nearest ``reference`` rows of every ``query`` row.

    Candidates come from scikit-learn's brute-force search in float32 (its chunked, threaded
    kernel is several times faster than a numpy argpartition); the ``k + 2`` best candidates
    are then re-measured in float64 from the coordinates, so exact copies get distance 0 and
    near-ties are ordered correctly.

    Returns:
        ``(distances, indices)``, both ``(len(query), k)``, nearest first.
    """
    n_ref = len(reference)
    if n_ref == 0 or k < 1:
        raise InvalidParameterError("nearest_neighbours needs k >= 1 and a non-empty reference.")
    k = min(k, n_ref)
    n_cand = min(k + 2, n_ref)
    ref64 = np.asarray(reference, dtype=np.float64)
    qry64 = np.asarray(query, dtype=np.float64)
    dist_out = np.empty((len(query), k))
    idx_out = np.empty((len(query), k), dtype=np.int64)
    if len(query) == 0:
        return dist_out, idx_out
    search = NearestNeighbors(n_neighbors=n_cand, algorithm="brute")
    search.fit(np.ascontiguousarray(reference, dtype=np.float32))
    cand_all = search.kneighbors(
        np.ascontiguousarray(query, dtype=np.float32), return_distance=False
    )
    for start in range(0, len(query), chunk_rows):  # chunks bound the (rows, k+2, dims) array
        stop = min(start + chunk_rows, len(query))
        cand = cand_all[start:stop]
        diff = qry64[start:stop, None, :] - ref64[cand]
        exact = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
        order = np.argsort(exact, axis=1, kind="stable")[:, :k]
        dist_out[start:stop] = np.take_along_axis(exact, order, axis=1)
        idx_out[start:stop] = np.take_along_axis(cand, order, axis=1)
    return dist_out, idx_out


def distance_ratio(nearest: np.ndarray, second: np.ndarray) -> np.ndarray:
    """nearest / second-nearest; 1 where both are 0 (two identical rows: no single match)."""
    out = np.ones_like(nearest)
    positive = second > 0
    out[positive] = nearest[positive] / second[positive]
    return out


def knn_predict(labels: np.ndarray, neighbours: np.ndarray, k: int, classify: bool) -> np.ndarray:
    """Prediction from the ``k`` nearest neighbours' values: the mean, or the majority class
    (ties go to the class of the nearer neighbour)."""
    near = labels[neighbours[:, :k]]
    if not classify:
        return near.mean(axis=1)
    votes = (near[:, :, None] == near[:, None, :]).sum(axis=2)  # votes of each neighbour's class
    return near[np.arange(len(near)), np.argmax(votes, axis=1)]
