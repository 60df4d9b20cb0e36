"""Sequential CART synthesis (synthpop's algorithm) with smoothing and a donor-distance guard.

Columns are drawn one after another in a visit order; the first from its own distribution,
each next one from a decision tree on the columns drawn before it: a synthetic row walks the
tree and takes the value of a random training row in its leaf (a donor), numbers smoothed by a
Gaussian kernel of the leaf's own width. Trees catch interactions and near-deterministic
relations that one correlation matrix cannot, which is why this algorithm leads on small
clinical tables; drawing real donors is also its privacy cost, so a guard redraws any row that
sits closer to a training row than real rows sit to each other (at ``guard_percentile``).

The visit order is measured, not the table's: the column most dependent on all the others
first, then repeatedly the column most dependent on those already placed (normalised mutual
information of the columns cut into at most 10 bins, missing as a bin of its own), so each
tree reads the columns that explain its target best. Missing values are a category of their
own for categories; for numbers and dates a tree first decides presence, so "set only if"
structures (a cause of death only for patients who died) come out as they went in.
Conditions are met by the base class's rejection loop: a fixed visit order cannot put the
condition columns first without refitting.

A saved CART model holds the training rows' values (each leaf's donors, and the rows the guard
measures distances to, encoded), as synthpop's does: share its folder as you would the real
table, and share the synthetic rows instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthpatient.schema import ColumnSpec, Schema, category_key
from synthpatient.synthesizers._cart_guard import (
    MAX_GUARD_ROWS,
    GuardReport,
    Thresholds,
    embed,
    nearest,
)
from synthpatient.synthesizers._cart_tree import DonorTree
from synthpatient.synthesizers._conditions import Condition
from synthpatient.synthesizers._constraints import Interval, Options, Param
from synthpatient.synthesizers._persistence import expect
from synthpatient.synthesizers.base import Capabilities, Synthesizer

DAY_NS = 86_400e9
#: Numbers with at most this many distinct values keep their point masses (no smoothing).
DISCRETE_VALUES = 20
GUARD_ROUNDS = 5


class CARTSynthesizer(Synthesizer):
    """Sequential CART synthesizer in the synthpop style.

    Args:
        min_leaf: fewest training rows in a tree leaf (synthpop's ``minbucket``): larger
            leaves draw from more donors (more private, less detailed).
        smoothing: ``"none"`` returns donors' values as they are (synthpop's default);
            ``"density"`` adds Gaussian noise of the leaf's kernel width to numbers with more
            than 20 distinct values (synthpop's ``smoothing = "density"``). On the bundled
            diabetes table smoothing cost 0.018 of quality and bought no distance from the
            training rows that the guard does not (``benchmarks/check_cart.py``).
        visit_order: ``"measured"`` (most dependent column first, see the module docstring)
            or ``"table"`` (the table's order, synthpop's default).
        guard_percentile: a synthetic row closer to some training row than this percentile
            of the real rows' distances to their nearest other real row is drawn again (up to
            5 rounds; what is left is counted in ``last_sample_report_``); None turns the
            guard off. On the bundled diabetes table (5 seeds) 10 kept the DCR share within
            0.05 of its ideal and membership inference at AUC 0.55 for 0.005 of quality; 5
            did not (DCR share 0.054 above the ideal, AUC 0.556) (``benchmarks/check_cart.py``).
        seed: seed for fitting and the default seed for sampling.

    Examples:
        >>> from synthpatient import datasets
        >>> from synthpatient.synthesizers import make_synthesizer
        >>> synth = make_synthesizer("cart", seed=0).fit(datasets.load("diabetes"))
        >>> synth.sample(1000)
    """

    key = "cart"
    capabilities = Capabilities(range_conditions=True, handles_missing=True)
    _parameter_constraints = {
        "min_leaf": Param(Interval(int, 1, None)),
        "smoothing": Param(Options("none", "density")),
        "visit_order": Param(Options("measured", "table")),
        "guard_percentile": Param(Interval(float, 0, 50), None),
    }

    def __init__(
        self,
        *,
        min_leaf: int = 5,
        smoothing: str = "none",
        visit_order: str = "measured",
        guard_percentile: float | None = 10.0,
        seed: int | None = None,
    ) -> None:
        self.min_leaf = min_leaf
        self.smoothing = smoothing
        self.visit_order = visit_order
        self.guard_percentile = guard_percentile
        super().__init__(seed=seed)

    # -- encoding ------------------------------------------------------------------------------
    @staticmethod
    def _categories(spec: ColumnSpec) -> list[Any]:
        return [False, True] if spec.kind == "boolean" else list(spec.categories or ())

    def _encode(self, data: pd.DataFrame, specs: list[ColumnSpec]) -> np.ndarray:
        """Each column as floats: numbers as they are, dates in days, categories as their
        position in the schema's list; NaN where missing."""
        out = np.full((len(data), len(specs)), np.nan)
        for j, spec in enumerate(specs):
            values = data[spec.name]
            if spec.kind in ("categorical", "boolean"):
                # one key per category however it is spelled: a nullable 0/1 column arrives
                # as floats 0.0/1.0, which str() never matched to the schema's 0 and 1
                lookup = {category_key(c): i for i, c in enumerate(self._categories(spec))}
                codes = values.map(lambda v, lk=lookup: lk.get(category_key(v)), na_action="ignore")
                out[:, j] = pd.to_numeric(codes, errors="coerce").to_numpy(dtype=float)
            elif spec.kind == "datetime":
                ns = values.astype("datetime64[ns]").astype("int64").to_numpy(dtype=float)
                out[:, j] = np.where(values.isna().to_numpy(), np.nan, ns / DAY_NS)
            else:
                out[:, j] = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        return out

    def _decode(self, x: np.ndarray) -> pd.DataFrame:
        columns: dict[str, Any] = {}
        for j, spec in enumerate(self.schema_learned_):
            values = x[:, j]
            missing = np.isnan(values)
            if spec.kind in ("categorical", "boolean"):
                categories = self._categories(spec)
                codes = np.where(missing, 0, values).astype(np.int64)
                objects = np.array(categories, dtype=object)[codes]
                objects[missing] = None
                columns[spec.name] = pd.Series(objects, dtype=object)
            elif spec.kind == "datetime":
                ns = np.where(missing, np.nan, np.round(values * DAY_NS))
                columns[spec.name] = pd.Series(pd.to_datetime(ns, unit="ns"))
            else:
                columns[spec.name] = pd.Series(values, dtype=float)
        return pd.DataFrame(columns)

    # -- fit -----------------------------------------------------------------------------------
    def _fit(self, data: pd.DataFrame, schema: Schema, rng: np.random.Generator) -> None:
        specs = schema.learned
        self.schema_learned_ = specs
        x = self._encode(data, specs)
        self.order_ = (
            visit_order(x, [_is_category(s) for s in specs])
            if self.visit_order == "measured"
            else list(range(len(specs)))
        )
        self.value_trees_: dict[int, DonorTree] = {}
        self.presence_trees_: dict[int, DonorTree] = {}
        self.low_ = np.nanmin(np.where(np.isnan(x), np.inf, x), axis=0)
        self.high_ = np.nanmax(np.where(np.isnan(x), -np.inf, x), axis=0)
        for position, j in enumerate(self.order_):
            features = self.order_[:position]
            y = x[:, j]
            missing = np.isnan(y)
            if _is_category(specs[j]):
                codes = np.where(missing, -1, y)
                self.value_trees_[j] = DonorTree.fit(
                    x, codes, features, classify=True, smooth=False, min_leaf=self.min_leaf, rng=rng
                )
                continue
            if missing.any():
                self.presence_trees_[j] = DonorTree.fit(
                    x,
                    missing.astype(float),
                    features,
                    classify=True,
                    smooth=False,
                    min_leaf=self.min_leaf,
                    rng=rng,
                )
            present = ~missing
            smooth = self.smoothing == "density" and np.unique(y[present]).size > DISCRETE_VALUES
            if present.any():
                self.value_trees_[j] = DonorTree.fit(
                    x[present],
                    y[present],
                    features,
                    classify=False,
                    smooth=smooth,
                    min_leaf=self.min_leaf,
                    rng=rng,
                )
        self._fit_guard(x, rng)

    def _fit_guard(self, x: np.ndarray, rng: np.random.Generator) -> None:
        specs = self.schema_learned_
        self.guard_kinds_ = [
            "category" if _is_category(s) else ("nullable" if s.nullable else "number")
            for s in specs
        ]
        scale = np.ones(len(specs))
        for j, spec in enumerate(specs):
            if _is_category(spec):
                scale[j] = len(self._categories(spec))
            else:
                spread = float(np.nanstd(x[:, j])) if np.isfinite(x[:, j]).any() else 0.0
                scale[j] = spread if spread > 0 else 1.0
        self.guard_scale_ = scale
        if self.guard_percentile is None:
            self.guard_points_ = np.zeros((0, 0), dtype=np.float32)
            self.guard_thresholds_ = Thresholds.fit(x[:0], self.guard_points_, 0.0)
            self.guard_threshold_ = 0.0
            return
        rows = x
        if len(x) > MAX_GUARD_ROWS:
            rows = x[np.sort(rng.choice(len(x), MAX_GUARD_ROWS, replace=False))]
        self.guard_points_ = embed(rows, self.guard_kinds_, scale)
        self.guard_thresholds_ = Thresholds.fit(
            rows, self.guard_points_, float(self.guard_percentile)
        )
        self.guard_threshold_ = self.guard_thresholds_.overall

    # -- sample --------------------------------------------------------------------------------
    def _chain(self, n_rows: int, rng: np.random.Generator) -> np.ndarray:
        """``n_rows`` encoded rows, column after column in the visit order."""
        x = np.full((n_rows, len(self.schema_learned_)), np.nan)
        for j in self.order_:
            missing = np.zeros(n_rows, dtype=bool)
            if j in self.presence_trees_:
                flags, _ = self.presence_trees_[j].draw(x, rng)
                missing = flags > 0.5
            if j not in self.value_trees_:  # never present in training
                continue
            values, width = self.value_trees_[j].draw(x, rng)
            if width.any():
                values = values + width * rng.standard_normal(n_rows)
                values = np.clip(values, self.low_[j], self.high_[j])
            if _is_category(self.schema_learned_[j]):
                missing |= values < 0
            x[:, j] = np.where(missing, np.nan, values)
        return x

    def _sample(
        self, n_rows: int, rng: np.random.Generator, conditions: list[Condition]
    ) -> pd.DataFrame:
        x = self._chain(n_rows, rng)
        if self.guard_points_.size and self.guard_threshold_ > 0:
            x = self._guard(x, rng)
        return self._decode(x)

    def _guard(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Redraw rows that sit closer to a training row than the threshold (a few rounds);
        the counts add up over the calls of one ``sample()``."""
        report = self.last_sample_report_
        if not isinstance(report, GuardReport):
            report = GuardReport(percentile=float(self.guard_percentile or 0))
            self.last_sample_report_ = report
        report.n_rows += len(x)
        close = self._too_close(x)
        for _ in range(GUARD_ROUNDS):
            if not close.any():
                break
            rows = np.flatnonzero(close)
            report.redrawn += len(rows)
            x[rows] = self._chain(len(rows), rng)
            close[rows] = self._too_close(x[rows])
        report.left += int(close.sum())
        return x

    def _too_close(self, x: np.ndarray) -> np.ndarray:
        points = embed(x, self.guard_kinds_, self.guard_scale_)
        return nearest(points, self.guard_points_) < self.guard_thresholds_.of_rows(x)

    # -- state ---------------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        arrays: dict[str, np.ndarray] = {
            "low": self.low_,
            "high": self.high_,
            "guard_scale": self.guard_scale_,
            "guard_points": self.guard_points_,
            "guard_pattern_columns": self.guard_thresholds_.columns,
            "guard_patterns": self.guard_thresholds_.patterns.astype(np.uint8),
            "guard_pattern_thresholds": self.guard_thresholds_.values,
        }
        trees: dict[str, Any] = {}
        for name, group in (("value", self.value_trees_), ("presence", self.presence_trees_)):
            for j, tree in group.items():
                meta, parts = tree.state(f"{name}{j}")
                trees[f"{name}{j}"] = meta
                arrays.update(parts)
        state = {
            "order": [self.schema_learned_[j].name for j in self.order_],
            "trees": trees,
            "guard_kinds": self.guard_kinds_,
            "guard_threshold": self.guard_threshold_,
        }
        return state, arrays

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        specs = self.schema_learned_ = self.schema_.learned
        names = [s.name for s in specs]
        order = state.get("order")
        expect(
            isinstance(order, list) and sorted(map(str, order)) == sorted(names),
            "the CART visit order is not an order of the schema's learned columns",
        )
        self.order_ = [names.index(str(name)) for name in order or ()]
        k = len(specs)
        for key in ("low", "high", "guard_scale"):
            expect(
                key in arrays and np.asarray(arrays[key]).shape == (k,),
                f"the CART array '{key}' does not have one entry per learned column",
            )
        self.low_, self.high_ = np.asarray(arrays["low"], float), np.asarray(arrays["high"], float)
        self.guard_scale_ = np.asarray(arrays["guard_scale"], float)
        expect(
            bool(np.all(np.isfinite(self.guard_scale_)) and np.all(self.guard_scale_ > 0)),
            "the CART guard's scales are not positive numbers",
        )
        self.guard_kinds_ = list(state.get("guard_kinds", []))
        expect(
            len(self.guard_kinds_) == k
            and set(self.guard_kinds_) <= {"category", "number", "nullable"},
            "the CART guard's column kinds do not match the learned columns",
        )
        self.guard_threshold_ = float(state.get("guard_threshold", 0.0))
        points = np.asarray(arrays.get("guard_points", np.zeros((0, 0))), dtype=np.float32)
        width = embed(np.zeros((1, k)), self.guard_kinds_, self.guard_scale_).shape[1]
        expect(
            points.size == 0 or (points.ndim == 2 and points.shape[1] == width),
            "the CART guard's training points do not match the learned columns",
        )
        self.guard_points_ = points
        self.guard_thresholds_ = _thresholds_from_state(self.guard_threshold_, arrays, k)
        trees = state.get("trees")
        expect(isinstance(trees, dict), "the CART trees are missing")
        assert isinstance(trees, dict)  # for the type checker: expect() raised otherwise
        self.value_trees_, self.presence_trees_ = {}, {}
        for key, meta in trees.items():
            name = "presence" if key.startswith("presence") else "value"
            j_text = key[len(name) :]
            expect(j_text.isdigit() and int(j_text) < k, f"CART tree '{key}' names no column")
            tree = DonorTree.from_state(meta, arrays, key, n_columns=k)
            (self.presence_trees_ if name == "presence" else self.value_trees_)[int(j_text)] = tree


def _thresholds_from_state(overall: float, arrays: dict[str, np.ndarray], k: int) -> Thresholds:
    """The per-pattern thresholds of a saved model (none in a file saved before they were:
    the overall threshold then holds for every row)."""
    columns = np.asarray(arrays.get("guard_pattern_columns", np.zeros(0)), dtype=np.int64)
    patterns = np.asarray(arrays.get("guard_patterns", np.zeros((0, 0))), dtype=bool)
    values = np.asarray(arrays.get("guard_pattern_thresholds", np.zeros(0)), dtype=float)
    if not values.size:
        return Thresholds(overall, np.zeros(0, np.int64), np.zeros((0, 0), bool), np.zeros(0))
    expect(
        columns.ndim == 1
        and bool(np.all((columns >= 0) & (columns < k)))
        and patterns.shape == (len(values), len(columns))
        and values.ndim == 1
        and bool(np.all(np.isfinite(values)) and np.all(values >= 0)),
        "the CART guard's thresholds by missing columns do not match the learned columns",
    )
    return Thresholds(overall, columns, patterns, values)


def _is_category(spec: ColumnSpec) -> bool:
    return spec.kind in ("categorical", "boolean")


def visit_order(x: np.ndarray, category: list[bool], bins: int = 10) -> list[int]:
    """Columns in the order they are drawn: the one most dependent on all others first, then
    each time the one most dependent on those already placed (normalised mutual information
    of binned columns, missing a bin of its own)."""
    k = x.shape[1]
    if k == 1:
        return [0]
    binned = np.column_stack([_bins(x[:, j], category[j], bins) for j in range(k)])
    dependence = np.zeros((k, k))
    for a in range(k):
        for b in range(a + 1, k):
            dependence[a, b] = dependence[b, a] = _nmi(binned[:, a], binned[:, b])
    order = [int(np.argmax(dependence.sum(axis=1)))]
    while len(order) < k:
        rest = [j for j in range(k) if j not in order]
        order.append(max(rest, key=lambda j: (dependence[j, order].sum(), -j)))
    return order


def _bins(values: np.ndarray, is_category: bool, bins: int) -> np.ndarray:
    missing = np.isnan(values)
    out = np.zeros(len(values), dtype=np.int64)
    if is_category:
        out[~missing] = values[~missing].astype(np.int64) + 1
        return out
    if (~missing).any():
        edges = np.unique(np.quantile(values[~missing], np.linspace(0, 1, bins + 1)[1:-1]))
        out[~missing] = np.searchsorted(edges, values[~missing], side="right") + 1
    return out


def _nmi(a: np.ndarray, b: np.ndarray) -> float:
    """Mutual information over the geometric mean of the two entropies (0 if either is 0)."""
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    joint = np.zeros((ia.max() + 1, ib.max() + 1))
    np.add.at(joint, (ia, ib), 1.0)
    p = joint / joint.sum()
    pa, pb = p.sum(axis=1), p.sum(axis=0)
    nz = p > 0
    mi = float(np.sum(p[nz] * np.log(p[nz] / np.outer(pa, pb)[nz])))
    ha = -float(np.sum(pa[pa > 0] * np.log(pa[pa > 0])))
    hb = -float(np.sum(pb[pb > 0] * np.log(pb[pb > 0])))
    return mi / np.sqrt(ha * hb) if ha > 0 and hb > 0 else 0.0
