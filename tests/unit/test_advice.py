"""Fair and poor scores come with one line saying what they mean and what to do."""

from __future__ import annotations

import pandas as pd

from synthpatient.evaluation import advice
from synthpatient.evaluation.report import SUMMARY_COLUMNS, EvaluationReport


def _report(rows: list[list[object]], rules: pd.DataFrame | None = None) -> EvaluationReport:
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    sections = {} if rules is None else {"rules": rules}
    return EvaluationReport(summary, pd.DataFrame(), sections, {})


def test_only_fair_and_poor_scores_are_explained_and_the_worst_rule_is_named() -> None:
    rules = pd.DataFrame(
        {
            "rule": ["ldl_friedewald", "bmi_range"],
            "description": ["LDL follows Friedewald", "BMI within 10-80"],
            "real_rate": [0.0, 0.01],
            "synthetic_rate": [0.091, 0.02],
        }
    )
    report = _report(
        [
            ["fidelity", "quality", 0.97, 0.0, "close to the real data", "good"],
            ["consistency", "rule_violations", 0.909, 0.0, "many more violations", "poor"],
            ["privacy", "dcr", 0.6, 0.0, "closer to training patients", "fair"],
            ["timelines", "event_gaps", 0.5, 0.0, "gaps differ", "poor"],
        ],
        rules,
    )
    lines = advice.explain(report)
    assert len(lines) == 3
    rule_line, dcr_line, gap_line = lines
    assert rule_line.startswith("rule_violations is poor (many more violations)")
    assert "'ldl_friedewald' (LDL follows Friedewald): 9.1%" in rule_line
    assert "--flags" in rule_line
    assert "--epsilon" in dcr_line
    assert "patient timelines" in gap_line


def test_every_metric_gets_advice() -> None:
    from synthpatient.evaluation import available_metrics

    for key in available_metrics():
        assert advice.advice(key) != advice.advice("a_metric_nobody_registered"), key


def test_rescaled_scores_name_the_raw_figure_they_come_from() -> None:
    """A detection card of 1.000 beside ROC-AUC 0.436, or a utility card of 1.000 beside
    R2 0.606 vs 0.592, must say how the one follows from the other."""
    detection = advice.reading("detection", {"auc": 0.436})
    assert detection is not None and "0.436" in detection and "0.5 is chance" in detection
    utility = advice.reading("ml_utility", {"tstr": 0.606, "trtr": 0.592, "primary_metric": "r2"})
    assert utility is not None and "R2 0.606" in utility and "0.592" in utility
    assert "capped at 1" in utility
    assert advice.reading("detection", {"error": "fewer than 3 rows"}) is None
    assert advice.reading("detection", {"auc": float("nan")}) is None
    assert advice.reading("quality", {"column_shapes": 0.9}) is None


def test_report_cards_show_the_raw_figure_beside_the_score(monkeypatch) -> None:
    import numpy as np

    from synthpatient import datasets
    from synthpatient.evaluation import _report_html
    from synthpatient.evaluation.evaluate import evaluate
    from synthpatient.evaluation.utility import MLUtility

    monkeypatch.setattr(_report_html, "image", lambda *args: "")  # the words, not the plots

    real = datasets.load("diabetes").iloc[:120]
    rng = np.random.default_rng(0)
    synthetic = real.apply(lambda c: rng.permutation(c.to_numpy())).reset_index(drop=True)
    report = evaluate(
        real.iloc[:90],
        synthetic,
        holdout=real.iloc[90:],
        target="progression",
        metrics=["detection", MLUtility(models=("linear",))],
        detailed=False,
    )
    html = report.to_html()
    auc = report.sections["detection"]["auc"]
    cards = html.split("class=cards")[1].split("</section>")[0]
    assert f"ROC-AUC {auc:.3f}" in cards and "0.5 is chance" in cards
    tstr = report.sections["ml_utility"]["tstr"]
    assert f"R2 {tstr:.3f} for models trained on synthetic rows" in cards
    assert "The card's score is 1 - 2" in html and "The card's score is the mean over" in html
