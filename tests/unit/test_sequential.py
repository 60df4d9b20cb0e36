"""The sequential synthesizer on tiny long tables: whole patients, in time, with trajectories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthpatient.errors import ConditionError, DataError, ModelFileError
from synthpatient.synthesizers import Synthesizer, get_synthesizer_class

SequentialSynthesizer = get_synthesizer_class("sequential")
STATIC = ["age", "sex", "group"]


def make_visits(n_patients: int = 40, n_visits: int = 5, seed: int = 0) -> pd.DataFrame:
    """Patients with static age/sex/group and visits whose 'level' is a strongly persistent
    random walk around a patient mean, 'noise' fresh per visit, 'stage' rising now and then
    and 'lab' sometimes missing."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        age, sex = int(rng.integers(30, 80)), str(rng.choice(["f", "m"]))
        group = str(rng.choice(["a", "b", "c"]))
        level, stage, day = rng.normal(10, 3), int(rng.integers(1, 3)), 0
        for _ in range(int(rng.integers(2, n_visits + 1))):
            rows.append(
                {
                    "pid": 500 + p,
                    "age": age,
                    "sex": sex,
                    "group": group,
                    "day": day,
                    "level": round(level, 2),
                    "noise": round(rng.normal(0, 1), 2),
                    "stage": stage,
                    "lab": np.nan if rng.random() < 0.2 else round(rng.normal(5, 1), 2),
                }
            )
            level += rng.normal(0, 0.5)
            stage = min(stage + int(rng.random() < 0.2), 4)
            day += int(rng.integers(60, 400))
    return pd.DataFrame(rows)


def lag1(frame: pd.DataFrame, column: str) -> float:
    """Pooled correlation of each value with the same patient's next one."""
    same = frame["pid"].eq(frame["pid"].shift())
    return float(frame[column].shift()[same].corr(frame[column][same]))


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    return make_visits()


@pytest.fixture(scope="module")
def fitted(real):
    return SequentialSynthesizer(seed=0).fit(real)


@pytest.fixture(scope="module")
def synthetic(fitted):
    return fitted.sample(200, seed=1)


def test_sample_counts_patients_and_keeps_the_layout(synthetic, real):
    assert synthetic["pid"].nunique() == 200
    assert list(synthetic.columns) == list(real.columns)
    assert len(synthetic) > 200


def test_static_columns_are_constant_within_each_patient(synthetic):
    assert (synthetic.groupby("pid")[STATIC].nunique() == 1).all().all()


def test_times_strictly_increase_within_each_patient(synthetic):
    steps = synthetic.groupby("pid")["day"].diff().dropna()
    assert (steps > 0).all()
    assert (synthetic.groupby("pid")["day"].min() >= 0).all()


def test_persistent_column_keeps_its_lag1_correlation_and_the_rowwise_copula_does_not(
    real, synthetic
):
    copula = get_synthesizer_class("copula")(seed=0).fit(real)
    rows = copula.sample(len(synthetic), seed=1)
    rows["pid"] = synthetic["pid"].to_numpy()  # the same patients' shapes, rows drawn apart
    rows = rows.sort_values(["pid", "day"], kind="stable")
    assert lag1(real, "level") > 0.8
    assert lag1(synthetic, "level") > lag1(real, "level") - 0.15
    assert lag1(synthetic, "level") > lag1(rows, "level") + 0.4
    assert abs(lag1(synthetic, "noise")) < 0.3  # fresh per visit stays fresh


def test_events_per_patient_follow_the_real_distribution(real, synthetic):
    real_counts = real.groupby("pid").size().value_counts(normalize=True).sort_index()
    counts = synthetic.groupby("pid").size().value_counts(normalize=True).sort_index()
    assert counts.index.min() >= real_counts.index.min()
    assert counts.index.max() <= real_counts.index.max()
    assert abs(counts.reindex(real_counts.index, fill_value=0) - real_counts).max() < 0.15


def test_missing_values_and_categories_are_learned(real, synthetic):
    assert abs(synthetic["lab"].isna().mean() - real["lab"].isna().mean()) < 0.1
    assert set(synthetic["stage"]) <= set(real["stage"])
    real_kept = (real["stage"].diff() == 0)[real["pid"].eq(real["pid"].shift())].mean()
    kept = (synthetic["stage"].diff() == 0)[synthetic["pid"].eq(synthetic["pid"].shift())].mean()
    assert kept > 0.5 * real_kept


