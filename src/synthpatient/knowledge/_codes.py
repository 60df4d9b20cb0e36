"""The preferred display of each code (``codes.yaml``): what a FHIR coding says a code is.

The knowledge base's names ("Essential hypertension") are written as a concept's text; the
coding's display is the code system's own term for the code ("Hypertensive disorder, systemic
arterial (disorder)" for SNOMED CT 38341003), so a display never claims more than its code.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from synthpatient.errors import KnowledgeBaseError
from synthpatient.knowledge._model import Condition

CODES_FILE = "codes.yaml"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml where installed
#: code system key in ``codes.yaml`` -> FHIR system URI
SYSTEMS = {
    "snomed": "http://snomed.info/sct",
    "icd10cm": "http://hl7.org/fhir/sid/icd-10-cm",
    "rxnorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "loinc": "http://loinc.org",
}


def read_code_table(path: Path) -> dict[str, dict[str, str]]:
    """{system key: {code: display}} from a codes file, checked to be text throughout."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        raise KnowledgeBaseError(f"{path.name}: cannot be read ({exc}).") from None
    table: dict[str, dict[str, str]] = {}
    for key in SYSTEMS:
        items = (data or {}).get(key) or {}
        if not isinstance(items, dict) or not all(
            isinstance(c, str) and isinstance(d, str) and d for c, d in items.items()
        ):
            raise KnowledgeBaseError(f"{path.name}: '{key}' must map codes (text) to displays.")
        table[key] = dict(items)
    return table


@cache
def code_table() -> dict[str, dict[str, str]]:
    """The package's code table, read once."""
    return read_code_table(
        Path(str(resources.files("synthpatient.knowledge") / "data" / CODES_FILE))
    )


@cache
def stage_codes() -> tuple[str, str, tuple[tuple[float, str], ...]] | None:
    """(SNOMED code, observation, ((lowest value, ICD-10-CM code), ...) highest first) of the
    condition whose ICD-10-CM code follows a stage (CKD by eGFR), or None."""
    path = Path(str(resources.files("synthpatient.knowledge") / "data" / CODES_FILE))
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER) or {}
    item = data.get("ckd_stage_icd10")
    if not item:
        return None
    stages = tuple(sorted(((float(lo), str(code)) for lo, code in item["stages"]), reverse=True))
    return str(item["snomed"]), str(item["observation"]), stages


def staged_icd10(snomed: str, values: dict[str, np.ndarray]) -> np.ndarray | None:
    """Per patient, the staged ICD-10-CM code of the condition ``snomed`` (e.g. N18.31 at an
    eGFR of 45-59), or None when it has no staged codes or its observation is not recorded."""
    staged = stage_codes()
    if staged is None or staged[0] != snomed or staged[1] not in values:
        return None
    x = np.asarray(values[staged[1]], dtype=float)
    codes = np.full(len(x), staged[2][-1][1], dtype=object)
    for low, code in reversed(staged[2]):
        codes[x >= low] = code
    return codes


def preferred_display(system: str, code: str | None) -> str | None:
    """The display of ``code`` in ``system`` (a key of :data:`SYSTEMS` or its URI), or None."""
    if not code:
        return None
    key = next((k for k, uri in SYSTEMS.items() if system in (k, uri)), system)
    return code_table().get(key, {}).get(code)


def undisplayed(condition: Condition, table: dict[str, dict[str, str]]) -> list[str]:
    """Codes ``condition`` writes that have no display in ``table`` ("system code")."""
    used: list[tuple[str, str | None]] = [
        ("snomed", condition.snomed),
        ("icd10cm", condition.icd10),
    ]
    used += [("loinc", o.loinc) for o in condition.observations]
    for c in condition.comorbidities:
        used += [("snomed", c.snomed), ("icd10cm", c.icd10)]
    used += [("rxnorm", m.rxnorm) for m in condition.medications]
    if condition.timeline is not None:
        for x in condition.timeline.complications:
            used += [("snomed", x.snomed), ("icd10cm", x.icd10)]
    return sorted({f"{s} {c}" for s, c in used if c and c not in table.get(s, {})})
