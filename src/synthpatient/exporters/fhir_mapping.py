"""One mapping of a table's columns to FHIR R4, for uploaded tables and cohorts alike.

A :class:`FhirMapping` says which column gives what: the Patient's identifier, gender and
birth date; the visit date (an Encounter, the date of every Observation); the columns written
as LOINC-coded Observations with UCUM units; the Conditions (SNOMED CT, ICD-10-CM) and
MedicationRequests (RxNorm) flagged by columns; and every column left out, with the reason.
:func:`map_table` builds it for any table from the knowledge base's codes (a column is coded
only when its name or schema code is an observation's key, display name or LOINC code);
``synthpatient.knowledge.fhir.map_cohort`` builds it for a cohort from the cohort's own codes.
Both are then written by the same functions here. A cohort with a history (a timeline) carries
it in :attr:`FhirMapping.timeline` (:mod:`synthpatient.exporters.fhir_timeline`), which builds
its Encounters, dated Observations, MedicationRequests and Conditions with the resource
builders of this module.

Resource ids are UUIDs derived from the mapping's namespace and the patient, so the same data
gives the same ids; references are ``urn:uuid:`` inside a transaction Bundle and ``Type/id``
in NDJSON, and every one resolves. Resources are validated with ``fhir.resources`` (its R4B
models: it has no pure R4 models since 7.0; R4B differs from R4 in no element used here).
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from synthpatient._optional import import_optional
from synthpatient._steps import step
from synthpatient.exporters._us_core import race_ethnicity_extensions

if TYPE_CHECKING:
    from synthpatient.exporters.fhir_timeline import TimelineEvents
    from synthpatient.knowledge import KnowledgeBase
    from synthpatient.schema import Schema

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
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
IDENTIFIER_SYSTEM = "urn:synthpatient:patient-id"
RESOURCE_TYPES = ("Patient", "Encounter", "Condition", "Observation", "MedicationRequest")

_GENDER = {
    "female": "female",
    "f": "female",
    "woman": "female",
    "women": "female",
    "male": "male",
    "m": "male",
    "man": "male",
    "men": "male",
    "other": "other",
    "unknown": "unknown",
}
_GENDER_COLUMNS = ("sex", "gender")
_BIRTH_COLUMNS = ("birth_date", "birthdate", "date_of_birth", "dob")
_ID_COLUMNS = ("patient_id", "patientid", "subject_id", "mrn")
NO_CODE = "no LOINC code known for the name"


@dataclass(frozen=True)
class CodedColumn:
    """A column written as one Observation per patient (LOINC code, UCUM unit)."""

    column: str
    loinc: str
    name: str
    unit: str
    category: str | None = "laboratory"  # None: not known, so not written


@dataclass(frozen=True)
class FlaggedCode:
    """A Condition (SNOMED CT) or MedicationRequest (RxNorm) a patient has when ``column`` is
    true, or every patient has when ``column`` is None (the cohort's own condition)."""

    key: str
    code: str
    name: str
    column: str | None
    icd10: str | None = None
    onset: str | None = None  # a date column: the Condition's onset
    icd10_column: str | None = None  # a column with each patient's own code (a CKD stage)


@dataclass(frozen=True)
class FhirMapping:
    """Which column gives what in FHIR, and which columns were left out and why.

    Examples:
        >>> mapping = map_table(synthetic, schema)
        >>> [c.column for c in mapping.observations], mapping.notice()
    """

    namespace: str
    observations: tuple[CodedColumn, ...]
    patient_id: str | None = None
    gender: str | None = None
    birth_date: str | None = None
    visit_date: str | None = None
    conditions: tuple[FlaggedCode, ...] = ()
    medications: tuple[FlaggedCode, ...] = ()
    race_ethnicity: str | None = None  # a column of knowledge-base groups: US Core extensions
    unmapped: tuple[tuple[str, str], ...] = ()  # (column, why it was left out)
    assumed_units: tuple[tuple[str, str], ...] = ()  # (column, unit taken from the codes)
    #: a knowledge-driven cohort's history: it then gives every resource but the Patient
    timeline: TimelineEvents | None = field(default=None, compare=False, repr=False)

    @property
    def resource_types(self) -> tuple[str, ...]:
        """The resource types this mapping writes, in the order of :data:`RESOURCE_TYPES`."""
        if self.timeline is not None:
            found = {"Patient", *self.timeline.resource_types()}
            return tuple(kind for kind in RESOURCE_TYPES if kind in found)
        present = {
            "Patient": True,
            "Encounter": self.visit_date is not None,
            "Condition": bool(self.conditions),
            "Observation": True,
            "MedicationRequest": bool(self.medications),
        }
        return tuple(kind for kind in RESOURCE_TYPES if present[kind])

    def notice(self) -> str | None:
        """One paragraph naming every column left out (and units assumed), or None."""
        parts = []
        if not self.observations and self.timeline is None:
            parts.append(
                "FHIR: no column has a LOINC code in the knowledge base, so only "
                "Patients are written."
            )
        if self.unmapped:
            by_reason: dict[str, list[str]] = {}
            for column, why in self.unmapped:
                by_reason.setdefault(why, []).append(column)
            parts.append(
                "Not in the FHIR export: "
                + "; ".join(f"{', '.join(columns)} ({why})" for why, columns in by_reason.items())
                + "."
            )
        if self.assumed_units:
            parts.append(
                "FHIR units taken from the knowledge base (the table states none): "
                + ", ".join(f"{c} {u}" for c, u in self.assumed_units)
                + "; check them."
            )
        return " ".join(parts) or None


# -- a table's mapping ------------------------------------------------------------------------
def map_table(
    frame: pd.DataFrame, schema: Schema | None = None, *, kb: KnowledgeBase | None = None
) -> FhirMapping:
    """The FHIR mapping of any table, by column names, the schema's kinds, units and codes."""
    if kb is None:
        from synthpatient.knowledge import load_knowledge_base

        kb = load_knowledge_base()
    observations: list[CodedColumn] = []
    unmapped: list[tuple[str, str]] = []
    assumed: list[tuple[str, str]] = []
    roles: dict[str, str] = {}
    for column in map(str, frame.columns):
        spec = schema[column] if schema is not None and column in schema else None
        kind = spec.kind if spec is not None else _kind(frame[column])
        role, why = _demographic(column, kind, frame[column], roles)
        if role is not None:
            roles[role] = column
            continue
        if why is None:
            coded, why, unit_assumed = _observation(column, kind, spec, kb)
            if coded is not None:
                observations.append(coded)
                if unit_assumed:
                    assumed.append((column, coded.unit))
                continue
        unmapped.append((column, why or NO_CODE))
    return FhirMapping(
        namespace=f"synthpatient:table:{_digest(frame)}",
        observations=tuple(observations),
        patient_id=roles.get("patient_id"),
        gender=roles.get("gender"),
        birth_date=roles.get("birth_date"),
        unmapped=tuple(unmapped),
        assumed_units=tuple(assumed),
    )


def _kind(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    return "categorical"


def _demographic(
    column: str, kind: str, series: pd.Series, taken: dict[str, str]
) -> tuple[str | None, str | None]:
    """(role, None) for a Patient element, (None, why) for a column left out, else (None, None)."""
    low = column.strip().lower()
    if (
        low in _ID_COLUMNS
        and "patient_id" not in taken
        and kind in ("identifier", "categorical", "integer", "numeric")
    ):
        if series.notna().all() and series.is_unique:
            return "patient_id", None
        return None, "an identifier that repeats, so each row is its own Patient"
    if kind in ("identifier", "text"):
        return None, "identifier or free text"
    if low in _GENDER_COLUMNS and "gender" not in taken:
        values = {str(v).strip().lower() for v in series.dropna().unique()}
        if values and values <= set(_GENDER):
            return "gender", None
        return None, "codes that do not say which is female and which is male"
    if low in _BIRTH_COLUMNS and "birth_date" not in taken:
        if kind == "datetime":
            return "birth_date", None
        return None, "a birth date that is not a date column"
    return None, None


def _observation(
    column: str, kind: str, spec: Any, kb: KnowledgeBase
) -> tuple[CodedColumn | None, str | None, bool]:
    """The coded Observation for a column the knowledge base knows by key, name or LOINC code.

    Synonyms are not used: they serve the reading of requests ("blood pressure" means the
    systolic there), and a column named so may hold something else (a mean pressure).
    """
    code = getattr(spec, "code", None)
    found = _known(kb, code) if code else None
    found = found or _known(kb, column)
    if found is None:
        return None, None, False
    if kind not in ("numeric", "integer"):
        return None, "not a number", False
    unit = getattr(spec, "unit", None)
    if unit and _unit_key(unit) != _unit_key(found.unit):
        return None, f"unit {unit}, not the knowledge base's {found.unit}", False
    coded = CodedColumn(column, found.loinc, found.name, found.unit, found.category)
    return coded, None, not unit


def _known(kb: KnowledgeBase, text: str) -> Any:
    wanted = " ".join(text.replace("_", " ").lower().split())
    for condition in kb.conditions.values():
        for obs in condition.observations:
            if text.strip() == obs.loinc or wanted in (obs.key.replace("_", " "), obs.name.lower()):
                return obs
    return None


def _unit_key(unit: str) -> str:
    return unit.replace(" ", "").replace("^", "").lower()


def _digest(frame: pd.DataFrame) -> str:
    """A short hash of the rows: a table's resource ids differ from another table's."""
    hashed = pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]


# -- resources ---------------------------------------------------------------------------------
def _date(value: Any) -> str:
    return str(np.datetime_as_string(np.datetime64(pd.Timestamp(value), "D")))


def _missing(value: Any) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


class Ids:
    """Deterministic UUIDs: the same data (namespace) gives the same resource ids."""

    def __init__(self, namespace: str) -> None:
        self.namespace = uuid.uuid5(uuid.NAMESPACE_URL, namespace)

    def __call__(self, *parts: str) -> str:
        return str(uuid.uuid5(self.namespace, "/".join(parts)))


class Reference(Protocol):
    """Makes the reference to a resource: ``urn:uuid:<id>`` in a Bundle, ``Type/<id>`` in NDJSON."""

    def __call__(self, kind: str, rid: str) -> dict[str, str]: ...


def patient_resources(
    row: dict[str, Any], pid: str, mapping: FhirMapping, ids: Ids, *, urn: bool
) -> list[dict[str, Any]]:
    """The resources of one patient (a row as a dict), in :data:`RESOURCE_TYPES` order; with a
    timeline, the patient's history gives every resource but the Patient."""

    def ref(kind: str, rid: str) -> dict[str, str]:
        return {"reference": f"urn:uuid:{rid}" if urn else f"{kind}/{rid}"}

    patient_id = ids(pid, "Patient")
    patient: dict[str, Any] = {"resourceType": "Patient", "id": patient_id}
    if mapping.patient_id is not None:
        patient["identifier"] = [{"system": IDENTIFIER_SYSTEM, "value": pid}]
    if mapping.gender is not None and not _missing(row[mapping.gender]):
        patient["gender"] = _GENDER[str(row[mapping.gender]).strip().lower()]
    if mapping.birth_date is not None and not _missing(row[mapping.birth_date]):
        patient["birthDate"] = _date(row[mapping.birth_date])
    if mapping.race_ethnicity is not None and not _missing(row[mapping.race_ethnicity]):
        extensions = race_ethnicity_extensions(str(row[mapping.race_ethnicity]))
        if extensions:
            patient["extension"] = extensions
    subject = ref("Patient", patient_id)
    if mapping.timeline is not None:
        return [patient, *mapping.timeline.resources(pid, subject, ref, ids)]
    resources = [patient]
    context: dict[str, Any] = {}
    visit = None
    if mapping.visit_date is not None and not _missing(row[mapping.visit_date]):
        visit = _date(row[mapping.visit_date])
        encounter_id = ids(pid, "Encounter")
        resources.append(encounter_resource(encounter_id, subject, visit))
        context["encounter"] = ref("Encounter", encounter_id)
    for item in mapping.conditions:
        if item.icd10_column is not None and not _missing(row.get(item.icd10_column)):
            item = replace(item, icd10=str(row[item.icd10_column]))
        if item.column is None or bool(row.get(item.column)):
            onset = None
            if item.onset is not None and not _missing(row[item.onset]):
                onset = _date(row[item.onset])
            rid = ids(pid, "Condition", item.key)
            resources.append(condition_resource(item, rid, subject, context, visit, onset))
    for obs in mapping.observations:
        value = row[obs.column]
        if not _missing(value) and math.isfinite(float(value)):
            rid = ids(pid, "Observation", obs.column)
            resources.append(observation_resource(obs, float(value), rid, subject, context, visit))
    for med in mapping.medications:
        if med.column is None or bool(row.get(med.column)):
            rid = ids(pid, "MedicationRequest", med.key)
            resources.append(medication_resource(med, rid, subject, context, visit))
    return resources


def encounter_resource(
    rid: str, subject: dict[str, str], day: str, *, kind: str = "", reason: str = ""
) -> dict[str, Any]:
    """An ambulatory visit on one day (``period.start`` = ``period.end``), finished."""
    encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": rid,
        "status": "finished",
        "class": {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"},
    }
    if kind:
        encounter["type"] = [{"text": kind}]
    encounter["subject"] = subject
    encounter["period"] = {"start": day, "end": day}
    if reason:
        encounter["reasonCode"] = [{"text": reason}]
    return encounter


def observation_resource(
    obs: CodedColumn,
    value: float | None,
    rid: str,
    subject: dict[str, str],
    context: dict[str, Any],
    visit: str | None,
) -> dict[str, Any]:
    """A LOINC-coded Observation with a UCUM quantity; a missing value (None) is written with a
    ``dataAbsentReason`` rather than left out, so a measurement planned is never lost."""
    resource: dict[str, Any] = {"resourceType": "Observation", "id": rid, "status": "final"}
    if obs.category:
        resource["category"] = [
            {"coding": [{"system": OBSERVATION_CATEGORY, "code": obs.category}]}
        ]
    resource["code"] = {
        "coding": [
            {"system": LOINC, "code": obs.loinc, "display": _display(LOINC, obs.loinc, obs.name)}
        ],
        "text": obs.name,
    }
    resource.update({"subject": subject, **context})
    if visit is not None:
        resource["effectiveDateTime"] = visit
    if value is None:
        resource["dataAbsentReason"] = {"coding": [{"system": DATA_ABSENT, "code": "unknown"}]}
    else:
        resource["valueQuantity"] = {
            "value": value,
            "unit": obs.unit,
            "system": UCUM,
            "code": obs.unit,
        }
    return resource


def medication_resource(
    med: FlaggedCode,
    rid: str,
    subject: dict[str, str],
    context: dict[str, Any],
    authored: str | None,
    *,
    status: str = "active",
    period: tuple[str | None, str | None] | None = None,
    reason: str = "",
) -> dict[str, Any]:
    """A MedicationRequest (RxNorm when known, else the name as text). ``period`` (start, end)
    goes where R4 keeps a prescription's validity, ``dosageInstruction[0].timing.repeat
    .boundsPeriod`` (R4 has no ``MedicationRequest.period``)."""
    concept: dict[str, Any] = {"text": med.name}
    if med.code:
        display = _display(RXNORM, med.code, med.name)
        concept = {"coding": [{"system": RXNORM, "code": med.code, "display": display}], **concept}
    request: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": concept,
        "subject": subject,
        **context,
    }
    if authored is not None:
        request["authoredOn"] = authored
    if reason:
        request["reasonCode"] = [{"text": reason}]
    if period is not None:
        bounds = {k: v for k, v in zip(("start", "end"), period, strict=True) if v is not None}
        if bounds:
            request["dosageInstruction"] = [{"timing": {"repeat": {"boundsPeriod": bounds}}}]
    return request