def test_patient_ids_are_new(real, synthetic):
    assert not set(synthetic["pid"]) & set(real["pid"])
    assert synthetic.groupby("pid", sort=False).ngroup().is_monotonic_increasing


def test_conditions_on_patient_columns_return_whole_patients(fitted, real):
    out = fitted.sample(30, conditions={"sex": "f", "age": (50, None)}, seed=2)
    assert out["pid"].nunique() == 30
    assert (out["sex"] == "f").all() and (out["age"] >= 50).all()
    counts = out.groupby("pid").size()
    assert counts.min() >= 1 and counts.max() <= real.groupby("pid").size().max()


def test_a_condition_on_a_visit_column_is_refused_in_one_line(fitted):
    with pytest.raises(ConditionError, match="'level'.*whole patients") as info:
        fitted.sample(5, conditions={"level": (0, 5)})
    assert "\n" not in str(info.value)


def test_same_seed_same_patients(fitted):
    pd.testing.assert_frame_equal(fitted.sample(20, seed=5), fitted.sample(20, seed=5))
    assert not fitted.sample(20, seed=5).equals(fitted.sample(20, seed=6))


def test_save_load_round_trip(fitted, tmp_path):
    fitted.save(tmp_path / "model")
    loaded = Synthesizer.load(tmp_path / "model")
    pd.testing.assert_frame_equal(fitted.sample(25, seed=7), loaded.sample(25, seed=7))


def test_a_tampered_correlation_is_refused(fitted, tmp_path):
    saved = fitted.to_saved()
    arrays = dict(saved.arrays)
    arrays["steps_correlation"] = arrays["steps_correlation"] * 2
    broken = type(saved)(saved.manifest, saved.schema, saved.state, arrays)
    with pytest.raises(ModelFileError, match="'steps' model is not a correlation matrix"):
        SequentialSynthesizer.from_saved(broken)


def test_one_row_per_patient_is_refused_in_one_line(real):
    with pytest.raises(DataError, match="one row per patient") as info:
        SequentialSynthesizer().fit(
            real.drop_duplicates("pid"),
        )
    assert "\n" not in str(info.value)


def test_too_few_patients_is_refused(real):
    few = real[real["pid"] < 505]
    with pytest.raises(DataError, match="at least 10 patients"):
        SequentialSynthesizer().fit(few)


def test_dates_as_time_and_given_key(real):
    dated = real.assign(day=pd.Timestamp("2015-01-01") + pd.to_timedelta(real["day"], "D"))
    synth = SequentialSynthesizer(patient_key="pid", time_column="day", seed=0).fit(dated)
    out = synth.sample(30, seed=1)
    assert pd.api.types.is_datetime64_any_dtype(out["day"])
    assert (out.groupby("pid")["day"].diff().dropna() > pd.Timedelta(0)).all()
    assert out["day"].min() >= dated["day"].min() and out["day"].max() <= dated["day"].max()


def test_row_order_when_there_is_no_time_column(real):
    synth = SequentialSynthesizer(seed=0).fit(real.drop(columns="day"))
    out = synth.sample(30, seed=1)
    assert list(out.columns) == [c for c in real.columns if c != "day"]
    assert lag1(out, "level") > 0.5


def test_event_times_stay_below_a_patient_column_they_never_pass():
    # follow-up ends at 'futime' (death, transplant or censoring): no real visit is after it,
    # so no synthetic one is either
    rng = np.random.default_rng(4)
    rows = []
    for pid in range(60):
        futime = int(rng.integers(200, 3000))
        days = np.sort(
            rng.choice(np.arange(0, futime), size=int(rng.integers(2, 7)), replace=False)
        )
        level = rng.normal(2.0, 0.5)
        for day in days:
            rows.append({"id": pid + 1, "futime": futime, "day": int(day), "bili": level})
    long = pd.DataFrame(rows)
    model = SequentialSynthesizer(seed=0, patient_key="id", time_column="day").fit(long)
    assert model.layout_["time_bounds"] == ["futime"]
    synthetic = model.sample(200, seed=1)
    assert (synthetic["day"] <= synthetic["futime"] + 1).all()
