"""Alpha-precision and beta-recall: the curves follow the diagonal for a fresh sample and leave
it, each in its own direction, for collapsed, implausible and partial synthetic tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthpatient.errors import InvalidParameterError
from synthpatient.evaluation import get_metric_class
from synthpatient.evaluation.alpha_precision import AlphaPrecision, BetaRecall, support_curve

LEVELS = (np.arange(10) + 0.5) / 10


def normal_table(n: int, seed: int, scale: float = 1.0, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, scale, n)
    return pd.DataFrame({"x": x, "y": x + rng.normal(0, 0.5 * scale, n)})


def test_support_curve_of_a_fresh_sample_follows_the_diagonal():
    rng = np.random.default_rng(0)
    reference, query = rng.normal(size=(2000, 2)), rng.normal(size=(2000, 2))
    curve = support_curve(reference, query, k=5, levels=LEVELS)
    assert np.abs(curve - LEVELS).max() < 0.05
    assert (np.diff(curve) >= 0).all()  # a larger support holds at least as many rows


def test_support_curve_above_the_diagonal_for_rows_in_the_densest_part():
    rng = np.random.default_rng(1)
    reference = rng.normal(size=(1000, 2))
    crowded = support_curve(reference, 0.2 * rng.normal(size=(1000, 2)), k=5, levels=LEVELS)
    spread = support_curve(reference, 3.0 * rng.normal(size=(1000, 2)), k=5, levels=LEVELS)
    assert (crowded[:5] > LEVELS[:5] + 0.15).all()
    assert (spread < LEVELS).all()


def test_ties_are_shared_so_a_fresh_sample_of_categories_scores_one():
    rng = np.random.default_rng(2)

    def draw() -> pd.DataFrame:
        return pd.DataFrame(
            {
                "sex": rng.choice(["f", "m"], 300),
                "smoker": rng.choice(["never", "former", "current"], 300),
            }
        )

    real, fresh = draw(), draw()
    assert AlphaPrecision().compute(real, fresh, seed=0).score == pytest.approx(1.0)
    assert BetaRecall().compute(real, fresh, seed=0).score == pytest.approx(1.0)
    collapsed = fresh.assign(sex="f", smoker="never")  # a real combination: plausible, narrow
    assert BetaRecall().compute(real, collapsed, seed=0).score < 0.3


def test_precision_sees_implausible_rows_and_recall_sees_missing_diversity():
    real, fresh = normal_table(400, 0), normal_table(400, 1)
    wide, narrow = normal_table(400, 2, scale=3.0), normal_table(400, 3, scale=0.3)
    precision = {
        name: AlphaPrecision().compute(real, table, seed=0).score
        for name, table in (("fresh", fresh), ("wide", wide), ("narrow", narrow))
    }
    recall = {
        name: BetaRecall().compute(real, table, seed=0).score
        for name, table in (("fresh", fresh), ("wide", wide), ("narrow", narrow))
    }
    assert precision["fresh"] > 0.85 and recall["fresh"] > 0.85
    assert precision["wide"] < 0.5  # wide rows: many where no real patient is
    assert recall["narrow"] < 0.5  # narrow rows miss the real tails
    assert precision["narrow"] < precision["fresh"]  # crowding the centre is penalised too


def test_a_copy_of_the_real_rows_is_not_perfect():
    real = normal_table(400, 0)
    copy = AlphaPrecision().compute(real, real.copy(), seed=0)
    fresh = AlphaPrecision().compute(real, normal_table(400, 1), seed=0)
    assert copy.score < 1.0
    # each copied row sits on a real row: its curve runs above the diagonal
    assert np.mean(np.array(copy.details["curve"]) - np.array(copy.details["levels"])) > 0
    assert fresh.score > copy.score - 0.1


def test_details_subsampling_and_seeds():
    real, synthetic = normal_table(600, 0), normal_table(900, 1)
    metric = BetaRecall(k=3, n_levels=8, max_rows=250)
    first = metric.compute(real, synthetic, seed=4)
    assert first.details["n_real"] == first.details["n_synthetic"] == 250
    assert len(first.details["curve"]) == len(first.details["levels"]) == 8
    assert first.details["k"] == 3 and first.details["seed"] == 4
    assert metric.compute(real, synthetic, seed=4).score == first.score
    unseeded = metric.compute(real, synthetic)
    assert isinstance(unseeded.details["seed"], int)  # drawn and recorded


def test_tiny_tables_and_bad_parameters():
    real = normal_table(4, 0)
    small = AlphaPrecision(k=10).compute(real, normal_table(50, 1), seed=0)
    assert small.details["k_used"] == 3 and 0 <= small.score <= 1
    single = BetaRecall().compute(real, real.iloc[:1], seed=0)
    assert np.isnan(single.score) and "single row" in single.details["error"]
    for bad in ({"k": 0}, {"n_levels": 1.5}, {"max_rows": -1}):
        with pytest.raises(InvalidParameterError, match=next(iter(bad))):
            AlphaPrecision(**bad)


def test_registered_and_run_by_evaluate():
    from synthpatient.evaluation.evaluate import evaluate

    assert get_metric_class("alpha_precision") is AlphaPrecision
    assert get_metric_class("beta_recall") is BetaRecall
    real, fresh = normal_table(300, 0), normal_table(300, 1)
    report = evaluate(real, fresh, metrics=["alpha_precision", "beta_recall"], seeds=2)
    assert list(report.summary["metric"]) == ["alpha_precision", "beta_recall"]
    assert (report.summary["level"] == "good").all()
    assert "Alpha-precision" in report.to_html()
