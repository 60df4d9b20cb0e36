"""The command line on long tables (several rows per patient), issue 15's bad input end to end.

`synthpatient generate DATA --synthesizer sequential` on a table of one row per patient, a
patient over the event limit (the default, or one given with `-p max_events_per_patient=`),
an identifier that changes within a patient, no time at all, a
condition on a visit column: one `Error:` line, exit code 2, no traceback, nothing written.
Times out of order, duplicate (patient, time) rows and rows without a time: counted repairs in
one warning, and the patients are written. No message shows a patient's id, name, phone or a
measured value. The bad-input cases run in process (typer's runner: the same app, parsing and
error handling, without a Python start per case); the happy path on the bundled pbcseq, then
`synthpatient evaluate` on it, in real processes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from synthpatient.cli import app
from synthpatient.longitudinal import MAX_EVENTS_PER_PATIENT

PBCSEQ = Path(__file__).resolve().parents[2] / "src/synthpatient/datasets/data/pbcseq.csv"
SECRET = 876.543  # a measured value no message may show


def visits(n_patients: int = 24, seed: int = 0) -> pd.DataFrame:
    """A made-up visit table: MRN, name and phone repeated per patient, 2-5 visits each."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        sex = "F" if p % 2 else "M"
        age = int(rng.integers(35, 80))
        for v in range(int(rng.integers(2, 6))):
            rows.append(
                {
                    "mrn": f"MRN{7_700_000 + 37 * p}",
                    "full_name": f"Zebulon{p} Q. Farnsworth",
                    "phone": f"(312) 867-{5300 + p}",
                    "sex": sex,
                    "age": age,
                    "day": 90 * v + int(rng.integers(0, 30)),
                    "hba1c": round(float(rng.normal(7.5, 0.8)), 2),
                    "sbp": int(rng.integers(110, 170)),
                }
            )
    frame = pd.DataFrame(rows)
    frame.loc[3, "hba1c"] = SECRET
    return frame


def patient_values(frame: pd.DataFrame) -> set[str]:
    values = {str(v) for c in ("mrn", "full_name", "phone") for v in frame[c].unique()}
    return values | {str(SECRET)}


