"""`synthpatient benchmark` gives each generator that takes one the dataset's target, gives
every generator the declared schema (--schema), and says in its table what each got.

Through typer's runner with stand-in generators that record what they were given, on a
slice of the bundled table (fast: the real AIM takes minutes a fit on 2 cores).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import synthpatient.benchmark as bench
from synthpatient import datasets
from synthpatient.benchmark import _runner
from synthpatient.benchmark._candidates import Candidate, synthpatient_candidate
from synthpatient.cli import app
from synthpatient.schema import Schema

runner = CliRunner()
ROWS = 80  # the slice each run learns from and is scored against


def _recorder(name: str, got: list[dict[str, Any]], **flags: bool) -> Candidate:
    """A generator that resamples its training rows and records its target and schema."""

    def fit(train: pd.DataFrame, schema: Schema, seed: int, **given: Any) -> pd.DataFrame:
        got.append({"name": name, "schema": schema, **given})
        return train

    def sample(model: pd.DataFrame, n_rows: int, seed: int) -> pd.DataFrame:
        return model.sample(n=n_rows, replace=True, random_state=seed).reset_index(drop=True)

    return Candidate(name, fit, sample, "test", large_sample=False, **flags)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What each stand-in got: one takes a target and the whole schema (as AIM does), the
    other only the column kinds (as a peer in its worker does)."""
    got: list[dict[str, Any]] = []
    stand_ins = [
        _recorder("aimlike", got, takes_target=True, full_schema=True),
        _recorder("peerlike", got),
    ]
    monkeypatch.setattr(bench, "default_candidates", lambda *a, **k: (stand_ins, []))
    small = datasets.load("diabetes").head(ROWS)
    monkeypatch.setattr(
        _runner, "bundled", SimpleNamespace(load=lambda key: small, info=datasets.info)
    )
    return got


def _declared(path: Path) -> Path:
    """The inferred schema of the bundled table with round bounds declared for age."""
    schema = Schema.infer(datasets.load("diabetes"))
    schema.replace("age", minimum=0, maximum=120, observed=False).to_json(path)
    return path


def test_the_target_and_the_declared_schema_reach_the_generators_and_the_table(
    recorded: list[dict[str, Any]], tmp_path: Path
) -> None:
    schema_file = _declared(tmp_path / "declared.json")
    result = runner.invoke(
        app,
        ["benchmark", "--seeds", "1", "--schema", str(schema_file), "--out", str(tmp_path / "b")],
    )
    assert result.exit_code == 0, result.output
    by_name = {g["name"]: g for g in recorded}
    assert by_name["aimlike"]["target"] == "progression"  # diabetes' column to predict
    assert "target" not in by_name["peerlike"]  # it takes none: none is passed
    for got in by_name.values():  # the declared bound, not the one read from the rows
        assert got["schema"]["age"].maximum == 120
    summary = json.loads((tmp_path / "b" / "results.json").read_text(encoding="utf-8"))["summary"]
    given = {row["synthesizer"]: (row["target"], row["schema"]) for row in summary}
    assert given == {
        "aimlike": ("progression", "declared (declared.json)"),
        "peerlike": (None, "declared (declared.json), column kinds only"),
    }
    table = (tmp_path / "b" / "results.md").read_text(encoding="utf-8")
    assert "| synthesizer | target | schema |" in table
    assert "| aimlike | progression | declared (declared.json) |" in table
    assert "| peerlike | – | declared (declared.json), column kinds only |" in table


def test_without_a_schema_each_generator_gets_the_inferred_one(
    recorded: list[dict[str, Any]], tmp_path: Path
) -> None:
    result = runner.invoke(app, ["benchmark", "--seeds", "1", "--out", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert all(g["schema"]["age"].maximum != 120 for g in recorded)
    table = (tmp_path / "b" / "results.md").read_text(encoding="utf-8")
    assert "| aimlike | progression | inferred |" in table
    assert "| peerlike | – | inferred, column kinds only |" in table


def test_a_schema_that_does_not_fit_the_dataset_fails_before_any_run(
    recorded: list[dict[str, Any]], tmp_path: Path
) -> None:
    schema = Schema.infer(datasets.load("diabetes"))
    narrow = schema.replace("age", minimum=0, maximum=30, observed=False)
    narrow.to_json(tmp_path / "narrow.json")
    result = runner.invoke(
        app,
        [
            "benchmark",
            "--datasets",
            "diabetes,breast_cancer",
            "--schema",
            str(tmp_path / "narrow.json"),
            "--out",
            str(tmp_path / "b"),
        ],
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "does not fit the dataset 'diabetes'" in result.output
    assert "value(s) above the maximum" in result.output  # counted, never quoted
    assert not recorded and not (tmp_path / "b").exists()
    schema.to_json(tmp_path / "diabetes.json")
    other = runner.invoke(
        app,
        ["benchmark", "--datasets", "diabetes,breast_cancer"]
        + ["--schema", str(tmp_path / "diabetes.json"), "--out", str(tmp_path / "b")],
    )
    assert other.exit_code == 2 and "does not fit the dataset 'breast_cancer'" in other.output
    assert not recorded


def test_our_synthesizers_take_the_target_by_their_signature(monkeypatch) -> None:
    from synthpatient.synthesizers.aim import AIMSynthesizer

    # AIM's constructor has a target (its workload weights the target's marginals); the
    # copula's has none; a target fixed in the parameters is kept
    assert synthpatient_candidate("aim").takes_target
    assert not synthpatient_candidate("copula").takes_target
    assert not synthpatient_candidate("aim", target="age").takes_target
    monkeypatch.setattr(AIMSynthesizer, "fit", lambda self, data, schema=None: self)
    model = synthpatient_candidate("aim").fit(pd.DataFrame(), None, 0, target="progression")
    assert model.target == "progression"


def test_a_checkpoint_saved_without_the_target_is_run_again(tmp_path: Path, monkeypatch) -> None:
    got: list[dict[str, Any]] = []
    small = datasets.load("diabetes").head(ROWS)
    monkeypatch.setattr(
        _runner, "bundled", SimpleNamespace(load=lambda key: small, info=datasets.info)
    )
    plain = _recorder("aimlike", got, full_schema=True)
    _runner.run_benchmark([plain], seeds=1, checkpoint=tmp_path)
    assert len(got) == 1
    again = _recorder("aimlike", got, takes_target=True, full_schema=True)
    result = _runner.run_benchmark([again], seeds=1, checkpoint=tmp_path)
    assert len(got) == 2 and got[-1]["target"] == "progression"  # not the saved run
    assert result.runs.iloc[0]["target"] == "progression"
    _runner.run_benchmark([again], seeds=1, checkpoint=tmp_path)
    assert len(got) == 2  # now saved with the target: read back
