"""Fidelity metrics: hand-computed values, SDMetrics' quirks, ordering, no mutation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthpatient import GaussianCopulaSynthesizer, Schema, datasets
from synthpatient.evaluation import (
    ContingencySimilarity,
    CorrelationSimilarity,
    KSComplement,
    TVComplement,
    quality_report,
)


def test_ks_complement_by_hand():
    real = pd.Series([1.0, 2.0, 3.0, 4.0, np.nan])
    assert KSComplement.compute(real, pd.Series([1.0, 2.0, 3.0, 4.0])).score == 1.0
    # ECDFs of {1,2,3,4} and {3,4,5,6} differ by at most 0.5
    assert KSComplement.compute(real, pd.Series([3.0, 4.0, 5.0, 6.0])).score == pytest.approx(0.5)
    dates = pd.Series(pd.to_datetime(["2020-01-01", "2020-01-02"]))
    assert KSComplement.compute(dates, dates + pd.Timedelta(days=10)).score == 0.0


def test_tv_complement_by_hand_with_unseen_categories():
    real = pd.Series(["a", "a", "b", None])
    expected = 1 - 0.5 * (1 / 6 + 1 / 6)
    assert TVComplement.compute(real, pd.Series(["a", "b"])).score == pytest.approx(expected)
    result = TVComplement.compute(pd.Series(["a", "b"]), pd.Series(["a", "c"]))
    # SDMetrics adds an unseen synthetic category to the real counts with weight 1e-6
    real_share = np.array([1, 1, 1e-6]) / (2 + 1e-6)
    expected = 1 - 0.5 * np.abs(np.array([0.5, 0, 0.5]) - real_share).sum()
    assert result.score == pytest.approx(expected)


def test_correlation_similarity_and_thresholds():
    x = np.arange(50.0)
    real = pd.DataFrame({"x": x, "y": x})
    assert CorrelationSimilarity.compute(real, real).score == 1.0
    anti = pd.DataFrame({"x": x, "y": -x})
    assert CorrelationSimilarity.compute(real, anti).score == pytest.approx(0.0)
    weak = pd.DataFrame({"x": x, "y": np.sin(x)})
    assert np.isnan(CorrelationSimilarity.compute(weak, weak, real_correlation_threshold=0.5).score)
    constant = pd.DataFrame({"x": x, "y": 1.0})
    assert np.isnan(CorrelationSimilarity.compute(constant, real).score)


def test_contingency_similarity_counts_missing_as_a_cell():
    real = pd.DataFrame({"a": ["x", "x", "y", None], "b": [1, 1, 2, 2]})
    assert ContingencySimilarity.compute(real, real.copy()).score == 1.0
    other = pd.DataFrame({"a": ["x", "x", "y", "y"], "b": [1, 1, 2, 2]})
    assert ContingencySimilarity.compute(real, other).score == pytest.approx(0.75)


@pytest.fixture(scope="module")
def diabetes_tables():
    real = datasets.load("diabetes")
    close = GaussianCopulaSynthesizer(seed=0).fit(real).sample(len(real), seed=1)
    rng = np.random.default_rng(0)
    noisy = real + rng.normal(0, 0.3, real.shape) * real.std().to_numpy()
    noisy["sex"] = real["sex"]
    shuffled = real.apply(lambda col: rng.permutation(col.to_numpy()))
    return real, close, noisy, shuffled


def test_scores_order_real_close_noisy_shuffled(diabetes_tables):
    real, close, noisy, shuffled = diabetes_tables
    sdtypes = Schema.infer(real).sdtypes()
    scores = [
        quality_report(
            real, other, sdtypes, real_correlation_threshold=0, real_association_threshold=0
        )
        for other in (real, noisy, shuffled)
    ]
    assert scores[0].score == 1.0
    assert scores[0].score > scores[1].score
    assert scores[1].column_pair_trends > scores[2].column_pair_trends
    assert scores[2].column_shapes == 1.0  # shuffling keeps every marginal
    assert 0.9 < quality_report(real, close, sdtypes).score <= 1.0


def test_evaluation_never_modifies_inputs(diabetes_tables):
    real, close, _, _ = diabetes_tables
    before_real, before_close = real.copy(), close.copy()
    quality_report(real, close, Schema.infer(real).sdtypes())
    pd.testing.assert_frame_equal(real, before_real)
    pd.testing.assert_frame_equal(close, before_close)


def test_columns_outside_sdtypes_are_ignored(diabetes_tables):
    real, close, _, _ = diabetes_tables
    sdtypes = {"age": "numerical", "bmi": "numerical"}
    result = quality_report(real, close.drop(columns=["glucose"]), sdtypes)
    assert list(result.column_details["column"]) == ["age", "bmi"] and len(result.pair_details) == 1


def test_equal_to_sdmetrics_when_installed(diabetes_tables):
    """The parity promise, checked against SDMetrics itself (optional `compare` extra)."""
    pytest.importorskip("sdmetrics", reason="SDMetrics (the `compare` extra) is not installed")
    import warnings

    from sdmetrics.reports.single_table import QualityReport

    real, close, _, _ = diabetes_tables
    sdtypes = Schema.infer(real).sdtypes()
    theirs = QualityReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.generate(
            real, close, {"columns": {c: {"sdtype": t} for c, t in sdtypes.items()}}, verbose=False
        )
    assert quality_report(real, close, sdtypes).score == pytest.approx(theirs.get_score(), abs=1e-9)
