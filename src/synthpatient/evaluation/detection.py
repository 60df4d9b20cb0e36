"""Detection: can a classifier tell real rows from synthetic ones?

Balanced samples of real and synthetic rows, the shared evaluation encoding, and a
cross-validated gradient-boosting classifier; score = 1 - (max(AUC, 0.5) * 2 - 1), as in
SDMetrics' detection metrics: 1 when the classifier is no better than chance, 0 when it
separates the tables perfectly. Gradient boosting rather than SDMetrics' logistic regression:
a linear model cannot see interactions, so it misses synthetic rows whose columns were
decorrelated (each column shuffled on its own fools it completely).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthpatient.evaluation._encoding import fit_encoder
from synthpatient.evaluation._metric import MetricResult
from synthpatient.schema import Schema

MAX_ROWS_PER_SIDE = 5_000
N_FOLDS = 3


def detection_score(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema,
                    *, seed: int = 0) -> MetricResult:
    """Cross-validated ROC-AUC of a classifier separating real from synthetic rows."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    rng = np.random.default_rng(seed)
    n = min(len(real), len(synthetic), MAX_ROWS_PER_SIDE)
    real_rows = real.iloc[np.sort(rng.choice(len(real), n, replace=False))]
    synth_rows = synthetic.iloc[np.sort(rng.choice(len(synthetic), n, replace=False))]
    encoder = fit_encoder(real, schema)
    x = np.vstack([encoder.transform(real_rows), encoder.transform(synth_rows)]).astype(float)
    y = np.r_[np.zeros(n), np.ones(n)]
    scores = np.empty(len(y))
    folds = StratifiedKFold(N_FOLDS, shuffle=True, random_state=seed)
    for train, test in folds.split(x, y):
        model = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1,
                                               random_state=seed).fit(x[train], y[train])
        scores[test] = model.predict_proba(x[test])[:, 1]
    auc = float(roc_auc_score(y, scores))
    return MetricResult(1.0 - (max(auc, 0.5) * 2 - 1), {"auc": auc, "rows_per_side": n})
