"""Distances to real patients: DCR and NNDR, training rows against holdout rows.

A generator that learned the population, not the people, puts its rows as close to real
patients it never saw (the holdout) as to the ones it was trained on; one that copies is
closer to training. See :mod:`synthpatient.evaluation.privacy` for what every privacy test
shares (learned columns only, the shared encoding, seeded subsampling, scores in [0, 1]).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.errors import DataError
from synthpatient.evaluation._encoding import (
    check_positive_int,
    distance_ratio,
    fit_encoder,
    nearest_neighbours,
    prepare_tables,
    sample_rows,
)
from synthpatient.evaluation._metric import Inputs, Metric, Verdicts, flat_details
from synthpatient.schema import Schema

#: Synthetic rows used by the distance-based tests (more changes the numbers very little).
MAX_SYNTHETIC_ROWS = 20_000
#: Real (training / holdout) rows used as a distance reference.
MAX_REFERENCE_ROWS = 50_000
_TIE_RTOL = 1e-9
_DECIMALS = 6  # per-row lists in details are rounded to keep reports small


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


# -- helpers ---------------------------------------------------------------------------------
def _p5(values: np.ndarray) -> float:
    return float(np.percentile(values, 5)) if len(values) else float("nan")


def _listed(values: np.ndarray) -> list[float]:
    return np.round(values.astype(float), _DECIMALS).tolist()


# -- distance to closest record --------------------------------------------------------------
# long: the docstring explains the unequal sizes and each argument; the body is about 60 lines
def dcr(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    *,
    schema: Schema | None = None,
    seed: int | None = None,
    max_synthetic_rows: int = MAX_SYNTHETIC_ROWS,
    max_reference_rows: int = MAX_REFERENCE_ROWS,
) -> DCRResult:
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
    nndr_values = distance_ratio(to_train[:, 0], to_train[:, 1]) if to_train.shape[1] > 1 else None

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
        "subsampled": {
            "synthetic": len(synthetic) > len(syn_rows),
            "training": len(real) > len(train_rows),
            "holdout": len(holdout) > len(hold_rows),
        },
        "sizes_equal": len(train_rows) == len(hold_rows),
        "dcr_training_median": float(np.median(d_train)),
        "dcr_holdout_median": float(np.median(d_hold)),
        "share_dcr_training_zero": float(np.mean(d_train == 0)),
        "share_dcr_holdout_zero": float(np.mean(d_hold == 0)),
        "distances_to_training": _listed(d_train),
        "distances_to_holdout": _listed(d_hold),
    }
    return DCRResult(
        score=score,
        share_closer_to_training=share,
        ideal_share=ideal,
        dcr_training_p5=_p5(d_train),
        dcr_holdout_p5=_p5(d_hold),
        nndr_mean=float(np.mean(nndr_values)) if nndr_values is not None else float("nan"),
        nndr_p5=_p5(nndr_values) if nndr_values is not None else float("nan"),
        n_synthetic=len(syn_rows),
        n_training=len(train_rows),
        n_holdout=len(hold_rows),
        details=details,
    )


def nndr(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    *,
    schema: Schema | None = None,
    seed: int | None = None,
    max_synthetic_rows: int = MAX_SYNTHETIC_ROWS,
    max_reference_rows: int = MAX_REFERENCE_ROWS,
) -> NNDRResult:
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
    return NNDRResult(
        score=score,
        nndr_mean=float(syn_ratio.mean()),
        nndr_p5=syn_p5,
        baseline_mean=float(base_ratio.mean()),
        baseline_p5=base_p5,
        n_synthetic=len(syn_rows),
        n_training=len(train_rows),
        details=details,
    )


# -- the registered metrics ------------------------------------------------------------------
class RowCaps:
    """The parameters of metrics over nearest real records: how many synthetic and reference
    records they compare (sampled down beyond these, so a 100,000-row table is measured in
    seconds). A mixin placed before ``Metric``; patient-level tests share it."""

    max_synthetic_rows: int
    max_reference_rows: int

    def __init__(
        self,
        *,
        max_synthetic_rows: int = MAX_SYNTHETIC_ROWS,
        max_reference_rows: int = MAX_REFERENCE_ROWS,
    ) -> None:
        self.max_synthetic_rows = max_synthetic_rows
        self.max_reference_rows = max_reference_rows
        super().__init__()

    def _validate_params(self) -> None:
        check_positive_int(self.max_synthetic_rows, "max_synthetic_rows")
        check_positive_int(self.max_reference_rows, "max_reference_rows")


class _NearestRowMetric(RowCaps, Metric):
    """Metrics over nearest real rows."""


class DCR(_NearestRowMetric):
    """Distance to closest record, training versus holdout, as a score (see :func:`dcr`).

    Details: every field of :class:`DCRResult` and its details (``share_closer_to_training``,
    ``ideal_share``, the per-row ``distances_to_training`` / ``distances_to_holdout``...).

    Examples:
        >>> DCR().compute(train, synthetic, holdout=holdout, seed=0).score
        0.97
    """

    key = "dcr"
    family = "privacy"
    name = "Distance to closest record"
    verdicts = Verdicts(
        0.9,
        0.7,
        "no closer to training patients than to unseen ones",
        "somewhat closer to training patients",
        "much closer to training patients: memorised",
    )
    requires = frozenset({"holdout"})
    repeat = True

    def _compute(self, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        result = dcr(
            inputs.real,
            inputs.synthetic,
            inputs.holdout,
            schema=inputs.schema,
            seed=inputs.seed,
            **self.get_params(),
        )
        return result.score, flat_details(result)


class NNDR(_NearestRowMetric):
    """Nearest-neighbour distance ratio against the holdout's baseline (see :func:`nndr`).

    Details: every field of :class:`NNDRResult` and its details.

    Examples:
        >>> NNDR().compute(train, synthetic, holdout=holdout, seed=0).details["nndr_p5"]
    """

    key = "nndr"
    family = "privacy"
    name = "Nearest-neighbour ratio"
    verdicts = Verdicts(
        0.9,
        0.7,
        "no synthetic row singles out one training patient",
        "some synthetic rows sit very close to single patients",
        "many synthetic rows single out training patients",
    )
    requires = frozenset({"holdout"})
    repeat = True

    def _compute(self, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        if len(inputs.real) < 2:  # the rest of the report can still be computed
            return float("nan"), {
                "error": "fewer than 2 training rows; the ratio needs a "
                "nearest and a second-nearest training row"
            }
        result = nndr(
            inputs.real,
            inputs.synthetic,
            inputs.holdout,
            schema=inputs.schema,
            seed=inputs.seed,
            **self.get_params(),
        )
        return result.score, flat_details(result)
