"""Evaluation of a partitioned synthetic dataset: fidelity from mergeable summaries equals the
in-memory report on the same rows; the other metrics run on a uniform sample."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthpatient.errors import DataError
from synthpatient.evaluation.fidelity import quality_report
from synthpatient.scale import evaluate_partitioned, partitioned_quality
from synthpatient.schema import Schema


def _table(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(20, 90, n)
    ldl = np.round(90 + 0.8 * age + rng.normal(shift, 15, n), 1)
    hdl = np.round(60 - 0.3 * age + rng.normal(0, 6, n), 1)
    hdl[rng.random(n) < 0.1] = np.nan
    smoker = np.where(ldl > 150, "current", rng.choice(["never", "former"], n)).astype(object)
    smoker[rng.random(n) < 0.05] = None
    visit = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")
    return pd.DataFrame(
        {"age": age, "ldl": ldl, "hdl": hdl, "smoker": smoker, "sex": rng.integers(1, 3, n)}
    ).assign(visit=visit)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame, Path]:
    real = _table(800, 0)
    synthetic = _table(3000, 1, shift=4.0)
    synthetic.loc[5, "smoker"] = "sometimes"  # a category the real table never has
    folder = tmp_path_factory.mktemp("partitioned") / "synthetic"
    folder.mkdir()
    for i in range(3):
        synthetic.iloc[i * 1000 : (i + 1) * 1000].to_parquet(folder / f"part-{i:05d}.parquet")
    (folder / "_manifest.json").write_text("{}")  # not a partition: left alone
    return real, synthetic, folder


def _sdtypes(real: pd.DataFrame) -> dict[str, str]:
    return Schema.infer(real).sdtypes()


def test_summaries_give_the_in_memory_quality(
    data: tuple[pd.DataFrame, pd.DataFrame, Path],
) -> None:
    real, synthetic, folder = data
    sdtypes = _sdtypes(real)
    assert set(sdtypes.values()) >= {"numerical", "categorical", "datetime"}
    expected = quality_report(real, synthetic, sdtypes, num_rows_subsample=None)
    got = partitioned_quality(real, folder, sdtypes)
    assert got.score == pytest.approx(expected.score, abs=1e-12)
    pd.testing.assert_frame_equal(got.column_details, expected.column_details)
    columns = ["column_1", "column_2", "metric", "meets_threshold"]
    pd.testing.assert_frame_equal(got.pair_details[columns], expected.pair_details[columns])
    for name in ("score", "similarity", "synthetic_correlation", "real_association"):
        np.testing.assert_allclose(
            got.pair_details[name], expected.pair_details[name], rtol=0, atol=1e-12
        )
    assert got.pair_details["meets_threshold"].any()  # something is actually compared
    assert expected.score < 0.999  # and the tables differ


def test_dask_workers_give_the_same_summaries(
    data: tuple[pd.DataFrame, pd.DataFrame, Path],
) -> None:
    distributed = pytest.importorskip("distributed")
    real, _, folder = data
    sdtypes = _sdtypes(real)
    local = partitioned_quality(real, folder, sdtypes)
    # two in-process workers reached by address: the scheduler path, without the seconds
    # that starting worker processes takes (sample_partitioned's tests start those)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        dask = partitioned_quality(
            real, folder, sdtypes, engine="dask", scheduler=cluster.scheduler_address
        )
    assert dask.score == local.score
    pd.testing.assert_frame_equal(dask.column_details, local.column_details)


def test_report_states_what_used_every_row_and_what_a_sample(
    data: tuple[pd.DataFrame, pd.DataFrame, Path],
) -> None:
    real, synthetic, folder = data
    report = evaluate_partitioned(
        real,
        folder,
        sample_rows=500,
        metrics=["quality", "column_shapes", "exact_copies"],
        seeds=2,
    )
    scores = report.summary.set_index("metric")["score"]
    full = quality_report(real, synthetic, _sdtypes(real), num_rows_subsample=None)
    assert scores["quality"] == pytest.approx(full.score)
    assert scores["column_shapes"] == pytest.approx(full.column_shapes)
    assert report.meta["n_synthetic"] == 3000 and report.meta["n_synthetic_sample"] == 500
    assert any("uniform sample of 500 of the 3,000" in n for n in report.meta["notices"])
    assert json.loads(report.to_json())["meta"]["n_synthetic"] == 3000


def test_cli_evaluates_a_partitioned_folder(
    data: tuple[pd.DataFrame, pd.DataFrame, Path], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from synthpatient.cli import app

    real, _, folder = data
    real.to_parquet(tmp_path / "real.parquet")
    runner = CliRunner()
    args = ["evaluate", str(tmp_path / "real.parquet"), str(folder), "--sample-rows", "300"]
    result = runner.invoke(app, [*args, "--json", str(tmp_path / "scores.json")])
    assert result.exit_code == 0, result.output
    assert "uniform sample of 300 of the 3,000" in " ".join(result.output.split())
    assert json.loads((tmp_path / "scores.json").read_text())["meta"]["n_synthetic"] == 3000
    result = runner.invoke(app, [*args, "--rules", "diabetes", "--flags", str(tmp_path / "f.csv")])
    assert result.exit_code == 2 and "--flags needs one synthetic table" in result.output
    result = runner.invoke(app, [*args, "--engine", "spark"])
    assert result.exit_code == 2 and "--engine must be local or dask" in result.output


def test_a_dataset_without_the_real_columns_is_refused(
    data: tuple[pd.DataFrame, pd.DataFrame, Path], tmp_path: Path
) -> None:
    real, synthetic, _ = data
    synthetic.drop(columns=["ldl"]).to_parquet(tmp_path / "part-0.parquet")
    with pytest.raises(DataError, match="lacks the column"):
        partitioned_quality(real, tmp_path, _sdtypes(real))
