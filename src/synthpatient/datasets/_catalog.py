"""The catalogue of bundled datasets: real clinical tables read from the scikit-learn wheel.

Nothing is downloaded and nothing is copied into this repository: the raw files ship inside
scikit-learn (BSD-3-Clause), and each loader renames the columns to meaningful names and keeps
the raw clinical units.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import pandas as pd


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    description: str
    unit: str | None


@dataclass(frozen=True)
class DatasetInfo:
    key: str
    title: str
    description: str
    n_rows: int
    n_columns: int
    source: str
    licence: str
    target: str | None
    task: Literal["regression", "classification"] | None
    columns: tuple[ColumnInfo, ...]


_DIABETES_COLUMNS = (
    ("age", "age", "Age at baseline", "years"),
    ("sex", "sex", "Sex, coded 1 or 2 as in the source, which does not say which code is which",
     None),
    ("bmi", "bmi", "Body mass index", "kg/m2"),
    ("bp", "blood_pressure", "Average blood pressure", "mmHg"),
    ("s1", "total_cholesterol", "Total serum cholesterol (tc)", "mg/dL"),
    ("s2", "ldl", "Low-density lipoproteins (ldl)", "mg/dL"),
    ("s3", "hdl", "High-density lipoproteins (hdl)", "mg/dL"),
    ("s4", "cholesterol_hdl_ratio", "Total cholesterol / HDL (tch)", "ratio"),
    ("s5", "log_triglycerides", "Possibly log of serum triglycerides level (ltg), as scikit-learn "
     "describes it", "log(mg/dL)"),
    ("s6", "glucose", "Blood sugar level (glu)", "mg/dL"),
    ("target", "progression", "Quantitative measure of disease progression one year after "
     "baseline", None),
)
_INTEGER_COLUMNS = ("age", "sex", "total_cholesterol", "glucose", "progression")


def _load_diabetes() -> pd.DataFrame:
    from sklearn.datasets import load_diabetes

    raw = load_diabetes(as_frame=True, scaled=False).frame
    frame = raw.rename(columns={old: new for old, new, _, _ in _DIABETES_COLUMNS})
    for column in _INTEGER_COLUMNS:  # integral in the raw file: keep them whole numbers
        frame[column] = frame[column].astype("int64")
    return frame


def _breast_cancer_names() -> list[str]:
    from sklearn.datasets import load_breast_cancer

    return [name.replace(" ", "_") for name in load_breast_cancer().feature_names]


def _load_breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.data.copy()
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    # target 0 = malignant, 1 = benign (bunch.target_names)
    frame["diagnosis"] = bunch.target.map(dict(enumerate(bunch.target_names))).astype(object)
    return frame


def _breast_cancer_columns() -> tuple[ColumnInfo, ...]:
    cols = []
    for name in _breast_cancer_names():
        if name.endswith("_error"):
            what = f"Standard error of the {name.removesuffix('_error').replace('_', ' ')}"
        else:
            statistic, _, feature = name.partition("_")
            what = f"{'Mean' if statistic == 'mean' else 'Worst (mean of the 3 largest)'} " \
                   f"{feature.replace('_', ' ')}"
        # Features were computed from digitised images: image units, not clinical ones.
        cols.append(ColumnInfo(name, f"{what} of the cell nuclei in the image", None))
    cols.append(ColumnInfo("diagnosis", "Diagnosis of the mass: malignant or benign", None))
    return tuple(cols)


@dataclass(frozen=True)
class _Entry:
    info: Callable[[], DatasetInfo]
    load: Callable[[], pd.DataFrame]


def _diabetes_info() -> DatasetInfo:
    return DatasetInfo(
        key="diabetes",
        title="Diabetes progression (442 patients)",
        description=("Ten baseline variables (age, sex, body mass index, average blood pressure "
                     "and six blood serum measurements) of 442 diabetes patients, and a "
                     "quantitative measure of disease progression one year after baseline. Raw "
                     "clinical units, as published by the authors (not scikit-learn's scaled "
                     "version)."),
        n_rows=442, n_columns=11,
        source=("Efron B, Hastie T, Johnstone I, Tibshirani R. Least Angle Regression. Annals of "
                "Statistics 2004;32(2):407-499. Distributed with scikit-learn."),
        licence=("Data as distributed by the authors and by scikit-learn (BSD-3-Clause); the "
                 "authors state no separate licence."),
        target="progression", task="regression",
        columns=tuple(ColumnInfo(new, desc, unit) for _, new, desc, unit in _DIABETES_COLUMNS),
    )


def _breast_cancer_info() -> DatasetInfo:
    return DatasetInfo(
        key="breast_cancer",
        title="Breast Cancer Wisconsin, diagnostic (569 patients)",
        description=("Thirty features computed from digitized images of fine needle aspirates of "
                     "breast masses of 569 patients (mean, standard error and worst value of ten "
                     "characteristics of the cell nuclei), and the diagnosis, malignant or benign."),
        n_rows=569, n_columns=31,
        source=("Wolberg WH, Street WN, Mangasarian OL. Breast Cancer Wisconsin (Diagnostic). UCI "
                "Machine Learning Repository, 1995. Distributed with scikit-learn."),
        licence="CC BY 4.0 (UCI Machine Learning Repository); distributed with scikit-learn.",
        target="diagnosis", task="classification",
        columns=_breast_cancer_columns(),
    )


CATALOG: dict[str, _Entry] = {
    "breast_cancer": _Entry(_breast_cancer_info, _load_breast_cancer),
    "diabetes": _Entry(_diabetes_info, _load_diabetes),
}
