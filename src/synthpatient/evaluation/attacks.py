"""Attacks: membership inference and attribute inference, members against non-members.

Members are training rows (the generator saw them), non-members holdout rows (it did not);
an attack that does better on members than on non-members shows the synthetic table leaks
who was in the training data, or their values. See :mod:`synthpatient.evaluation.privacy` for
what every privacy test shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve

from synthpatient.errors import DataError, InvalidParameterError
from synthpatient.evaluation._encoding import (
    CATEGORY_KINDS,
    category_keys,
    check_positive_int,
    fit_encoder,
    knn_predict,
    nearest_neighbours,
    numbers,
    prepare_tables,
    sample_rows,
)
from synthpatient.evaluation._metric import Inputs, Metric, Verdicts, flat_details
from synthpatient.evaluation.distances import MAX_SYNTHETIC_ROWS
from synthpatient.schema import Schema

#: Members and non-members each, for the membership and attribute attacks.
MAX_ATTACK_RECORDS = 10_000


def auc_standard_error(auc: float, n_positive: int, n_negative: int) -> float:
    """Standard error of an ROC AUC from ``n_positive`` and ``n_negative`` scored records
    (Hanley & McNeil, Radiology 1982, eq. 2): how far the AUC of a test this size moves
    between samples, so that one split's 0.60 on 110 records per side (about +- 0.04) is not
    read as a leak that a mean over splits would not show."""
    q1 = auc / (2 - auc)
    q2 = 2 * auc**2 / (1 + auc)
    variance = (
        auc * (1 - auc) + (n_positive - 1) * (q1 - auc**2) + (n_negative - 1) * (q2 - auc**2)
    ) / (n_positive * n_negative)
    return float(np.sqrt(max(variance, 0.0)))


def _neighbour_counts(k: int | Sequence[int]) -> list[int]:
    """The sorted distinct neighbour counts ``k`` names; an error unless all are >= 1."""
    if isinstance(k, str) or not isinstance(k, int | np.integer | Sequence):
        raise InvalidParameterError(f"'k' must be a positive integer or a list of them. Got {k!r}.")
    ks = sorted(
        {check_positive_int(v, "k") for v in ([k] if isinstance(k, int | np.integer) else k)}
    )
    if not ks:
        raise InvalidParameterError("'k' must name at least one neighbour count.")
    return ks


def _known_columns(columns: list[str], sensitive: str, known: Sequence[str] | None) -> list[str]:
    """The attacker's known columns (all other learned ones when None), checked."""
    if sensitive not in columns:
        raise InvalidParameterError(
            f"The sensitive column '{sensitive}' is not a learned column; choose among {columns}."
        )
    known = [c for c in columns if c != sensitive] if known is None else list(known)
    bad = [c for c in known if c not in columns or c == sensitive]
    if bad or not known:
        raise InvalidParameterError(
            f"'known' must list learned columns other than '{sensitive}'; not usable: {bad}."
        )
    return known


def _attack_metric(
    labels: np.ndarray,
    neighbours: np.ndarray,
    truth: np.ndarray,
    ks: list[int],
    classify: bool,
    mad: float,
) -> dict[int, float]:
    """Accuracy (or 1 - MAE / MAD) of the k-NN guess from ``labels``, for each ``k``."""
    out = {}
    for v in ks:
        guess = knn_predict(labels, neighbours, min(v, neighbours.shape[1]), classify)
        if classify:
            out[v] = float(np.mean(guess == truth))
        else:
            out[v] = 1.0 - float(np.mean(np.abs(guess - truth))) / mad
    return out


def _mad(values: np.ndarray) -> float:
    """Mean absolute deviation of the present values from their median (1 when that is 0 or
    nothing is present: the regression attack's scale)."""
    values = values[~pd.isna(values)]
    if not len(values):
        return 1.0
    return float(np.mean(np.abs(values - np.median(values)))) or 1.0


def _strongest(per_k: dict[int, dict[str, float]]) -> tuple[int, float]:
    """Adds each k's gain (training - holdout) to ``per_k``; returns the k of the largest gain
    and the score, ``1 - max(0, gain) / (1 - holdout)``."""
    for values in per_k.values():
        values["gain"] = values["training"] - values["holdout"]
    worst = max(per_k, key=lambda v: per_k[v]["gain"])
    gain, room = per_k[worst]["gain"], 1.0 - per_k[worst]["holdout"]
    return worst, 1.0 if gain <= 0 else (0.0 if room <= 0 else 1.0 - gain / room)


