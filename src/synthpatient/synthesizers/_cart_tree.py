"""Donor trees for the sequential CART synthesizer: a scikit-learn tree kept as plain arrays,
with each leaf's training values (its donors) to draw from.

A synthetic row walks the tree on the columns already drawn and takes the value of a random
donor in its leaf (synthpop's ``syn.cart``); numeric donors are then smoothed by a Gaussian
kernel whose bandwidth is the leaf's own (Silverman's rule, synthpop's ``smoothing =
"density"``). Trees are stored as arrays and walked with vectorised numpy: no pickle, and a
saved model is checked before it is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from synthpatient.synthesizers._persistence import expect

#: Missing feature values: below every real value, so one split can set them apart.
MISSING = -1e30
_ARRAYS = ("left", "right", "feature", "threshold", "offsets", "donors", "bandwidth")


@dataclass
class DonorTree:
    """One tree over ``features`` (indices into the encoded matrix) and its leaves' donors.

    ``offsets[node]:offsets[node + 1]`` are the positions in ``donors`` of a node's training
    values (empty for inner nodes); ``bandwidth[node]`` the smoothing kernel's width there.
    """

    features: list[int]
    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    offsets: np.ndarray
    donors: np.ndarray
    bandwidth: np.ndarray

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        features: list[int],
        *,
        classify: bool,
        min_leaf: int,
        smooth: bool,
        rng: np.random.Generator,
    ) -> DonorTree:
        """A tree predicting ``y`` from ``x[:, features]``; ``y``'s values become the donors."""
        if features and len(y) >= 2 * min_leaf and np.unique(y).size > 1:
            from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

            model_class = DecisionTreeClassifier if classify else DecisionTreeRegressor
            model = model_class(
                min_samples_leaf=min_leaf, random_state=int(rng.integers(0, 2**31 - 1))
            )
            inputs = _as_tree_input(x[:, features])
            model.fit(inputs, y)
            t = model.tree_
            left, right = t.children_left.astype(np.int64), t.children_right.astype(np.int64)
            feature, threshold = t.feature.astype(np.int64), t.threshold.astype(float)
            leaf = model.apply(inputs)
        else:  # nothing to split on: one leaf, the column's marginal
            left = right = np.array([-1], dtype=np.int64)
            feature, threshold = np.array([0], dtype=np.int64), np.array([0.0])
            leaf = np.zeros(len(y), dtype=np.int64)
            features = features or [0]
        n_nodes = len(left)
        order = np.argsort(leaf, kind="stable")
        counts = np.bincount(leaf, minlength=n_nodes)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        donors = np.asarray(y, dtype=float)[order]
        bandwidth = np.zeros(n_nodes)
        if smooth:
            for node in np.flatnonzero(counts):
                bandwidth[node] = _silverman(donors[offsets[node] : offsets[node + 1]])
        return cls(features, left, right, feature, threshold, offsets, donors, bandwidth)

    def leaves(self, x: np.ndarray) -> np.ndarray:
        """The leaf each row of the encoded matrix ``x`` falls in."""
        values = _as_tree_input(x[:, self.features]).astype(float)
        node = np.zeros(len(values), dtype=np.int64)
        for _ in range(len(self.left)):
            inner = self.left[node] >= 0
            if not inner.any():
                break
            rows = np.flatnonzero(inner)
            at = node[rows]
            go_left = values[rows, self.feature[at]] <= self.threshold[at]
            node[rows] = np.where(go_left, self.left[at], self.right[at])
        return node

    def draw(self, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """A random donor's value per row, and the kernel width of its leaf."""
        node = self.leaves(x)
        start, size = self.offsets[node], self.offsets[node + 1] - self.offsets[node]
        pick = start + np.floor(rng.random(len(node)) * size).astype(np.int64)
        return self.donors[pick], self.bandwidth[node]

    # -- state ---------------------------------------------------------------------------------
    def state(self, prefix: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"features": self.features}, {f"{prefix}_{k}": getattr(self, k) for k in _ARRAYS}

    @classmethod
    def from_state(
        cls, meta: dict[str, Any], arrays: dict[str, np.ndarray], prefix: str, n_columns: int
    ) -> DonorTree:
        """The saved tree, checked: features in range, every child after its parent (so a
        walk can neither index out of range nor loop), and every leaf with donors."""
        what = f"CART tree {prefix}"
        features = [int(f) for f in meta.get("features", [])]
        expect(
            bool(features) and all(0 <= f < n_columns for f in features),
            f"{what} names a column the model does not have",
        )
        expect(all(f"{prefix}_{k}" in arrays for k in _ARRAYS), f"{what} is missing arrays")
        left, right, feature, threshold, offsets, donors, bandwidth = (
            np.asarray(arrays[f"{prefix}_{k}"]) for k in _ARRAYS
        )
        n = len(left)
        expect(
            n >= 1
            and all(a.shape == (n,) for a in (right, feature, threshold, bandwidth))
            and offsets.shape == (n + 1,)
            and donors.ndim == 1
            and all(a.dtype.kind in "iu" for a in (left, right, feature, offsets)),
            f"{what} has arrays of different sizes or kinds",
        )
        inner, nodes = left >= 0, np.arange(n)
        expect(
            bool(np.all(inner == (right >= 0)))
            and bool(np.all((left[inner] > nodes[inner]) & (left[inner] < n)))
            and bool(np.all((right[inner] > nodes[inner]) & (right[inner] < n)))
            and bool(np.all((feature[inner] >= 0) & (feature[inner] < len(features)))),
            f"{what} is not a tree over its features",
        )
        sizes = np.diff(offsets)
        expect(
            offsets[0] == 0
            and bool(np.all(sizes >= 0))
            and offsets[-1] == len(donors)
            and bool(np.all(sizes[~inner] > 0))
            and bool(np.all(np.isfinite(bandwidth)) and np.all(bandwidth >= 0)),
            f"{what} has leaves without donors or bad kernel widths",
        )
        return cls(
            features,
            left.astype(np.int64),
            right.astype(np.int64),
            feature.astype(np.int64),
            threshold.astype(float),
            offsets.astype(np.int64),
            donors.astype(float),
            bandwidth.astype(float),
        )


def _as_tree_input(x: np.ndarray) -> np.ndarray:
    """What scikit-learn's trees see: float32, missing values below every real one (the walk
    must compare exactly the numbers the tree was fitted on)."""
    out = np.where(np.isnan(x), MISSING, x)
    return out.astype(np.float32)


def _silverman(values: np.ndarray) -> float:
    """Silverman's rule of thumb (R's ``bw.nrd0``) on one leaf's donors; 0 when they agree."""
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return 0.0
    sd = float(values.std(ddof=1))
    q75, q25 = np.percentile(values, [75, 25])
    spread = min(sd, float(q75 - q25) / 1.34) or sd
    return 0.9 * spread * len(values) ** -0.2 if spread > 0 else 0.0
