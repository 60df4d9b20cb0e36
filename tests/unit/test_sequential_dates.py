"""Dates of an event other than its time (a discharge, a result date) stay next to it."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from synthpatient.synthesizers.sequential import SequentialSynthesizer


def _admissions(n_patients: int = 80, seed: int = 0) -> pd.DataFrame:
    """Patients with 2-6 admissions each; a discharge 1-12 days after each admission."""
    rng = np.random.default_rng(seed)
    rows = []
    for patient in range(1, n_patients + 1):
        admitted = pd.Timestamp("2015-01-01") + pd.Timedelta(days=int(rng.integers(0, 900)))
        sex = rng.choice(["f", "m"])
        for _ in range(int(rng.integers(2, 7))):
            stay = int(rng.integers(1, 13))
            rows.append(
                {
                    "patient_id": patient,
                    "sex": sex,
                    "admitted": admitted,
                    "discharged": admitted + pd.Timedelta(days=stay),
                    "crp": float(rng.lognormal(2, 0.6)),
                }
            )
            admitted += pd.Timedelta(days=stay + int(rng.integers(20, 200)))
    return pd.DataFrame(rows)


def test_discharge_stays_after_its_admission() -> None:
    real = _admissions()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SequentialSynthesizer(patient_key="patient_id", time_column="admitted", seed=1).fit(
            real
        )
    assert model.layout_["offsets"] == ["discharged"]
    synthetic = model.sample(150, seed=2)
    stay = (synthetic["discharged"] - synthetic["admitted"]).dt.days
    assert (stay >= 1).mean() >= 0.99  # the real stays are 1 to 12 days, every one
    assert stay.median() == np.clip(stay.median(), 4, 9)  # real median is 6-7 days
    assert stay.max() <= 30


def test_saved_model_keeps_the_offsets(tmp_path) -> None:
    real = _admissions(40, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SequentialSynthesizer(patient_key="patient_id", seed=1).fit(real)
    path = model.save(tmp_path / "model")
    loaded = SequentialSynthesizer.load(path)
    pd.testing.assert_frame_equal(model.sample(20, seed=4), loaded.sample(20, seed=4))