@dataclass(frozen=True)
class MIAResult:
    """Distance-based membership inference: can training rows be told from holdout rows by how
    close they are to the synthetic data? ``auc`` 0.5 is no leak, 1 a total leak;
    ``score = 1 - 2 * max(0, auc - 0.5)``."""

    score: float
    auc: float
    n_members: int
    n_non_members: int
    n_synthetic: int
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AttributeInferenceResult:
    """Attribute inference: knowing some columns of a patient, does the synthetic table reveal
    the sensitive one better for training patients than for unseen ones?

    ``training`` / ``holdout`` are the attack's accuracy (categorical) or ``1 - MAE / MAD``
    (numeric; MAD = mean absolute deviation of the real values from their median, so 0 is
    "no better than guessing the median") on each; ``gain = training - holdout`` for the
    strongest ``k``. ``score = 1 - max(0, gain) / (1 - holdout)``: 0 when members' values are
    recovered perfectly while non-members' are not.
    """

    score: float
    sensitive: str
    known: list[str]
    task: str
    training: float
    holdout: float
    gain: float
    k: int
    details: dict[str, Any] = field(default_factory=dict)


def membership_inference(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    *,
    schema: Schema | None = None,
    seed: int | None = None,
    max_synthetic_rows: int = MAX_SYNTHETIC_ROWS,
    max_records: int = MAX_ATTACK_RECORDS,
) -> MIAResult:
    """Distance-based membership inference attack (see :class:`MIAResult`).

    Members are training rows, non-members holdout rows, the same number of each (seeded
    sample of the larger, at most ``max_records``). The attacker scores each record by minus
    its distance to the closest synthetic row: generators that memorise put their training
    patients nearer. This is a real member/non-member test, not a real-versus-synthetic
    detector (what SynLLM calls "MIA").

    Args:
        real: Training rows (members).
        synthetic: Generated rows, all the attacker sees.
        holdout: Real rows the generator never saw (non-members).
        schema: Column kinds; inferred from ``real`` when None.
        seed: Seed of the subsampling.
        max_synthetic_rows: Synthetic rows used (a seeded sample above this).
        max_records: Members (and non-members) attacked, at most.
    """
    max_synthetic_rows = check_positive_int(max_synthetic_rows, "max_synthetic_rows")
    max_records = check_positive_int(max_records, "max_records")
    s = prepare_tables(real, synthetic, holdout, schema, seed)
    n = min(len(real), len(holdout), max_records)
    member_rows = sample_rows(len(real), n, s.rng)
    non_rows = sample_rows(len(holdout), n, s.rng)
    syn_rows = sample_rows(len(synthetic), max_synthetic_rows, s.rng)
    encoder = fit_encoder(real, s.schema, columns=s.columns)
    syn = encoder.transform(synthetic.iloc[syn_rows])
    d_mem, _ = nearest_neighbours(encoder.transform(real.iloc[member_rows]), syn, k=1)
    d_non, _ = nearest_neighbours(encoder.transform(holdout.iloc[non_rows]), syn, k=1)
    truth = np.r_[np.ones(n), np.zeros(n)]
    attack = -np.r_[d_mem[:, 0], d_non[:, 0]]
    auc = float(roc_auc_score(truth, attack))
    fpr, tpr, _ = roc_curve(truth, attack)

    def tpr_at(limit: float) -> float:
        return float(tpr[fpr <= limit].max()) if np.any(fpr <= limit) else 0.0

    details = {
        "seed": s.seed,
        "columns": s.columns,
        "score_formula": "1 - 2 * max(0, auc - 0.5)",
        "auc_standard_error": auc_standard_error(auc, n, n),
        "attack": "score = -distance to the closest synthetic row",
        "tpr_at_fpr_0.01": tpr_at(0.01),
        "tpr_at_fpr_0.1": tpr_at(0.1),
        "max_advantage": float(np.max(tpr - fpr)),
        "member_distance_median": float(np.median(d_mem)),
        "non_member_distance_median": float(np.median(d_non)),
        "subsampled": {
            "synthetic": len(synthetic) > len(syn_rows),
            "members": len(real) > n,
            "non_members": len(holdout) > n,
        },
    }
    return MIAResult(
        score=float(np.clip(1.0 - 2.0 * max(0.0, auc - 0.5), 0.0, 1.0)),
        auc=auc,
        n_members=n,
        n_non_members=n,
        n_synthetic=len(syn_rows),
        details=details,
    )


