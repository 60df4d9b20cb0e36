"""Detection: can a classifier tell real rows from synthetic ones?

Balanced samples of real and synthetic rows, the shared evaluation encoding, and a
cross-validated gradient-boosting classifier; score = 1 - (max(AUC, 0.5) * 2 - 1), as in
SDMetrics' detection metrics: 1 when the classifier is no better than chance, 0 when it
separates the tables perfectly. Gradient boosting rather than SDMetrics' logistic regression:
a linear model cannot see interactions, so it misses synthetic rows whose columns were
decorrelated (each column shuffled on its own fools it completely).

On a long table (several rows per patient, ``timeline`` given) the folds are made of whole
patients: a patient's rows all go to the same fold. Split by row, a patient's static values
(age, follow-up time) are seen in training with their label and recognised in the test fold,
so even two halves of the same real table look "easily told apart" (pbcseq, whole patients
split in two: 0.046 by row, see ``tests/unit/test_detection.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from synthpatient._random import fresh_seed
from synthpatient.evaluation._encoding import fit_encoder, model_threads
from synthpatient.evaluation._histories import Timeline
from synthpatient.evaluation._metric import Inputs, Metric, MetricResult, Verdicts
from synthpatient.schema import Schema

MAX_ROWS_PER_SIDE = 5_000
N_FOLDS = 3


def detection_score(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: Schema,
    *,
    seed: int = 0,
    timeline: Timeline | None = None,
) -> MetricResult:
    """Cross-validated ROC-AUC of a classifier separating real from synthetic rows.

    With a ``timeline`` the folds keep each patient's rows together (the patient key groups
    them; real and synthetic patients are never the same group, whatever their ids).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

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
    details: dict[str, Any] = {"rows_per_side": n}
    if timeline is None:
        folds = list(StratifiedKFold(N_FOLDS, shuffle=True, random_state=seed).split(x, y))
        details["folds"] = "by row"
    else:
        groups, per_side = _patient_groups(real_rows[timeline.key], synth_rows[timeline.key])
        details.update({"folds": "by patient", "patients_per_side": per_side})
        if min(per_side.values()) < N_FOLDS:
            return MetricResult(
                float("nan"),
                {**details, "error": f"fewer than {N_FOLDS} patients in a table"},
            )
        splitter = StratifiedGroupKFold(N_FOLDS, shuffle=True, random_state=seed)
        folds = list(splitter.split(x, y, groups))
    if any(len(np.unique(y[train])) < 2 for train, _ in folds):
        return MetricResult(
            float("nan"), {**details, "error": "a fold holds rows of only one table"}
        )
    scores = np.empty(len(y))
    with model_threads(len(x)):
        for train, test in folds:
            model = HistGradientBoostingClassifier(
                max_iter=100, learning_rate=0.1, random_state=seed
            ).fit(x[train], y[train])
            scores[test] = model.predict_proba(x[test])[:, 1]
    auc = float(roc_auc_score(y, scores))
    return MetricResult(1.0 - (max(auc, 0.5) * 2 - 1), {"auc": auc, **details})


def _patient_groups(
    real_keys: pd.Series, synth_keys: pd.Series
) -> tuple[np.ndarray, dict[str, int]]:
    """One group number per patient of each side (a row without a key is its own group), and
    the number of groups per side. Synthetic groups are numbered after the real ones, so a
    synthetic id equal to a real one is still another patient."""
    groups = []
    per_side: dict[str, int] = {}
    offset = 0
    for side, keys in (("real", real_keys), ("synthetic", synth_keys)):
        codes, uniques = pd.factorize(keys, use_na_sentinel=True)
        no_key = codes < 0
        codes = codes.astype(np.int64)
        codes[no_key] = len(uniques) + np.arange(int(no_key.sum()))
        per_side[side] = len(uniques) + int(no_key.sum())
        groups.append(codes + offset)
        offset += per_side[side]
    return np.concatenate(groups), per_side


class Detection(Metric):
    """1 - (2 * max(AUC, 0.5) - 1) of a classifier telling real from synthetic rows.

    Details: ``auc``, ``rows_per_side``, ``folds`` ("by row", or "by patient" on a long table
    with ``patients_per_side``) and the ``seed`` of the sampling, folds and models.

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
        result = detection_score(
            inputs.real, inputs.synthetic, inputs.schema, seed=seed, timeline=inputs.timeline
        )
        return result.score, {**result.details, "seed": seed}
