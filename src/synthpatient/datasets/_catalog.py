"""The catalogue of bundled datasets: real clinical tables, read offline.

Nothing is downloaded. The row-level tables are read from the raw files that ship inside
scikit-learn (BSD-3-Clause), and their loaders rename the columns to meaningful names and keep
the raw clinical units. The longitudinal table (``pbcseq``, several visits per patient) ships
in this package (``datasets/data/pbcseq.csv``), exported unchanged from R's ``survival``
package; its column names are kept as the source spells them (``alk.phos`` included), since
they are already meaningful and every analysis of the data uses them.

The descriptions (names, units, sources) are written out here rather than read from
scikit-learn, so that listing the datasets and reading their descriptions never imports
scikit-learn; only :func:`load_frame` does, and only when it is first called for a key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Literal

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ColumnInfo:
    """One column of a bundled dataset.

    Attributes:
        name: The column name in the DataFrame that ``load`` returns.
        description: What the column holds, including how the source names it.
        unit: The unit of measurement, or ``None`` for codes, labels, ratios and scores.
    """

    name: str
    description: str
    unit: str | None


@dataclass(frozen=True)
class DatasetInfo:
    """What a bundled dataset is, where it comes from and how it may be used.

    Attributes:
        key: The name to pass to ``load`` and ``info``.
        title: A one-line title.
        description: Who the patients are and what was measured.
        n_rows: Number of rows in the table: patients, or visits for a longitudinal table.
        n_columns: Number of columns, the target included.
        source: The citation of the original data.
        licence: The terms the data are distributed under.
        target: The column a model would usually predict, or ``None``.
        task: ``"regression"`` or ``"classification"`` on ``target``, or ``None``.
        columns: Every column, in the order of the DataFrame.
        n_patients: Number of patients (equal to ``n_rows`` for a row-level table).
        patient_key: The patient id column of a longitudinal table (several rows per patient),
            or ``None`` for a table with one row per patient.
        time: The time column of a longitudinal table, or ``None``. With ``patient_key`` it
            is what ``PatientTable.from_long(load(key), key=..., time=...)`` needs.
    """

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
    n_patients: int | None = None
    patient_key: str | None = None
    time: str | None = None

    def __post_init__(self) -> None:
        if self.n_patients is None:  # a row-level table: one row per patient
            object.__setattr__(self, "n_patients", self.n_rows)

    @property
    def longitudinal(self) -> bool:
        """Whether the table has several rows (visits) per patient."""
        return self.patient_key is not None


# --------------------------------------------------------------------------------------------
# diabetes
# --------------------------------------------------------------------------------------------

# (name in scikit-learn, our name, description, unit). The source gives no units; the units
# below are those the value ranges fit (US conventional units for the serum measurements).
_DIABETES_COLUMNS = (
    ("age", "age", "Age at baseline", "years"),
    (
        "sex",
        "sex",
        "Sex, kept as the source's integer codes 1 and 2: the source does not say "
        "which code is female and which is male",
        None,
    ),
    ("bmi", "bmi", "Body mass index", "kg/m2"),
    (
        "bp",
        "blood_pressure",
        "Average blood pressure (bp); every value is a whole number of thirds of a mmHg",
        "mmHg",
    ),
    ("s1", "total_cholesterol", "Total serum cholesterol (s1, tc)", "mg/dL"),
    ("s2", "ldl", "Low-density lipoproteins (s2, ldl)", "mg/dL"),
    ("s3", "hdl", "High-density lipoproteins (s3, hdl)", "mg/dL"),
    (
        "s4",
        "cholesterol_hdl_ratio",
        "Total cholesterol / HDL (s4, tch); most values are rounded to whole numbers in the source",
        None,
    ),
    (
        "s5",
        "log_triglycerides",
        "Possibly log of serum triglycerides level (s5, ltg), as "
        "scikit-learn describes it; every value is the natural log of a whole number, which fits "
        "triglycerides in mg/dL",
        "ln(mg/dL)",
    ),
    ("s6", "glucose", "Blood sugar level (s6, glu)", "mg/dL"),
    (
        "target",
        "progression",
        "Quantitative measure of disease progression one year after "
        "baseline (the response in the source)",
        None,
    ),
)
# Whole numbers in the raw file: kept as integers so that they stay whole numbers when a
# synthesizer learns them. hdl is not among them: one patient has 42.5.
_DIABETES_INTEGERS = ("age", "sex", "total_cholesterol", "glucose", "progression")

_DIABETES = DatasetInfo(
    key="diabetes",
    title="Diabetes progression (442 patients)",
    description=(
        "Ten baseline variables (age, sex, body mass index, average blood pressure and six "
        "blood serum measurements) of 442 diabetes patients, and a quantitative measure of "
        "disease progression one year after baseline. Raw clinical units, as published by the "
        "authors, not scikit-learn's default mean-centred and scaled version. Sex is coded 1 or "
        "2; the source does not say which code is which."
    ),
    n_rows=442,
    n_columns=len(_DIABETES_COLUMNS),
    source=(
        "Efron B, Hastie T, Johnstone I, Tibshirani R. Least Angle Regression. Annals of "
        "Statistics 2004;32(2):407-499. doi:10.1214/009053604000000067. Data: "
        "https://www4.stat.ncsu.edu/~boos/var.select/diabetes.html; distributed with "
        "scikit-learn (sklearn.datasets.load_diabetes, scaled=False)."
    ),
    licence=(
        "As distributed by the authors and with scikit-learn (whose code is BSD-3-Clause); "
        "no separate licence for the data is stated by the authors or by scikit-learn."
    ),
    target="progression",
    task="regression",
    columns=tuple(ColumnInfo(new, text, unit) for _, new, text, unit in _DIABETES_COLUMNS),
)


def _load_diabetes() -> pd.DataFrame:
    from sklearn.datasets import load_diabetes

    # scaled=False: the raw clinical values; the default would centre and scale every feature.
    raw = load_diabetes(as_frame=True, scaled=False).frame
    frame = raw.rename(columns={old: new for old, new, _, _ in _DIABETES_COLUMNS})
    for column in _DIABETES_INTEGERS:
        values = frame[column].to_numpy()
        # A cast would silently truncate a fraction if a future release changed the file.
        if not np.array_equal(values, np.round(values)):
            raise RuntimeError(
                f"The diabetes column '{column}' is no longer whole numbers in "
                "this scikit-learn release; synthpatient needs an update."
            )
        frame[column] = values.astype("int64")
    return frame


# --------------------------------------------------------------------------------------------
# breast_cancer
# --------------------------------------------------------------------------------------------

# The ten characteristics of the cell nuclei, with the definitions of the source (UCI wdbc.names,
# as repeated in scikit-learn's description).
_NUCLEUS_FEATURES = (
    ("radius", "radius (mean of distances from centre to points on the perimeter)"),
    ("texture", "texture (standard deviation of grey-scale values)"),
    ("perimeter", "perimeter"),
    ("area", "area"),
    ("smoothness", "smoothness (local variation in radius lengths)"),
    ("compactness", "compactness (perimeter^2 / area - 1.0)"),
    ("concavity", "concavity (severity of concave portions of the contour)"),
    ("concave_points", "concave points (number of concave portions of the contour)"),
    ("symmetry", "symmetry"),
    ("fractal_dimension", 'fractal dimension ("coastline approximation" - 1)'),
)
# scikit-learn's order: the ten means, then the ten standard errors, then the ten worst values.
_STATISTICS = (
    ("mean_{}", "Mean {} of the cell nuclei in the image"),
    ("{}_error", "Standard error of the {} of the cell nuclei in the image"),
    ("worst_{}", "Worst (mean of the three largest values) {} of the cell nuclei in the image"),
)


def _breast_cancer_columns() -> tuple[ColumnInfo, ...]:
    # The features are measured on digitised images in the authors' image units, which the
    # source does not state: no unit rather than a guessed one.
    columns = [
        ColumnInfo(name.format(feature), text.format(definition), None)
        for name, text in _STATISTICS
        for feature, definition in _NUCLEUS_FEATURES
    ]
    columns.append(
        ColumnInfo("diagnosis", "Diagnosis of the breast mass: 'malignant' or 'benign'", None)
    )
    return tuple(columns)


_BREAST_CANCER = DatasetInfo(
    key="breast_cancer",
    title="Breast Cancer Wisconsin, diagnostic (569 patients)",
    description=(
        "Thirty features computed from digitized images of fine needle aspirates (FNA) of "
        "breast masses of 569 patients: the mean, standard error and worst value of ten "
        "characteristics of the cell nuclei in each image; and the diagnosis of the mass, "
        "malignant (212) or benign (357)."
    ),
    n_rows=569,
    n_columns=31,
    source=(
        "Wolberg WH, Street WN, Mangasarian OL. Breast Cancer Wisconsin (Diagnostic). UCI Machine "
        "Learning Repository, 1995. doi:10.24432/C5DW2B. Distributed with scikit-learn "
        "(sklearn.datasets.load_breast_cancer)."
    ),
    licence="CC BY 4.0 (UCI Machine Learning Repository), distributed with scikit-learn.",
    target="diagnosis",
    task="classification",
    columns=_breast_cancer_columns(),
)


def _load_breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.data.copy()
    frame.columns = [str(name).replace(" ", "_") for name in frame.columns]
    # target 0 is malignant and 1 benign (bunch.target_names). Plain str labels in an object
    # column, so that the table reads the same with pandas 2 and 3 and matches what the
    # synthesizers return for a categorical column.
    labels = np.array([str(name) for name in bunch.target_names], dtype=object)
    frame["diagnosis"] = pd.Series(labels[bunch.target.to_numpy()], index=frame.index, dtype=object)
    return frame


# --------------------------------------------------------------------------------------------
# pbcseq (longitudinal)
# --------------------------------------------------------------------------------------------

# (name, description, unit): the names and units of survival's documentation (pbcseq.Rd,
# with the units of the pbc trial's other releases where it gives none).
_PBCSEQ_COLUMNS = (
    ("id", "Case number: the patient's id in the trial (1 to 312)", None),
    (
        "futime",
        "Days between registration and the earlier of death, liver transplantation or the "
        "study analysis in July 1986 (the same on every visit of a patient)",
        "days",
    ),
    (
        "status",
        "Status at the end of follow-up: 0 censored, 1 liver transplant, 2 dead",
        None,
    ),
    (
        "trt",
        "Randomised treatment, coded 0/1 in the file (survival's documentation says 1/2): "
        "1 D-penicillamine (158 patients), 0 placebo (154), the arms' sizes in the trial",
        None,
    ),
    ("age", "Age at registration", "years"),
    ("sex", "Sex: 'f' female, 'm' male", None),
    (
        "day",
        "Days between enrolment and this visit; the measurements on the row refer to this visit",
        "days",
    ),
    ("ascites", "Presence of ascites (0 no, 1 yes)", None),
    ("hepato", "Presence of hepatomegaly or enlarged liver (0 no, 1 yes)", None),
    ("spiders", "Blood vessel malformations in the skin (spider angiomas; 0 no, 1 yes)", None),
    (
        "edema",
        "Oedema: 0 none, 0.5 untreated or successfully treated, 1 oedema despite diuretic therapy",
        None,
    ),
    ("bili", "Serum bilirubin", "mg/dl"),
    ("chol", "Serum cholesterol (often missing after the first visit)", "mg/dl"),
    ("albumin", "Serum albumin", "g/dl"),
    ("alk.phos", "Alkaline phosphatase", "U/l"),
    ("ast", "Aspartate aminotransferase, once called SGOT", "U/ml"),
    ("platelet", "Platelet count, per cubic ml / 1000", "per cubic ml/1000"),
    ("protime", "Standardised blood clotting (prothrombin) time", "seconds"),
    ("stage", "Histologic stage of disease, 1 to 4 (needs a biopsy)", None),
)

_PBCSEQ = DatasetInfo(
    key="pbcseq",
    title="Mayo Clinic PBC trial, sequential visits (312 patients, 1,945 visits)",
    description=(
        "The 312 randomised patients of the Mayo Clinic trial of D-penicillamine in primary "
        "biliary cholangitis (cirrhosis), 1974-1984, with their follow-up visits: one row per "
        "visit (1 to 16 per patient, up to 14 years after enrolment) with bilirubin, albumin, "
        "prothrombin time and other laboratory values and signs; age, sex, treatment, "
        "follow-up time and status are the same on every visit of a patient. A longitudinal "
        "table: the patient key is 'id' and the time 'day'. Missing values (mostly "
        "cholesterol) are kept as missing; visits just before death or transplant often lack "
        "the full laboratory battery, so missingness may be informative."
    ),
    n_rows=1945,
    n_columns=len(_PBCSEQ_COLUMNS),
    source=(
        "R package survival 3.5-3 (survival::pbcseq), exported unchanged with "
        "write.csv(survival::pbcseq, row.names=FALSE). Data from Therneau T, Grambsch P. "
        "Modeling Survival Data: Extending the Cox Model. Springer, 2000; and Murtaugh PA et "
        "al. Primary biliary cirrhosis: prediction of short-term survival based on repeated "
        "patient visits. Hepatology 1994;20(1):126-134."
    ),
    licence=(
        "LGPL-2 or later, the licence of the R survival package it is distributed with "
        "(survival 3.5-3)."
    ),
    target="status",
    task="classification",
    columns=tuple(ColumnInfo(name, text, unit) for name, text, unit in _PBCSEQ_COLUMNS),
    n_patients=312,
    patient_key="id",
    time="day",
)


def _load_pbcseq() -> pd.DataFrame:
    from importlib.resources import files

    with files("synthpatient.datasets").joinpath("data/pbcseq.csv").open("rb") as handle:
        frame = pd.read_csv(handle)
    # Plain str labels in an object column, as for breast_cancer's diagnosis, so that the
    # table reads the same with pandas 2 and 3.
    frame["sex"] = pd.Series(
        [str(value) for value in frame["sex"]], index=frame.index, dtype=object
    )
    if frame["id"].nunique() != _PBCSEQ.n_patients:
        raise RuntimeError("The bundled pbcseq.csv is damaged; reinstall synthpatient.")
    return frame


# --------------------------------------------------------------------------------------------
# the catalogue
# --------------------------------------------------------------------------------------------

CATALOG: dict[str, tuple[DatasetInfo, Callable[[], pd.DataFrame]]] = {
    "breast_cancer": (_BREAST_CANCER, _load_breast_cancer),
    "diabetes": (_DIABETES, _load_diabetes),
    "pbcseq": (_PBCSEQ, _load_pbcseq),
}


@cache
def _cached_frame(key: str) -> pd.DataFrame:
    # Read and checked once per process; callers only ever get copies of it.
    meta, read = CATALOG[key]
    frame = read()
    expected = [column.name for column in meta.columns]
    if frame.shape != (meta.n_rows, meta.n_columns) or list(frame.columns) != expected:
        raise RuntimeError(
            f"The '{key}' table as read (shape {frame.shape}) does not match synthpatient's "
            "description of it: a new scikit-learn release or a damaged installation; "
            "synthpatient needs an update or a reinstall."
        )
    return frame


def load_frame(key: str) -> pd.DataFrame:
    """A deep copy of the dataset, so that a caller's changes never reach the next caller."""
    return _cached_frame(key).copy(deep=True)
