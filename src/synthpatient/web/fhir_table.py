"""Any synthetic table as FHIR R4 NDJSON: one Patient per row, one Observation per value.

An uploaded table carries no codes, so each Observation is coded by its column name only
(``code.text``; no LOINC or UCUM is guessed) and a Patient's gender is set only when a sex or
gender column holds words such as "female"/"male" (a 1/2 code could mean either). Identifier
and free-text columns are left out. Every resource is validated with fhir.resources (the
``fhir`` extra) before it is written.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from synthpatient._optional import import_optional

_GENDER = {"female": "female", "f": "female", "woman": "female", "women": "female",
           "male": "male", "m": "male", "man": "male", "men": "male",
           "other": "other", "unknown": "unknown"}
_GENDER_COLUMNS = ("sex", "gender")


def _gender_column(frame: pd.DataFrame) -> str | None:
    for column in frame.columns:
        if str(column).lower() in _GENDER_COLUMNS:
            values = {str(v).strip().lower() for v in frame[column].dropna().unique()}
            if values and values <= set(_GENDER):
                return str(column)
    return None


def _value(value: Any, kind: str) -> dict[str, Any] | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if kind == "boolean":
        return {"valueBoolean": bool(value)}
    if kind in ("numeric", "integer"):
        number = float(value)
        if not math.isfinite(number):
            return None
        return {"valueQuantity": {"value": int(number) if number.is_integer() else number}}
    if kind == "datetime":
        return {"valueDateTime": pd.Timestamp(value).strftime("%Y-%m-%d")}
    return {"valueString": str(value)}


def table_resources(frame: pd.DataFrame, kinds: dict[str, str]) -> dict[str, list[dict]]:
    """``{"Patient": [...], "Observation": [...]}`` for ``frame``; ``kinds`` are schema kinds
    of the columns to include (identifiers and free text should not be in it)."""
    gender = _gender_column(frame)
    patients, observations = [], []
    columns = [c for c in frame.columns if str(c) in kinds and str(c) != gender]
    for i, row in enumerate(frame.to_dict(orient="records"), start=1):
        pid = f"p{i}"
        patient: dict[str, Any] = {"resourceType": "Patient", "id": pid}
        if gender is not None and pd.notna(row[gender]):
            patient["gender"] = _GENDER[str(row[gender]).strip().lower()]
        patients.append(patient)
        for j, column in enumerate(columns, start=1):
            value = _value(row[column], kinds[str(column)])
            if value is None:
                continue
            observations.append({"resourceType": "Observation", "id": f"p{i}-o{j}",
                                 "status": "final", "code": {"text": str(column)},
                                 "subject": {"reference": f"Patient/{pid}"}, **value})
    return {"Patient": patients, "Observation": observations}


def table_ndjson(frame: pd.DataFrame, kinds: dict[str, str]) -> dict[str, str]:
    """``{"Patient.ndjson": text, "Observation.ndjson": text}``, every resource validated."""
    fhir = import_optional("fhir.resources.R4B", extra="fhir", purpose="FHIR export")
    texts = {}
    for kind, items in table_resources(frame, kinds).items():
        model = fhir.get_fhir_model_class(kind)
        for item in items:
            model.model_validate(item)
        texts[f"{kind}.ndjson"] = "".join(json.dumps(item) + "\n" for item in items)
    return texts
