"""``synthpatient tables``: several event tables per patient from the command line."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from synthpatient import datasets
from synthpatient.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def relation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 150 nafld patients as a folder with tables.json (small: fits in seconds)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tables = datasets.load_tables("nafld")
    small = tables.subset(tables.patients["id"][tables.patients["id"] <= 150])
    folder = small.write(tmp_path_factory.mktemp("real") / "nafld")
    return folder / "tables.json"


def test_schema_generate_sample_and_evaluate(relation: Path, tmp_path: Path) -> None:
    shown = runner.invoke(app, ["tables", "schema", str(relation)])
    assert shown.exit_code == 0, shown.output
    assert "labs" in shown.output and "diagnoses" in shown.output and "case.id" in shown.output

    out, model = tmp_path / "synthetic", tmp_path / "model"
    made = runner.invoke(
        app,
        ["tables", "generate", str(relation), "--patients", "60", "--out", str(out)]
        + ["--save-model", str(model), "--seed", "4", "--no-evaluate"],
    )
    assert made.exit_code == 0, made.output
    written = json.loads((out / "tables.json").read_text())
    assert set(written["events"]) == {"labs", "diagnoses"}
    patients = pd.read_csv(out / "patients.csv")
    assert len(patients) == 60
    real_ids = set(pd.read_csv(relation.parent / "patients.csv")["id"])
    assert not set(patients["id"]) & real_ids
    labs = pd.read_csv(out / "labs.csv")
    assert set(labs["id"]) <= set(patients["id"])

    again = runner.invoke(
        app, ["tables", "sample", str(model), "--patients", "20", "--out", str(tmp_path / "s")]
    )
    assert again.exit_code == 0, again.output
    assert len(pd.read_csv(tmp_path / "s" / "patients.csv")) == 20

    scores = tmp_path / "scores.json"
    judged = runner.invoke(
        app, ["tables", "evaluate", str(relation), str(out / "tables.json"), "--json", str(scores)]
    )
    assert judged.exit_code == 0, judged.output
    assert "count_correlation" in judged.output
    assert set(json.loads(scores.read_text())["tables"]) == {"labs", "diagnoses"}


def test_bad_input_one_line_exit_2_nothing_overwritten(relation: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"patient_key": "id"}')
    result = runner.invoke(app, ["tables", "schema", str(bad)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "needs 'patients'" in result.output

    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    result = runner.invoke(
        app, ["tables", "generate", str(relation), "--patients", "5", "--out", str(existing)]
    )
    assert result.exit_code == 2
    assert (existing / "keep.txt").read_text() == "mine"

    result = runner.invoke(
        app, ["tables", "generate", str(relation), "--out", str(tmp_path / "x"), "-n", "0"]
    )
    assert result.exit_code == 2 and "--patients" in result.output
    assert not (tmp_path / "x").exists()
