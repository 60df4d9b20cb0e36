"""MST: differentially private synthetic data from a tree of noisy 2-way marginals.

The method of McKenna, Miklau and Sheldon (2021), "Winning the NIST Contest: A scalable and
general approach to differentially private synthetic data" (winner of the NIST 2018 challenge),
with its graphical-model estimation done by the ``mbi`` library (``pip install
'synthpatient[dp]'``; it needs JAX). Columns are binned into a finite domain (``_discretize``);
the privacy budget, as zero-concentrated DP (zCDP) ``rho``, is split in three:

1. every 1-way marginal is measured with Gaussian noise, and rare values are merged;
2. a maximum spanning tree of 2-way marginals is chosen by the exponential mechanism, scored by
   how badly an independence model (fitted to step 1) gets each pair wrong;
3. the tree's 2-way marginals are measured with Gaussian noise.

``mbi`` then estimates the graphical model that best explains all the noisy measurements.
Sampling walks the tree with this module's own random generator (never numpy's global one),
from the model's clique marginals, so a saved model samples without JAX.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from synthpatient.schema import Schema
from synthpatient.synthesizers._conditions import Condition
from synthpatient.synthesizers._constraints import Interval, Param
from synthpatient.synthesizers._discretize import ColumnCoder
from synthpatient.synthesizers._marginal_dp import (
    COMPRESS_SIGMAS,
    MarginalSynthesizer,
    draw,
    import_mbi,
    joint_counts,
    normalized,
    zcdp_rho,
)
from synthpatient.synthesizers.base import Capabilities

__all__ = ["MSTSynthesizer", "zcdp_rho"]

#: Most mirror-descent iterations for the model that scores candidate pairs, and the final
#: one (MST's own), stopping early once the loss improves by less than ESTIMATE_TOL (relative)
#: per block of 50: on small tables they converge in a few hundred.
SELECT_ITERS = 2500
ESTIMATE_ITERS = 10_000
ESTIMATE_TOL = 1e-6


class MSTSynthesizer(MarginalSynthesizer):
    """Differentially private synthesizer: MST over binned columns, estimated with ``mbi``.

    The whole fit is (epsilon, delta)-differentially private with respect to adding or removing
    one row, *given* the binning. What is and is not covered:

    * Private (inside the budget): every count the model learns from (1-way and 2-way
      marginals), which values are merged as rare, and which column pairs the tree links.
    * Public if declared: bounds of numbers and dates, and category lists, that the schema
      declares (``ColumnSpec.observed`` is False). Declare them to keep the guarantee whole.
    * Not private: bounds and category lists read from the data (an inferred schema). They are
      used as they are, a :class:`SynthPatientWarning` says so, and ``privacy_spent_`` records
      it. The number of rows is treated as public: it picks the default ``delta`` for very
      large tables and decides whether the table is too small to fit.

    Missing values of nullable columns are a value of their own. Conditions (a category, or a
    numeric or date range) are met by drawing rows and keeping those that match.

    Args:
        epsilon: Privacy loss bound, > 0 (smaller is more private and noisier).
        delta: Probability that the bound may fail, in (0, 1) and below 1/n for n rows. None
            uses 1e-9, or 1/n^2 when that is smaller (tables above ~31,600 rows).
        n_bins: Equal-width bins per number or date column, >= 2, before rare bins are merged
            (with few rows or a small epsilon, merging leaves far fewer). 16 by default: on
            the bundled diabetes table at epsilon 1, 16 bins score higher than 32 (less noise
            per cell) and than 8 (less rounding).
        max_cells: Largest 2-way marginal (cells, after merging) the tree may link, >= 4.
        seed: Seed for the noise and for sampling.

    Attributes:
        privacy_spent_: ``{"epsilon", "delta", "rho", "preprocessing", "read_from_data"}``:
            the guarantee, its zCDP budget, and what was read from the data outside it. Saved
            in the model's manifest.
        edges_: The column pairs the tree links.

    Examples:
        >>> from synthpatient import datasets
        >>> from synthpatient.synthesizers.mst import MSTSynthesizer
        >>> real = datasets.load("diabetes")
        >>> synth = MSTSynthesizer(epsilon=1.0, seed=0).fit(real)  # warns: bounds from data
        >>> synth.privacy_spent_["epsilon"]
        1.0
        >>> synth.sample(500, conditions={"sex": 2, "age": (40, 65)})
    """

    key = "mst"
    capabilities = Capabilities(
        native_conditions=False,
        range_conditions=True,
        handles_missing=True,
        accepts_epsilon=True,
        differentially_private=True,
        extra="dp",
    )
    min_rows = 10
    _parameter_constraints = {
        "epsilon": Param(Interval(float, 0, None, closed="neither")),
        "delta": Param(Interval(float, 0, 1, closed="neither"), None),
        "n_bins": Param(Interval(int, 2, None)),
        "max_cells": Param(Interval(int, 4, None)),
    }

    def __init__(
        self,
        *,
        epsilon: float = 1.0,
        delta: float | None = None,
        n_bins: int = 16,
        max_cells: int = 10_000,
        seed: int | None = None,
    ) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.n_bins = n_bins
        self.max_cells = max_cells
        super().__init__(seed=seed)

    # -- fit -----------------------------------------------------------------------------------
    def _fit(self, data: pd.DataFrame, schema: Schema, rng: np.random.Generator) -> None:
        mbi = import_mbi("MSTSynthesizer")
        n_rows, columns = len(data), [s.name for s in schema.learned]
        delta = self._resolve_delta(n_rows)
        rho = zcdp_rho(float(self.epsilon), delta)
        n_cols = len(columns)
        # One column has no pairs: it gets the whole budget. Otherwise a third per step.
        rho_one = rho if n_cols == 1 else rho / 3
        sigma_one = math.sqrt(n_cols / (2 * rho_one))
        threshold = COMPRESS_SIGMAS * sigma_one
        self._check_enough_rows(n_rows, sigma_one)

        # 1. noisy 1-way marginals on the fine codes; merge rare values (post-processing)
        first = self._one_way(mbi, data, schema, sigma_one, threshold, rng)
        coders, codes, domain = first.coders, first.codes, first.domain
        one_way, total = first.measurements, first.total
        estimator = mbi.estimation.MirrorDescent()

        # 2. choose the tree; 3. measure its 2-way marginals
        edges: list[tuple[str, str]] = []
        two_way: list[Any] = []
        if n_cols > 1:
            edges, two_way = self._measure_tree(
                mbi, estimator, coders, codes, domain, one_way, total, rho / 3, rng
            )
        model = estimator.estimate(
            domain, one_way + two_way, known_total=total, iters=ESTIMATE_ITERS, tol=ESTIMATE_TOL
        )

        self.columns_ = columns
        self.coders_ = coders
        self.edges_ = [list(e) for e in edges]
        self.total_ = float(total)
        self.cliques_ = [
            tuple(model.potentials[cl].domain.attributes) for cl in model.potentials.cliques
        ]
        self.potentials_ = [
            np.asarray(model.potentials[cl].values, dtype=float) for cl in model.potentials.cliques
        ]
        self.marginals_ = [
            normalized(np.asarray(model.marginals.project(cl).values)) for cl in self.cliques_
        ]
        self.privacy_spent_ = self._privacy_spent(delta, rho, first.read)

    def _measure_tree(
        self,
        mbi: Any,
        estimator: Any,
        coders: list[ColumnCoder],
        codes: dict[str, np.ndarray],
        domain: Any,
        one_way: list[Any],
        total: float,
        rho: float,
        rng: np.random.Generator,
    ) -> tuple[list[tuple[str, str]], list[Any]]:
        """The tree of column pairs (chosen spending ``rho``) and its noisy 2-way marginals
        (measured spending another ``rho``), as mbi measurements."""
        independent = estimator.estimate(
            domain, one_way, known_total=total, iters=SELECT_ITERS, tol=ESTIMATE_TOL
        )
        edges = self._select_tree(coders, codes, independent, total, rho, rng)
        two_way = []
        if edges:
            sigma_two = math.sqrt(len(edges) / (2 * rho))
            for a, b in edges:
                counts = joint_counts(codes[a], codes[b], domain[a], domain[b]).ravel()
                noisy = counts + rng.normal(0.0, sigma_two, size=counts.size)
                two_way.append(mbi.LinearMeasurement(noisy, (a, b), sigma_two))
        return edges, two_way

    def _select_tree(
        self,
        coders: list[ColumnCoder],
        codes: dict[str, np.ndarray],
        independent: Any,
        total: float,
        rho: float,
        rng: np.random.Generator,
    ) -> list[tuple[str, str]]:
        """Pick a spanning tree (forest, if ``max_cells`` rules pairs out), one edge at a time.

        Each candidate pair is scored by the L1 distance between its true 2-way counts and the
        independence model's: a pair the 1-way marginals explain badly is worth measuring.
        Adding or removing a row moves any score by at most 1. Each round is an exponential
        mechanism with epsilon_r, which is epsilon_r^2 / 8 zCDP (bounded range), so ``rounds``
        rounds of sqrt(8 rho / rounds) spend exactly ``rho``.
        """
        names = [c.name for c in coders]
        sizes = {c.name: c.n_groups for c in coders}
        probs = {n: normalized(np.asarray(independent.project((n,)).values)) for n in names}
        candidates: dict[tuple[str, str], float] = {}
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                if sizes[a] * sizes[b] > self.max_cells:
                    continue
                x = joint_counts(codes[a], codes[b], sizes[a], sizes[b])
                # the model's counts are scaled by the noisy total, never the true row count,
                # so that one row moves a score by at most 1
                xhat = np.outer(probs[a], probs[b]) * total
                candidates[(a, b)] = float(np.abs(x - xhat).sum())
        # the number of rounds depends only on the (noisy, public) domain sizes
        parent = {n: n for n in names}

        def find(n: str) -> str:
            while parent[n] != n:
                parent[n] = parent[parent[n]]
                n = parent[n]
            return n

        rounds = 0
        for a, b in candidates:
            if find(a) != find(b):
                parent[find(a)] = find(b)
                rounds += 1
        if rounds == 0:
            return []
        epsilon_round = math.sqrt(8 * rho / rounds)
        parent = {n: n for n in names}
        edges: list[tuple[str, str]] = []
        for _ in range(rounds):
            open_pairs = [e for e in candidates if find(e[0]) != find(e[1])]
            scores = np.array([candidates[e] for e in open_pairs]) * (epsilon_round / 2.0)
            chosen = open_pairs[
                int(rng.choice(len(open_pairs), p=np.exp(scores - logsumexp(scores))))
            ]
            parent[find(chosen[0])] = find(chosen[1])
            edges.append(chosen)
        return edges

    # -- sample --------------------------------------------------------------------------------
    def _sample(
        self, n_rows: int, rng: np.random.Generator, conditions: list[Condition]
    ) -> pd.DataFrame:
        neighbours: dict[str, list[str]] = {c: [] for c in self.columns_}
        for a, b in self.edges_:
            neighbours[a].append(b)
            neighbours[b].append(a)
        position = {c: j for j, c in enumerate(self.columns_)}
        codes: dict[str, np.ndarray] = {}
        for root in self.columns_:  # each tree of the forest, from its first column
            if root in codes:
                continue
            codes[root] = draw(self._marginal((root,)), rng.random(n_rows))
            queue = deque([root])
            while queue:
                node = queue.popleft()
                for child in sorted(neighbours[node], key=position.__getitem__):
                    if child not in codes:
                        codes[child] = _draw_given(
                            self._marginal((node, child)), codes[node], rng.random(n_rows)
                        )
                        queue.append(child)
        return pd.DataFrame({c.name: c.decode(codes[c.name], rng) for c in self.coders_})

    def _marginal(self, attrs: tuple[str, ...]) -> np.ndarray:
        """The model's marginal over ``attrs`` (in that order), from a clique that holds them."""
        for clique, table in zip(self.cliques_, self.marginals_, strict=True):
            if set(attrs) <= set(clique):
                others = tuple(i for i, a in enumerate(clique) if a not in attrs)
                reduced = table.sum(axis=others) if others else table
                kept = [a for a in clique if a in attrs]
                return np.transpose(reduced, [kept.index(a) for a in attrs])
        raise KeyError(attrs)  # cannot happen: every column and edge is in a clique

    # -- the mbi model ----------------------------------------------------------------------
    def markov_random_field(self) -> Any:
        """The fitted model as an ``mbi.MarkovRandomField`` (needs the dp extra).

        Rebuilt from the stored potentials and marginals, so it works after ``load`` too; use
        it to query any marginal, e.g. ``model.project(("age", "sex"))``.
        """
        self._check_fitted("markov_random_field")
        mbi = import_mbi("MSTSynthesizer")
        import jax.numpy as jnp

        domain = mbi.Domain(self.columns_, [c.n_groups for c in self.coders_])

        def vector(tables: list[np.ndarray], scale: float) -> Any:
            factors = {
                cl: mbi.Factor(domain.project(cl), jnp.asarray(t * scale))
                for cl, t in zip(self.cliques_, tables, strict=True)
            }
            return mbi.CliqueVector(domain, list(self.cliques_), factors)

        return mbi.MarkovRandomField(
            potentials=vector(self.potentials_, 1.0),
            marginals=vector(self.marginals_, self.total_),
            total=self.total_,
        )

    # -- state ---------------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state, arrays = self._tables_state()
        for k, potential in enumerate(self.potentials_):
            arrays[f"clique_{k}_potential"] = potential
        state["edges"] = self.edges_
        return state, arrays

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self._restore_tables(state, arrays)
        self.edges_ = [[str(a), str(b)] for a, b in state["edges"]]
        self.potentials_ = [arrays[f"clique_{k}_potential"] for k in range(len(self.cliques_))]
        # every column and every tree edge must be in a clique: sampling walks the tree
        self._check_tables(self.edges_, extra=self.potentials_)


# -- helpers ----------------------------------------------------------------------------------
def _draw_given(joint: np.ndarray, parent_codes: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Child codes from P(child | parent), read off the pair's joint table."""
    out = np.empty(len(parent_codes), dtype=np.int64)
    fallback = joint.sum(axis=0)
    for value in np.unique(parent_codes):
        rows = np.flatnonzero(parent_codes == value)
        row = joint[value]
        out[rows] = draw(row if row.sum() > 0 else fallback, u[rows])
    return out