def condition_resource(
    item: FlaggedCode,
    rid: str,
    subject: dict[str, str],
    context: dict[str, Any],
    recorded: str | None,
    onset: str | None,
    *,
    episode: bool = False,
) -> dict[str, Any]:
    """A confirmed Condition (SNOMED CT, and ICD-10-CM when known): an active problem-list
    item, or with ``episode`` an acute episode over by now (ketoacidosis, a severe
    hypoglycaemia): resolved, an encounter diagnosis."""
    codings: list[dict[str, Any]] = []
    if item.code:
        codings.append(
            {"system": SNOMED, "code": item.code, "display": _display(SNOMED, item.code, item.name)}
        )
    if item.icd10:
        icd: dict[str, str] = {"system": ICD10CM, "code": item.icd10}
        if (shown := _display(ICD10CM, item.icd10, None)) is not None:
            icd["display"] = shown
        codings.append(icd)
    code: dict[str, Any] = (
        {"coding": codings, "text": item.name} if codings else {"text": item.name}
    )
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": rid,
        "clinicalStatus": {
            "coding": [{"system": CLINICAL, "code": "resolved" if episode else "active"}]
        },
        "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "confirmed"}]},
        "category": [
            {
                "coding": [
                    {
                        "system": CONDITION_CATEGORY,
                        "code": "encounter-diagnosis" if episode else "problem-list-item",
                    }
                ]
            }
        ],
        "code": code,
        "subject": subject,
        **context,
    }
    if recorded is not None:
        resource["recordedDate"] = recorded
    if onset is not None:
        resource["onsetDateTime"] = onset
    return resource