# long: its docstring documents every argument; the attack itself is about 50 lines
def attribute_inference(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    sensitive: str,
    known: Sequence[str] | None = None,
    *,
    schema: Schema | None = None,
    seed: int | None = None,
    k: int | Sequence[int] = (1, 5),
    max_synthetic_rows: int = MAX_SYNTHETIC_ROWS,
    max_records: int = MAX_ATTACK_RECORDS,
) -> AttributeInferenceResult:
    """Attribute inference attack with nearest neighbours fitted on the synthetic rows.

    The attacker knows the ``known`` columns (quasi-identifiers) of a patient and predicts the
    ``sensitive`` column from the ``k`` synthetic rows closest on those columns (majority
    class, or mean). The attack runs on training patients and on as many holdout patients;
    what matters is the GAIN for training patients, since an attribute predictable from the
    others is a property of the population, not a leak. The largest gain over ``k`` is kept.

    Args:
        real: Training rows (members).
        synthetic: Generated rows, all the attacker sees.
        holdout: Real rows the generator never saw (non-members).
        sensitive: The learned column the attacker wants.
        known: Columns the attacker knows; all other learned columns when None.
        schema: Column kinds; inferred from ``real`` when None.
        seed: Seed of the subsampling.
        k: Neighbour counts tried (1 finds copies, larger k finds over-fitted neighbourhoods).
        max_synthetic_rows: Synthetic rows used.
        max_records: Members (and non-members) attacked, at most.

    Returns:
        An :class:`AttributeInferenceResult` with both metrics, the gain and the ``k`` used;
        ``details["per_k"]`` has every ``k``.
    """
    max_synthetic_rows = check_positive_int(max_synthetic_rows, "max_synthetic_rows")
    max_records = check_positive_int(max_records, "max_records")
    ks = _neighbour_counts(k)
    s = prepare_tables(real, synthetic, holdout, schema, seed)
    known = _known_columns(s.columns, sensitive, known)
    kind = s.schema[sensitive].kind
    classify = kind in CATEGORY_KINDS

    def truth(frame: pd.DataFrame) -> np.ndarray:
        values = frame[sensitive]
        return category_keys(values, kind) if classify else numbers(values, kind)

    def present(values: np.ndarray) -> np.ndarray:
        return ~pd.isna(values)

    syn_rows = sample_rows(len(synthetic), max_synthetic_rows, s.rng)
    syn_frame = synthetic.iloc[syn_rows]
    syn_truth = truth(syn_frame)
    keep = present(syn_truth)
    if not keep.any():
        raise DataError(
            f"The synthetic column '{sensitive}' is entirely missing; the attack "
            "has nothing to learn from."
        )
    syn_frame, syn_truth = syn_frame[keep], syn_truth[keep]
    n = min(len(real), len(holdout), max_records)
    groups = {
        "training": real.iloc[sample_rows(len(real), n, s.rng)],
        "holdout": holdout.iloc[sample_rows(len(holdout), n, s.rng)],
    }
    # the attacker's own view: distances scaled on the synthetic table
    encoder = fit_encoder(syn_frame, s.schema, columns=known)
    reference = encoder.transform(syn_frame)
    mad = 1.0 if classify else _mad(truth(real))

    per_k: dict[int, dict[str, float]] = {v: {} for v in ks}
    counts: dict[str, int] = {}
    for name, frame in groups.items():
        target = truth(frame)
        rows = present(target)
        counts[name] = int(rows.sum())
        if not rows.any():
            raise DataError(
                f"The {name} column '{sensitive}' is entirely missing; there is nothing to attack."
            )
        _, idx = nearest_neighbours(encoder.transform(frame[rows]), reference, k=max(ks))
        for v, value in _attack_metric(syn_truth, idx, target[rows], ks, classify, mad).items():
            per_k[v][name] = value
    worst, score = _strongest(per_k)
    train_m, hold_m, gain = (per_k[worst][x] for x in ("training", "holdout", "gain"))
    details = {
        "seed": s.seed,
        "metric": "accuracy" if classify else "1 - MAE / MAD",
        "mad": mad if not classify else None,
        "score_formula": "1 - max(0, gain) / (1 - holdout)",
        "per_k": {str(v): per_k[v] for v in ks},
        "n_training": counts["training"],
        "n_holdout": counts["holdout"],
        "n_synthetic": len(syn_frame),
    }
    return AttributeInferenceResult(
        score=float(np.clip(score, 0.0, 1.0)),
        sensitive=sensitive,
        known=known,
        task="classification" if classify else "regression",
        training=train_m,
        holdout=hold_m,
        gain=gain,
        k=worst,
        details=details,
    )


