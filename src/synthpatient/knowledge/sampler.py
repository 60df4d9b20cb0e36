"""Cohorts drawn from the knowledge base alone: demographics, a latent copula, a clinical layer.

1. Demographics from the composition of adults *with* the condition (age bands, sex,
   race/ethnicity), narrowed natively to the asked age range and sex (band shares are
   renormalised over the overlap; nothing is drawn and then discarded).
2. One latent Gaussian vector per patient: a normal score per drawn observation (correlations
   from the knowledge base) plus a liability per comorbidity and medication (a weighted sum of
   observation scores and noise, so e.g. hypertension goes with higher systolic pressure).
   Filters ("eGFR 30-59", "with hypertension", "on insulin") are bounds on these latent
   dimensions: the constrained dimensions are drawn first from truncated normals (each one
   conditional on those before it), the rest from the Gaussian conditional on them. So a
   narrow request costs no more than a broad one and no patient is thrown away.
3. Scores are mapped to each observation's sourced marginal, with age and sex effects.
4. A deterministic clinical layer: fasting glucose from HbA1c (ADAG line plus noise),
   creatinine solved from eGFR by CKD-EPI 2021, weight and waist from BMI and height,
   comorbidities that are defined by values (CKD = eGFR < 60 or UACR >= 30) follow them,
   untreated patients keep diagnostic values and the others are treated, drugs are never
   given where contraindicated, treatment effects are bounded, LDL and total cholesterol agree
   by Friedewald, and dates are in order (birth < diagnosis <= last visit).

Everything is vectorised numpy: a million patients take seconds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from synthpatient._random import as_generator
from synthpatient._steps import step
from synthpatient.knowledge._clinical import (
    ADAG_INTERCEPT,
    ADAG_SLOPE,
    FASTING_BELOW_AVERAGE,
    FASTING_GLUCOSE_NOISE,
    _clinical_layer,
    ckd_epi_2021_creatinine,
    ckd_epi_2021_egfr,
)
from synthpatient.knowledge._demographics import REFERENCE_DATE, _demographics, diagnosis_duration
from synthpatient.knowledge._follow_up import follow_up_text
from synthpatient.knowledge._kb import KnowledgeBase
from synthpatient.knowledge._latent import PIVOT_AGE, _Latent
from synthpatient.knowledge._model import (
    Comorbidity,
    Condition,
    Correlation,
    Medication,
    Observation,
)
from synthpatient.knowledge._physiology import (
    FRIEDEWALD_MAX_TRIGLYCERIDES,
    kidney_failure_bun_floor,
    ldl_not_calculated,
    pulse_pressure_floor,
    tails_by_visit,
)
from synthpatient.knowledge._spec import MAX_PATIENTS, CohortSpec, Filter

if TYPE_CHECKING:
    from synthpatient.knowledge.timeline import CohortTimeline

# the spec, the constants and the CKD-EPI equations live in the step modules; they stay
# importable from here, where the request parser, realism checks and tests import them
__all__ = [
    "ADAG_INTERCEPT",
    "ADAG_SLOPE",
    "FASTING_BELOW_AVERAGE",
    "FASTING_GLUCOSE_NOISE",
    "MAX_PATIENTS",
    "PIVOT_AGE",
    "REFERENCE_DATE",
    "Cohort",
    "CohortSampler",
    "CohortSpec",
    "Filter",
    "ckd_epi_2021_creatinine",
    "ckd_epi_2021_egfr",
]


@dataclass(frozen=True)
class Cohort:
    """A drawn cohort: one row per patient, the spec, and the sources its numbers came from."""

    spec: CohortSpec
    condition: Condition
    wide: pd.DataFrame
    observations: list[Observation]
    sources_used: list[str] = field(default_factory=list)
    timeline: CohortTimeline | None = None  # the history, when a follow-up was asked for
    # with a history, ``wide`` holds the last visit; this keeps the drawn cross-section (the
    # first visit), which is what the knowledge base's prevalence targets describe
    baseline: pd.DataFrame | None = None

    def long(self) -> pd.DataFrame:
        """One row per patient and observation, with LOINC code and UCUM unit."""
        parts = [
            pd.DataFrame(
                {
                    "patient_id": self.wide["patient_id"],
                    "observation": obs.key,
                    "name": obs.name,
                    "loinc": obs.loinc,
                    "value": self.wide[obs.key],
                    "unit": obs.unit,
                    "effective_date": self.wide["last_visit_date"],
                }
            )
            for obs in self.observations
        ]
        return pd.concat(parts, ignore_index=True)


class CohortSampler:
    """Draws cohorts for the conditions of a knowledge base.

    Examples:
        >>> kb = load_knowledge_base()
        >>> cohort = CohortSampler(kb).sample(CohortSpec(condition="type2_diabetes", n=2000))
        >>> cohort.wide.shape
    """

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    def sample(self, spec: CohortSpec) -> Cohort:
        condition = spec.validate_against(self.kb)
        wanted = spec.observation_keys(condition)
        rng = as_generator(spec.seed)
        # each step is vectorised over every patient: progress (and a caller's Cancel) comes
        # between steps, so the random stream, and the cohort, are those of an unwatched draw
        step("draw", 0, 4)
        people = _demographics(condition, spec, rng)
        step("draw", 1, 4)
        latent = _Latent(condition, people)
        scores = latent.draw(spec.filters, rng)
        step("draw", 2, 4)
        values = latent.to_values(scores)
        table = _clinical_layer(condition, spec, values, latent.liabilities(scores), people, rng)
        step("draw", 3, 4)
        by_key = {o.key: o for o in condition.observations}
        wide = pd.DataFrame(
            {
                "patient_id": _patient_ids(spec.n),
                **{
                    k: people[k]
                    for k in (
                        "sex",
                        "race_ethnicity",
                        "age",
                        "birth_date",
                        "diagnosis_date",
                        "last_visit_date",
                    )
                },
            }
        )
        for key in wanted:
            wide[key] = table[key]
        for column in table.columns:
            if column not in by_key:  # comorbidities, treated, medications
                wide[column] = table[column]
        observations = [by_key[k] for k in wanted]
        used = _sources_used(condition, observations)
        cohort = Cohort(spec, condition, wide, observations, used)
        step("draw", 4, 4)
        if spec.follow_up_years is None:
            ldl_not_calculated(wide)
            return cohort
        # imported here: timeline builds on this module
        from synthpatient.knowledge.timeline import FollowUp, simulate_timeline

        years = spec.follow_up_years
        # the history moves the underlying LDL (total cholesterol needs it); what is not
        # reported where triglycerides exceed 400 is masked afterwards, visit by visit
        step("history", 0, 1)
        what = follow_up_text(years, cohort.condition)
        history = simulate_timeline(cohort, FollowUp(years, what))
        step("history", 1, 1)
        return _reported_history(history)


def _reported_history(cohort: Cohort) -> Cohort:
    """A history with the tails' relations kept at every visit (the simulation moves each
    value on its own): pulse pressure floor, urea nitrogen in kidney failure, and calculated
    LDL left missing where that visit's triglycerides exceed 400 mg/dL (the underlying LDL
    stays, so total and non-HDL cholesterol are whole)."""
    by_key = {o.key: o for o in cohort.condition.observations}
    wide = cohort.wide.copy()
    last = {k: wide[k].to_numpy(float) for k in by_key if k in wide}
    pulse_pressure_floor(last, by_key)
    kidney_failure_bun_floor(last, by_key)
    for key, values in last.items():
        wide[key] = values
    ldl_not_calculated(wide)
    baseline = None
    if cohort.baseline is not None:
        baseline = cohort.baseline.copy()
        ldl_not_calculated(baseline)
    timeline = cohort.timeline
    if timeline is not None:
        obs = tails_by_visit(timeline.observations, by_key)
        if "ldl" in set(obs["observation"]):
            tg = obs[obs["observation"] == "triglycerides"].set_index("encounter_id")["value"]
            high = (obs["observation"] == "ldl") & obs["encounter_id"].map(tg).gt(
                FRIEDEWALD_MAX_TRIGLYCERIDES
            )
            obs["value"] = obs["value"].astype(float).where(~high)
        timeline = dataclasses.replace(timeline, observations=obs)
    return dataclasses.replace(cohort, wide=wide, baseline=baseline, timeline=timeline)


def _patient_ids(n: int) -> np.ndarray:
    return np.char.add("P", np.char.zfill(np.arange(1, n + 1).astype(str), 7))


def _sources_used(condition: Condition, observations: list[Observation]) -> list[str]:
    ids = [s for o in observations for s in o.sources]
    ids += _nested_sources(condition.demographics)
    ids += list(condition.diagnosis.get("sources", []))
    ids += list(diagnosis_duration(condition).sources)
    cited: list[Comorbidity | Medication | Correlation] = [
        *condition.comorbidities,
        *condition.medications,
        *condition.correlations,
    ]
    for item in cited:
        ids += list(item.sources)
    if condition.treatment:
        ids += list(condition.treatment.sources)
    return list(dict.fromkeys(ids))


def _nested_sources(group: object) -> list[str]:
    out: list[str] = []
    if isinstance(group, dict):
        for key, value in group.items():
            out += list(value) if key == "sources" else _nested_sources(value)
    return out
