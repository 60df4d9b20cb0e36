"""Bundled multi-table datasets: a patients table and several event tables per dataset.

``nafld`` (from R's ``survival`` package) is a real extract in the shape most clinical
extracts have: patients (age, sex, weight, height, BMI, follow-up), lab results (HDL, systolic
pressure, FIB-4, smoking status) and diagnoses (hypertension, diabetes, MI...), each event table
with its own days. It ships as three CSV files made by ``benchmarks/data_exports/export_nafld.R``
(which says what was kept and why).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import pandas as pd

from synthpatient.datasets._catalog import ColumnInfo


@dataclass(frozen=True)
class TablesInfo:
    """What a bundled multi-table dataset is.

    Attributes:
        key: the name to pass to :func:`synthpatient.datasets.load_tables`.
        title, description, source, licence: as :class:`DatasetInfo`'s.
        patient_key: the id column of every table.
        n_patients: rows of the patients table.
        tables: event table name -> (time column, number of rows).
        columns: table name ("patients" or an event table) -> its columns.
    """

    key: str
    title: str
    description: str
    source: str
    licence: str
    patient_key: str
    n_patients: int
    tables: dict[str, tuple[str, int]]
    columns: dict[str, tuple[ColumnInfo, ...]]


def _columns(*rows: tuple[str, str, str | None]) -> tuple[ColumnInfo, ...]:
    return tuple(ColumnInfo(name, text, unit) for name, text, unit in rows)


_NAFLD = TablesInfo(
    key="nafld",
    title="Rochester NAFLD cohort: 998 patients, their lab results and diagnoses (3 tables)",
    description=(
        "Adults of Olmsted County, Minnesota, from the study of non-alcoholic fatty liver "
        "disease (NAFLD) incidence and metabolic burden: patients diagnosed with NAFLD and "
        "age- and sex-matched controls. The first 1,000 ids of survival's release (998 "
        "patients): a patients table, a lab table (one row per patient and day, a column per "
        "test, most cells missing because tests were done on different days) and a diagnoses "
        "table (one row per new diagnosis). Days count from each patient's index date and are "
        "negative before it. 'case.id' is the id of the matched NAFLD case: an identifier."
    ),
    source=(
        "R package survival 3.5-3 (survival::nafld1, nafld2, nafld3), exported by "
        "benchmarks/data_exports/export_nafld.R. Data from Allen AM, Therneau TM, Larson JJ, "
        "et al. Nonalcoholic fatty liver disease incidence and impact on metabolic burden and "
        "death: a 20 year-community study. Hepatology 2018;67(5):1726-1736."
    ),
    licence=(
        "LGPL-2 or later, the licence of the R survival package it is distributed with "
        "(survival 3.5-3)."
    ),
    patient_key="id",
    n_patients=998,
    tables={"labs": ("days", 11744), "diagnoses": ("days", 1969)},
    columns={
        "patients": _columns(
            ("id", "Patient id", None),
            ("age", "Age at the index date", "years"),
            ("male", "Sex: 1 male, 0 female", None),
            ("weight", "Weight at the index date", "kg"),
            ("height", "Height at the index date", "cm"),
            ("bmi", "Body mass index at the index date", "kg/m2"),
            ("case.id", "Id of the NAFLD case this patient is matched to (an identifier)", None),
            ("futime", "Days from the index date to death or last follow-up", "days"),
            ("status", "0 alive at last follow-up, 1 dead", None),
        ),
        "labs": _columns(
            ("id", "Patient id", None),
            ("days", "Days from the index date to the test", "days"),
            ("hdl", "HDL cholesterol", "mg/dL"),
            ("sbp", "Systolic blood pressure", "mmHg"),
            ("fib4", "FIB-4 liver fibrosis index", None),
            ("smoke", "Smoking status: 0 never, 1 current or former", None),
        ),
        "diagnoses": _columns(
            ("id", "Patient id", None),
            ("days", "Days from the index date to the diagnosis", "days"),
            (
                "event",
                "The diagnosis: nafld, htn (hypertension), dyslipidemia, diabetes, ang/isc "
                "(angina or ischaemic heart disease), afib, heart failure, stroke, MI, "
                "cardiac arrest",
                None,
            ),
        ),
    },
)

TABLES_CATALOG: dict[str, TablesInfo] = {"nafld": _NAFLD}


@cache
def _read(key: str, table: str) -> pd.DataFrame:
    meta = TABLES_CATALOG[key]
    path = files("synthpatient.datasets").joinpath(f"data/{key}_{table}.csv")
    with path.open("rb") as handle:
        frame = pd.read_csv(handle)
    expected = [c.name for c in meta.columns[table]]
    rows = meta.n_patients if table == "patients" else meta.tables[table][1]
    if list(frame.columns) != expected or len(frame) != rows:
        raise RuntimeError(f"The bundled {key}_{table}.csv is damaged; reinstall synthpatient.")
    return frame


def load_frames(key: str) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Fresh copies of the patients table and the event tables (name -> table)."""
    meta = TABLES_CATALOG[key]
    patients = _read(key, "patients").copy(deep=True)
    return patients, {name: _read(key, name).copy(deep=True) for name in meta.tables}
