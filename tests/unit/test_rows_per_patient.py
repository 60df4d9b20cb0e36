"""A row-wise generator fitted on a visit-level table says that each synthetic row is a new
patient, and a private one gives its budget per patient, never silently."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from synthpatient.errors import SynthPatientWarning
from synthpatient.schema import repeated_patient_key
from synthpatient.synthesizers import make_synthesizer


def _visits(n_patients: int = 120, seed: int = 0, rows: int | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = rng.integers(1, 4, n_patients) if rows is None else np.full(n_patients, rows)
    pid = np.repeat(np.arange(5000, 5000 + n_patients), rows)
    sex = np.repeat(rng.choice(["f", "m"], n_patients), rows)
    age = np.repeat(rng.integers(30, 80, n_patients), rows)
    return pd.DataFrame(
        {
            "record": pid,
            "sex": sex,
            "age": age,
            "sbp": rng.normal(130, 15, len(pid)).round(),
            "site": rng.choice([f"s{i}" for i in range(8)], len(pid)),
        }
    )


def test_a_row_wise_fit_on_visits_names_the_patients_and_the_sequential_synthesizer():
    visits = _visits()
    with pytest.warns(SynthPatientWarning, match=r"'record' groups the \d+ rows into 120"):
        make_synthesizer("copula", seed=0).fit(visits)
    with warnings.catch_warnings():  # one row per patient: nothing to say
        warnings.filterwarnings("error", message=".*groups the", category=SynthPatientWarning)
        make_synthesizer("copula", seed=0).fit(visits.drop_duplicates("record"))


def test_a_repeating_code_without_patient_attributes_is_not_a_patient_key():
    visits = _visits()
    assert repeated_patient_key(visits, ["site"]) is None  # 8 sites: nothing constant in them
    key = repeated_patient_key(visits, ["site", "record"])
    assert key is not None and key.name == "record" and key.n_patients == 120


def test_a_private_fit_on_visits_gives_its_epsilon_per_patient():
    pytest.importorskip("mbi", reason="the dp extra is not installed")
    visits = _visits(1200, rows=3)  # exactly 3 rows per patient
    with pytest.warns(SynthPatientWarning, match=r"protected at 3 x epsilon = 3"):
        model = make_synthesizer("mst", epsilon=1.0, seed=0).fit(visits)
    spent = model.privacy_spent_
    assert spent["max_rows_per_patient"] == 3 and spent["epsilon_per_patient"] == 3.0
    assert "per patient epsilon = 3" in spent["preprocessing"]
