"""The copula fitted from a partitioned Parquet dataset (synthpatient.scale.fit_partitioned)
and the mergeable quantile sketch it rests on."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthpatient import GaussianCopulaSynthesizer
from synthpatient.errors import DataError, InvalidParameterError, SynthPatientWarning
from synthpatient.scale import _sketch, fit_partitioned, sample_partitioned
from synthpatient.scale._sketch import GRID, MixtureCDF, NumericSketch
from synthpatient.synthesizers import Synthesizer
from synthpatient.synthesizers._marginals import CategoricalMarginal, NumericMarginal


# -- the sketch -------------------------------------------------------------------------------
def _merged(batches: list[np.ndarray]) -> NumericSketch:
    sketch = NumericSketch.of(batches[0])
    for batch in batches[1:]:
        sketch = sketch.merge(NumericSketch.of(batch))
    return sketch


def test_sketch_of_few_distinct_values_is_exact() -> None:
    rng = np.random.default_rng(0)
    batches = [rng.integers(0, 90, 3000).astype(float) for _ in range(3)]
    batches[1][:50] = np.nan
    sketch = _merged(batches)
    everything = np.concatenate(batches)
    present = everything[~np.isnan(everything)]
    levels = np.linspace(0, 1, 37)
    assert sketch.exact and sketch.rank_error == 0.0 and sketch.missing == 50
    np.testing.assert_allclose(sketch.quantiles(levels), np.quantile(present, levels))
    low, high = MixtureCDF.of(sketch).interval(np.array([10.0, 10.5]))
    assert low[0] == pytest.approx(np.mean(present < 10)) and high[0] == pytest.approx(
        np.mean(present <= 10)
    )
    assert low[1] == high[1] == pytest.approx(np.mean(present <= 10))


def test_sketch_ranks_stay_within_the_stated_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    # few grids allowed, so that compression (and its added error) is exercised
    monkeypatch.setattr(_sketch, "MAX_GRIDS", 3)
    rng = np.random.default_rng(1)
    batches = [rng.lognormal(i % 3, 1.0, 6000) for i in range(7)]
    sketch = _merged(batches)
    everything = np.sort(np.concatenate(batches))
    assert not sketch.exact and sketch.compressions >= 1
    assert sketch.rank_error == (1 + sketch.compressions) / GRID
    probe = everything[:: len(everything) // 500]
    low, high = MixtureCDF.of(sketch).interval(probe)
    true = np.searchsorted(everything, probe, side="right") / len(everything)
    assert np.abs(high - true).max() <= sketch.rank_error + 1 / len(everything)
    levels = np.linspace(0, 1, 101)
    ranks = np.searchsorted(everything, sketch.quantiles(levels), side="right") / len(everything)
    assert np.abs(ranks - levels).max() <= sketch.rank_error + 2 / len(everything)
    assert sketch.minimum == everything[0] and sketch.maximum == everything[-1]


# -- the streamed fit -------------------------------------------------------------------------
def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(20, 90, n)
    ldl = np.round(90 + 0.8 * age + rng.normal(0, 15, n), 1)
    smoker = np.where(ldl > np.quantile(ldl, 0.7), "current", rng.choice(["never", "former"], n))
    hdl = np.round(60 - 0.2 * age + rng.normal(0, 8, n), 1)
    hdl[rng.random(n) < 0.15] = np.nan
    visit = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")
    return pd.DataFrame({"age": age, "ldl": ldl, "hdl": hdl, "smoker": smoker, "visit": visit})


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("stream") / "data"
    folder.mkdir()
    data = _table(6000, 3)
    data.loc[17, "smoker"] = "rarely"  # one row: the 300-row sample almost surely misses it
    for i in range(3):
        data.iloc[i * 2000 : (i + 1) * 2000].to_parquet(folder / f"part-{i:05d}.parquet")
    return folder, data


def test_streamed_copula_matches_the_in_memory_fit(dataset: tuple[Path, pd.DataFrame]) -> None:
    folder, data = dataset
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SynthPatientWarning)
        memory = GaussianCopulaSynthesizer(seed=0).fit(data)
        streamed = fit_partitioned(folder, GaussianCopulaSynthesizer(seed=0), sample_rows=300)
    report = streamed.fit_report_  # type: ignore[attr-defined]
    assert report.rows == 6000 and report.sample_rows == 300 and report.partitions == 3
    assert streamed.columns_ == memory.columns_ and streamed.n_training_rows_ == 6000
    # every value of the whole data, not the sample's: the rare category, bounds, nullability
    assert "rarely" in streamed.schema_["smoker"].categories
    assert streamed.schema_["hdl"].nullable
    assert streamed.schema_["age"].minimum == data["age"].min()
    for a, b in zip(memory.marginals_, streamed.marginals_, strict=True):
        if isinstance(a, NumericMarginal):
            np.testing.assert_allclose(a.quantiles, b.quantiles)  # exact below 4,096 values
        else:
            assert isinstance(b, CategoricalMarginal)
            assert sorted(b.categories) == sorted(a.categories)
    assert np.abs(memory.correlation_ - streamed.correlation_).max() < 0.06
    assert streamed.missing_trees_  # hdl's missingness is learned (on the sample)
    rows = streamed.sample(4000, seed=1)
    assert 0.1 < rows["hdl"].isna().mean() < 0.2
    assert pd.api.types.is_datetime64_any_dtype(rows["visit"])
    assert rows[["age", "ldl"]].corr().iloc[0, 1] == pytest.approx(
        data[["age", "ldl"]].corr().iloc[0, 1], abs=0.06
    )


def test_streamed_model_saves_as_a_copula_folder(
    dataset: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    folder, _ = dataset
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SynthPatientWarning)
        model = fit_partitioned(folder, "copula", sample_rows=300)
    model.save(tmp_path / "model")
    loaded = Synthesizer.load(tmp_path / "model")
    assert isinstance(loaded, GaussianCopulaSynthesizer)
    pd.testing.assert_frame_equal(loaded.sample(50, seed=2), model.sample(50, seed=2))
    manifest = sample_partitioned(tmp_path / "model", 300, tmp_path / "out", partition_size=150)
    assert manifest.complete and manifest.rows == 300


def test_other_synthesizers_fit_on_a_sample_with_a_notice(
    dataset: tuple[Path, pd.DataFrame],
) -> None:
    folder, _ = dataset
    with pytest.warns(SynthPatientWarning, match="uniform sample of 200 of the 6,000 rows"):
        model = fit_partitioned(folder, "cart", sample_rows=200)
    assert model.n_training_rows_ == 200


def test_bad_sources_and_sizes_fail_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="holds no .parquet file"):
        fit_partitioned(tmp_path)
    with pytest.raises(DataError, match="is not there"):
        fit_partitioned(tmp_path / "nowhere")
    with pytest.raises(InvalidParameterError, match="sample_rows"):
        fit_partitioned(tmp_path, sample_rows=0)
    _table(50, 0).to_parquet(tmp_path / "part-0.parquet")
    _table(50, 1).drop(columns=["hdl"]).to_parquet(tmp_path / "part-1.parquet")
    with pytest.raises(DataError, match="'part-1.parquet' has other columns"):
        fit_partitioned(tmp_path)


def test_a_dask_dataframe_is_a_source_too(dataset: tuple[Path, pd.DataFrame]) -> None:
    dd = pytest.importorskip("dask.dataframe")
    folder, data = dataset
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SynthPatientWarning)
        from_folder = fit_partitioned(folder, "copula", sample_rows=300)
        from_dask = fit_partitioned(dd.from_pandas(data, npartitions=4), "copula", sample_rows=300)
    assert from_dask.n_training_rows_ == 6000  # type: ignore[attr-defined]
    for a, b in zip(from_folder.marginals_, from_dask.marginals_, strict=True):  # type: ignore[attr-defined]
        if isinstance(a, NumericMarginal):
            np.testing.assert_allclose(a.quantiles, b.quantiles)
    assert np.abs(from_folder.correlation_ - from_dask.correlation_).max() < 0.05  # type: ignore[attr-defined]


def test_cli_fit_reads_a_folder_of_partitions(
    dataset: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from synthpatient.cli import app

    folder, _ = dataset
    runner = CliRunner()
    args = ["fit", str(folder), "--model", str(tmp_path / "m"), "--seed", "0"]
    result = runner.invoke(app, [*args, "--sample-rows", "300"])
    assert result.exit_code == 0, result.output
    assert "Learned from 6,000 rows in 3 partitions" in " ".join(result.output.split())
    assert Synthesizer.load(tmp_path / "m").n_training_rows_ == 6000
    result = runner.invoke(app, [*args[:3], str(tmp_path / "m2"), "--identifier", "age"])
    assert result.exit_code == 2 and "--schema" in result.output


def test_declared_bounds_are_checked_on_every_row(dataset: tuple[Path, pd.DataFrame]) -> None:
    from synthpatient.schema import Schema

    folder, data = dataset
    schema = Schema.infer(data).replace("age", maximum=88.5)
    with pytest.raises(DataError, match="'age' has values above the schema's maximum"):
        fit_partitioned(folder, schema=schema, sample_rows=10)  # the sample has no 89
