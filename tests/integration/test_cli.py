"""The command line end to end, in real subprocesses: the happy paths and every bad input."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import make_clinical_table

# A value no message may ever show: it is a "patient's" value in the tables below.
SECRET = 987654.125


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "synthpatient", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


@pytest.fixture(scope="module")
def real_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "real.csv"
    table = make_clinical_table(200, seed=5)
    table.loc[3, "bmi"] = SECRET
    table.to_csv(path, index=False)
    return path


def test_generate_csv_and_parquet(real_csv, tmp_path):
    result = run("generate", real_csv, "--rows", 150, "--seed", 3, "--out", tmp_path / "s.csv")
    assert result.returncode == 0, result.stderr
    assert "patient_id" in result.stderr  # identifiers are announced as not learned
    synthetic = pd.read_csv(tmp_path / "s.csv")
    assert len(synthetic) == 150 and list(synthetic.columns) == list(pd.read_csv(real_csv).columns)
    result = run(
        "generate",
        real_csv,
        "-n",
        40,
        "--seed",
        3,
        "-c",
        "sex=female",
        "-c",
        "age=40..65",
        "--out",
        tmp_path / "s.parquet",
    )
    assert result.returncode == 0, result.stderr
    conditioned = pd.read_parquet(tmp_path / "s.parquet")
    assert len(conditioned) == 40 and (conditioned["sex"] == "female").all()
    assert conditioned["age"].between(40, 65).all()


def test_fit_then_sample_in_new_processes_is_reproducible(real_csv, tmp_path):
    assert run("fit", real_csv, "--model", tmp_path / "model", "--seed", 1).returncode == 0
    for name in ("a.csv", "b.csv"):
        result = run(
            "sample", tmp_path / "model", "--rows", 60, "--seed", 9, "--out", tmp_path / name
        )
        assert result.returncode == 0, result.stderr
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv"))


def test_lists_and_schema(real_csv, tmp_path):
    listed = run("synthesizers", "list")
    assert listed.returncode == 0 and "copula" in listed.stdout
    result = run("schema", real_csv, "--out", tmp_path / "schema.json")
    assert result.returncode == 0, result.stderr
    assert str(SECRET) not in (tmp_path / "schema.json").read_text()
    result = run(
        "generate",
        real_csv,
        "--schema",
        tmp_path / "schema.json",
        "--rows",
        20,
        "--out",
        tmp_path / "out.csv",
    )
    assert result.returncode == 0, result.stderr


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


BAD_INPUTS = {
    "missing file": (
        lambda t, r: ["generate", t / "nope.csv", "--out", t / "o.csv"],
        "does not exist",
    ),
    "folder as file": (lambda t, r: ["generate", t, "--out", t / "o.csv"], "is a folder"),
    "empty file": (
        lambda t, r: ["generate", _write(t, "e.csv", ""), "--out", t / "o.csv"],
        "empty",
    ),
    "header only": (
        lambda t, r: ["generate", _write(t, "h.csv", "a,b\n"), "--out", t / "o.csv"],
        "no rows",
    ),
    "not utf-8": (
        lambda t, r: ["generate", _write(t, "b.csv", b"a,b\n\xff\xfe,1\n"), "--out", t / "o.csv"],
        "UTF-8",
    ),
    "duplicate columns": (
        lambda t, r: ["generate", _write(t, "d.csv", "a,a\n1,2\n3,4\n"), "--out", t / "o.csv"],
        "duplicate column",
    ),
    "empty column": (
        lambda t, r: ["generate", _write(t, "c.csv", "a,b\n1,\n2,\n" * 1), "--out", t / "o.csv"],
        "no values",
    ),
    "single row": (
        lambda t, r: ["generate", _write(t, "s.csv", f"a,b\n{SECRET},2\n"), "--out", t / "o.csv"],
        "at least 10 rows",
    ),
    "mixed types": (
        lambda t, r: [
            "generate",
            _write(t, "m.csv", "a\n" + "1\n2\n3\nhigh\n" * 5),
            "--out",
            t / "o.csv",
        ],
        "mixes numbers and text",
    ),
    "unknown synthesizer": (
        lambda t, r: ["generate", r, "-s", "magic", "--out", t / "o.csv"],
        "Unknown synthesizer 'magic'",
    ),
    "impossible category": (
        lambda t, r: ["generate", r, "-c", "sex=other", "--out", t / "o.csv"],
        "Impossible condition",
    ),
    "impossible range": (
        lambda t, r: ["generate", r, "-c", "bmi=5000000..", "--out", t / "o.csv"],
        "Impossible condition",
    ),
    "malformed condition": (
        lambda t, r: ["generate", r, "-c", "sex", "--out", t / "o.csv"],
        "COLUMN=VALUE",
    ),
    "zero rows": (
        lambda t, r: ["generate", r, "--rows", "0", "--out", t / "o.csv"],
        "--rows must be at least 1",
    ),
    "negative rows": (
        lambda t, r: ["generate", r, "--rows", "-5", "--out", t / "o.csv"],
        "--rows must be at least 1",
    ),
    "missing output folder": (
        lambda t, r: ["generate", r, "--out", t / "no" / "o.csv"],
        "does not exist",
    ),
    "bad output extension": (lambda t, r: ["generate", r, "--out", t / "o.xlsx"], "extension"),
    "not a model": (lambda t, r: ["sample", t, "--out", t / "o.csv"], "manifest"),
    "zero epsilon": (
        lambda t, r: ["generate", r, "-s", "tvae", "--epsilon", "0", "--out", t / "o.csv"],
        "'epsilon'",
    ),
    "negative epsilon": (
        lambda t, r: ["generate", r, "-s", "mst", "--epsilon", "-1", "--out", t / "o.csv"],
        "'epsilon'",
    ),
    "epsilon for copula": (
        lambda t, r: ["generate", r, "--epsilon", "1", "--out", t / "o.csv"],
        "no parameter 'epsilon'",
    ),
    "delta too large": (
        lambda t, r: [
            "generate",
            r,
            "-s",
            "ctgan",
            "--epsilon",
            "1",
            "--delta",
            "0.1",
            "-p",
            "steps=5",
            "--out",
            t / "o.csv",
        ],
        "below 1/n",
    ),
    "too few rows for a network": (
        lambda t, r: [
            "generate",
            _write(t, "f.csv", "a,b\n" + "1,2\n3,5\n" * 10),
            "-s",
            "ctgan",
            "--out",
            t / "o.csv",
        ],
        "Gaussian copula",
    ),
    "unknown parameter": (
        lambda t, r: ["generate", r, "-s", "tvae", "-p", "stepz=5", "--out", t / "o.csv"],
        "no parameter 'stepz'",
    ),
    "malformed parameter": (
        lambda t, r: ["generate", r, "-s", "tvae", "-p", "steps", "--out", t / "o.csv"],
        "KEY=VALUE",
    ),
    "benchmark checkpoint missing": (
        lambda t, r: ["benchmark", "--lm-checkpoint", t / "nowhere", "--out", t / "bench"],
        "not a checkpoint folder",
    ),
    "benchmark llm bad url": (
        lambda t, r: [
            "benchmark",
            "--llm-base-url",
            "ftp://x",
            "--llm-model",
            "m",
            "--out",
            t / "bench",
        ],
        "http:// or https://",
    ),
    "benchmark llm without model": (
        lambda t, r: ["benchmark", "--llm-base-url", "http://127.0.0.1:9/v1", "--out", t / "bench"],
        "go together",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_line_exit_2_and_no_output(case, tmp_path, real_csv):
    make_args, expected = BAD_INPUTS[case]
    work = tmp_path / "work"
    work.mkdir()
    result = run(*make_args(work, real_csv))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert str(SECRET) not in result.stderr + result.stdout
    assert not (work / "o.csv").exists() and not (work / "o.xlsx").exists()
    assert not [p for p in work.iterdir() if p.name.startswith(".")]  # no temp files left


def test_existing_output_refused_unless_overwrite(real_csv, tmp_path):
    target = tmp_path / "o.csv"
    target.write_text("precious\n")
    result = run("generate", real_csv, "--rows", 10, "--out", target)
    assert result.returncode == 2 and "already exists" in result.stderr
    assert target.read_text() == "precious\n"
    result = run("generate", real_csv, "--rows", 10, "--out", target, "--overwrite")
    assert result.returncode == 0 and len(pd.read_csv(target)) == 10


def test_demo_writes_its_folder_and_a_quality_summary(tmp_path):
    import json

    result = run("demo", "--out", tmp_path / "demo", "--rows", 300)
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "demo"
    assert sorted(p.name for p in folder.iterdir()) == [
        "datacard.json",
        "datacard.md",
        "model",
        "quality.json",
        "report.html",
        "schema.json",
        "synthetic.csv",
    ]
    assert len(pd.read_csv(folder / "synthetic.csv")) == 300
    summary = json.loads((folder / "quality.json").read_text())
    assert 0.8 < summary["score"] <= 1
    assert summary["n_real_rows"] + summary["n_holdout_rows"] == 442
    assert {row["family"] for row in summary["evaluation"]} >= {
        "fidelity",
        "utility",
        "privacy",
        "consistency",
        "representation",
    }
    assert '<img src="data:image/png;base64,' in (folder / "report.html").read_text()
    assert str(folder.resolve()) in result.stdout.replace("\n", "")
    again = run("demo", "--out", folder, "--rows", 300)
    assert again.returncode == 2 and "--overwrite" in again.stderr


@pytest.fixture(scope="module")
def evaluation_files(tmp_path_factory, real_csv):
    folder = tmp_path_factory.mktemp("eval")
    table = pd.read_csv(real_csv)
    table.iloc[:150].to_csv(folder / "train.csv", index=False)
    table.iloc[150:].to_csv(folder / "holdout.csv", index=False)
    assert (
        run(
            "generate",
            folder / "train.csv",
            "--rows",
            300,
            "--seed",
            2,
            "--out",
            folder / "synthetic.csv",
        ).returncode
        == 0
    )
    (folder / "rules.yaml").write_text(
        "rules:\n  - id: bmi\n    range: {column: bmi, min: 10, max: 80}\n"
        "  - id: dead-have-cause\n"
        "    implies: {if: 'died == True', then: 'notnull(cause_of_death)'}\n"
    )
    return folder


def test_evaluate_writes_report_and_json(evaluation_files, tmp_path):
    import json

    f = evaluation_files
    result = run(
        "evaluate",
        f / "train.csv",
        f / "synthetic.csv",
        "--holdout",
        f / "holdout.csv",
        "--target",
        "died",
        "--rules",
        f / "rules.yaml",
        "--seeds",
        2,
        "--report",
        tmp_path / "r.html",
        "--json",
        tmp_path / "s.json",
    )
    assert result.returncode == 0, result.stderr
    assert "membership_inference" in result.stdout and "rule_violations" in result.stdout
    scores = json.loads((tmp_path / "s.json").read_text())
    assert {r["metric"] for r in scores["summary"]} >= {"quality", "ml_utility", "dcr"}
    assert (tmp_path / "r.html").read_text().startswith("<!doctype html>")


EVALUATE_BAD = {
    "rules syntax": (
        lambda f, t: ["--rules", _write(t, "bad.yaml", "rules:\n  - id: [a\n")],
        r"line \d+, column \d+",
    ),
    "unknown rule pack": (lambda f, t: ["--rules", "kidney"], "shipped pack"),
    "missing target": (lambda f, t: ["--target", "outcome"], "target column 'outcome'"),
    "different columns": (
        lambda f, t: ["--holdout", _write(t, "h.csv", "a,b\n1,2\n")],
        "does not have the real table's columns",
    ),
    "zero seeds": (lambda f, t: ["--seeds", "0"], "seeds"),
}


@pytest.mark.parametrize("case", sorted(EVALUATE_BAD))
def test_evaluate_bad_input(case, evaluation_files, tmp_path):
    make_args, expected = EVALUATE_BAD[case]
    f = evaluation_files
    result = run(
        "evaluate",
        f / "train.csv",
        f / "synthetic.csv",
        *make_args(f, tmp_path),
        "--report",
        tmp_path / "r.html",
    )
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and re.search(expected, lines[0]), result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "r.html").exists()
    assert str(SECRET) not in result.stderr + result.stdout


def test_private_fit_prints_and_saves_the_spent_budget(real_csv, tmp_path):
    result = run(
        "fit",
        real_csv,
        "-s",
        "tvae",
        "--epsilon",
        "2",
        "-p",
        "steps=20",
        "-p",
        "batch_size=50",
        "--seed",
        0,
        "--model",
        tmp_path / "m",
    )
    assert result.returncode == 0, result.stderr
    assert "spent epsilon = 2" in result.stdout
    assert "were read from the data" in result.stderr  # inferred bounds: warned, not hidden
    result = run("sample", tmp_path / "m", "-n", 5, "--out", tmp_path / "s.csv")
    assert result.returncode == 0 and "spent epsilon = 2" in result.stdout
