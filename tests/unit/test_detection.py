"""Detection on long tables: folds of whole patients, so two halves of one real table pass.

Split by row, a patient's static values (age, follow-up time) are learned with their label in
one fold and recognised in another: real-vs-real on pbcseq scored 0.046 ("easily told apart").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthpatient import datasets
from synthpatient.evaluation import Timeline, get_metric_class, split_patients
from synthpatient.evaluation.detection import detection_score
from synthpatient.evaluation.evaluate import evaluate
from synthpatient.schema import Schema


@pytest.fixture(scope="module")
def halves() -> tuple[pd.DataFrame, pd.DataFrame, Schema]:
    """pbcseq split into two halves of whole patients, and the first half's schema."""
    pbc = datasets.load("pbcseq")
    first, second = split_patients(pbc, "id", holdout_share=0.5, seed=0)
    return first, second, Schema.infer(first)


def test_real_halves_of_a_long_table_pass_only_with_patient_folds(halves):
    first, second, schema = halves
    by_row = detection_score(first, second, schema, seed=0)
    by_patient = detection_score(first, second, schema, seed=0, timeline=Timeline("id", "day"))
    assert by_row.details["folds"] == "by row" and by_row.score < 0.3  # patients recognised
    assert by_patient.details["folds"] == "by patient"
    assert by_patient.score > 0.75  # two halves of one table: hard to tell apart
    assert by_patient.details["patients_per_side"] == {
        "real": first["id"].nunique(),
        "synthetic": second["id"].nunique(),
    }


def test_evaluate_with_a_patient_key_uses_patient_folds(halves):
    first, second, _ = halves
    report = evaluate(
        first, second, metrics=["detection"], patient_key="id", time_column="day", detailed=False
    )
    details = report.sections["detection"]
    score = report.summary.set_index("metric").loc["detection", "score"]
    assert details["folds"] == "by patient" and score > 0.75


def test_a_synthetic_id_equal_to_a_real_one_is_another_patient(halves):
    """Groups are numbered per side: reusing the real ids on the other side changes nothing."""
    first, second, schema = halves
    timeline = Timeline("id", "day")
    real_ids = np.sort(first["id"].unique())
    codes = pd.factorize(second["id"], sort=True)[0]
    renamed = second.assign(id=real_ids[codes % len(real_ids)])
    plain = detection_score(first, second, schema, seed=1, timeline=timeline)
    reused = detection_score(first, renamed, schema, seed=1, timeline=timeline)
    assert reused.score == pytest.approx(plain.score)
    assert reused.details["patients_per_side"] == plain.details["patients_per_side"]


def test_rows_without_a_key_are_their_own_patients_and_few_patients_give_nan(halves):
    first, second, schema = halves
    timeline = Timeline("id", "day")
    keyless = second.assign(id=second["id"].where(second["day"] > 0))  # first visits lose it
    result = detection_score(first, keyless, schema, seed=0, timeline=timeline)
    # rows are sampled; those drawn without a key each count as a patient of their own
    assert result.details["patients_per_side"]["synthetic"] > keyless["id"].nunique()
    assert np.isfinite(result.score)
    two_patients = second[second["id"].isin(second["id"].unique()[:2])]
    few = detection_score(first, two_patients, schema, seed=0, timeline=timeline)
    assert np.isnan(few.score) and "fewer than 3 patients" in few.details["error"]


def test_row_level_tables_keep_row_folds():
    """Without a timeline the metric is the row-level one: stratified folds by row."""
    rng = np.random.default_rng(0)
    real = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(["a", "b"], 300)})
    shifted = real.assign(x=real["x"] + 3)
    metric = get_metric_class("detection")()
    assert metric.compute(real, shifted, seed=0).score < 0.2
    same = metric.compute(real, real.sample(frac=1, random_state=1), seed=0)
    assert same.details["folds"] == "by row" and same.score > 0.8
