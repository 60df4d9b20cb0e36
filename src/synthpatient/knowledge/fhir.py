"""What a cohort's columns are in FHIR R4: the cohort's side of the one FHIR mapping.

Each patient gives a Patient, an Encounter (the last visit), a Condition for the cohort's
condition (SNOMED CT and ICD-10-CM, onset at diagnosis) and one per comorbidity present, an
Observation per recorded value (LOINC code, UCUM quantity, category) and a MedicationRequest
per drug (RxNorm). The codes are the cohort's own (those of its long table); the resources are
built, validated and written by :mod:`synthpatient.exporters.fhir_mapping`, the same code that
writes an uploaded table, and the files by the ``fhir_bundles`` and ``fhir_ndjson`` exporters.
Ids are UUIDs derived from the cohort's seed and patient id, so the same request writes the
same files. Tests check the output against the official FHIR R4 JSON schema too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from synthpatient.exporters.fhir_mapping import (
    CodedColumn,
    FhirMapping,
    FlaggedCode,
    bundles,
    resources_by_type,
)
from synthpatient.knowledge.sampler import Cohort

#: cohort columns FHIR R4 has no place for here, and why (named, never dropped silently)
_LEFT_OUT = {
    "race_ethnicity": "US Core's race and ethnicity extensions are not written",
    "age": "given by the Patient's birthDate",
    "treated": "given by the MedicationRequests",
}


def map_cohort(cohort: Cohort) -> FhirMapping:
    """The FHIR mapping of a cohort's patients table."""
    condition = cohort.condition
    conditions = [
        FlaggedCode(
            condition.key,
            condition.snomed,
            condition.name,
            None,
            icd10=condition.icd10,
            onset="diagnosis_date",
        )
    ]
    conditions += [
        FlaggedCode(c.key, c.snomed, c.name, c.key)
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
        visit_date="last_visit_date",
        conditions=tuple(conditions),
        medications=tuple(medications),
        unmapped=tuple((c, why) for c, why in _LEFT_OUT.items() if c in cohort.wide.columns),
    )


def patient_bundles(
    cohort: Cohort, *, validate: bool = True
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(patient id, transaction Bundle) per patient, validated by fhir.resources."""
    return bundles(cohort.wide, map_cohort(cohort), validate=validate)


def ndjson_resources(cohort: Cohort, *, validate: bool = True) -> dict[str, list[dict[str, Any]]]:
    """Resources grouped by type (for bulk-data NDJSON), validated by fhir.resources."""
    return resources_by_type(cohort.wide, map_cohort(cohort), validate=validate)
