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
KEYS = ["breast_cancer", "diabetes"]


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


# ------------------------------------------------------------------------------ both


def test_list_datasets_is_sorted_by_key():
    listed = datasets.list_datasets()
    assert [meta.key for meta in listed] == KEYS
    assert all(isinstance(meta, datasets.DatasetInfo) for meta in listed)
    assert listed == [datasets.info(key) for key in KEYS]


@pytest.mark.parametrize("key", KEYS)
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


@pytest.mark.parametrize("key", KEYS)
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
    assert "Known datasets: breast_cancer, diabetes." in message
    assert "synthpatient datasets list" in message


def test_import_and_info_do_not_import_scikit_learn():
    code = (
        "import sys\n"
        "from synthpatient import datasets\n"
        "datasets.list_datasets(); datasets.info('diabetes')\n"
        "assert 'sklearn' not in sys.modules, 'sklearn was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
