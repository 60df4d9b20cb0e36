"""What a cohort's columns are in FHIR R4: the cohort's side of the one FHIR mapping.

Each patient gives a Patient, an Encounter (the last visit), a Condition for the cohort's
condition (SNOMED CT and ICD-10-CM, onset at diagnosis) and one per comorbidity present, an
Observation per recorded value (LOINC code, UCUM quantity, category) and a MedicationRequest
per drug (RxNorm). A cohort with a history (``cohort.timeline``) gives instead an Encounter per
visit, an Observation per dated value (tied to its visit), a MedicationRequest per prescription
with its start and stop, and a Condition per condition with its onset
(:mod:`synthpatient.exporters.fhir_timeline`). The codes are the cohort's own; the resources are
built, validated and written by :mod:`synthpatient.exporters.fhir_mapping`, the same code that
writes an uploaded table, and the files by the ``fhir_bundles`` and ``fhir_ndjson`` exporters.
Ids are UUIDs derived from the cohort's seed and patient id, so the same request writes the
same files. Tests check the output against the official FHIR R4 JSON schema too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd

from synthpatient.exporters.fhir_mapping import (
    CodedColumn,
    FhirMapping,
    FlaggedCode,
    bundles,
    resources_by_type,
)
from synthpatient.exporters.fhir_timeline import TimelineEvents
from synthpatient.knowledge._codes import stage_codes, staged_icd10
from synthpatient.knowledge.sampler import Cohort

#: cohort columns FHIR R4 has no place for here, and why (named, never dropped silently)
_LEFT_OUT = {
    "age": "given by the Patient's birthDate",
    "treated": "given by the MedicationRequests",
}


def map_cohort(cohort: Cohort) -> FhirMapping:
    """The FHIR mapping of a cohort's patients table (and of its history, when it has one)."""
    condition = cohort.condition
    timeline = getattr(cohort, "timeline", None)
    if timeline is not None:
        return _map_history(cohort, timeline)
    staged = STAGED_ICD10 if STAGED_ICD10 in _fhir_frame(cohort) else None
    conditions = [
        FlaggedCode(
            condition.key,
            condition.snomed,
            condition.name,
            None,
            icd10=condition.icd10,
            onset="diagnosis_date",
            icd10_column=staged if condition.snomed == _staged_snomed() else None,
        )
    ]
    conditions += [
        FlaggedCode(
            c.key,
            c.snomed,
            c.name,
            c.key,
            icd10=c.icd10,
            icd10_column=staged if c.snomed == _staged_snomed() else None,
        )
        for c in condition.comorbidities
        if c.key in cohort.wide.columns
    ]
    medications = [
        FlaggedCode(m.key, m.rxnorm, m.name, f"on_{m.key}")
        for m in condition.medications
        if f"on_{m.key}" in cohort.wide.columns
    ]
    observations = tuple(
        CodedColumn(o.key, o.loinc, o.name, o.unit, o.category) for o in cohort.observations
    )
    return FhirMapping(
        namespace=f"synthpatient:cohort:{cohort.spec.seed}",
        observations=observations,
        patient_id="patient_id",
        gender="sex",
        birth_date="birth_date",
        race_ethnicity="race_ethnicity",
        visit_date="last_visit_date",
        conditions=tuple(conditions),
        medications=tuple(medications),
        unmapped=left_out(cohort),
    )


#: the FHIR frame's column with each patient's staged ICD-10-CM code (CKD by eGFR)
STAGED_ICD10 = "__icd10_staged"


def _staged_snomed() -> str | None:
    staged = stage_codes()
    return staged[0] if staged else None


def _fhir_frame(cohort: Cohort) -> pd.DataFrame:
    """The patients table FHIR is written from: with each patient's staged ICD-10-CM code
    (CKD N18.1-N18.5 by eGFR) when the cohort has a staged condition and its observation."""
    wide = cohort.wide
    snomed = _staged_snomed()
    has = snomed is not None and (
        cohort.condition.snomed == snomed
        or any(c.snomed == snomed for c in cohort.condition.comorbidities)
    )
    codes = (
        staged_icd10(snomed, {c: wide[c].to_numpy() for c in wide.columns})
        if has and snomed
        else None
    )
    return wide if codes is None else wide.assign(**{STAGED_ICD10: codes})


def left_out(cohort: Cohort) -> tuple[tuple[str, str], ...]:
    """(column, why) for each column of the patients table not written as it is. With a
    history, the current values, flags and dates are given by the dated resources instead."""
    why = dict(_LEFT_OUT)
    if getattr(cohort, "timeline", None) is not None:
        why = {
            "diagnosis_date": "given by the onset of the cohort's Condition",
            "last_visit_date": "given by the date of the last Encounter",
            **{
                o.key: "given by the last of the history's dated Observations"
                for o in cohort.observations
            },
            **{
                c.key: "given by the history's Conditions, with onset dates"
                for c in cohort.condition.comorbidities
            },
            **{
                f"on_{m.key}": "given by the history's MedicationRequests, with start and stop"
                for m in cohort.condition.medications
            },
            **why,
        }
    return tuple((c, reason) for c, reason in why.items() if c in cohort.wide.columns)


def _map_history(cohort: Cohort, timeline: Any) -> FhirMapping:
    """A cohort with a history: the Patient from its patients table, everything else from the
    timeline (checked here: a broken history is one line before anything is written)."""
    categories = {o.key: o.category for o in cohort.condition.observations}
    spec = cohort.condition.timeline
    # a recurrent event (ketoacidosis, severe hypoglycaemia) is an episode, over by now
    episodes = [c.key for c in spec.complications if c.recurrent] if spec is not None else []
    events = TimelineEvents.from_timeline(
        timeline, patients=cohort.wide["patient_id"], categories=categories, episodes=episodes
    )
    return FhirMapping(
        namespace=f"synthpatient:cohort:{cohort.spec.seed}",
        observations=(),
        patient_id="patient_id",
        gender="sex",
        birth_date="birth_date",
        race_ethnicity="race_ethnicity",
        unmapped=left_out(cohort),
        timeline=events,
    )


def patient_bundles(
    cohort: Cohort, *, validate: bool = True
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(patient id, transaction Bundle) per patient, validated by fhir.resources."""
    return bundles(fhir_frame(cohort), map_cohort(cohort), validate=validate)


def ndjson_resources(cohort: Cohort, *, validate: bool = True) -> dict[str, list[dict[str, Any]]]:
    """Resources grouped by type (for bulk-data NDJSON), validated by fhir.resources."""
    return resources_by_type(fhir_frame(cohort), map_cohort(cohort), validate=validate)


def fhir_frame(cohort: Cohort) -> pd.DataFrame:
    """The patients table a cohort's FHIR is written from (a history writes its Conditions
    from the timeline's own table)."""
    return cohort.wide if getattr(cohort, "timeline", None) is not None else _fhir_frame(cohort)
