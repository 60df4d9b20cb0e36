"""``synthpatient generate --schema DESCRIPTION`` without a REAL table: the from-schema path."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from synthpatient.cli import app


def test_generate_with_a_description_alone_writes_what_from_schema_writes(tmp_path):
    runner = CliRunner()
    alias, direct = tmp_path / "alias.csv", tmp_path / "direct.csv"
    common = ["--rows", "30", "--seed", "3"]
    result = runner.invoke(
        app, ["generate", "--schema", "admissions", "--out", str(alias), *common]
    )
    assert result.exit_code == 0, result.output
    assert "Medication: from the knowledge base's drug list" in result.output
    assert "relation_violations" in result.output  # the evaluation without real data
    result = runner.invoke(app, ["from-schema", "admissions", "--out", str(direct), *common])
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(pd.read_csv(alias), pd.read_csv(direct))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "Give the REAL table, or --schema"),
        (["--schema", "admissions", "--epsilon", "1"], "--epsilon: only with a REAL table"),
        (["--schema", "admissions", "--condition", "Age>40"], "--condition: only with a REAL"),
        (["--schema", "admissions", "-s", "ctgan"], "the ctgan synthesizer"),
        (["--schema", "admissions", "-p", "epochs=2"], "need a REAL table to fit"),
        (["--schema", "admissions", "-s", "llm", "-p", "foo=1"], "no parameter 'foo'"),
    ],
)
def test_options_a_description_cannot_honour_are_refused(tmp_path, extra, message):
    out = tmp_path / "x.csv"
    result = CliRunner().invoke(app, ["generate", "--out", str(out), "--rows", "5", *extra])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output and not out.exists()


def test_generate_with_a_description_through_an_llm(tmp_path):
    pytest.importorskip("httpx")
    from tests.fake_llm_server import FakeLLMServer

    out = tmp_path / "llm.csv"
    with FakeLLMServer(json_schema_status=500) as server:
        result = CliRunner().invoke(
            app,
            [
                "generate",
                "--schema",
                "admissions",
                "--rows",
                "12",
                "--seed",
                "0",
                "--out",
                str(out),
                "-s",
                "llm",
                "-p",
                f"base_url={server.url}",
                "-p",
                "model=fake-llm",
                "-p",
                "rows_per_request=12",
            ],
        )
        assert server.requests  # the model was asked
    assert result.exit_code == 0, result.output
    assert "written by the LLM" in result.output
    assert len(pd.read_csv(out)) == 12


def test_an_llm_run_that_stops_still_prints_its_report(tmp_path):
    """A forced structured output the server refuses (llama.cpp: HTTP 500 to json_schema)
    ends with the run's counts and one line, never a traceback or a bare error."""
    pytest.importorskip("httpx")
    from synthpatient import datasets
    from tests.fake_llm_server import FakeLLMServer

    real = tmp_path / "real.csv"
    datasets.load("diabetes").head(60).to_csv(real, index=False)
    out = tmp_path / "llm.csv"
    with FakeLLMServer(json_schema_status=500) as server:
        result = CliRunner().invoke(
            app,
            ["generate", str(real), "-s", "llm", "--rows", "10", "--out", str(out)]
            + ["-p", f"base_url={server.url}", "-p", "model=fake-llm"]
            + ["-p", "structured_output=json_schema", "-p", "backoff_s=0"],
        )
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "0 of 10 rows delivered" in text and "1 failed" in text
    assert "HTTP 500" in text and ".." not in text and "Traceback" not in text
    assert not out.exists()
