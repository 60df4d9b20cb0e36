"""Detection: can a classifier tell real rows from synthetic ones?

Balanced samples of real and synthetic rows, the shared evaluation encoding, and a
cross-validated gradient-boosting classifier; score = 1 - (max(AUC, 0.5) * 2 - 1), as in
SDMetrics' detection metrics: 1 when the classifier is no better than chance, 0 when it
separates the tables perfectly. Gradient boosting rather than SDMetrics' logistic regression:
a linear model cannot see interactions, so it misses synthetic rows whose columns were
decorrelated (each column shuffled on its own fools it completely).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthpatient._random import fresh_seed
from synthpatient.evaluation._encoding import fit_encoder, model_threads
from synthpatient.evaluation._metric import Inputs, Metric, MetricResult, Verdicts
from synthpatient.schema import Schema

MAX_ROWS_PER_SIDE = 5_000
N_FOLDS = 3


def detection_score(
    real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema, *, seed: int = 0
) -> MetricResult:
    """Cross-validated ROC-AUC of a classifier separating real from synthetic rows."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    rng = np.random.default_rng(seed)
    n = min(len(real), len(synthetic), MAX_ROWS_PER_SIDE)
    if n < N_FOLDS:  # cross-validation needs a row of each table in every fold
        return MetricResult(
            float("nan"), {"error": f"fewer than {N_FOLDS} rows in a table", "rows_per_side": n}
        )
    real_rows = real.iloc[np.sort(rng.choice(len(real), n, replace=False))]
    synth_rows = synthetic.iloc[np.sort(rng.choice(len(synthetic), n, replace=False))]
    encoder = fit_encoder(real, schema)
    x = np.vstack([encoder.transform(real_rows), encoder.transform(synth_rows)]).astype(float)
    y = np.r_[np.zeros(n), np.ones(n)]
    scores = np.empty(len(y))
    folds = StratifiedKFold(N_FOLDS, shuffle=True, random_state=seed)
    with model_threads(len(x)):
        for train, test in folds.split(x, y):
            model = HistGradientBoostingClassifier(
                max_iter=100, learning_rate=0.1, random_state=seed
            ).fit(x[train], y[train])
            scores[test] = model.predict_proba(x[test])[:, 1]
    auc = float(roc_auc_score(y, scores))
    return MetricResult(1.0 - (max(auc, 0.5) * 2 - 1), {"auc": auc, "rows_per_side": n})


class Detection(Metric):
    """1 - (2 * max(AUC, 0.5) - 1) of a classifier telling real from synthetic rows.

    Details: ``auc``, ``rows_per_side`` and the ``seed`` of the sampling, folds and models.

    Examples:
        >>> Detection().compute(real, synthetic, seed=0).details["auc"]
        0.55
    """

    key = "detection"
    family = "fidelity"
    name = "Detection"
    verdicts = Verdicts(
        0.8,
        0.5,
        "a classifier can hardly tell synthetic from real rows",
        "a classifier partly tells them apart",
        "a classifier easily tells them apart",
    )
    repeat = True

    def _compute(self, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        seed = fresh_seed() if inputs.seed is None else inputs.seed
        result = detection_score(inputs.real, inputs.synthetic, inputs.schema, seed=seed)
        return result.score, {**result.details, "seed": seed}
