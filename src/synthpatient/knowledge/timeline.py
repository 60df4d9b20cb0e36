"""Patient histories over time for a drawn cohort: visits, trajectories, treatment, events.

``simulate_timeline(cohort, FollowUp(5, ...))`` takes a cohort drawn by :class:`CohortSampler`
(its values become each patient's first visit of the history) and follows every patient for
the asked years, vectorised over patients (see ``_timeline_sim``): visits at the intervals
the knowledge base gives (for type 2 diabetes, HbA1c every 3 months above target and every
6 at target, a yearly review with lipids, eGFR and UACR; for hypertension, blood pressure
monthly above the 130 mmHg systolic target and every 4.5 months at it), values that drift
and stay correlated within a patient, drugs started by the guideline's steps when the visit
observation stays above target (with the clinical inertia of practice) that lower it (and,
for blood pressure, diastolic by a sourced fraction) after they start, and complications at
sourced rates (for type 1 diabetes, insulin as taken and no step-ups, with recurrent
ketoacidosis and severe hypoglycaemia). The returned cohort's ``wide`` table holds the values at the
last visit; ``timeline`` holds the history. :func:`timeline_checks` measures a history
against the sourced targets of the knowledge base.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from synthpatient._random import Seed, as_generator
from synthpatient.errors import InvalidParameterError
from synthpatient.knowledge._follow_up import (
    DEFAULT_FOLLOW_UP_YEARS,
    MAX_FOLLOW_UP_YEARS,
    FollowUp,
    parse_follow_up,
)
from synthpatient.knowledge._kb import load_knowledge_base
from synthpatient.knowledge._model import Condition
from synthpatient.knowledge._timeline_checks import TimelineCheckResult, timeline_checks
from synthpatient.knowledge._timeline_frames import (
    conditions,
    encounters,
    medications,
    observations,
)
from synthpatient.knowledge._timeline_sim import Simulation
from synthpatient.knowledge.sampler import Cohort
from synthpatient.rules import evaluate_expression, parse_expression

__all__ = [
    "DEFAULT_FOLLOW_UP_YEARS",
    "MAX_FOLLOW_UP_YEARS",
    "CohortTimeline",
    "FollowUp",
    "TimelineCheckResult",
    "follow_up_conditions",
    "parse_follow_up",
    "simulate_timeline",
    "timeline_checks",
]


@dataclass
class CohortTimeline:
    """Each patient's history from diagnosis (or baseline) to the last visit. All dates are
    datetime64[ns] dates (no time of day); every frame sorted by patient_id then date."""

    encounters: pd.DataFrame  # patient_id, encounter_id, date, kind, reason
    observations: pd.DataFrame  # patient_id, encounter_id, observation, name, loinc, value,
    # unit, effective_date
    medications: pd.DataFrame  # patient_id, medication, name, rxnorm, start_date, stop_date,
    # reason
    conditions: pd.DataFrame  # patient_id, condition, name, snomed, icd10, onset_date
    sources_used: list[str]
    notes: list[str] = field(default_factory=list)  # what the user must be told


def follow_up_conditions() -> list[str]:
    """Keys of the conditions whose knowledge base describes follow-up over time."""
    kb = load_knowledge_base()
    return sorted(key for key, c in kb.conditions.items() if c.timeline is not None)


def simulate_timeline(cohort: Cohort, follow_up: FollowUp, seed: Seed = None) -> Cohort:
    """``cohort`` with each patient followed for ``follow_up.years`` years.

    The cohort's drawn values are the first visit of each history; the returned ``wide``
    table holds the values at the last visit (and that visit's date, the diagnosis date of
    the history, current medications and comorbidities); ``timeline`` the history itself.

    Raises:
        InvalidParameterError: the condition has no follow-up in the knowledge base.
    """
    condition = cohort.condition
    if condition.timeline is None:
        raise InvalidParameterError(
            f"Follow-up histories are available for: "
            f"{', '.join(follow_up_conditions())}; not yet for {condition.name}. "
            "Ask without a follow-up for a snapshot cohort."
        )
    if not isinstance(follow_up, FollowUp):
        raise InvalidParameterError("follow_up must be a FollowUp (e.g. FollowUp(5.0, '...')).")
    rng = as_generator(seed if seed is not None else _seed_of(cohort))
    sim = Simulation(condition, cohort.wide, follow_up.years, rng)
    sim.run()
    ids = cohort.wide["patient_id"].to_numpy().astype(str)
    enc, _, row_of_visit = encounters(sim, ids)
    obs = observations(sim, cohort.observations, enc, row_of_visit)
    timeline = CohortTimeline(
        encounters=enc,
        observations=obs,
        medications=medications(sim, ids),
        conditions=conditions(sim, ids),
        sources_used=_sources(condition),
        notes=list(sim.record.notes),
    )
    wide = _current(cohort, sim, enc)
    used = list(dict.fromkeys([*cohort.sources_used, *timeline.sources_used]))
    return dataclasses.replace(
        cohort, wide=wide, sources_used=used, timeline=timeline, baseline=cohort.wide
    )


def _seed_of(cohort: Cohort) -> int | None:
    """A seed of its own for the history, derived from the cohort's (same seed, same rows)."""
    seed = cohort.spec.seed
    return None if seed is None else int(np.random.SeedSequence([seed, 15]).generate_state(1)[0])


def _sources(condition: Condition) -> list[str]:
    """The source ids the condition's follow-up model cites, each once, in order."""
    ids: list[str] = []

    def add(item: object) -> None:
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "sources":
                    ids.extend(value)
                else:
                    add(value)
        elif isinstance(item, list | tuple):
            for x in item:
                add(x)

    assert condition.timeline is not None  # simulate_timeline refused a condition without one
    add(condition.timeline.model_dump())
    return list(dict.fromkeys(ids))


def _current(cohort: Cohort, sim: Simulation, enc: pd.DataFrame) -> pd.DataFrame:
    """The wide table at the last visit: latest values, flags, drugs and dates."""
    r, condition = sim.record, cohort.condition
    wide = cohort.wide.copy()
    for obs in cohort.observations:
        if obs.key in r.last:
            wide[obs.key] = r.last[obs.key]
    last_day = np.zeros(sim.n, dtype=np.int64)
    for patient, day in zip(r.visit_patient, r.visit_day, strict=True):
        last_day[patient] = day
    wide["last_visit_date"] = (r.start + last_day.astype("timedelta64[D]")).astype("datetime64[ns]")
    wide["diagnosis_date"] = (r.start + r.diagnosis_day.astype("timedelta64[D]")).astype(
        "datetime64[ns]"
    )
    values = pd.DataFrame({k: v for k, v in r.last.items()})
    for c in condition.comorbidities:
        if c.key not in wide:
            continue
        if c.definition:  # follows the values, as in the snapshot
            wide[c.key] = np.asarray(
                evaluate_expression(parse_expression(c.definition), values), dtype=bool
            )
        else:
            wide[c.key] = sim.flags.get(c.key, wide[c.key].to_numpy(bool))
    treats = []
    for med in condition.medications:
        column = f"on_{med.key}"
        if column in wide:
            on = ~np.isnan(r.drug_start[med.key]) & np.isnan(r.drug_stop[med.key])
            wide[column] = on
            if med.treats:
                treats.append(on)
    if "treated" in wide and treats:
        wide["treated"] = np.any(treats, axis=0)
    return wide