def _display(system: str, code: str, fallback: str | None) -> str | None:
    """The code system's preferred term for ``code`` (the knowledge base's code table), else
    ``fallback`` (a name the caller has, e.g. an uploaded table's column)."""
    from synthpatient.knowledge import preferred_display  # here: knowledge imports exporters

    return preferred_display(system, code) or fallback


def _patients(
    frame: pd.DataFrame, mapping: FhirMapping, urn: bool
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    ids = Ids(mapping.namespace)
    for index, row in enumerate(frame.to_dict(orient="records"), start=1):
        pid = str(row[mapping.patient_id]) if mapping.patient_id else f"row{index}"
        yield pid, patient_resources(row, pid, mapping, ids, urn=urn)


def bundles(
    frame: pd.DataFrame, mapping: FhirMapping, *, validate: bool = True
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(patient id, transaction Bundle) per row, each validated by fhir.resources."""
    model = _model("Bundle") if validate else None
    ids = Ids(mapping.namespace)
    for pid, resources in _patients(frame, mapping, urn=True):
        entries = [
            {
                "fullUrl": f"urn:uuid:{r['id']}",
                "resource": r,
                "request": {"method": "POST", "url": r["resourceType"]},
            }
            for r in resources
        ]
        bundle = {
            "resourceType": "Bundle",
            "id": ids(pid, "Bundle"),
            "type": "transaction",
            "entry": entries,
        }
        if model is not None:
            model.model_validate(bundle)
        yield pid, bundle


def resources_by_type(
    frame: pd.DataFrame, mapping: FhirMapping, *, validate: bool = True
) -> dict[str, list[dict[str, Any]]]:
    """Every resource grouped by type (bulk-data NDJSON), each validated by fhir.resources."""
    grouped: dict[str, list[dict[str, Any]]] = {kind: [] for kind in mapping.resource_types}
    # progress for a caller that shows it (synthpatient._steps): building the resources is
    # about a fifth of the time, validating them the rest
    for index, (_, resources) in enumerate(_patients(frame, mapping, urn=False), start=1):
        for resource in resources:
            grouped[resource["resourceType"]].append(resource)
        if index % 100 == 0:
            step("fhir", 0.2 * index, len(frame))
    if validate:
        total, done = sum(len(items) for items in grouped.values()), 0
        for kind, items in grouped.items():
            model = _model(kind)
            for item in items:
                model.model_validate(item)
                done += 1
                if done % 1000 == 0:
                    step("fhir", 0.2 * total + 0.8 * done, total)
    step("fhir", 1, 1)
    return grouped


def _model(kind: str) -> Any:
    fhir = import_optional("fhir.resources.R4B", extra="fhir", purpose="FHIR export")
    return fhir.get_fhir_model_class(kind)
