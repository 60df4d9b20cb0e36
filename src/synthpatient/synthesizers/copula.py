"""The Gaussian copula synthesizer: the default, fast, dependency-light generator.

Each learned column is mapped to a normal score through its own marginal (empirical quantiles
for numbers and dates, frequency intervals for categories); the scores' correlation matrix is
the model. Sampling draws correlated normal scores and maps them back. Conditions are boxes in
latent space, so conditional rows are drawn from the conditioned Gaussian, never rejected.
Missing values are drawn afterwards by a chain of small trees (see ``_missingness``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from synthpatient.errors import ConditionError
from synthpatient.schema import Schema
from synthpatient.synthesizers._conditions import Condition
from synthpatient.synthesizers._constraints import Boolean, Interval, Param
from synthpatient.synthesizers._gaussian import (
    estimate_correlation,
    sample_latent,
    uniform_to_latent,
)
from synthpatient.synthesizers._marginals import (
    EPS,
    CategoricalMarginal,
    Marginal,
    NumericMarginal,
    marginal_from_state,
)
from synthpatient.synthesizers._missingness import (
    MISSING_SENTINEL,
    fit_missingness,
    sample_missingness,
    trees_from_state,
    trees_state,
)
from synthpatient.synthesizers._persistence import expect
from synthpatient.synthesizers.base import MIN_ACCEPTANCE, Capabilities, Synthesizer


class GaussianCopulaSynthesizer(Synthesizer):
    """Gaussian copula over empirical marginals, with native conditional sampling.

    Args:
        n_quantiles: levels of the stored quantile function per numeric column (more follows
            the real distribution more closely; fewer stores less of it and, on small tables,
            smooths away the few extreme rows that make sampled correlations noisy: 100 scored
            best on the bundled diabetes data, see benchmarks/bench_synthesizers.py).
        missing_tree_depth: depth of the trees that decide which values are missing.
        missing_min_leaf: fewest training rows per tree leaf.
        matched_draw: draw each unconditional sample as a whole to match the model: its normal
            scores have exactly the fitted correlation and each column's values are a
            stratified sample of the fitted marginal (moment matching and Latin hypercube
            sampling, see ``_gaussian.matched_latent``). A small sample then carries the
            model's correlations and shapes instead of its own sampling error (on the bundled
            table, 331 rows: quality 0.947 -> 0.972, TSTR R2 0.438 -> 0.470 over 5 seeds,
            benchmarks/check_peers.py); False gives independent rows. Conditioned draws are
            always independent.
        seed: seed for fitting and the default seed for sampling.

    Examples:
        >>> from synthpatient import GaussianCopulaSynthesizer, datasets
        >>> real = datasets.load("diabetes")
        >>> synth = GaussianCopulaSynthesizer(seed=0).fit(real)
        >>> synth.sample(1000, conditions={"sex": 2, "age": (40, 65)})
    """

    key = "copula"
    capabilities = Capabilities(native_conditions=True, range_conditions=True, handles_missing=True)
    min_rows = 10
    _parameter_constraints = {
        "n_quantiles": Param(Interval(int, 2, None)),
        "missing_tree_depth": Param(Interval(int, 1, None)),
        "missing_min_leaf": Param(Interval(int, 1, None)),
        "matched_draw": Param(Boolean()),
    }

    def __init__(
        self,
        *,
        n_quantiles: int = 100,
        missing_tree_depth: int = 6,
        missing_min_leaf: int = 5,
        matched_draw: bool = True,
        seed: int | None = None,
    ) -> None:
        self.n_quantiles = n_quantiles
        self.missing_tree_depth = missing_tree_depth
        self.missing_min_leaf = missing_min_leaf
        self.matched_draw = matched_draw
        super().__init__(seed=seed)

    # -- fit -----------------------------------------------------------------------------------
    def _fit(self, data: pd.DataFrame, schema: Schema, rng: np.random.Generator) -> None:
        specs = schema.learned
        self.columns_ = [s.name for s in specs]
        self.marginals_: list[Marginal] = []
        for spec in specs:
            if spec.kind in ("categorical", "boolean"):
                categories = (
                    list(spec.categories or ()) if spec.kind == "categorical" else [True, False]
                )
                self.marginals_.append(CategoricalMarginal.fit(data[spec.name], categories))
            else:
                self.marginals_.append(
                    NumericMarginal.fit(
                        data[spec.name], self.n_quantiles, is_datetime=spec.kind == "datetime"
                    )
                )
        u = np.column_stack(
            [
                m.to_uniform(data[c], rng)
                for m, c in zip(self.marginals_, self.columns_, strict=True)
            ]
        )
        z = ndtri(np.clip(u, EPS, 1 - EPS))
        self._order_categories(data, z, rng)
        # Random tie-breaking inside a category (or a repeated value) adds noise that shrinks
        # every correlation by the column's score variance; undo it, as a polyserial
        # correlation would, so that sex/lab correlations survive sampling.
        variance = np.array(
            [m.score_variance(data[c]) for m, c in zip(self.marginals_, self.columns_, strict=True)]
        )
        self.correlation_ = estimate_correlation(z, variance)
        missing = np.isnan(u)
        encoded = self._encode_features(z, missing)
        nullable = [i for i, s in enumerate(specs) if s.nullable]
        self.missing_trees_ = fit_missingness(
            encoded,
            missing,
            nullable,
            rng,
            max_depth=self.missing_tree_depth,
            min_leaf=self.missing_min_leaf,
        )

    def _order_categories(
        self, data: pd.DataFrame, z: np.ndarray, rng: np.random.Generator
    ) -> None:
        """Order each category column along the axis that best separates its categories'
        mean scores on the other columns (the first axis of a weighted PCA of those means).

        One latent dimension per column can only express a monotone relation; with categories
        in frequency order, a column such as smoking status would look unrelated to the labs it
        moves. Ordered this way, the latent correlation carries most of the association.
        Updates ``z`` in place for the reordered columns.
        """
        if z.shape[1] < 2:
            return
        filled = np.where(np.isnan(z), 0.0, z)
        for j, marginal in enumerate(self.marginals_):
            if not isinstance(marginal, CategoricalMarginal) or len(marginal.categories) < 3:
                continue
            codes = marginal.codes(data[self.columns_[j]])
            present = codes >= 0
            others = np.delete(filled[present], j, axis=1)
            k = len(marginal.categories)
            counts = np.bincount(codes[present], minlength=k).astype(float)
            sums = np.zeros((k, others.shape[1]))
            np.add.at(sums, codes[present], others)
            seen = counts > 0
            means = np.zeros_like(sums)
            means[seen] = sums[seen] / counts[seen, None]
            centred = means - (counts @ means) / counts.sum()
            _, _, vt = np.linalg.svd(np.sqrt(counts)[:, None] * centred, full_matrices=False)
            scores = np.where(seen, centred @ vt[0], np.inf)  # unseen categories last
            self.marginals_[j] = marginal.reordered(scores)
            u = self.marginals_[j].to_uniform(data[self.columns_[j]], rng)
            z[:, j] = ndtri(np.clip(u, EPS, 1 - EPS))

    def _encode_features(self, z: np.ndarray, missing: np.ndarray) -> np.ndarray:
        """Tree features: category codes (exact splits) or normal scores; sentinel if missing."""
        encoded = z.copy()
        for j, marginal in enumerate(self.marginals_):
            if isinstance(marginal, CategoricalMarginal):
                encoded[:, j] = marginal.code_from_uniform(ndtr(z[:, j]))
        encoded[missing] = MISSING_SENTINEL
        return encoded

    # -- sample --------------------------------------------------------------------------------
    def _sample(
        self, n_rows: int, rng: np.random.Generator, conditions: list[Condition]
    ) -> pd.DataFrame:
        boxes = {}
        index = {c: j for j, c in enumerate(self.columns_)}
        for cond in conditions:
            j = index[cond.column]
            marginal = self.marginals_[j]
            if isinstance(marginal, CategoricalMarginal):
                u_low, u_high = marginal.uniform_interval(cond.value)
            elif cond.kind == "equal":
                u_low, u_high = marginal.uniform_interval(cond.value, cond.value)
            else:
                u_low, u_high = marginal.uniform_interval(cond.low, cond.high)
            boxes[j] = uniform_to_latent(u_low, u_high)
        z, missing = self._draw(n_rows, rng, boxes)
        # in place: ndtr's output is a fresh array, and clipping it again would copy 8 bytes a
        # cell of a 100,000-row draw for nothing
        u = ndtr(z)
        np.clip(u, EPS, 1 - EPS, out=u)
        out: dict[str, Any] = {}
        # numpy arrays, not Series, until the one DataFrame: a Series per column and a masked
        # assignment that changes nothing took most of a 100,000-row sample's time
        for j, (column, marginal) in enumerate(zip(self.columns_, self.marginals_, strict=True)):
            values: Any = marginal.from_uniform(u[:, j])
            if isinstance(marginal, NumericMarginal) and marginal.is_datetime:
                values = pd.to_datetime(values, unit="ns")
            gaps = missing[:, j]
            if gaps.any():
                values = pd.Series(values).astype(object)
                values[gaps] = None
            out[column] = values
        # the columns as they are: gathering them into one block copied every value (a
        # tenth of the draw's time) for a frame that the base class rebuilds column by column
        frame = pd.DataFrame(out, copy=False)
        for cond in conditions:  # categories exactly as asked, not via a boundary lookup
            if cond.kind == "equal" and isinstance(
                self.marginals_[index[cond.column]], CategoricalMarginal
            ):
                frame[cond.column] = [cond.value] * n_rows
        return frame

    def _draw(
        self, n_rows: int, rng: np.random.Generator, boxes: dict[int, tuple[float, float]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Latent rows and missing-value mask. Conditioning a column that can be missing also
        conditions on it being present, which keeps each draw with the probability of that;
        without such a condition every draw is kept."""
        parts_z, parts_missing, n_kept, n_drawn = [], [], 0, 0
        may_reject = any(tree.column in boxes for tree in self.missing_trees_)
        while n_kept < n_rows:
            needed = n_rows - n_kept
            if may_reject:
                rate = max(n_kept / n_drawn if n_drawn else 1.0, 1e-3)
                needed = int(min(max(needed / rate * 1.2, 64), 10 * n_rows + 64))
            batch = needed
            z = sample_latent(self.correlation_, batch, rng, boxes, matched=self.matched_draw)
            if not self.missing_trees_:  # nothing is ever missing: skip the tree features
                return z, np.zeros(z.shape, dtype=bool)
            encoded = self._encode_features(z, np.zeros(z.shape, dtype=bool))
            missing, accepted = sample_missingness(self.missing_trees_, encoded, rng, set(boxes))
            parts_z.append(z[accepted])
            parts_missing.append(missing[accepted])
            n_kept += int(accepted.sum())
            n_drawn += batch
            if n_drawn >= 2000 and n_kept / n_drawn < MIN_ACCEPTANCE:
                raise ConditionError(
                    f"Only {n_kept} of {n_drawn} draws met the conditions: a value was asked "
                    "for a column that is almost always missing in such rows. Relax the "
                    "conditions."
                )
        return np.concatenate(parts_z)[:n_rows], np.concatenate(parts_missing)[:n_rows]

    # -- state ---------------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        arrays: dict[str, np.ndarray] = {"correlation": self.correlation_}
        marginals = []
        for j, marginal in enumerate(self.marginals_):
            meta, parts = marginal.state()
            marginals.append(meta)
            arrays.update({f"marginal_{j}_{k}": v for k, v in parts.items()})
        trees, tree_arrays = trees_state(self.missing_trees_)
        arrays.update(tree_arrays)
        return {"columns": self.columns_, "marginals": marginals, "missing_trees": trees}, arrays

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        specs = self.schema_.learned
        self.columns_ = list(state["columns"])
        expect(
            self.columns_ == [s.name for s in specs],
            "the copula's columns differ from the schema's learned columns",
        )
        expect(
            len(state["marginals"]) == len(specs),
            "the copula does not have one marginal per learned column",
        )
        k = len(specs)
        correlation = np.asarray(arrays["correlation"], dtype=float)
        expect(
            correlation.shape == (k, k),
            "the copula's correlation matrix does not have one "
            "row and one column per learned column",
        )
        # sampling takes square roots and solves with this matrix: a tampered one that is not
        # a correlation matrix would give NaN rows or a LinAlgError there
        expect(
            bool(np.isfinite(correlation).all())
            and np.allclose(correlation, correlation.T)
            and np.allclose(np.diag(correlation), 1.0)
            and (k == 0 or np.linalg.eigvalsh(correlation).min() > -1e-8),
            "the copula's correlation matrix is not a correlation matrix (symmetric, unit "
            "diagonal, positive semi-definite)",
        )
        self.correlation_ = correlation
        self.marginals_ = []
        for j, (meta, spec) in enumerate(zip(state["marginals"], specs, strict=True)):
            prefix = f"marginal_{j}_"
            parts = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            self.marginals_.append(marginal_from_state(meta, parts, spec))
        self.missing_trees_ = trees_from_state(state["missing_trees"], arrays, n_columns=k)
