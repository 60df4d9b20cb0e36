"""A patients table and an events table given as two files (--patients-table)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.integration.test_cli import run


@pytest.fixture(scope="module")
def two_tables(tmp_path_factory) -> tuple[Path, Path]:
    rng = np.random.default_rng(3)
    folder = tmp_path_factory.mktemp("two")
    n = 40
    patients = pd.DataFrame(
        {
            "subject": np.arange(501, 501 + n),
            "age": rng.integers(30, 80, n),
            "sex": rng.choice(["f", "m"], n),
        }
    )
    rows = []
    for subject, level in zip(patients["subject"], rng.normal(1.0, 0.5, n), strict=True):
        for visit in range(int(rng.integers(2, 6))):
            rows.append({"subject": subject, "day": 90 * visit, "bili": level + 0.1 * visit})
    patients.to_csv(folder / "patients.csv", index=False)
    pd.DataFrame(rows).to_csv(folder / "events.csv", index=False)
    return folder / "patients.csv", folder / "events.csv"


def test_two_files_are_joined_and_learned_as_patients(two_tables, tmp_path):
    patients, events = two_tables
    out = tmp_path / "synthetic.csv"
    args = ["generate", str(events), "--patients-table", str(patients)]
    result = run(*args, "--synthesizer", "sequential", "--rows", "15", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "15 synthetic patients" in result.stdout
    synthetic = pd.read_csv(out)
    assert synthetic["subject"].nunique() == 15
    assert not set(synthetic["subject"]) & set(pd.read_csv(patients)["subject"])
    assert (synthetic.groupby("subject")["sex"].nunique() == 1).all()


def test_a_join_without_a_key_or_with_unknown_patients_is_one_line(two_tables, tmp_path):
    patients, events = two_tables
    renamed = tmp_path / "patients_renamed.csv"
    pd.read_csv(patients).rename(columns={"subject": "person"}).to_csv(renamed, index=False)
    result = run("generate", str(events), "--patients-table", str(renamed), "--out", "x.csv")
    assert result.returncode == 2
    assert "Give --patient-key" in result.stderr and "Traceback" not in result.stderr
    fewer = tmp_path / "patients_fewer.csv"
    pd.read_csv(patients).iloc[5:].to_csv(fewer, index=False)
    out = tmp_path / "never.csv"
    result = run("generate", str(events), "--patients-table", str(fewer), "--out", str(out))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()
    assert "501" not in result.stderr  # no patient id in the message
