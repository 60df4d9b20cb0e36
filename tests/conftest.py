"""Shared fixtures: a made-up mixed clinical table with the traps real EHR extracts have."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def make_clinical_table(n_rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """Ids, names, emails, dates, a boolean, a rare category, integers, skewed labs, missing
    values, and a cause of death recorded only for patients who died."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, n_rows)
    sex = rng.choice(["female", "male"], n_rows)
    bmi = np.round(rng.normal(28 + 0.03 * (age - 50), 5, n_rows).clip(15, 60), 1)
    hba1c = np.round(np.exp(rng.normal(np.log(6.5), 0.15, n_rows)) + 0.01 * (bmi - 28), 1)
    died = rng.random(n_rows) < 0.15 + 0.004 * (age - 50).clip(0)
    cause = np.where(died, rng.choice(["cardiac", "cancer", "infection"], n_rows), None)
    smoker = rng.choice(["never", "former", "current", "unknown-rare"], n_rows,
                        p=[0.5, 0.3, 0.18, 0.02])
    admitted = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1000, n_rows), "D")
    ldl = np.round(rng.gamma(8, 15, n_rows), 0)
    ldl_missing = rng.random(n_rows) < np.where(age > 60, 0.3, 0.05)
    return pd.DataFrame({
        "patient_id": np.arange(1000, 1000 + n_rows),
        "name": [f"Person {i} Realname" for i in range(n_rows)],
        "email": [f"person{i}@hospital.org" for i in range(n_rows)],
        "age": age,
        "sex": sex,
        "bmi": bmi,
        "hba1c": hba1c,
        "ldl": np.where(ldl_missing, np.nan, ldl),
        "smoker": smoker,
        "on_insulin": rng.random(n_rows) < 0.3,
        "admitted": admitted,
        "died": died,
        "cause_of_death": cause,
    })


@pytest.fixture
def clinical_table() -> pd.DataFrame:
    return make_clinical_table()


@pytest.fixture(scope="session")
def diabetes() -> pd.DataFrame:
    from sklearn.datasets import load_diabetes

    return load_diabetes(as_frame=True, scaled=False).frame