# -- the registered metrics ------------------------------------------------------------------
class MembershipInference(Metric):
    """1 - 2 * max(0, AUC - 0.5) of the distance-based membership attack (see
    :func:`membership_inference`). Details: every field of :class:`MIAResult` and its details.

    Examples:
        >>> MembershipInference().compute(train, synthetic, holdout=holdout, seed=0).details["auc"]
        0.51
    """

    key = "membership_inference"
    family = "privacy"
    name = "Membership inference"
    verdicts = Verdicts(
        0.9,
        0.7,
        "the attack does no better than chance",
        "the attack does a little better than chance",
        "the attack tells training patients apart",
    )
    requires = frozenset({"holdout"})
    repeat = True

    def __init__(
        self, *, max_synthetic_rows: int = MAX_SYNTHETIC_ROWS, max_records: int = MAX_ATTACK_RECORDS
    ) -> None:
        self.max_synthetic_rows = max_synthetic_rows
        self.max_records = max_records
        super().__init__()

    def _validate_params(self) -> None:
        check_positive_int(self.max_synthetic_rows, "max_synthetic_rows")
        check_positive_int(self.max_records, "max_records")

    def _compute(self, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        result = membership_inference(
            inputs.real,
            inputs.synthetic,
            inputs.holdout,
            schema=inputs.schema,
            seed=inputs.seed,
            **self.get_params(),
        )
        return result.score, flat_details(result)


class AttributeInference(Metric):
    """1 - the attacker's normalised gain on training patients' ``sensitive`` value over unseen
    ones (see :func:`attribute_inference`). Details: every field of
    :class:`AttributeInferenceResult` and its details.

    Examples:
        >>> AttributeInference(k=1).compute(train, synthetic, holdout=holdout,
        ...                                 sensitive="smoker", seed=0).details["gain"]
    """

    key = "attribute_inference"
    family = "privacy"
    name = "Attribute inference"
    verdicts = Verdicts(
        0.9,
        0.7,
        "no extra risk for training patients' sensitive value",
        "some extra risk",
        "the sensitive value leaks",
    )
    requires = frozenset({"holdout", "sensitive"})
    repeat = True

    def __init__(
        self,
        *,
        known: Sequence[str] | None = None,
        k: int | Sequence[int] = (1, 5),
        max_synthetic_rows: int = MAX_SYNTHETIC_ROWS,
        max_records: int = MAX_ATTACK_RECORDS,
    ) -> None:
        self.known = known
        self.k = k
        self.max_synthetic_rows = max_synthetic_rows
        self.max_records = max_records
        super().__init__()

    def _validate_params(self) -> None:
        _neighbour_counts(self.k)
        check_positive_int(self.max_synthetic_rows, "max_synthetic_rows")
        check_positive_int(self.max_records, "max_records")
        if self.known is not None and (
            isinstance(self.known, str) or not all(isinstance(c, str) for c in self.known)
        ):
            raise InvalidParameterError(
                f"'known' must be a list of column names or None. Got {self.known!r}."
            )

    def _compute(self, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        assert inputs.sensitive is not None  # in `requires`: compute_inputs refused it missing
        result = attribute_inference(
            inputs.real,
            inputs.synthetic,
            inputs.holdout,
            inputs.sensitive,
            schema=inputs.schema,
            seed=inputs.seed,
            **self.get_params(),
        )
        return result.score, flat_details(result)
