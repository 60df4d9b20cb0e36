"""The command line explains itself: help pages, --version, listings and confirmations.

In this process through typer's runner (fast); the subprocess tests are in test_cli.py.
"""

from __future__ import annotations

import re

import click
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from synthpatient import __version__
from synthpatient.cli import app
from synthpatient.synthesizers import available_synthesizers, get_synthesizer_class

runner = CliRunner()


def _commands() -> list[tuple[list[str], click.Command]]:
    found = []

    def walk(command: click.Command, path: list[str]) -> None:
        found.append((path, command))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


def test_every_help_page_names_values_and_describes_every_option(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    described = 0
    for path, command in _commands():
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        text = result.output
        for typer_word in ("<bool>", "<list[", "<str>", "<int>", "<path>"):
            assert typer_word not in text, (path, typer_word)
        usage = next(line for line in text.splitlines() if "Usage:" in line)
        assert "{" not in usage, usage  # arguments by name (REAL), not {real}
        assert "[[" not in usage, usage  # an optional argument in one pair of brackets
        ctx = click.Context(command, info_name="synthpatient")
        for param in command.get_params(ctx):
            # typer bundles its own click, whose Option is not click.Option: ask the kind
            if param.param_type_name == "option" and not param.hidden:
                assert param.help, (path, param.name)
                described += 1
        # the docstring's own line breaks do not reach the page
        assert "\n\n\n" not in text
    assert described > 50  # the options were really looked at


def test_top_level_help_lists_every_command_and_version(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    text = runner.invoke(app, ["--help"]).output
    for name in typer.main.get_command(app).commands:  # type: ignore[attr-defined]
        assert re.search(rf"\b{name}\b", text.split("Commands")[0]), name  # in the description
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output.strip() == f"synthpatient {__version__}"


def test_synthesizer_option_lists_the_registered_ones_with_their_extra(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    text = " ".join(runner.invoke(app, ["generate", "--help"]).output.split())
    text = re.sub(r"[│ ]+", " ", text)
    for key in available_synthesizers():
        extra = get_synthesizer_class(key).capabilities.extra
        assert f"{key} (core)" in text if extra is None else f"{key} (extra {extra}," in text


def test_synthesizers_list_never_cuts_a_name_and_says_what_is_installed(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = runner.invoke(app, ["synthesizers", "list"])
    assert result.exit_code == 0 and "…" not in result.output
    for key in available_synthesizers():
        assert get_synthesizer_class(key).__name__ in result.output
    assert "installed" in result.output and "core" in result.output


def test_datasets_list_shows_sources_and_licences() -> None:
    text = runner.invoke(app, ["datasets", "list"], env={"COLUMNS": "200"}).output
    assert text.count("Licence:") == 3 and "LGPL-2" in text and "CC BY 4.0" in text


def test_datasets_split_writes_train_and_holdout(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["datasets", "split", "diabetes"]).exit_code == 0
    train, holdout = pd.read_csv("train.csv"), pd.read_csv("holdout.csv")
    assert (len(train), len(holdout)) == (332, 110)
    assert not set(map(tuple, train.to_numpy())) & set(map(tuple, holdout.to_numpy()))
    again = runner.invoke(app, ["datasets", "split", "diabetes"])
    assert again.exit_code == 2 and "--overwrite" in again.output
    same = runner.invoke(
        app, ["datasets", "split", "pbcseq", "--train", "a.csv", "--holdout", "a.csv"]
    )
    assert same.exit_code == 2 and not (tmp_path / "a.csv").exists()
    by_patient = runner.invoke(
        app, ["datasets", "split", "pbcseq", "--train", "p.csv", "--holdout", "q.csv"]
    )
    assert by_patient.exit_code == 0
    assert not set(pd.read_csv("p.csv")["id"]) & set(pd.read_csv("q.csv")["id"])


def test_benchmark_keeps_the_old_key_option_as_a_hidden_deprecated_alias() -> None:
    result = runner.invoke(
        app, ["benchmark", "--llm-api-key-env", "K", "--llm-base-url", "http://127.0.0.1:9/v1"]
    )
    # the old name still works (and says it is deprecated); the missing model fails at once
    assert result.exit_code == 2
    assert "--llm-api-key-env is deprecated" in result.output
    assert "--llm-base-url and --llm-model go together" in result.output


def test_ask_waits_for_a_confirmation_it_cannot_get_without_a_terminal(tmp_path) -> None:
    result = runner.invoke(
        app, ["ask", "generate 20 type 2 diabetes patients", "-o", str(tmp_path / "c")]
    )
    assert result.exit_code == 2, result.output
    assert "I understood" in result.output and "--yes" in result.output
    assert "Generate it?" not in result.output and not (tmp_path / "c").exists()


@pytest.mark.parametrize("rows", [1])
def test_report_summary_prints_every_score_and_verdict(rows) -> None:
    from synthpatient.evaluation.report import SUMMARY_COLUMNS, EvaluationReport

    summary = pd.DataFrame(
        [
            [
                "privacy",
                "membership_inference",
                0.98765,
                0.0,
                "the attack does no better " * 3,
                "good",
            ]
        ]
        * rows,
        columns=SUMMARY_COLUMNS,
    )
    text = str(EvaluationReport(summary, pd.DataFrame(), {}, {}).summary)
    assert "..." not in text and "0.988" in text and "membership_inference" in text
    assert "the attack does no better the attack does no better" in text


def test_ask_at_a_terminal_generates_only_after_yes(monkeypatch, capsys) -> None:
    import io

    from synthpatient.cli import cohorts

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal())
    answers = iter([False, True])
    monkeypatch.setattr(cohorts.typer, "confirm", lambda *a, **k: next(answers))
    assert cohorts._confirmed() is False and "Not generated." in capsys.readouterr().out
    assert cohorts._confirmed() is True
