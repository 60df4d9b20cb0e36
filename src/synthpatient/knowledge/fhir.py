"""A cohort as FHIR R4: one transaction Bundle per patient, or NDJSON per resource type.

Each patient gives a Patient, an Encounter (the last visit), a Condition for the cohort's
condition (SNOMED CT and ICD-10-CM, onset at diagnosis) and one per comorbidity present,
an Observation per recorded value (LOINC code, UCUM quantity, category) and a
MedicationRequest per drug (RxNorm). Ids are UUIDs derived from the cohort's seed and patient
id, so the same request writes the same files; references are ``urn:uuid:`` inside a
transaction Bundle and ``Type/id`` in NDJSON, and every one of them resolves.

Resources are built as plain dicts and validated with ``fhir.resources`` (its R4B models: the
package has no pure R4 models since 7.0; R4B differs from R4 in none of the elements used
here). Tests check the output against the official FHIR R4 JSON schema too.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from synthpatient._atomic import atomic_folder
from synthpatient._optional import import_optional
from synthpatient.knowledge.sampler import Cohort

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
IDENTIFIER_SYSTEM = "urn:synthpatient:patient-id"
RESOURCE_TYPES = ("Patient", "Encounter", "Condition", "Observation", "MedicationRequest")


def _date(value: np.datetime64 | pd.Timestamp) -> str:
    return str(np.datetime_as_string(np.datetime64(value, "D")))


class _Ids:
    """Deterministic UUIDs: the same cohort (seed) gives the same resource ids."""

    def __init__(self, seed: int | None) -> None:
        self.namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"synthpatient:cohort:{seed}")

    def __call__(self, *parts: str) -> str:
        return str(uuid.uuid5(self.namespace, "/".join(parts)))


def patient_resources(cohort: Cohort, row: dict, ids: _Ids, *, urn: bool
                      ) -> list[dict]:
    """The resources of one patient (a row of ``cohort.wide`` as a dict)."""
    condition = cohort.condition
    pid = row["patient_id"]

    def ref(kind: str, rid: str) -> dict:
        return {"reference": f"urn:uuid:{rid}" if urn else f"{kind}/{rid}"}

    patient_id, encounter_id = ids(pid, "Patient"), ids(pid, "Encounter")
    visit = _date(row["last_visit_date"])
    resources: list[dict] = [
        {"resourceType": "Patient", "id": patient_id,
         "identifier": [{"system": IDENTIFIER_SYSTEM, "value": pid}],
         "gender": row["sex"], "birthDate": _date(row["birth_date"])},
        {"resourceType": "Encounter", "id": encounter_id, "status": "finished",
         "class": {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"},
         "subject": ref("Patient", patient_id),
         "period": {"start": visit, "end": visit}},
    ]

    def condition_resource(key: str, snomed: str, name: str, icd10: str | None,
                           onset: str | None) -> dict:
        codings = [{"system": SNOMED, "code": snomed, "display": name}]
        if icd10:
            codings.append({"system": ICD10CM, "code": icd10})
        res = {"resourceType": "Condition", "id": ids(pid, "Condition", key),
               "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
               "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "confirmed"}]},
               "category": [{"coding": [{"system": CONDITION_CATEGORY,
                                         "code": "problem-list-item"}]}],
               "code": {"coding": codings, "text": name},
               "subject": ref("Patient", patient_id),
               "encounter": ref("Encounter", encounter_id), "recordedDate": visit}
        if onset:
            res["onsetDateTime"] = onset
        return res

    resources.append(condition_resource(condition.key, condition.snomed, condition.name,
                                        condition.icd10, _date(row["diagnosis_date"])))
    for c in condition.comorbidities:
        if bool(row.get(c.key)):
            resources.append(condition_resource(c.key, c.snomed, c.name, None, None))
    for obs in cohort.observations:
        value = row[obs.key]
        if value is None or (isinstance(value, float) and np.isnan(value)):
            continue
        resources.append({
            "resourceType": "Observation", "id": ids(pid, "Observation", obs.key),
            "status": "final",
            "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": obs.category}]}],
            "code": {"coding": [{"system": LOINC, "code": obs.loinc, "display": obs.name}],
                     "text": obs.name},
            "subject": ref("Patient", patient_id), "encounter": ref("Encounter", encounter_id),
            "effectiveDateTime": visit,
            "valueQuantity": {"value": float(value), "unit": obs.unit, "system": UCUM,
                              "code": obs.unit}})
    for med in condition.medications:
        if bool(row.get(f"on_{med.key}")):
            resources.append({
                "resourceType": "MedicationRequest", "id": ids(pid, "MedicationRequest", med.key),
                "status": "active", "intent": "order",
                "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": med.rxnorm,
                                                          "display": med.name}],
                                              "text": med.name},
                "subject": ref("Patient", patient_id),
                "encounter": ref("Encounter", encounter_id), "authoredOn": visit})
    return resources


def _rows(cohort: Cohort) -> Iterator[dict]:
    yield from cohort.wide.to_dict(orient="records")


def patient_bundles(cohort: Cohort, *, validate: bool = True) -> Iterator[tuple[str, dict]]:
    """(patient id, transaction Bundle) per patient, validated by fhir.resources."""
    bundle_model = _bundle_model() if validate else None
    ids = _Ids(cohort.spec.seed)
    for row in _rows(cohort):
        entries = [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r,
                    "request": {"method": "POST", "url": r["resourceType"]}}
                   for r in patient_resources(cohort, row, ids, urn=True)]
        bundle = {"resourceType": "Bundle", "id": ids(row["patient_id"], "Bundle"),
                  "type": "transaction", "entry": entries}
        if bundle_model is not None:
            bundle_model.model_validate(bundle)
        yield row["patient_id"], bundle


def ndjson_resources(cohort: Cohort, *, validate: bool = True) -> dict[str, list[dict]]:
    """Resources grouped by type (for bulk-data NDJSON), validated by fhir.resources."""
    ids = _Ids(cohort.spec.seed)
    grouped: dict[str, list[dict]] = {t: [] for t in RESOURCE_TYPES}
    for row in _rows(cohort):
        for resource in patient_resources(cohort, row, ids, urn=False):
            grouped[resource["resourceType"]].append(resource)
    if validate:
        for kind, items in grouped.items():
            model = _resource_model(kind)
            for item in items:
                model.model_validate(item)
    return grouped


def write_bundles(cohort: Cohort, folder: Path, *, overwrite: bool = False) -> int:
    """One ``<patient_id>.json`` transaction Bundle per patient in ``folder``; the count.

    The folder is filled beside its target and renamed into place, so it appears complete or
    not at all. An existing folder is replaced only with ``overwrite=True`` (or when empty).
    """
    count = 0
    with atomic_folder(Path(folder), overwrite=overwrite or _empty_folder(folder)) as tmp:
        for pid, bundle in patient_bundles(cohort):
            (tmp / f"{pid}.json").write_text(json.dumps(bundle), encoding="utf-8")
            count += 1
    return count


def write_ndjson(cohort: Cohort, folder: Path, *, overwrite: bool = False) -> dict[str, int]:
    """``<ResourceType>.ndjson`` files in ``folder``; resources written per type.

    Written atomically like :func:`write_bundles`.
    """
    counts = {}
    resources = ndjson_resources(cohort)  # validated before anything is written
    with atomic_folder(Path(folder), overwrite=overwrite or _empty_folder(folder)) as tmp:
        for kind, items in resources.items():
            with open(tmp / f"{kind}.ndjson", "w", encoding="utf-8") as handle:
                for item in items:
                    handle.write(json.dumps(item) + "\n")
            counts[kind] = len(items)
    return counts


def _empty_folder(folder: Path) -> bool:
    """An empty folder holds nothing to lose (a caller's fresh temporary folder)."""
    try:
        return Path(folder).is_dir() and not any(Path(folder).iterdir())
    except OSError:
        return False


def _bundle_model():  # type: ignore[no-untyped-def]
    return import_optional("fhir.resources.R4B.bundle", extra="fhir",
                           purpose="FHIR export").Bundle


def _resource_model(kind: str):  # type: ignore[no-untyped-def]
    return import_optional("fhir.resources.R4B", extra="fhir",
                           purpose="FHIR export").get_fhir_model_class(kind)
