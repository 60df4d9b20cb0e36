"""Privacy and utility with the patient as the unit: whole histories, not visit rows.

In a long table a patient is many rows; row-level tests then treat each visit as a person,
and a generator that copies one visit of many patients, or a whole patient as several
plausible visits, is judged on the wrong unit. Here each patient becomes one row of a fixed
length, read from the whole history (see :func:`~synthpatient.evaluation._histories.
patient_summary`): static values, and for every varying number its first, last and mean value
and its slope over time, for every varying category its first and last value, the number of
events and the follow-up. The row-level tests then run on those rows, encoded as they encode
any table (robust-scaled numbers, weighted one-hots):

* ``patient_dcr``: distance to the closest real patient, training against holdout patients
  (see :func:`~synthpatient.evaluation.privacy.dcr`);
* ``patient_membership_inference``: can training patients be told from holdout patients by
  how close their history is to a synthetic one (see
  :func:`~synthpatient.evaluation.privacy.membership_inference`);
* ``patient_ml_utility``: TSTR against TRTR predicting a patient attribute (a static column)
  from the rest of the history.

The holdout must hold whole patients the generator never saw (split by patient, e.g. with
:func:`~synthpatient.evaluation.split_patients`); ``evaluate`` warns when patient keys are
shared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.evaluation._encoding import check_positive_int
from synthpatient.evaluation._histories import patient_summary, summary_schema
from synthpatient.evaluation._metric import Inputs, Verdicts, flat_details
from synthpatient.evaluation.attacks import MAX_ATTACK_RECORDS, membership_inference
from synthpatient.evaluation.distances import MAX_SYNTHETIC_ROWS, RowCaps, dcr
from synthpatient.evaluation.registry import get_metric_class
from synthpatient.evaluation.timeline import Prepared, TimelineMetric, prepared
from synthpatient.schema import Schema


@dataclass(frozen=True)
class Summaries:
    """One row per patient for every table, and their column kinds."""

    real: pd.DataFrame
    synthetic: pd.DataFrame
    holdout: pd.DataFrame | None
    schema: Schema
    not_summarised: tuple[str, ...]


def _summarise(inputs: Inputs) -> Summaries:
    prep = prepared(inputs)
    with_time = prep.timeline.time is not None

    def one(hist: Any) -> pd.DataFrame:
        return patient_summary(hist, prep.columns, inputs.schema, with_time=with_time)

    real = one(prep.real)
    return Summaries(
        real,
        one(prep.synthetic),
        None if prep.holdout is None else one(prep.holdout),
        summary_schema(inputs.schema, prep.columns, real),
        prep.columns.other,
    )


def summaries(inputs: Inputs) -> Summaries:
    """The patient summaries of ``inputs``' tables, computed once and shared."""
    return inputs.shared("patient_summaries", lambda: _summarise(inputs))


def _unit_details(s: Summaries, prep: Prepared) -> dict[str, Any]:
    details: dict[str, Any] = {
        "unit": "patient",
        "unit_text": "each patient's whole history is one record (static values, first, last, "
        "mean and slope of every varying number, first and last of every varying category, "
        "events and follow-up)",
        "n_real_patients": len(s.real),
        "n_synthetic_patients": len(s.synthetic),
        "n_holdout_patients": None if s.holdout is None else len(s.holdout),
    }
    if s.not_summarised:
        details["notices"] = [
            f"Patient-level privacy leaves out varying column(s) it cannot summarise "
            f"(dates other than the time): {', '.join(s.not_summarised)}."
        ]
    return details


class _PatientAttack(RowCaps, TimelineMetric):
    """Nearest-patient tests: how many synthetic and reference patients they compare."""

    requires = frozenset({"holdout", "timeline"})
    repeat = True


