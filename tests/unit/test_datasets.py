"""Bundled datasets: shapes, names, raw units, dtypes, fresh copies, light imports, clear errors."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from synthpatient import datasets
from synthpatient.errors import SynthPatientError, UnknownDatasetError

DIABETES_DTYPES = {
    "age": "int64",
    "sex": "int64",
    "bmi": "float64",
    "blood_pressure": "float64",
    "total_cholesterol": "int64",
    "ldl": "float64",
    "hdl": "float64",
    "cholesterol_hdl_ratio": "float64",
    "log_triglycerides": "float64",
    "glucose": "int64",
    "progression": "int64",
}
DIABETES_UNITS = {
    "age": "years",
    "sex": None,
    "bmi": "kg/m2",
    "blood_pressure": "mmHg",
    "total_cholesterol": "mg/dL",
    "ldl": "mg/dL",
    "hdl": "mg/dL",
    "cholesterol_hdl_ratio": None,
    "log_triglycerides": "ln(mg/dL)",
    "glucose": "mg/dL",
    "progression": None,
}
FEATURES = [
    "radius",
    "texture",
    "perimeter",
    "area",
    "smoothness",
    "compactness",
    "concavity",
    "concave_points",
    "symmetry",
    "fractal_dimension",
]
BREAST_CANCER_COLUMNS = (
    [f"mean_{f}" for f in FEATURES]
    + [f"{f}_error" for f in FEATURES]
    + [f"worst_{f}" for f in FEATURES]
    + ["diagnosis"]
)
KEYS = ["breast_cancer", "diabetes"]  # row-level tables: one row per patient
ALL_KEYS = ["breast_cancer", "diabetes", "pbcseq"]
PBCSEQ_UNITS = {
    "id": None,
    "futime": "days",
    "status": None,
    "trt": None,
    "age": "years",
    "sex": None,
    "day": "days",
    "ascites": None,
    "hepato": None,
    "spiders": None,
    "edema": None,
    "bili": "mg/dl",
    "chol": "mg/dl",
    "albumin": "g/dl",
    "alk.phos": "U/l",
    "ast": "U/ml",
    "platelet": "per cubic ml/1000",
    "protime": "seconds",
    "stage": None,
}


@pytest.fixture(scope="module")
def diabetes() -> pd.DataFrame:
    return datasets.load("diabetes")


@pytest.fixture(scope="module")
def breast_cancer() -> pd.DataFrame:
    return datasets.load("breast_cancer")


# ------------------------------------------------------------------------------ diabetes


def test_diabetes_shape_columns_and_dtypes(diabetes):
    assert diabetes.shape == (442, 11)
    assert list(diabetes.columns) == list(DIABETES_DTYPES)
    assert {name: str(dtype) for name, dtype in diabetes.dtypes.items()} == DIABETES_DTYPES
    assert isinstance(diabetes.index, pd.RangeIndex) and diabetes.index[-1] == 441


def test_diabetes_is_in_raw_clinical_units(diabetes):
    # scikit-learn's default version is centred and scaled (every value within about +-0.2):
    # these ranges only hold for the raw values.
    assert (diabetes["age"].min(), diabetes["age"].max()) == (19, 79)
    assert set(diabetes["sex"]) == {1, 2}
    assert diabetes["sex"].value_counts().to_dict() == {1: 235, 2: 207}
    assert diabetes["bmi"].between(18, 43).all()
    assert diabetes["blood_pressure"].between(60, 135).all()
    assert diabetes["total_cholesterol"].between(90, 310).all()
    assert diabetes["ldl"].between(40, 245).all()
    assert diabetes["hdl"].between(20, 100).all()
    assert diabetes["cholesterol_hdl_ratio"].between(2, 9.1).all()
    assert diabetes["log_triglycerides"].between(3.2, 6.2).all()
    assert diabetes["glucose"].between(55, 125).all()
    assert (diabetes["progression"].min(), diabetes["progression"].max()) == (25, 346)
    assert 45 < diabetes["age"].mean() < 52 and 24 < diabetes["bmi"].mean() < 28


def test_diabetes_values_are_exactly_the_raw_file(diabetes):
    from sklearn.datasets import load_diabetes

    raw = load_diabetes(as_frame=True, scaled=False).frame
    np.testing.assert_array_equal(diabetes.to_numpy(dtype=float), raw.to_numpy())


def test_diabetes_descriptions_hold(diabetes):
    # The column descriptions state these facts about the values: keep them true.
    thirds = diabetes["blood_pressure"] * 3
    assert np.allclose(thirds, thirds.round(), atol=0.02)
    assert (diabetes["hdl"] != diabetes["hdl"].round()).sum() == 1  # why hdl is float
    ratio = diabetes["total_cholesterol"] / diabetes["hdl"]
    assert np.corrcoef(ratio, diabetes["cholesterol_hdl_ratio"])[0, 1] > 0.95
    assert (diabetes["cholesterol_hdl_ratio"] % 1 == 0).mean() > 0.5
    level = np.exp(diabetes["log_triglycerides"])
    assert ((level - level.round()).abs() <= level * 6e-5).all()  # ln of whole mg/dL


def test_diabetes_info_units_and_texts():
    meta = datasets.info("diabetes")
    assert {c.name: c.unit for c in meta.columns} == DIABETES_UNITS
    texts = {c.name: c.description for c in meta.columns}
    assert "does not say" in texts["sex"]
    assert "possibly log of serum triglycerides" in texts["log_triglycerides"].lower()
    assert "one year after baseline" in texts["progression"]
    assert (meta.target, meta.task) == ("progression", "regression")
    assert "Least Angle Regression" in meta.source and "2004" in meta.source
    assert "scikit-learn" in meta.licence


# ------------------------------------------------------------------------------ breast_cancer


def test_breast_cancer_shape_columns_and_dtypes(breast_cancer):
    assert breast_cancer.shape == (569, 31)
    assert list(breast_cancer.columns) == BREAST_CANCER_COLUMNS
    assert (breast_cancer.dtypes.iloc[:30] == "float64").all()
    assert breast_cancer["diagnosis"].dtype == object
    assert {type(v) for v in breast_cancer["diagnosis"]} == {str}


def test_breast_cancer_names_follow_scikit_learn():
    from sklearn.datasets import load_breast_cancer

    names = [n.replace(" ", "_") for n in load_breast_cancer().feature_names]
    assert names == BREAST_CANCER_COLUMNS[:30]


def test_breast_cancer_diagnosis_labels(breast_cancer):
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    assert list(bunch.target_names) == ["malignant", "benign"]
    expected = np.where(bunch.target == 0, "malignant", "benign")
    assert (breast_cancer["diagnosis"].to_numpy() == expected).all()
    assert breast_cancer["diagnosis"].value_counts().to_dict() == {"benign": 357, "malignant": 212}
    np.testing.assert_array_equal(breast_cancer.iloc[:, :30].to_numpy(), bunch.data)


def test_breast_cancer_info():
    meta = datasets.info("breast_cancer")
    assert (meta.target, meta.task) == ("diagnosis", "classification")
    assert "CC BY 4.0" in meta.licence and "UCI" in meta.licence
    assert "Wolberg" in meta.source and "1995" in meta.source
    texts = {c.name: c.description for c in meta.columns}
    assert texts["mean_radius"].startswith("Mean radius")
    assert texts["radius_error"].startswith("Standard error of the radius")
    assert texts["worst_radius"].startswith("Worst")


# ------------------------------------------------------------------------------ pbcseq


@pytest.fixture(scope="module")
def pbcseq() -> pd.DataFrame:
    return datasets.load("pbcseq")


def test_pbcseq_is_the_shipped_file_unchanged(pbcseq):
    from importlib.resources import files

    path = files("synthpatient.datasets").joinpath("data/pbcseq.csv")
    raw = pd.read_csv(str(path))
    assert pbcseq.shape == raw.shape == (1945, 19)
    assert list(pbcseq.columns) == list(PBCSEQ_UNITS) == list(raw.columns)
    pd.testing.assert_frame_equal(pbcseq.astype({"sex": str}), raw.astype({"sex": str}))
    assert pbcseq["sex"].dtype == object and {type(v) for v in pbcseq["sex"]} == {str}
    assert {str(t) for t in pbcseq.dtypes.drop("sex")} <= {"int64", "float64"}


def test_pbcseq_is_longitudinal(pbcseq):
    meta = datasets.info("pbcseq")
    assert (meta.n_rows, meta.n_patients, meta.patient_key, meta.time) == (1945, 312, "id", "day")
    assert meta.longitudinal and not datasets.info("diabetes").longitudinal
    assert pbcseq["id"].nunique() == 312
    visits = pbcseq.groupby("id").size()
    assert (visits.min(), visits.max()) == (1, 16)
    assert (pbcseq.groupby("id")["day"].min() == 0).all()  # day 0: enrolment
    assert pbcseq.groupby("id")["day"].apply(lambda s: s.is_monotonic_increasing).all()
    assert 13 < pbcseq["day"].max() / 365.25 < 15  # "up to 14 years"
    static = pbcseq.groupby("id")[["futime", "status", "trt", "age", "sex"]].nunique()
    assert (static == 1).all().all()


def test_pbcseq_codes_and_units_hold(pbcseq):
    meta = datasets.info("pbcseq")
    assert {c.name: c.unit for c in meta.columns} == PBCSEQ_UNITS
    texts = {c.name: c.description for c in meta.columns}
    patients = pbcseq.drop_duplicates("id")
    assert patients["sex"].value_counts().to_dict() == {"f": 276, "m": 36}
    assert patients["status"].value_counts().to_dict() == {0: 143, 2: 140, 1: 29}
    assert "0 censored, 1 liver transplant, 2 dead" in texts["status"]
    # the file codes treatment 0/1 (not the documented 1/2): the arms' sizes tell which is which
    assert patients["trt"].value_counts().to_dict() == {1: 158, 0: 154}
    assert "1 D-penicillamine (158 patients), 0 placebo (154)" in texts["trt"]
    assert set(pbcseq["edema"]) == {0.0, 0.5, 1.0} and set(pbcseq["stage"]) == {1, 2, 3, 4}
    assert texts["day"].startswith("Days between enrolment and this visit")
    assert pbcseq["bili"].between(0.1, 41).all() and pbcseq["albumin"].between(1, 8.1).all()
    assert pbcseq["protime"].between(9, 36).all()
    assert pbcseq.isna().sum()[lambda s: s > 0].to_dict() == {
        "ascites": 60,
        "hepato": 61,
        "spiders": 58,
        "chol": 821,
        "alk.phos": 60,
        "platelet": 73,
    }
    assert "survival 3.5-3" in meta.source and "Therneau" in meta.source
    assert "Murtaugh" in meta.source and "Hepatology 1994" in meta.source
    assert "LGPL-2 or later" in meta.licence
    assert (meta.target, meta.task) == ("status", "classification")


def test_pbcseq_splits_into_patients_and_visits(pbcseq):
    from synthpatient.longitudinal import PatientTable

    meta = datasets.info("pbcseq")
    table = PatientTable.from_long(pbcseq, key=meta.patient_key, time=meta.time)
    assert table.n_patients == meta.n_patients and len(table.events) == meta.n_rows
    assert table.layout.static == ("futime", "status", "trt", "age", "sex")


# ------------------------------------------------------------------------------ all


def test_list_datasets_is_sorted_by_key():
    listed = datasets.list_datasets()
    assert [meta.key for meta in listed] == ALL_KEYS
    assert all(isinstance(meta, datasets.DatasetInfo) for meta in listed)
    assert listed == [datasets.info(key) for key in ALL_KEYS]


@pytest.mark.parametrize("key", KEYS)
def test_row_level_tables_have_one_row_per_patient(key):
    meta = datasets.info(key)
    assert meta.n_patients == meta.n_rows and meta.patient_key is None and meta.time is None


@pytest.mark.parametrize("key", ALL_KEYS)
def test_info_matches_the_table(key):
    meta = datasets.info(key)
    frame = datasets.load(key)
    assert meta.key == key
    assert (meta.n_rows, meta.n_columns) == frame.shape == (meta.n_rows, len(meta.columns))
    assert [c.name for c in meta.columns] == list(frame.columns)
    assert meta.target in frame.columns
    assert meta.title and meta.description and meta.source and meta.licence
    for column in meta.columns:
        assert isinstance(column, datasets.ColumnInfo) and column.description
        assert column.unit is None or (isinstance(column.unit, str) and column.unit)


@pytest.mark.parametrize("key", KEYS)
def test_no_missing_values(key):
    assert not datasets.load(key).isna().any().any()


@pytest.mark.parametrize("key", ALL_KEYS)
def test_load_returns_a_fresh_copy(key):
    first = datasets.load(key)
    pristine = first.copy(deep=True)
    column = first.columns[0]
    first.loc[0, column] = -1
    first[first.columns[1]] = first[first.columns[1]].iloc[::-1].to_numpy()
    first["added"] = 0
    second = datasets.load(key)
    assert second is not first
    pd.testing.assert_frame_equal(second, pristine)
    third = datasets.load(key)
    assert not np.shares_memory(second[column].to_numpy(), third[column].to_numpy())


def test_info_is_immutable():
    meta = datasets.info("diabetes")
    with pytest.raises(dataclasses.FrozenInstanceError):
        meta.n_rows = 0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        meta.columns[0].unit = "days"  # type: ignore[misc]


@pytest.mark.parametrize("call", [datasets.load, datasets.info])
def test_unknown_key_names_the_known_ones(call):
    with pytest.raises(UnknownDatasetError) as caught:
        call("mimic")
    assert isinstance(caught.value, KeyError) and isinstance(caught.value, SynthPatientError)
    message = str(caught.value)
    assert "'mimic'" in message
    assert "Known datasets: breast_cancer, diabetes, pbcseq." in message
    assert "synthpatient datasets list" in message


def test_import_and_info_do_not_import_scikit_learn():
    code = (
        "import sys\n"
        "from synthpatient import datasets\n"
        "datasets.list_datasets(); datasets.info('diabetes'); datasets.load('pbcseq')\n"
        "assert 'sklearn' not in sys.modules, 'sklearn was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
