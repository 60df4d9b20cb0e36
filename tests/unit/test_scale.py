"""Partitioned sampling: same partitions whatever the engine, resumable, ids unique."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthpatient.errors import DataError, InvalidParameterError
from synthpatient.scale import sample_partitioned
from synthpatient.synthesizers import make_synthesizer


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    real = pd.DataFrame(
        {
            "record_id": np.arange(1, 301),
            "age": rng.integers(20, 90, 300),
            "sex": rng.choice(["f", "m"], 300),
            "hba1c": rng.normal(7, 1.2, 300).round(1),
        }
    )
    path = tmp_path_factory.mktemp("scale") / "model"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        make_synthesizer("copula", seed=0).fit(real).save(path)
    return path


def test_partitions_hold_every_row_with_unique_ids(model: Path, tmp_path: Path) -> None:
    manifest = sample_partitioned(model, 2500, tmp_path / "out", partition_size=1000, seed=7)
    assert manifest.complete and manifest.rows == 2500
    assert [manifest.partitions[i].rows for i in range(3)] == [1000, 1000, 500]
    frame = pd.read_parquet(tmp_path / "out")  # _manifest.json is skipped by the reader
    assert len(frame) == 2500
    assert frame["record_id"].is_unique and frame["record_id"].min() > 300
    written = json.loads((tmp_path / "out" / "_manifest.json").read_text())
    assert written["complete"] and len(written["partitions"]) == 3


def test_same_seed_same_bytes_and_an_interrupted_run_resumes(model: Path, tmp_path: Path) -> None:
    first = sample_partitioned(model, 3000, tmp_path / "a", partition_size=1000, seed=2)

    class Stop(Exception):
        pass

    def stop_after_one(done: int, total: int) -> None:
        if done == 1:
            raise Stop

    with pytest.raises(Stop):
        sample_partitioned(
            model, 3000, tmp_path / "b", partition_size=1000, seed=2, progress=stop_after_one
        )
    seen: list[int] = []
    resumed = sample_partitioned(
        model,
        3000,
        tmp_path / "b",
        partition_size=1000,
        seed=2,
        progress=lambda done, total: seen.append(done),
    )
    assert seen == [2, 3]  # the finished partition was not drawn again
    assert {i: p.sha256 for i, p in resumed.partitions.items()} == {
        i: p.sha256 for i, p in first.partitions.items()
    }


def test_a_folder_of_something_else_is_refused_untouched(model: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "mine.csv").write_text("keep")
    with pytest.raises(DataError, match="not empty"):
        sample_partitioned(model, 10, other)
    assert (other / "mine.csv").read_text() == "keep"
    sample_partitioned(model, 10, tmp_path / "c", partition_size=5, seed=1)
    with pytest.raises(DataError, match="another partitioned sample"):
        sample_partitioned(model, 10, tmp_path / "c", partition_size=5, seed=2)
    with pytest.raises(InvalidParameterError, match="partition_size"):
        sample_partitioned(model, 10, tmp_path / "d", partition_size=0)
    with pytest.raises(DataError, match="not a saved model folder"):
        sample_partitioned(tmp_path, 10, tmp_path / "e")


def test_cohort_partitions_number_patients_across_the_whole_dataset(tmp_path: Path) -> None:
    from synthpatient.knowledge import CohortSpec

    spec = CohortSpec(condition="type2_diabetes", n=1, n_observations=5)
    manifest = sample_partitioned(
        spec, 900, tmp_path / "cohort", partition_size=400, seed=3, tables=["patients"]
    )
    assert [manifest.partitions[i].rows for i in range(3)] == [400, 400, 100]
    wide = pd.read_parquet(tmp_path / "cohort" / "patients")
    assert wide["patient_id"].is_unique
    assert wide["patient_id"].iloc[-1] == "P0000900"
    again = sample_partitioned(
        spec, 900, tmp_path / "again", partition_size=400, seed=3, tables=["patients"]
    )
    assert again.partitions[2].sha256 == manifest.partitions[2].sha256


def test_cli_sample_with_an_engine_writes_partitions(model: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from synthpatient.cli import app

    runner = CliRunner()
    args = ["sample", str(model), "--rows", "250", "--out", str(tmp_path / "parts")]
    result = runner.invoke(app, [*args, "--engine", "local", "--partition-size", "100"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "parts").iterdir())
    assert names[:2] == ["_manifest.json", "datacard.json"]
    assert {"datacard.md", "provenance.json", "part-00000.parquet"} <= set(names)
    assert "Data card and provenance" in result.output
    result = runner.invoke(app, [*args, "--engine", "local", "--condition", "sex=f"])
    assert result.exit_code == 2 and "--condition" in result.output  # never dropped unsaid
    result = runner.invoke(app, [*args, "--engine", "spark"])
    assert result.exit_code == 2 and "--engine must be local or dask" in result.output
