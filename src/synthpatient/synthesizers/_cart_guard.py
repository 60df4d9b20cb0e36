"""The donor-distance guard of the CART synthesizer: no synthetic row closer to a training row
than real rows are to each other, at a chosen percentile.

A donor-based model copies real values; a row whose every column came from the same patient
would be that patient. Rows are embedded so that one unit means as much in every column
(numbers divided by their spread, a category mismatch or a value present in one row and
missing in the other costing 1), the distance from each training row to its nearest other
training row is measured once, and its ``percentile`` is the threshold: a synthetic row
nearer than that to some training row is drawn again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Training rows kept for the guard at most (a random subset beyond): the distance search is
#: O(synthetic x training); the threshold is computed on the same subset.
MAX_GUARD_ROWS = 20_000


@dataclass
class GuardReport:
    """``last_sample_report_`` of the CART synthesizer: rows redrawn by the guard.

    Attributes:
        n_rows: rows the model drew.
        redrawn: rows drawn again because they sat closer to a training row than the threshold.
        left: rows still that close after the last round (kept; counted here).
        percentile: the percentile of real nearest-neighbour distances used as the threshold.
    """

    n_rows: int = 0
    redrawn: int = 0
    left: int = 0
    percentile: float = 0.0

    def summary(self) -> str:
        if not self.redrawn and not self.left:
            return ""
        text = (
            f"CART guard: {self.redrawn} of {self.n_rows} rows were drawn again for sitting "
            f"closer to a training row than the {self.percentile:g}th percentile of real rows' "
            "distances to each other"
        )
        return text + (f"; {self.left} still are." if self.left else ".")

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_rows": self.n_rows,
            "redrawn": self.redrawn,
            "left": self.left,
            "percentile": self.percentile,
        }


def embed(encoded: np.ndarray, kinds: list[str], scale: np.ndarray) -> np.ndarray:
    """Rows as points: a number over its spread (and a presence flag), a category one-hot
    over sqrt 2 (two different categories are 1 apart)."""
    parts = []
    for j, kind in enumerate(kinds):
        column = encoded[:, j]
        missing = np.isnan(column)
        if kind == "category":
            codes = np.where(missing, -1, column).astype(np.int64)
            top = int(scale[j])
            onehot = np.zeros((len(column), top + 2))
            onehot[np.arange(len(column)), codes + 1] = 1 / np.sqrt(2)
            parts.append(onehot)
        else:
            parts.append(np.where(missing, 0.0, column / scale[j])[:, None])
            if kind == "nullable":  # by the schema, so both sides have the same width
                parts.append(missing[:, None].astype(float))
    return np.hstack(parts).astype(np.float32)


def nearest(points: np.ndarray, reference: np.ndarray, *, exclude_self: bool = False) -> np.ndarray:
    """Each point's distance to its nearest reference point (the second nearest when the
    points are the reference rows themselves)."""
    from sklearn.neighbors import NearestNeighbors

    k = 2 if exclude_self else 1
    index = NearestNeighbors(n_neighbors=min(k, len(reference)), algorithm="brute")
    index.fit(reference)
    distances, _ = index.kneighbors(points)
    return distances[:, -1].astype(float)


def threshold(reference: np.ndarray, percentile: float) -> float:
    """The ``percentile`` of training rows' distances to their nearest other training row."""
    if len(reference) < 2:
        return 0.0
    return float(np.percentile(nearest(reference, reference, exclude_self=True), percentile))
