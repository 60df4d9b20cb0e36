"""ML utility: TSTR versus TRTR; real-as-synthetic gives ratio 1, a shuffled target far less."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.model_selection import train_test_split

from synthpatient.errors import DataError, InvalidParameterError, SynthPatientWarning
from synthpatient.evaluation import get_metric_class
from synthpatient.evaluation.evaluate import evaluate
from synthpatient.evaluation.utility import ml_utility, size_curve
from tests.conftest import make_clinical_table


def shuffled_target(frame: pd.DataFrame, target: str, seed: int = 0) -> pd.DataFrame:
    """Same features, target permuted: all feature-target signal destroyed."""
    out = frame.copy()
    out[target] = np.random.default_rng(seed).permutation(out[target].to_numpy())
    return out


@pytest.fixture(scope="module")
def cancer() -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = load_breast_cancer(as_frame=True).frame
    train, holdout = train_test_split(frame, test_size=0.3, random_state=0, stratify=frame.target)
    return train, holdout


@pytest.fixture(scope="module")
def diabetes_split() -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = load_diabetes(as_frame=True, scaled=False).frame
    train, holdout = train_test_split(frame, test_size=0.3, random_state=0)
    return train, holdout


def test_classification_real_as_synthetic_ratio_one(cancer):
    train, holdout = cancer
    result = ml_utility(train, train, holdout, target="target", seed=0)
    assert result.task == "classification" and result.primary_metric == "roc_auc"
    assert result.score == pytest.approx(1.0)
    for model in ("linear", "gbm"):
        for metric in ("roc_auc", "accuracy", "f1_macro"):
            assert result.metrics[model][metric]["ratio"] == pytest.approx(1.0)
        assert result.metrics[model]["roc_auc"]["trtr"] > 0.95
    json.dumps(result.details)
    json.dumps(result.metrics)


def test_classification_shuffled_target_far_below_one(cancer):
    train, holdout = cancer
    result = ml_utility(train, shuffled_target(train, "target"), holdout, target="target", seed=0)
    assert result.score < 0.7
    assert result.metrics["gbm"]["roc_auc"]["ratio"] < 0.7
    assert result.metrics["gbm"]["roc_auc"]["tstr"] < 0.65  # near chance


def test_regression_real_as_synthetic_and_shuffled(diabetes_split):
    train, holdout = diabetes_split
    same = ml_utility(train, train, holdout, target="target", seed=0)
    assert same.task == "regression" and same.primary_metric == "r2"
    assert same.score == pytest.approx(1.0)
    assert same.metrics["linear"]["r2"]["trtr"] > 0.3
    assert same.metrics["linear"]["mae"]["ratio"] == pytest.approx(1.0)
    shuffled = ml_utility(train, shuffled_target(train, "target"), holdout, target="target", seed=0)
    assert shuffled.score < 0.3
    assert shuffled.metrics["linear"]["mae"]["ratio"] > 1.1  # MAE: above 1 is worse


def test_holdout_split_off_real_when_none():
    frame = load_breast_cancer(as_frame=True).frame
    result = ml_utility(frame, frame, target="target", seed=1, models=("linear",))
    assert result.details["n_holdout"] == pytest.approx(0.25 * len(frame), abs=1)
    assert "stratified" in result.details["holdout"]
    again = ml_utility(frame, frame, target="target", seed=1, models=("linear",))
    assert again.metrics == result.metrics


def test_mixed_table_multiclass_and_missing_class():
    real = make_clinical_table(500, seed=1)
    holdout = make_clinical_table(300, seed=2)
    synthetic = make_clinical_table(500, seed=3)
    result = ml_utility(real, synthetic, holdout, target="smoker", seed=0)
    assert result.task == "classification" and np.isfinite(result.score)
    # a class the synthetic table lacks is not patched in; its AUC counts as chance
    lacking = synthetic[synthetic["smoker"] != "current"]
    partial = ml_utility(real, lacking, holdout, target="smoker", seed=0)
    assert np.isfinite(partial.metrics["gbm"]["roc_auc"]["tstr"])
    assert (lacking["smoker"] != "current").all()
    boolean = ml_utility(real, synthetic, holdout, target="died", seed=0, models=("gbm",))
    assert boolean.details["positive_class"] == "True"


def test_task_override_and_bad_task(diabetes_split):
    train, holdout = diabetes_split
    result = ml_utility(
        train, train, holdout, target="sex", task="classification", seed=0, models=("linear",)
    )
    assert result.task == "classification"
    with pytest.raises(InvalidParameterError, match="task"):
        ml_utility(train, train, holdout, target="target", task="ranking")
    with pytest.raises(InvalidParameterError, match="models"):
        ml_utility(train, train, holdout, target="target", models=("forest",))


def test_errors_name_columns_not_values(cancer):
    train, holdout = cancer
    with pytest.raises(DataError, match="'outcome' is not in the real"):
        ml_utility(train, train, holdout, target="outcome")
    with pytest.raises(DataError, match="not in the synthetic"):
        ml_utility(train, train.drop(columns=["target"]), holdout, target="target")
    with pytest.raises(DataError, match="constant in the synthetic") as info:
        ml_utility(train, train.assign(target=1), holdout, target="target")
    assert "1" not in str(info.value).replace("at least two", "")
    with pytest.raises(DataError, match="constant in the real"):
        ml_utility(train.assign(target=0), train, holdout, target="target")
    with pytest.raises(DataError, match="mean radius") as info:
        ml_utility(train, train.drop(columns=["mean radius"]), holdout, target="target")
    assert "lacks 1 column" in str(info.value)
    with pytest.raises(DataError, match="extra"):
        ml_utility(train, train.assign(extra=0.0), holdout, target="target")
    with pytest.raises(DataError, match="holdout"):
        ml_utility(train, train, holdout.drop(columns=["worst area"]), target="target")


def test_inputs_are_never_modified():
    real = make_clinical_table(300, seed=1)
    holdout = make_clinical_table(200, seed=2)
    synthetic = make_clinical_table(300, seed=3)
    copies = [frame.copy(deep=True) for frame in (real, holdout, synthetic)]
    ml_utility(real, synthetic, holdout, target="died", seed=0)
    ml_utility(real, synthetic, None, target="bmi", seed=0)
    size_curve(real, {1.0: synthetic}, holdout, target="hba1c", seed=0)
    for frame, original in zip((real, holdout, synthetic), copies, strict=True):
        pd.testing.assert_frame_equal(frame, original)


def test_size_curve_callable_and_dict(diabetes_split):
    train, holdout = diabetes_split
    asked: list[int] = []

    def sample(n: int) -> pd.DataFrame:
        asked.append(n)
        return train.sample(n, replace=True, random_state=n)

    result = size_curve(train, sample, holdout, target="target", multipliers=(0.5, 1, 2), seed=0)
    assert asked == [round(0.5 * len(train)), len(train), 2 * len(train)]
    assert result.n_rows == asked and len(result.tstr["gbm"]) == 3
    assert result.score == max(result.scores) and 0 < result.score <= 1
    shuffled = shuffled_target(train, "target")
    curve = size_curve(
        train,
        {1: train, 2: pd.concat([shuffled, shuffled])},
        holdout,
        target="target",
        seed=0,
        models=("linear",),
    )
    assert curve.multipliers == [1.0, 2.0]
    assert curve.scores[0] == pytest.approx(1.0) and curve.scores[1] < 0.3
    with pytest.raises(InvalidParameterError, match="multipliers"):
        size_curve(train, sample, holdout, target="target", multipliers=(0,))


def test_registered_metric(cancer):
    train, holdout = cancer
    metric = get_metric_class("ml_utility")(models=("linear",))
    assert metric.family == "utility" and metric.requires == {"target"}
    result = metric.compute(train, train, holdout=holdout, target="target", seed=0, detailed=False)
    assert result.score == pytest.approx(1.0)
    assert result.details["tstr"] == result.details["trtr"] > 0.95
    assert "size_curve" not in result.details and not result.details["notices"]
    with pytest.raises(InvalidParameterError, match="models"):
        get_metric_class("ml_utility")(models=("forest",))
    with pytest.raises(InvalidParameterError, match="no target column"):
        metric.compute(train, train, holdout=holdout)


def test_registered_metric_details_size_curve_and_subgroups():
    real = make_clinical_table(400, seed=1)
    holdout = make_clinical_table(300, seed=2)
    synthetic = make_clinical_table(900, seed=3)
    result = get_metric_class("ml_utility")(models=("gbm",)).compute(
        real, synthetic, holdout=holdout, target="bmi", seed=0
    )
    curve = result.details["size_curve"]
    assert curve["multipliers"] == [0.5, 1.0, 2.0] and len(curve["tstr"]["gbm"]) == 3
    assert any("5x" in notice for notice in result.details["notices"])
    groups = result.details["subgroup_utility"]
    assert set(groups["column"]) == {"sex", "age"} and set(groups["metric"]) == {"r2"}
    json.dumps(curve)


def _lab_table(n: int, seed: int, *, lab_signal: bool) -> pd.DataFrame:
    """``y`` from ``lab`` (or from ``a``), ``lab`` missing in about 30% of rows, a category."""
    rng = np.random.default_rng(seed)
    a, lab = rng.normal(size=n), rng.normal(size=n)
    drive = lab if lab_signal else a
    frame = pd.DataFrame(
        {
            "a": a,
            "lab": lab,
            "ward": rng.choice(["north", "south", "east"], n),
            "y": (drive + rng.normal(0, 0.5, n) > 0).astype(int),
        }
    )
    frame.loc[rng.random(n) < 0.3, "lab"] = np.nan
    return frame


@pytest.mark.parametrize("lab_signal", [False, True])
def test_synthetic_column_entirely_missing_is_just_missing_values(lab_signal):
    real = _lab_table(300, 0, lab_signal=lab_signal)
    holdout = _lab_table(200, 1, lab_signal=lab_signal)
    synthetic = _lab_table(300, 2, lab_signal=lab_signal).assign(lab=np.nan)
    with pytest.warns(SynthPatientWarning, match=r"no value in 1 feature column\(s\) \(lab\)"):
        result = ml_utility(real, synthetic, holdout, target="y", seed=0)
    assert result.details["synthetic_empty_features"] == ["lab"]
    for model in ("linear", "gbm"):
        assert np.isfinite(result.metrics[model]["roc_auc"]["tstr"])
    if lab_signal:  # the only informative column is gone: near chance, and said why
        assert result.metrics["gbm"]["roc_auc"]["tstr"] < 0.65 and result.score < 0.75
    else:  # an uninformative column lost: the models do as well as on real rows
        assert result.score > 0.9
    # a category column with no value at all too, through evaluate: named in the report
    empty_ward = synthetic.assign(ward=pd.Series([None] * len(synthetic), dtype=object))
    with pytest.warns(SynthPatientWarning, match="lab, ward"):
        report = evaluate(
            real, empty_ward, holdout=holdout, target="y", metrics=["ml_utility"], detailed=False
        )
    section = json.loads(report.to_json())["sections"]["ml_utility"]
    assert section["synthetic_empty_features"] == ["lab", "ward"]
    assert any("lab, ward" in notice for notice in section["notices"])
    assert np.isfinite(report.summary.set_index("metric").loc["ml_utility", "score"])


def test_models_read_synthetic_rows_through_the_real_encoding():
    """A category the real rows never had is unknown, not a new code; scores stay finite."""
    real = _lab_table(300, 0, lab_signal=False)
    holdout = _lab_table(200, 1, lab_signal=False)
    synthetic = _lab_table(300, 2, lab_signal=False)
    synthetic.loc[::3, "ward"] = "a ward the real table never had"
    result = ml_utility(real, synthetic, holdout, target="y", seed=0)
    assert result.details["synthetic_empty_features"] == []
    assert result.score > 0.9
