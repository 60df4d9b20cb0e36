"""Shared fixtures: a made-up mixed clinical table with the traps real EHR extracts have.

Also the suite's torch settings, set here before any test module imports torch (and passed
on to the command-line runs the tests start): one torch thread per process, whose OpenMP
runtime sleeps when idle. The suite's networks are tiny, so one thread is about as fast on an
idle machine, and on a busy one torch's threads would otherwise wait for each other far
longer than they compute. Either can be overridden from the environment.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

# before any test module imports torch (numpy, pandas and pytest do not load OpenMP)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("SYNTHPATIENT_THREADS", "1")


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
    smoker = rng.choice(
        ["never", "former", "current", "unknown-rare"], n_rows, p=[0.5, 0.3, 0.18, 0.02]
    )
    admitted = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1000, n_rows), "D")
    ldl = np.round(rng.gamma(8, 15, n_rows), 0)
    ldl_missing = rng.random(n_rows) < np.where(age > 60, 0.3, 0.05)
    return pd.DataFrame(
        {
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
        }
    )


@pytest.fixture
def clinical_table() -> pd.DataFrame:
    return make_clinical_table()


@pytest.fixture(scope="session")
def diabetes() -> pd.DataFrame:
    from sklearn.datasets import load_diabetes

    return load_diabetes(as_frame=True, scaled=False).frame


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fuzz-examples",
        type=int,
        default=None,
        metavar="N",
        help="Examples per hypothesis property test (default: each test's own small number, "
        "drawn the same way every run). Give e.g. 2000 for a long, randomised fuzzing run.",
    )


@pytest.fixture
def fuzz_settings(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """``fuzz_settings(default)`` -> hypothesis settings with ``default`` examples, or
    ``--fuzz-examples N``. Default runs are derandomised (the suite is repeatable), stop at the
    first failure and do not shrink it (shrinking a slow pipeline can take many minutes); a
    long run explores new examples each time, shrinks them and reports every distinct bug."""
    from hypothesis import HealthCheck, Phase, settings

    chosen = request.config.getoption("--fuzz-examples")

    def make(default: int) -> settings:
        phases = list(Phase) if chosen else [Phase.explicit, Phase.reuse, Phase.generate]
        return settings(
            max_examples=chosen or default,
            deadline=None,
            database=None,
            derandomize=chosen is None,
            print_blob=True,
            phases=phases,
            report_multiple_bugs=bool(chosen),
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
                HealthCheck.filter_too_much,
                HealthCheck.large_base_example,
            ],
        )

    return make
