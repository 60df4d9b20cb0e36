"""Which values are missing, learned as a chain of small decision trees.

The copula models values as if they were all observed; missingness is then drawn per nullable
column from a tree on the other columns (and on the missingness already drawn for earlier
columns). A tree keeps sharp structure a latent correlation would blur: a cause of death
recorded only for patients who died stays so in every synthetic row (pure leaves), while
leaves of at least ``min_leaf`` rows keep rates honest and stop the model memorising patients.
Trees are stored as plain arrays (no pickle) and applied with vectorised numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from synthpatient.synthesizers._persistence import expect

MISSING_SENTINEL = -1e3  # below every normal score and category code


@dataclass
class MissingnessTree:
    column: int  # index of the column whose missingness this predicts
    features: list[int]  # feature indices into the encoded matrix
    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    prob_missing: np.ndarray  # per node

    def predict_proba(self, encoded: np.ndarray) -> np.ndarray:
        x = encoded[:, self.features]
        node = np.zeros(len(x), dtype=np.int64)
        for _ in range(len(self.left)):
            inner = self.left[node] >= 0
            if not inner.any():
                break
            rows = np.flatnonzero(inner)
            go_left = x[rows, self.feature[node[rows]]] <= self.threshold[node[rows]]
            node[rows] = np.where(go_left, self.left[node[rows]], self.right[node[rows]])
        return self.prob_missing[node]


def fit_missingness(
    encoded: np.ndarray,
    missing: np.ndarray,
    nullable: list[int],
    rng: np.random.Generator,
    *,
    max_depth: int,
    min_leaf: int,
) -> list[MissingnessTree]:
    """One tree per column in ``nullable`` that has missing values, in chain order.

    ``encoded`` holds a numeric feature per column (normal score or category code) with
    missing entries already set to :data:`MISSING_SENTINEL`; ``missing`` the boolean mask.
    """
    from sklearn.tree import DecisionTreeClassifier

    trees: list[MissingnessTree] = []
    chained = [j for j in nullable if missing[:, j].any()]
    always = [j for j in range(encoded.shape[1]) if j not in chained]
    for position, j in enumerate(chained):
        features = always + chained[:position]
        target = missing[:, j]
        if target.all() or not features:
            left = right = np.array([-1])
            trees.append(
                MissingnessTree(
                    j,
                    features or [0],
                    left,
                    right,
                    np.array([0]),
                    np.array([0.0]),
                    np.array([target.mean()]),
                )
            )
            continue
        tree = DecisionTreeClassifier(
            max_depth=max_depth,
            min_samples_leaf=min_leaf,
            random_state=int(rng.integers(0, 2**31 - 1)),
        )
        tree.fit(encoded[:, features], target)
        t = tree.tree_
        value = t.value[:, 0, :]
        share = value / value.sum(axis=1, keepdims=True)
        col = list(tree.classes_).index(True) if True in tree.classes_ else None
        prob = share[:, col] if col is not None else np.zeros(t.node_count)
        trees.append(
            MissingnessTree(
                j,
                features,
                t.children_left.astype(np.int64),
                t.children_right.astype(np.int64),
                t.feature.astype(np.int64),
                t.threshold.astype(float),
                prob,
            )
        )
    return trees


def sample_missingness(
    trees: list[MissingnessTree], encoded: np.ndarray, rng: np.random.Generator, keep: set[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Draw which cells are missing; return ``(missing, accepted)`` boolean arrays.

    Columns in ``keep`` are conditioned to be present. A row is accepted with the probability
    that such a column is present given the rest of the row, which turns draws from
    p(row | value) into draws from p(row | value, present): a cause of death asked for comes
    only with patients who died. ``encoded`` is updated in place: a cell drawn missing becomes
    the sentinel, so later trees in the chain see it as the real data showed it to them.
    """
    missing = np.zeros(encoded.shape, dtype=bool)
    accepted = np.ones(len(encoded), dtype=bool)
    for tree in trees:
        p_missing = tree.predict_proba(encoded)
        if tree.column in keep:
            accepted &= rng.random(len(encoded)) >= p_missing
            continue
        drawn = rng.random(len(encoded)) < p_missing
        missing[:, tree.column] = drawn
        encoded[drawn, tree.column] = MISSING_SENTINEL
    return missing, accepted


def trees_state(trees: list[MissingnessTree]) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    meta, arrays = [], {}
    for i, tree in enumerate(trees):
        meta.append({"column": tree.column, "features": tree.features})
        for name in ("left", "right", "feature", "threshold", "prob_missing"):
            arrays[f"missing_{i}_{name}"] = getattr(tree, name)
    return meta, arrays


def trees_from_state(
    meta: list[dict[str, Any]], arrays: dict[str, np.ndarray], *, n_columns: int
) -> list[MissingnessTree]:
    """The saved trees, checked: columns and features in range, and every child after its
    parent, so that walking a tampered tree can neither index out of range nor loop."""
    trees = []
    for i, m in enumerate(meta):
        column, features = int(m["column"]), [int(f) for f in m["features"]]
        what = f"missing-value tree {i}"
        expect(
            0 <= column < n_columns
            and bool(features)
            and all(0 <= f < n_columns for f in features),
            f"{what} names a column the model does not have",
        )
        parts = [
            np.asarray(arrays[f"missing_{i}_{name}"])
            for name in ("left", "right", "feature", "threshold", "prob_missing")
        ]
        left, right, feature, threshold, prob = parts
        n = len(left)
        expect(
            n >= 1
            and all(p.shape == (n,) for p in parts)
            and all(p.dtype.kind in "iu" for p in (left, right, feature)),
            f"{what} has arrays of different sizes or kinds",
        )
        threshold, prob = threshold.astype(float), prob.astype(float)
        inner = left >= 0
        nodes = np.arange(n)
        expect(
            bool(np.all(inner == (right >= 0)))
            and bool(np.all((left[inner] > nodes[inner]) & (left[inner] < n)))
            and bool(np.all((right[inner] > nodes[inner]) & (right[inner] < n)))
            and bool(np.all((feature[inner] >= 0) & (feature[inner] < len(features)))),
            f"{what} is not a tree over its features",
        )
        expect(
            bool(np.all((prob >= 0) & (prob <= 1))),
            f"{what} has missing-value probabilities outside [0, 1]",
        )
        trees.append(
            MissingnessTree(
                column,
                features,
                left.astype(np.int64),
                right.astype(np.int64),
                feature.astype(np.int64),
                threshold,
                prob,
            )
        )
    return trees