class PatientDCR(_PatientAttack):
    """Distance to closest record with patients as records: the share of synthetic patients
    whose closest real patient (over the whole history) is a training patient rather than a
    holdout one, as a score (1 at or below the ideal share, 0 for copied patients).

    Details: those of :func:`~synthpatient.evaluation.privacy.dcr` on the patient summaries
    (``share_closer_to_training``, ``ideal_share``, per-patient ``distances_*``), ``unit``.

    Examples:
        >>> PatientDCR().compute(train, synthetic, holdout=holdout,
        ...                      timeline=Timeline("id", "day"), seed=0).score
        0.98
    """

    key = "patient_dcr"
    family = "privacy"
    name = "Distance to closest patient"
    verdicts = Verdicts(
        0.9,
        0.7,
        "no closer to training patients' histories than to unseen ones",
        "somewhat closer to training patients' histories",
        "much closer to training patients' histories: memorised",
    )

    def _measure(self, prep: Prepared, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        s = summaries(inputs)
        result = dcr(
            s.real,
            s.synthetic,
            s.holdout,  # the metric requires a holdout
            schema=s.schema,
            seed=inputs.seed,
            **self.get_params(),
        )
        return result.score, {**flat_details(result), **_unit_details(s, prep)}


class PatientMembershipInference(_PatientAttack):
    """1 - 2 * max(0, AUC - 0.5) of the distance-based membership attack with patients as
    records: training patients (members) against holdout patients (non-members), each scored
    by minus the distance of their history to the closest synthetic patient.

    Details: those of :func:`~synthpatient.evaluation.privacy.membership_inference` on the
    patient summaries (``auc``, ``tpr_at_fpr_0.1``...), ``unit``.

    Examples:
        >>> PatientMembershipInference().compute(train, synthetic, holdout=holdout,
        ...     timeline=Timeline("id", "day"), seed=0).details["auc"]
        0.52
    """

    key = "patient_membership_inference"
    family = "privacy"
    name = "Membership inference on patients"
    verdicts = Verdicts(
        0.9,
        0.7,
        "the attack tells training patients apart no better than chance",
        "the attack does a little better than chance",
        "the attack tells training patients apart",
    )

    def __init__(
        self, *, max_synthetic_rows: int = MAX_SYNTHETIC_ROWS, max_records: int = MAX_ATTACK_RECORDS
    ) -> None:
        self.max_synthetic_rows = max_synthetic_rows
        self.max_records = max_records
        TimelineMetric.__init__(self)

    def _validate_params(self) -> None:
        check_positive_int(self.max_synthetic_rows, "max_synthetic_rows")
        check_positive_int(self.max_records, "max_records")

    def _measure(self, prep: Prepared, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        s = summaries(inputs)
        result = membership_inference(
            s.real,
            s.synthetic,
            s.holdout,  # the metric requires a holdout
            schema=s.schema,
            seed=inputs.seed,
            **self.get_params(),
        )
        return result.score, {**flat_details(result), **_unit_details(s, prep)}


class PatientMLUtility(TimelineMetric):
    """ML utility with patients as rows: models predict the target, a patient attribute (a
    static column), from the rest of each patient's summarised history, trained on synthetic
    patients (TSTR) and on real ones (TRTR), tested on the same real patients (the holdout's,
    when given); the score is that of ``ml_utility`` on those rows.

    Details: those of ``ml_utility`` on the patient summaries, ``unit``.

    Examples:
        >>> PatientMLUtility().compute(train, synthetic, holdout=holdout, target="status",
        ...                            timeline=Timeline("id", "day"), seed=0).details["tstr"]
    """

    key = "patient_ml_utility"
    family = "utility"
    name = "ML utility on patients (TSTR / TRTR)"
    verdicts = Verdicts(
        0.9,
        0.7,
        "models trained on synthetic patients do nearly as well as on real ones",
        "models trained on synthetic patients lose some accuracy",
        "models trained on synthetic patients do much worse",
    )
    requires = frozenset({"target", "timeline"})
    repeat = True

    def _measure(self, prep: Prepared, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        target = inputs.target
        assert target is not None  # in `requires`: compute_inputs refused it missing
        if target not in prep.columns.static:
            return float("nan"), {
                "error": f"the target '{target}' changes within patients; a patient-level "
                "model needs a patient attribute (a column constant within every patient)"
            }
        s = summaries(inputs)
        # a summary no patient of a table has (a slope when every patient has one event)
        # carries nothing to learn or test; the models are fitted without it, and it is named
        empty = [
            c
            for c in s.real.columns
            if c != target and (s.real[c].isna().all() or s.synthetic[c].isna().all())
        ]
        keep = [c for c in s.real.columns if c not in empty]
        per_patient = Inputs(
            s.real[keep],
            s.synthetic[keep],
            None if s.holdout is None else s.holdout[keep],
            Schema(columns=tuple(spec for spec in s.schema if spec.name in keep)),
            inputs.seed,
            target,
            detailed=False,
        )
        result = get_metric_class("ml_utility")().compute_inputs(per_patient)
        details = {**result.details, **_unit_details(s, prep)}
        details["notices"] = [
            n.replace("real rows", "real patients") for n in result.details.get("notices", [])
        ] + details.get("notices", [])
        if empty:
            details["notices"].append(
                "Patient-level utility left out summaries missing for every real or synthetic "
                f"patient: {', '.join(empty)}."
            )
        score = result.score
        return (float("nan") if np.isnan(score) else float(score)), details
