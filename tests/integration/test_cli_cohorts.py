"""``synthpatient ask`` and ``chat`` end to end, in real subprocesses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd


def run(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "synthpatient", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
        input=stdin,
    )


def test_ask_generates_then_answers_sources(tmp_path):
    result = run(
        "ask",
        "generate 300 Type 2 diabetes patients EHR data with 20 important "
        "diabetes observations based on the US population, seed 12",
        "--yes",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.index("I understood: 300 adults") < result.stdout.index("Generated")
    folder = tmp_path / "cohort"
    wide = pd.read_csv(folder / "patients.csv")
    assert len(wide) == 300 and wide["hba1c"].notna().all()
    assert len(pd.read_csv(folder / "observations.csv")) == 300 * 20
    assert len(list((folder / "fhir").glob("*.json"))) == 300
    provenance = json.loads((folder / "provenance.json").read_text())
    assert provenance["seed"] == 12 and provenance["knowledge_base"]["version"]
    assert provenance["request"]["count"] == 300 and provenance["sources"]
    # 300 patients: a prevalence target can miss by chance (about 2 seeds in 3 miss at least one);
    # the realism summary is printed and no more than one target is off
    met = re.search(r"\b(\d+)/(\d+) sourced targets met", result.stdout.replace("\n", " "))
    assert met and int(met.group(2)) >= 20 and int(met.group(2)) - int(met.group(1)) <= 1

    answer = run("ask", "which sources did you use?", cwd=tmp_path)
    assert answer.returncode == 0 and "The last cohort" in answer.stdout
    for source in provenance["sources"]:
        assert f"[{source['id']}]" in answer.stdout

    again = run("ask", "generate 10 diabetic patients", "--yes", cwd=tmp_path)
    assert again.returncode == 2 and "--overwrite" in again.stdout + again.stderr
    assert len(pd.read_csv(folder / "patients.csv")) == 300  # nothing lost


def test_ask_bad_requests_exit_2_without_traceback(tmp_path):
    for text in (
        "generate 0 diabetes patients",
        "generate 100 lupus patients",
        "100 men who are pregnant with diabetes",
        "y" * 5000,
    ):
        result = run("ask", text, cwd=tmp_path)
        assert result.returncode == 2, (text, result.stdout)
        assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "cohort").exists()


def test_chat_keeps_context(tmp_path):
    script = (
        "\n".join(
            [
                "generate 200 type 2 diabetes patients with 6 observations seed 1",
                "yes",
                "now make them all over 65",
                "add eGFR",
                "yes",
                "export as FHIR",  # already written with the cohort: said, not copied
                "export as FHIR ndjson",
                "which sources did you use?",
                "quit",
            ]
        )
        + "\n"
    )
    result = run("chat", cwd=tmp_path, stdin=script)
    assert result.returncode == 0, result.stderr
    second = pd.read_csv(tmp_path / "cohort-2" / "patients.csv")
    assert second["age"].min() >= 65 and "egfr" in second.columns
    assert "already written" in result.stdout
    # the export adds the FHIR beside the cohort's files, never a copy of them elsewhere
    ndjson = tmp_path / "cohort-2" / "fhir-ndjson" / "Patient.ndjson"
    assert len(ndjson.read_text().splitlines()) == 200
    assert not (tmp_path / "cohort-3").exists()
    provenance = json.loads((tmp_path / "cohort-2" / "provenance.json").read_text())
    assert "fhir-ndjson" in provenance["files"] and "fhir" in provenance["files"]
    assert "fhir-ndjson/Patient.ndjson" in provenance["sha256"]
    assert "[ndsr_2022]" in result.stdout