def invoke(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result.exit_code, output


def one_row_per_patient(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.groupby("mrn").head(1)


def over_the_limit(frame: pd.DataFrame) -> pd.DataFrame:
    first = frame.iloc[[0]]
    many = first.loc[first.index.repeat(MAX_EVENTS_PER_PATIENT + 1)]
    return pd.concat([many.assign(day=np.arange(len(many))), frame], ignore_index=True)


def name_changes(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out.loc[1, "full_name"] = "Zebulon99 R. Someone-Else"  # row 1 is patient 0's second visit
    return out


def no_time(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(day=np.nan)


ERRORS: dict[str, tuple[Callable[[pd.DataFrame], pd.DataFrame], list[str], str]] = {
    "one row per patient": (one_row_per_patient, [], "not longitudinal"),
    "a patient over the event limit": (
        over_the_limit,
        [],
        f"1 patient of key 'mrn' have more than {MAX_EVENTS_PER_PATIENT} events",
    ),
    "a patient over a limit given with -p": (
        lambda f: f,
        ["-p", "max_events_per_patient=3"],
        "have more than 3 events, the limit",
    ),
    "an identifier that changes within a patient": (
        name_changes,
        [],
        "'full_name' differs within 1 patient",
    ),
    "no time value at all": (no_time, [], "day have no values at all"),
    "a condition on a visit column": (
        lambda f: f,
        ["--condition", "hba1c=6..9"],
        "changes between a patient's events",
    ),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_bad_long_table_one_line_exit_2_nothing_written(case, tmp_path):
    make, extra, expected = ERRORS[case]
    table = make(visits())
    data = tmp_path / "visits.csv"
    table.to_csv(data, index=False)
    out = tmp_path / "out" / "synthetic.csv"
    out.parent.mkdir()
    code, output = invoke(
        "generate", data, "--synthesizer", "sequential", "--rows", 5, "--out", out, *extra
    )
    assert code == 2, output
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, output
    assert expected in errors[0], errors[0]
    assert not any(value in output for value in patient_values(table)), output
    assert list(out.parent.iterdir()) == []  # no output, no temporary left behind


def unsorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[::-1]


def duplicated(frame: pd.DataFrame) -> pd.DataFrame:
    copies = frame.iloc[[0, 5]]  # exact copies of two visits
    same_time = frame.iloc[[8]].assign(sbp=frame["sbp"].iloc[8] + 1)  # same patient and day
    return pd.concat([frame.iloc[:9], copies, same_time, frame.iloc[9:]], ignore_index=True)


def some_times_missing(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out.loc[out.index[2::7], "day"] = np.nan
    return out


def _n_unsorted(frame: pd.DataFrame) -> str:
    return f"sorted the events of {int((frame.groupby('mrn').size() > 1).sum())} patients"


REPAIRS: dict[str, tuple[Callable[[pd.DataFrame], pd.DataFrame], Callable[..., str]]] = {
    "times out of order": (unsorted, _n_unsorted),
    "duplicate (patient, time) rows": (
        duplicated,
        lambda f: "dropped 2 rows that repeated another row exactly",
    ),
    "rows with no time": (
        some_times_missing,
        lambda f: f"dropped {int(f['day'].isna().sum())} rows with no time value in 'day'",
    ),
}


@pytest.mark.parametrize("case", list(REPAIRS))
def test_repairs_are_counted_and_reported_not_errors(case, tmp_path):
    make, expected = REPAIRS[case]
    table = make(visits())
    data = tmp_path / "visits.csv"
    table.to_csv(data, index=False)
    out = tmp_path / "synthetic.csv"
    code, output = invoke(
        "generate", data, "-s", "sequential", "--rows", 5, "--out", out, "--seed", 1
    )
    assert code == 0, output
    flat = " ".join(output.split())  # the terminal may wrap the warning
    assert "The long table was repaired" in flat and expected(table) in flat, flat
    if case.startswith("duplicate"):
        assert "kept 2 rows (1 patient) that share their patient and time" in flat
    assert not any(value in output for value in patient_values(table)), output
    synthetic = pd.read_csv(out)
    assert synthetic["mrn"].nunique() == 5
    assert not set(synthetic["mrn"]) & set(table["mrn"])
    assert not set(synthetic["full_name"]) & set(table["full_name"])
    assert (synthetic.groupby("mrn")["day"].diff().dropna() >= 0).all()


def run(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "synthpatient", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"COLUMNS": "200", "NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
        timeout=300,
    )


def test_pbcseq_thirty_new_patients_then_evaluate_by_patient(tmp_path):
    real = pd.read_csv(PBCSEQ)
    done = run(
        "generate", PBCSEQ, "-s", "sequential", "--rows", 30, "--out", "s.csv", "--seed", 0,
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "Wrote 30 synthetic patients" in " ".join(done.stdout.split())
    synthetic = pd.read_csv(tmp_path / "s.csv")
    assert list(synthetic.columns) == list(real.columns)
    assert synthetic["id"].nunique() == 30
    assert not set(synthetic["id"]) & set(real["id"])  # fresh ids, none a real patient's
    per_patient = synthetic.groupby("id")
    assert (per_patient["day"].diff().dropna() >= 0).all()
    assert (per_patient[["sex", "age", "trt", "futime"]].nunique() == 1).all().all()

    done = run(
        "evaluate", PBCSEQ, "s.csv", "--patient-key", "id", "--time-column", "day",
        "--json", "scores.json",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    scores = json.loads((tmp_path / "scores.json").read_text())
    timeline = scores["meta"]["timeline"]
    assert (timeline["patient_key"], timeline["time_column"]) == ("id", "day")
    assert timeline["n_real_patients"] == 312 and timeline["n_synthetic_patients"] == 30
    ran = {row["metric"]: row["score"] for row in scores["summary"]}
    for key in ("events_per_patient", "lag1_correlation", "static_constancy", "detection"):
        assert np.isfinite(ran[key]), key
    assert ran["static_constancy"] == 1.0
    assert scores["sections"]["detection"]["folds"] == "by patient"
