"""evaluate(): every family, the ordering every metric must respect, bad input, the report."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from synthpatient import GaussianCopulaSynthesizer, datasets
from synthpatient.errors import DataError, SynthPatientWarning
from synthpatient.evaluation.evaluate import evaluate
from synthpatient.rules import load_rule_pack


@pytest.fixture(scope="module")
def split():
    real = datasets.load("diabetes")
    training = real.sample(frac=0.5, random_state=0).sort_index()
    return training, real.drop(training.index)


@pytest.fixture(scope="module")
def report(split):
    training, holdout = split
    synthetic = GaussianCopulaSynthesizer(seed=0).fit(training).sample(500, seed=1)
    return evaluate(
        training,
        synthetic,
        holdout=holdout,
        target="progression",
        rules=load_rule_pack("diabetes"),
        seeds=2,
        sensitive="sex",
    )


def _scores(report) -> dict[str, float]:
    return dict(zip(report.summary["metric"], report.summary["score"], strict=True))


def test_every_family_is_measured(report):
    assert set(report.summary["family"]) == {
        "fidelity",
        "utility",
        "privacy",
        "consistency",
        "representation",
    }
    for score in report.summary["score"]:
        assert 0.0 <= score <= 1.0
    assert report.results.groupby("metric")["seed"].nunique()["detection"] == 2


def test_html_report_is_offline_and_every_section_has_content(report):
    page = report.to_html()
    for anchor in ("summary", "fidelity", "utility", "privacy", "rules", "representation"):
        section = re.search(rf'<section id="{anchor}".*?</section>', page, re.S)
        assert section and len(re.sub("<[^>]+>", "", section.group(0))) > 80, anchor
    assert page.count('src="data:image/png;base64,') >= 5
    assert not re.search(r'(src|href)="(https?:)?//', page)  # no CDN, no remote resource
    data = json.loads(report.to_json())
    assert data["summary"] and data["sections"]["rules"]


def _perturbations(training: pd.DataFrame, fresh: pd.DataFrame):
    rng = np.random.default_rng(0)
    noisy = fresh.copy()
    for column in ("bmi", "blood_pressure", "ldl", "hdl", "glucose", "progression"):
        noisy[column] = noisy[column] + rng.normal(0, 0.5 * training[column].std(), len(noisy))
    shuffled = fresh.apply(lambda col: rng.permutation(col.to_numpy()))
    return noisy, shuffled


def test_metrics_order_fresh_real_over_noisy_over_shuffled(split):
    training, holdout = split
    fresh, test = holdout.iloc[:110], holdout.iloc[110:]
    noisy, shuffled = _perturbations(training, fresh)
    runs = [
        _scores(evaluate(training, table, holdout=test, target="progression"))
        for table in (fresh, noisy, shuffled)
    ]
    for metric in ("quality", "column_pair_trends", "ml_utility"):
        assert runs[0][metric] > runs[1][metric] > runs[2][metric], metric
    assert runs[0]["detection"] >= runs[2]["detection"]


def test_copying_the_training_rows_scores_worst_on_privacy(split):
    training, holdout = split
    fresh = holdout.iloc[:110]
    copy = _scores(evaluate(training, training, holdout=holdout.iloc[110:]))
    honest = _scores(evaluate(training, fresh, holdout=holdout.iloc[110:]))
    for metric in ("dcr", "membership_inference", "exact_copies", "nndr"):
        assert copy[metric] < honest[metric], metric
        assert copy[metric] <= 0.1, metric


def test_evaluation_never_modifies_its_inputs(split):
    training, holdout = split
    synthetic = training.sample(100, random_state=1)
    before = [t.copy() for t in (training, synthetic, holdout)]
    evaluate(training, synthetic, holdout=holdout, target="progression")
    for original, now in zip(before, (training, synthetic, holdout), strict=True):
        pd.testing.assert_frame_equal(original, now)


def test_without_holdout_the_report_says_what_was_not_measured(split):
    training, _ = split
    result = evaluate(training, training.sample(100, random_state=2))
    assert "dcr" not in set(result.summary["metric"])
    assert any("holdout" in notice for notice in result.meta["notices"])


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.drop(columns=["bmi"]), "lacks 1 column"),
        (lambda s: s.assign(extra=1), "does not"),
        (lambda s: s.assign(bmi="high"), "numeric in the real table"),
        (lambda s: s.iloc[:0], "no rows"),
    ],
)
def test_bad_synthetic_tables(split, change, message):
    training, _ = split
    with pytest.raises(DataError, match=message) as info:
        evaluate(training, change(training.copy()))
    assert "26.2" not in str(info.value)


def test_bad_targets_and_overlapping_holdout(split):
    training, holdout = split
    with pytest.raises(DataError, match="target column 'outcome' is not"):
        evaluate(training, training, target="outcome")
    with pytest.raises(DataError, match="single value"):
        evaluate(training.assign(sex=1), training.assign(sex=1), target="sex")
    with pytest.warns(SynthPatientWarning, match="holdout row"):
        evaluate(training, holdout, holdout=pd.concat([holdout, training.iloc[:5]]))


def test_tables_too_large_are_sampled_with_a_notice(split, monkeypatch):
    import synthpatient.evaluation.evaluate as module

    training, holdout = split
    monkeypatch.setattr(module, "MAX_ROWS", 100)
    with pytest.warns(SynthPatientWarning, match="random 100 of them"):
        result = evaluate(training, training.sample(150, random_state=3, replace=True))
    assert result.meta["n_real"] == 100 and result.meta["n_synthetic"] == 100
    assert sum("random 100" in n for n in result.meta["notices"]) == 2


def test_chosen_metrics_run_in_the_order_given_and_the_report_still_renders(split):
    training, holdout = split
    synthetic = holdout.iloc[:110]
    report = evaluate(
        training, synthetic, metrics=["dcr", "quality"], holdout=holdout.iloc[110:], seeds=2, seed=5
    )
    assert list(report.summary["metric"]) == ["dcr", "quality"]
    assert report.results.query("metric == 'dcr'")["seed"].tolist() == [5, 6]
    assert report.results.query("metric == 'quality'")["seed"].tolist() == [5]
    assert set(report.sections) == {"dcr", "quality"} and not report.meta["skipped"]
    page = report.to_html()
    for anchor in ("summary", "fidelity", "utility", "privacy", "rules", "representation"):
        assert f'<section id="{anchor}"' in page
    json.loads(report.to_json())


def test_metrics_not_runnable_are_skipped_with_the_reason(split):
    training, _ = split
    report = evaluate(
        training,
        training.sample(100, random_state=4),
        metrics=["quality", "ml_utility", "rule_violations", "attribute_inference"],
        sensitive="sex",
    )
    assert list(report.summary["metric"]) == ["quality"]
    reasons = {s["metric"]: s["reason"] for s in report.meta["skipped"]}
    assert "no target column" in reasons["ml_utility"]
    assert "no clinical rules" in reasons["rule_violations"]
    assert "no holdout" in reasons["attribute_inference"]
    assert "sensitive" not in reasons["attribute_inference"]  # it was given
    notices = " ".join(report.meta["notices"])
    assert all(key in notices for key in reasons)


def test_configured_instances_and_bad_selections(split):
    from synthpatient.errors import InvalidParameterError
    from synthpatient.evaluation import get_metric_class

    training, holdout = split
    few = get_metric_class("dcr")(max_synthetic_rows=50)
    report = evaluate(training, holdout.iloc[:110], metrics=[few], holdout=holdout.iloc[110:])
    assert report.sections["dcr"]["n_synthetic"] == 50
    for bad in ("quality", [], 42):
        with pytest.raises(InvalidParameterError, match="metrics"):
            evaluate(training, holdout, metrics=bad)
    with pytest.raises(DataError, match="seed must be"):
        evaluate(training, holdout, seed=-1)


def test_without_details_the_scores_are_the_same(split):
    training, holdout = split
    synthetic, test = holdout.iloc[:110], holdout.iloc[110:]
    keys = ["column_shapes", "column_pair_trends", "ml_utility"]
    full = evaluate(training, synthetic, metrics=keys, holdout=test, target="progression")
    lean = evaluate(
        training, synthetic, metrics=keys, holdout=test, target="progression", detailed=False
    )
    pd.testing.assert_frame_equal(full.summary, lean.summary)
    assert "columns" in full.sections["column_shapes"]
    assert "columns" not in lean.sections["column_shapes"]
    assert "association" not in lean.sections["column_pair_trends"]
    assert "size_curve" in full.sections["ml_utility"]  # None here: too few synthetic rows
    assert "size_curve" not in lean.sections["ml_utility"]
    assert lean.to_html().count('src="data:image/png;base64,') >= 2


def test_rules_keep_their_own_table_section(report):
    rules = report.sections["rules"]
    assert isinstance(rules, pd.DataFrame) and {"real_rate", "synthetic_rate"} <= set(rules)
    summary = report.sections["rule_violations"]
    assert summary["excess_max"] == pytest.approx(1 - _scores(report)["rule_violations"])
