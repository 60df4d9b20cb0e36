"""Bundled datasets: shapes, names, raw units, fresh copies, clear errors."""

from __future__ import annotations

import pytest

from synthpatient import datasets
from synthpatient.errors import UnknownDatasetError


def test_diabetes_in_raw_clinical_units():
    frame = datasets.load("diabetes")
    assert frame.shape == (442, 11)
    assert list(frame.columns) == [
        "age", "sex", "bmi", "blood_pressure", "total_cholesterol", "ldl", "hdl",
        "cholesterol_hdl_ratio", "log_triglycerides", "glucose", "progression"]
    assert frame["age"].between(19, 79).all() and frame["age"].dtype == "int64"
    assert set(frame["sex"]) == {1, 2}
    assert frame["bmi"].between(17, 45).all()
    assert frame["glucose"].between(50, 130).all() and frame["glucose"].dtype == "int64"
    assert frame["progression"].between(25, 346).all()
    assert not frame.isna().any().any()


def test_breast_cancer_has_diagnosis_labels():
    frame = datasets.load("breast_cancer")
    assert frame.shape == (569, 31)
    assert frame.columns[0] == "mean_radius" and frame.columns[-1] == "diagnosis"
    assert frame["diagnosis"].value_counts().to_dict() == {"benign": 357, "malignant": 212}


def test_load_returns_a_fresh_copy():
    first = datasets.load("diabetes")
    first.loc[0, "age"] = -1
    assert datasets.load("diabetes").loc[0, "age"] != -1


@pytest.mark.parametrize("key", ["diabetes", "breast_cancer"])
def test_info_matches_the_table(key):
    meta = datasets.info(key)
    frame = datasets.load(key)
    assert (meta.n_rows, meta.n_columns) == frame.shape
    assert [c.name for c in meta.columns] == list(frame.columns)
    assert meta.target in frame.columns and meta.source and meta.licence


def test_list_and_unknown_key():
    assert [d.key for d in datasets.list_datasets()] == ["breast_cancer", "diabetes"]
    with pytest.raises(UnknownDatasetError) as info:
        datasets.load("mimic")
    assert isinstance(info.value, KeyError)
    assert "breast_cancer, diabetes" in str(info.value)
