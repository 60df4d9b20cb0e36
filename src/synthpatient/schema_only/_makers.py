"""One maker per column role: (values, how they were made) for the schema's column.

Each ``how`` is the sentence the user reads ("Medication: from the knowledge base's drug
list for the row's condition ..."), so it must say truthfully what the code does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synthpatient.errors import DataError
from synthpatient.schema_only import _clinical as clinical
from synthpatient.schema_only import _people as people
from synthpatient.schema_only._spec import ColumnDef

if TYPE_CHECKING:
    from synthpatient.schema_only._generate import _Work

Made = tuple[Any, str]
_FEMALE_WORDS = {"f", "female", "woman", "women", "w", "girl"}
_MALE_WORDS = {"m", "male", "man", "men", "boy"}


def _clip(work: _Work, column: ColumnDef, values: np.ndarray) -> np.ndarray:
    """Bound values to the schema's range, naming how many were moved (never silently)."""
    if column.range is None:
        return values
    low, high = float(column.range[0]), float(column.range[1])
    outside = int(((values < low) | (values > high)).sum())
    if outside:
        work.notices.append(
            f"{column.name}: {outside} of {len(values)} values fell outside the schema's range "
            f"[{column.range[0]}, {column.range[1]}] and were set to its nearest end."
        )
    return np.clip(values, low, high)


def condition(work: _Work, column: ColumnDef) -> Made:
    labels = np.array(work.labels, dtype=object)[work.drawn.condition]
    source = "the schema's values, each matched to" if column.values else "the conditions of"
    return labels, (
        f"uniform over {source} the knowledge base ({len(work.labels)}: "
        f"{', '.join(work.labels)}); it has no sourced share of admissions between conditions"
    )


def age(work: _Work, column: ColumnDef) -> Made:
    values = _clip(work, column, work.drawn.age.astype(float))
    if column.kind == "integer":
        values = values.astype(int)
    return (
        values,
        "from the sourced age bands of the row's condition (knowledge base), uniform within a band",
    )


def sex(work: _Work, column: ColumnDef) -> Made:
    values = column.values or ("Female", "Male")
    female = [v for v in values if v.strip().lower() in _FEMALE_WORDS]
    male = [v for v in values if v.strip().lower() in _MALE_WORDS]
    if len(female) != 1 or len(male) != 1:
        raise DataError(
            f"Column '{column.name}': its values must include one female and one male word "
            f"(e.g. Female, Male). Got {', '.join(values)}."
        )
    others = [v for v in values if v not in (female[0], male[0])]
    if others:
        work.notices.append(
            f"{column.name}: {', '.join(others)} never drawn: the knowledge base gives only the "
            "share of women per condition."
        )
    out = np.where(work.drawn.female, female[0], male[0]).astype(object)
    return out, "from the sourced share of women of the row's condition (knowledge base)"


def person_name(work: _Work, column: ColumnDef) -> Made:
    names = people.person_names(work.drawn.female, work.rng)
    return names, (
        "Faker en_US first name matching the row's sex and last name, drawn uniformly; "
        "repeated full names redrawn (up to 3 rounds)"
    )


def blood_type(work: _Work, column: ColumnDef) -> Made:
    values, sourced = clinical.blood_types(column.values, work.rng, work.n)
    if sourced:
        return values, "US population shares by ABO and Rh (American Red Cross, not re-verified)"
    return values, "uniform over the schema's values (not all are ABO/Rh types with a known share)"


def admission_type(work: _Work, column: ColumnDef) -> Made:
    values = column.values or ("Emergency", "Urgent", "Elective")
    drawn = np.array(values, dtype=object)[work.rng.integers(0, len(values), work.n)]
    given = (
        "the schema's values"
        if column.values
        else "Emergency, Urgent, Elective (the schema gave none)"
    )
    return drawn, f"uniform over {given}; no sourced shares"


def _shared_admission_type(work: _Work, column: ColumnDef) -> Made:
    """The same draw the stays were made from (drawn once, whichever needs it first)."""
    return work.once("admission_type", lambda: admission_type(work, column))


def admission_date(work: _Work, column: ColumnDef) -> Made:
    admissions = work.admissions()
    low, high = admissions.min().date(), admissions.max().date()
    where = (
        f"[{column.range[0]}, {column.range[1]}]"
        if column.range
        else "2020-01-01 to 2024-12-31 (the schema gave no range)"
    )
    return admissions.to_numpy(), f"uniform days in {where} (drawn {low} to {high})"


