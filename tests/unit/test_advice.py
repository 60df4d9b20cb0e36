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
