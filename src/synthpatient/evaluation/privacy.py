"""Privacy: does the synthetic table reveal the real patients the generator was trained on?

Every test here compares the TRAINING rows (``real``, which the generator saw) with HOLDOUT
rows (real patients it never saw). A generator that learned the population, not the people,
is as close to the holdout as to the training rows; one that copies is closer to training.
This is what makes these scores impossible to win by copying or by collapsing to a few rows,
unlike privacy scores computed on the synthetic table alone (e.g. SynLLM's k-anonymity
"violation rate", which is best for duplicated data).

All functions:

* never modify the tables they get;
* compare only the schema's learned columns (identifiers and free text are ignored), encoded
  with :mod:`synthpatient.evaluation._encoding` (robust-scaled numbers, weighted one-hot
  categories, missing indicators), with Euclidean distance;
* subsample large tables with ``seed`` (recorded in ``details``, drawn fresh and recorded when
  None, so any run can be repeated);
* return a frozen result whose ``score`` is in [0, 1], 1 = most private, plus JSON-serialisable
  ``details`` (long per-row lists only under keys named ``distances_*`` / ``*_values``).
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
    check_columns,
    check_frame,
    check_positive_int,
    distance_ratio,
    fit_encoder,
    knn_predict,
    learned_columns,
    nearest_neighbours,
    numbers,
    prepare_tables,
    row_hashes,
    sample_rows,
)
from synthpatient.evaluation._metric import Metric, MetricResult
from synthpatient.schema import Schema

#: Synthetic rows used by the distance-based tests (more changes the numbers very little).
MAX_SYNTHETIC_ROWS = 20_000
#: Real (training / holdout) rows used as a distance reference.
MAX_REFERENCE_ROWS = 50_000
#: Members and non-members each, for the membership and attribute attacks.
MAX_ATTACK_RECORDS = 10_000
_TIE_RTOL = 1e-9
_DECIMALS = 6  # per-row lists in details are rounded to keep reports small


# -- results ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DCRResult:
    """Distance to closest record: is the synthetic table closer to training than to holdout?

    ``share_closer_to_training`` is the fraction of synthetic rows whose nearest training row is
    strictly nearer than their nearest holdout row (a tie counts as ``ideal_share``, i.e. half
    for equal sizes). With no memorisation it is ``ideal_share = n_training / (n_training +
    n_holdout)`` (the nearest of the pooled real rows is equally likely to be any of them);
    copying gives 1. ``score = 1 - max(0, share - ideal) / (1 - ideal)``, which is
    ``1 - 2 * max(0, share - 0.5)`` for equal sizes: 1 at or below the ideal, 0 for copies.
    """

    score: float
    share_closer_to_training: float
    ideal_share: float
    dcr_training_p5: float
    dcr_holdout_p5: float
    nndr_mean: float
    nndr_p5: float
    n_synthetic: int
    n_training: int
    n_holdout: int
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NNDRResult:
    """Nearest-neighbour distance ratio (nearest / second-nearest training row) per row.

    A ratio near 0 means a synthetic row singles out one training patient. The baseline is
    the same ratio for holdout rows against the training rows, i.e. what real but unseen
    patients show. ``score = min(1, synthetic_p5 / holdout_p5)`` on the 5th percentiles
    (the riskiest rows); 1 when the baseline itself is 0.
    """

    score: float
    nndr_mean: float
    nndr_p5: float
    baseline_mean: float
    baseline_p5: float
    n_synthetic: int
    n_training: int
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExactCopyResult:
    """Share of synthetic rows identical to a training row (and, as a baseline, to a holdout row).

    Identical means equal on every learned column after normalising dtypes (1 == 1.0 == "1",
    missing == missing). Data with few distinct rows (all-categorical tables) copy "by
    coincidence"; the holdout share measures that. ``score = 1 - max(0, share_training -
    share_holdout) / (1 - share_holdout)`` with a holdout, ``1 - share_training`` without: 0
    when every synthetic row is a training row.
    """

    score: float
    share_training: float
    share_holdout: float | None
    share_duplicated_within_synthetic: float
    n_synthetic: int
    details: dict[str, Any] = field(default_factory=dict)


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


@dataclass(frozen=True)
class ExampleCopyResult:
    """Share of synthetic rows identical to one of the example rows shown to an LLM generator;
    ``score = 1 - share_copied``."""

    score: float
    share_copied: float
    n_copied: int
    n_synthetic: int
    n_examples: int
    details: dict[str, Any] = field(default_factory=dict)


# -- helpers ---------------------------------------------------------------------------------
def _p5(values: np.ndarray) -> float:
    return float(np.percentile(values, 5)) if len(values) else float("nan")


def _listed(values: np.ndarray) -> list[float]:
    return np.round(values.astype(float), _DECIMALS).tolist()


# -- distance to closest record --------------------------------------------------------------
def dcr(real: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame, *,
        schema: Schema | None = None, seed: int | None = None,
        max_synthetic_rows: int = MAX_SYNTHETIC_ROWS,
        max_reference_rows: int = MAX_REFERENCE_ROWS) -> DCRResult:
    """Distance to closest record, training versus holdout (see :class:`DCRResult`).

    Training and holdout are NOT cut to equal size: cutting the training rows would hide the
    copies of the rows left out (a copy of an unused training row is just another real point),
    so a full copy of a large training set would score well. Instead all rows are used (up to
    ``max_reference_rows`` each) and the ideal share is ``n_training / (n_training +
    n_holdout)``, which is exactly 0.5 when the sizes are equal. The 5th percentiles of the
    two distance distributions compare directly only for equal sizes (more rows are nearer).

    Args:
        real: Training rows the generator saw.
        synthetic: Generated rows.
        holdout: Real rows the generator never saw.
        schema: Column kinds; inferred from ``real`` when None.
        seed: Seed of the subsampling.
        max_synthetic_rows: Synthetic rows measured (a seeded sample above this).
        max_reference_rows: Training and holdout rows used, each.

    Returns:
        A :class:`DCRResult`; ``details["distances_to_training"]`` and
        ``details["distances_to_holdout"]`` hold the per-row distances for histograms.
    """
    max_synthetic_rows = check_positive_int(max_synthetic_rows, "max_synthetic_rows")
    max_reference_rows = check_positive_int(max_reference_rows, "max_reference_rows")
    s = prepare_tables(real, synthetic, holdout, schema, seed)
    syn_rows = sample_rows(len(synthetic), max_synthetic_rows, s.rng)
    train_rows = sample_rows(len(real), max_reference_rows, s.rng)
    hold_rows = sample_rows(len(holdout), max_reference_rows, s.rng)
    encoder = fit_encoder(real, s.schema, columns=s.columns)
    syn = encoder.transform(synthetic.iloc[syn_rows])
    train = encoder.transform(real.iloc[train_rows])
    hold = encoder.transform(holdout.iloc[hold_rows])

    to_train, _ = nearest_neighbours(syn, train, k=2)
    to_hold, _ = nearest_neighbours(syn, hold, k=1)
    d_train, d_hold = to_train[:, 0], to_hold[:, 0]
    ideal = len(train_rows) / (len(train_rows) + len(hold_rows))
    tie = np.isclose(d_train, d_hold, rtol=_TIE_RTOL, atol=_TIE_RTOL)
    closer = np.where(tie, ideal, (d_train < d_hold).astype(float))
    share = float(closer.mean())
    score = float(np.clip(1.0 - max(0.0, share - ideal) / (1.0 - ideal), 0.0, 1.0))
    nndr_values = (distance_ratio(to_train[:, 0], to_train[:, 1]) if to_train.shape[1] > 1
                   else None)

    details = {
        "seed": s.seed,
        "columns": s.columns,
        "score_formula": "1 - max(0, share - ideal_share) / (1 - ideal_share)",
        "ties": int(tie.sum()),
        "tie_weight": ideal,
        "share_standard_error": float(np.sqrt(share * (1 - share) / len(closer))),
        "n_synthetic_given": len(synthetic),
        "n_training_given": len(real),
        "n_holdout_given": len(holdout),
        "subsampled": {"synthetic": len(synthetic) > len(syn_rows),
                       "training": len(real) > len(train_rows),
                       "holdout": len(holdout) > len(hold_rows)},
        "sizes_equal": len(train_rows) == len(hold_rows),
        "dcr_training_median": float(np.median(d_train)),
        "dcr_holdout_median": float(np.median(d_hold)),
        "share_dcr_training_zero": float(np.mean(d_train == 0)),
        "share_dcr_holdout_zero": float(np.mean(d_hold == 0)),
        "distances_to_training": _listed(d_train),
        "distances_to_holdout": _listed(d_hold),
    }
    return DCRResult(
        score=score, share_closer_to_training=share, ideal_share=ideal,
        dcr_training_p5=_p5(d_train), dcr_holdout_p5=_p5(d_hold),
        nndr_mean=float(np.mean(nndr_values)) if nndr_values is not None else float("nan"),
        nndr_p5=_p5(nndr_values) if nndr_values is not None else float("nan"),
        n_synthetic=len(syn_rows), n_training=len(train_rows), n_holdout=len(hold_rows),
        details=details)


def nndr(real: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame, *,
         schema: Schema | None = None, seed: int | None = None,
         max_synthetic_rows: int = MAX_SYNTHETIC_ROWS,
         max_reference_rows: int = MAX_REFERENCE_ROWS) -> NNDRResult:
    """Nearest-neighbour distance ratio of synthetic rows, against holdout rows as the baseline.

    For each synthetic row: distance to its nearest training row divided by the distance to
    its second nearest (1 when both are 0). The same is computed for holdout rows against the
    training rows: real patients the generator never saw (see :class:`NNDRResult`).

    Args:
        real: Training rows the generator saw (the reference of both ratios).
        synthetic: Generated rows.
        holdout: Real rows the generator never saw (the baseline queries).
        schema: Column kinds; inferred from ``real`` when None.
        seed: Seed of the subsampling.
        max_synthetic_rows: Synthetic (and holdout) rows measured.
        max_reference_rows: Training rows used as the reference.
    """
    max_synthetic_rows = check_positive_int(max_synthetic_rows, "max_synthetic_rows")
    max_reference_rows = check_positive_int(max_reference_rows, "max_reference_rows")
    s = prepare_tables(real, synthetic, holdout, schema, seed)
    if len(real) < 2:
        raise DataError("The nearest-neighbour distance ratio needs at least 2 training rows.")
    syn_rows = sample_rows(len(synthetic), max_synthetic_rows, s.rng)
    train_rows = sample_rows(len(real), max_reference_rows, s.rng)
    hold_rows = sample_rows(len(holdout), max_synthetic_rows, s.rng)
    encoder = fit_encoder(real, s.schema, columns=s.columns)
    train = encoder.transform(real.iloc[train_rows])
    syn_d, _ = nearest_neighbours(encoder.transform(synthetic.iloc[syn_rows]), train, k=2)
    hold_d, _ = nearest_neighbours(encoder.transform(holdout.iloc[hold_rows]), train, k=2)
    syn_ratio = distance_ratio(syn_d[:, 0], syn_d[:, 1])
    base_ratio = distance_ratio(hold_d[:, 0], hold_d[:, 1])
    syn_p5, base_p5 = _p5(syn_ratio), _p5(base_ratio)
    score = 1.0 if base_p5 <= 0 else float(np.clip(syn_p5 / base_p5, 0.0, 1.0))
    details = {
        "seed": s.seed,
        "columns": s.columns,
        "score_formula": "min(1, nndr_p5 / baseline_p5)",
        "n_holdout": len(hold_rows),
        "nndr_median": float(np.median(syn_ratio)),
        "baseline_median": float(np.median(base_ratio)),
        "nndr_values": _listed(syn_ratio),
        "baseline_values": _listed(base_ratio),
    }
    return NNDRResult(score=score, nndr_mean=float(syn_ratio.mean()), nndr_p5=syn_p5,
                      baseline_mean=float(base_ratio.mean()), baseline_p5=base_p5,
                      n_synthetic=len(syn_rows), n_training=len(train_rows), details=details)


# -- exact copies ----------------------------------------------------------------------------
def exact_copies(real: pd.DataFrame, synthetic: pd.DataFrame,
                 holdout: pd.DataFrame | None = None, *, schema: Schema | None = None,
                 seed: int | None = None) -> ExactCopyResult:
    """Share of synthetic rows equal to a training row on every learned column.

    All synthetic and training rows are compared (hashing is fast). With a ``holdout``, the
    share equal to a holdout row is the baseline of natural coincidences; a holdout larger than
    the training table is cut (seeded) to the training size, so that the baseline is not
    inflated. A holdout smaller than the training table makes the baseline a little low, which
    errs on the side of privacy. See :class:`ExactCopyResult` for the score.

    Args:
        real: Training rows the generator saw.
        synthetic: Generated rows.
        holdout: Real rows the generator never saw (optional baseline).
        schema: Column kinds; inferred from ``real`` when None.
        seed: Seed of the holdout subsampling.
    """
    s = prepare_tables(real, synthetic, holdout, schema, seed)
    kinds = {c: s.schema[c].kind for c in s.columns}
    syn_hash = row_hashes(synthetic, kinds)
    in_train = np.isin(syn_hash, row_hashes(real, kinds))
    share_train = float(in_train.mean())
    share_dup = 1.0 - len(np.unique(syn_hash)) / len(syn_hash)
    details: dict[str, Any] = {"seed": s.seed, "columns": s.columns,
                               "n_copies_training": int(in_train.sum()),
                               "n_training": len(real)}
    share_hold: float | None = None
    if holdout is not None:
        hold_rows = sample_rows(len(holdout), len(real), s.rng)
        in_hold = np.isin(syn_hash, row_hashes(holdout.iloc[hold_rows], kinds))
        share_hold = float(in_hold.mean())
        excess = max(0.0, share_train - share_hold)
        score = 1.0 if share_hold >= 1.0 else 1.0 - excess / (1.0 - share_hold)
        details.update({"n_copies_holdout": int(in_hold.sum()), "n_holdout": len(hold_rows),
                        "holdout_subsampled": len(holdout) > len(hold_rows),
                        "score_formula": "1 - max(0, share_training - share_holdout) "
                                         "/ (1 - share_holdout)"})
    else:
        score = 1.0 - share_train
        details["score_formula"] = "1 - share_training"
    return ExactCopyResult(score=float(np.clip(score, 0.0, 1.0)), share_training=share_train,
                           share_holdout=share_hold,
                           share_duplicated_within_synthetic=float(share_dup),
                           n_synthetic=len(synthetic), details=details)


def copied_from_examples(synthetic: pd.DataFrame, examples: pd.DataFrame, *,
                         schema: Schema | None = None) -> ExampleCopyResult:
    """Share of synthetic rows identical to one of the example rows given to an LLM generator.

    Prompts that show a few "example" rows invite the model to repeat them; in SynLLM's
    outputs about half the rows of example-bearing prompts were verbatim copies. Rows are
    compared on the learned columns, as in :func:`exact_copies`.

    Args:
        synthetic: Generated rows.
        examples: The rows shown in the prompt(s).
        schema: Column kinds; inferred from ``synthetic`` when None (there are usually too
            few examples to infer from).

    Returns:
        An :class:`ExampleCopyResult`; ``details["copies_per_example"]`` counts, for each
        example row in order, the synthetic rows that repeat it.
    """
    check_frame(synthetic, "synthetic")
    check_frame(examples, "examples")
    schema = schema or Schema.infer(synthetic)
    columns = learned_columns(schema)
    check_columns(synthetic, columns, "synthetic")
    check_columns(examples, columns, "examples")
    kinds = {c: schema[c].kind for c in columns}
    syn_hash, ex_hash = row_hashes(synthetic, kinds), row_hashes(examples, kinds)
    copied = np.isin(syn_hash, ex_hash)
    uniq, counts = np.unique(syn_hash, return_counts=True)
    per_example = dict(zip(uniq.tolist(), counts.tolist(), strict=True))
    share = float(copied.mean())
    return ExampleCopyResult(
        score=1.0 - share, share_copied=share, n_copied=int(copied.sum()),
        n_synthetic=len(synthetic), n_examples=len(examples),
        details={"columns": columns,
                 "copies_per_example": [int(per_example.get(h, 0)) for h in ex_hash.tolist()]})


# -- attacks ---------------------------------------------------------------------------------
def membership_inference(real: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame, *,
                         schema: Schema | None = None, seed: int | None = None,
                         max_synthetic_rows: int = MAX_SYNTHETIC_ROWS,
                         max_records: int = MAX_ATTACK_RECORDS) -> MIAResult:
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
        "attack": "score = -distance to the closest synthetic row",
        "tpr_at_fpr_0.01": tpr_at(0.01),
        "tpr_at_fpr_0.1": tpr_at(0.1),
        "max_advantage": float(np.max(tpr - fpr)),
        "member_distance_median": float(np.median(d_mem)),
        "non_member_distance_median": float(np.median(d_non)),
        "subsampled": {"synthetic": len(synthetic) > len(syn_rows),
                       "members": len(real) > n, "non_members": len(holdout) > n},
    }
    return MIAResult(score=float(np.clip(1.0 - 2.0 * max(0.0, auc - 0.5), 0.0, 1.0)), auc=auc,
                     n_members=n, n_non_members=n, n_synthetic=len(syn_rows), details=details)


def attribute_inference(real: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame,
                        sensitive: str, known: Sequence[str] | None = None, *,
                        schema: Schema | None = None, seed: int | None = None,
                        k: int | Sequence[int] = (1, 5),
                        max_synthetic_rows: int = MAX_SYNTHETIC_ROWS,
                        max_records: int = MAX_ATTACK_RECORDS) -> AttributeInferenceResult:
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
    ks = sorted({check_positive_int(v, "k")
                 for v in ([k] if isinstance(k, int | np.integer) else k)})
    if not ks:
        raise InvalidParameterError("'k' must name at least one neighbour count.")
    s = prepare_tables(real, synthetic, holdout, schema, seed)
    if sensitive not in s.columns:
        raise InvalidParameterError(
            f"The sensitive column '{sensitive}' is not a learned column; choose among "
            f"{s.columns}.")
    known = [c for c in s.columns if c != sensitive] if known is None else list(known)
    bad = [c for c in known if c not in s.columns or c == sensitive]
    if bad or not known:
        raise InvalidParameterError(
            f"'known' must list learned columns other than '{sensitive}'; not usable: {bad}.")
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
        raise DataError(f"The synthetic column '{sensitive}' is entirely missing; the attack "
                        "has nothing to learn from.")
    syn_frame, syn_truth = syn_frame[keep], syn_truth[keep]
    n = min(len(real), len(holdout), max_records)
    groups = {"training": real.iloc[sample_rows(len(real), n, s.rng)],
              "holdout": holdout.iloc[sample_rows(len(holdout), n, s.rng)]}
    # the attacker's own view: distances scaled on the synthetic table
    encoder = fit_encoder(syn_frame, s.schema, columns=known)
    reference = encoder.transform(syn_frame)
    real_values = truth(real)
    real_values = real_values[present(real_values)]
    mad = 1.0
    if not classify and len(real_values):
        mad = float(np.mean(np.abs(real_values - np.median(real_values)))) or 1.0

    per_k: dict[int, dict[str, float]] = {v: {} for v in ks}
    counts: dict[str, int] = {}
    for name, frame in groups.items():
        target = truth(frame)
        rows = present(target)
        counts[name] = int(rows.sum())
        if not rows.any():
            raise DataError(f"The {name} column '{sensitive}' is entirely missing; there is "
                            "nothing to attack.")
        _, idx = nearest_neighbours(encoder.transform(frame[rows]), reference, k=max(ks))
        for v in ks:
            guess = knn_predict(syn_truth, idx, min(v, idx.shape[1]), classify)
            if classify:
                per_k[v][name] = float(np.mean(guess == target[rows]))
            else:
                per_k[v][name] = 1.0 - float(np.mean(np.abs(guess - target[rows]))) / mad
    for v in ks:
        per_k[v]["gain"] = per_k[v]["training"] - per_k[v]["holdout"]
    worst = max(ks, key=lambda v: per_k[v]["gain"])
    train_m, hold_m, gain = (per_k[worst][x] for x in ("training", "holdout", "gain"))
    room = 1.0 - hold_m
    score = 1.0 if gain <= 0 else (0.0 if room <= 0 else 1.0 - gain / room)
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
        score=float(np.clip(score, 0.0, 1.0)), sensitive=sensitive, known=known,
        task="classification" if classify else "regression", training=train_m,
        holdout=hold_m, gain=gain, k=worst, details=details)


# -- the Metric contract ---------------------------------------------------------------------
class DCRShare(Metric):
    """Share of synthetic rows closer to training than to holdout, as a score (see ``dcr``)."""

    key, family = "DCRShare", "privacy"

    @staticmethod
    def compute(real: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame,
                **options: Any) -> MetricResult:
        result = dcr(real, synthetic, holdout, **options)
        return MetricResult(result.score, {"share_closer_to_training":
                                           result.share_closer_to_training,
                                           "ideal_share": result.ideal_share})


class MembershipInference(Metric):
    """1 - 2 * max(0, AUC - 0.5) of the distance-based membership attack."""

    key, family = "MembershipInference", "privacy"

    @staticmethod
    def compute(real: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame,
                **options: Any) -> MetricResult:
        result = membership_inference(real, synthetic, holdout, **options)
        return MetricResult(result.score, {"auc": result.auc})


class ExactCopies(Metric):
    """1 - the excess share of synthetic rows that are training rows (see ``exact_copies``)."""

    key, family = "ExactCopies", "privacy"

    @staticmethod
    def compute(real: pd.DataFrame, synthetic: pd.DataFrame,
                holdout: pd.DataFrame | None = None, **options: Any) -> MetricResult:
        result = exact_copies(real, synthetic, holdout, **options)
        return MetricResult(result.score, {"share_training": result.share_training,
                                           "share_holdout": result.share_holdout})