def discharge_date(work: _Work, column: ColumnDef) -> Made:
    stays = work.stays()
    discharge = work.admissions() + pd.to_timedelta(stays, unit="D")
    by = "condition and admission type" if work.admission_types() is not None else "condition"
    return discharge.to_numpy(), (
        f"admission date + a length of stay by {by}: log-normal around the condition's mean "
        "stay (AHRQ HCUP figures, not re-verified), at least one day"
    )


def hospital(work: _Work, column: ColumnDef) -> Made:
    pool, index = work.hospital_index()
    given = (
        "the schema's values"
        if column.values
        else f"{len(pool)} fictional hospitals (Faker names, one per "
        f"{people.ROWS_PER_HOSPITAL} rows)"
    )
    return np.array(pool, dtype=object)[index], f"uniform over {given}"


def doctor(work: _Work, column: ColumnDef) -> Made:
    pool, index = work.hospital_index()
    names, _ = people.doctor_pools(len(pool), work.rng)
    pick = index * people.DOCTORS_PER_HOSPITAL + work.rng.integers(
        0, people.DOCTORS_PER_HOSPITAL, work.n
    )
    where = "the row's hospital" if "hospital" in work.roles else "a hidden hospital"
    return names[pick], (
        f"one of {people.DOCTORS_PER_HOSPITAL} fictional doctors of {where} (each doctor at one "
        "hospital; first name matching the doctor's own sex)"
    )


def insurer(work: _Work, column: ColumnDef) -> Made:
    pool = list(column.values) if column.values else people.insurers(work.rng)
    given = (
        "the schema's values" if column.values else f"{len(pool)} fictional insurers (Faker names)"
    )
    return np.array(pool, dtype=object)[
        work.rng.integers(0, len(pool), work.n)
    ], f"uniform over {given}"


def billing(work: _Work, column: ColumnDef) -> Made:
    values = clinical.billing(work.keys, work.drawn.condition, work.stays(), work.rng)
    values = np.round(_clip(work, column, values), 2)
    return values, (
        "the condition's mean cost per stay (AHRQ HCUP, not re-verified) split into a fixed part "
        "and a part per day of the row's stay, with log-normal spread between patients"
    )


def room(work: _Work, column: ColumnDef) -> Made:
    if column.values:
        return np.array(column.values, dtype=object)[
            work.rng.integers(0, len(column.values), work.n)
        ], "uniform over the schema's values"
    low, high = column.range or (100, 599)
    values = work.rng.integers(int(low), int(high) + 1, work.n)
    return (
        values.astype(str).astype(object) if column.kind == "text" else values
    ), f"uniform whole numbers in [{low}, {high}]"


def medication(work: _Work, column: ColumnDef) -> Made:
    if column.values:
        work.notices.append(
            f"{column.name}: the schema's value list is not used; drugs come from the "
            "knowledge base per condition."
        )
    values = clinical.medications(work.conditions, work.drawn.condition, work.rng)
    return (
        values,
        "from the knowledge base's drug list for the row's condition, weighted by each "
        "drug's sourced share",
    )


def test_result(work: _Work, column: ColumnDef) -> Made:
    labels, values = clinical.test_values(
        work.conditions, work.drawn.condition, work.drawn.female, work.rng
    )
    work.hidden_tests = values
    tests = ", ".join(sorted({clinical.key_test(c).name for c in work.conditions}))
    return labels, (
        "the row's condition's key measurement in the knowledge base, drawn from its sourced "
        f"distribution, with its unit ({tests})"
    )


def record_id(work: _Work, column: ColumnDef) -> Made:
    """A fresh identifier per row, never a real one: shuffled so that row order says nothing."""
    numbers = work.rng.permutation(work.n) + 1
    if column.kind == "integer":
        return numbers + 100_000, "a unique made-up number per row (100001 upwards, shuffled)"
    width = max(6, len(str(work.n)))
    return np.array([f"ID{k:0{width}d}" for k in numbers], dtype=object), (
        f"a unique made-up identifier per row (ID{1:0{width}d} upwards, shuffled)"
    )


ROLE_MAKERS: dict[str, Callable[[_Work, ColumnDef], Made]] = {
    "record_id": record_id,
    "condition": condition,
    "age": age,
    "sex": sex,
    "person_name": person_name,
    "blood_type": blood_type,
    "admission_type": _shared_admission_type,
    "admission_date": admission_date,
    "discharge_date": discharge_date,
    "hospital": hospital,
    "doctor": doctor,
    "insurer": insurer,
    "billing": billing,
    "room": room,
    "medication": medication,
    "test_result": test_result,
}
