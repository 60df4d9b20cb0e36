"""What a fair or poor score means and what to do about it, in one line per metric.

A card that says "many more violations than the real data" leaves a new user with a red mark
and no next step. The demo, the ``evaluate`` command and anything else that prints a summary
add one line per metric below "good": what the score measures, in words, and the usual
remedy. Lines name columns and rules, never a patient's value.

Examples:
    >>> for line in explain(report):
    ...     print(line)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from synthpatient.evaluation.report import EvaluationReport

_FIDELITY = (
    "the synthetic values or their relations differ from the real ones; the report's fidelity "
    "section shows which columns. Check the schema (`synthpatient schema`), or try another "
    "synthesizer (the copula keeps marginals and correlations best on small tables)."
)
_PRIVACY = (
    "synthetic rows sit closer to the training patients than to patients the generator never "
    "saw, so some may re-identify them. Do not share as is: train with differential privacy "
    "(--epsilon with ctgan or tvae, or mst), or train less."
)
_TIMELINE = (
    "patient histories (visit counts, gaps, values from visit to visit) differ from the real "
    "ones; the report's patient timelines section shows how."
)
_TIMELINE_METRICS = frozenset(
    {
        "events_per_patient",
        "event_gaps",
        "lag1_correlation",
        "trajectory_shape",
        "parent_child",
        "static_constancy",
    }
)
#: metric key -> what the score means when it is low, and what to do
ADVICE = {
    "quality": _FIDELITY,
    "column_shapes": _FIDELITY,
    "column_pair_trends": _FIDELITY,
    "alpha_precision": _FIDELITY,
    "beta_recall": (
        "the synthetic rows miss part of the real patients' variety (rare profiles); sample "
        "more rows or use a synthesizer that covers the tails."
    ),
    "detection": (
        "a classifier tells synthetic rows from real ones, so some column or relation is off; "
        "the report's detection section lists the columns it relied on most."
    ),
    "ml_utility": (
        "a model trained on the synthetic rows predicts the target worse on real patients than "
        "one trained on real rows: relations with the target are weakened. Try another "
        "synthesizer or more training rows."
    ),
    "dcr": _PRIVACY,
    "nndr": _PRIVACY,
    "membership_inference": _PRIVACY,
    "exact_copies": _PRIVACY,
    "attribute_inference": (
        "the sensitive column can be guessed from the others better than from real data "
        "alone; consider differential privacy (--epsilon)."
    ),
    "copied_from_examples": (
        "synthetic rows repeat rows shown to the prompted LLM as examples; sample without "
        "examples in the prompt (include_examples=False, the default)."
    ),
    "rule_violations": (
        "more synthetic rows break clinical rules than real rows do. `evaluate --rules PACK "
        "--flags FILE` marks each row so that you can drop or fix them; a synthesizer that "
        "keeps relations between columns breaks fewer."
    ),
    "subgroup_shares": (
        "subgroups (sex, age bands) have other shares than in the real data; rebalance with "
        "--condition, or sample more rows."
    ),
}


def advice(metric: str) -> str:
    """What a low score of ``metric`` means and what to do (a generic line for others)."""
    if metric in ADVICE:
        return ADVICE[metric]
    if metric.startswith("patient_") or metric in _TIMELINE_METRICS:
        return _TIMELINE
    return "see the metric's section of the HTML report for what differs."


def explain(report: EvaluationReport) -> list[str]:
    """One line per fair or poor metric: its verdict, then what it means and what to do.

    A rule-violation line names the rule whose violation rate rose the most."""
    lines = []
    for row in report.summary.itertuples(index=False):
        if row.level not in ("fair", "poor"):
            continue
        text = advice(str(row.metric))
        if row.metric == "rule_violations":
            text = _worst_rule(report) + text
        lines.append(f"{row.metric} is {row.level} ({row.verdict}): {text}")
    return lines


def _worst_rule(report: EvaluationReport) -> str:
    table = report.sections.get("rules")
    if not isinstance(table, pd.DataFrame) or table.empty:
        return ""
    excess = table["synthetic_rate"].fillna(0) - table["real_rate"].fillna(0)
    worst = table.loc[excess.idxmax()]
    return (
        f"most of all '{worst['rule']}' ({worst['description']}): "
        f"{worst['synthetic_rate']:.1%} of synthetic rows against {worst['real_rate']:.1%} of "
        "real ones. "
    )


_PRIMARY_NAMES = {"r2": "R2", "roc_auc": "ROC-AUC"}


def reading(metric: str, details: Mapping[str, Any] | None) -> str | None:
    """The raw figure behind a score whose scale is not the raw one, in words, or None.

    A detection card of 1.000 beside "ROC-AUC 0.44" in the report, or a utility card of 1.000
    beside "R2 0.61", reads as a contradiction unless the card says which raw figure it was
    made from: the classifier's AUC (0.5 is chance, so every AUC up to 0.5 scores 1) or TSTR
    against TRTR (a synthetic table as useful as the real one scores 1, never more).
    """
    if not isinstance(details, Mapping) or details.get("error"):
        return None
    if metric == "detection" and _finite(details.get("auc")):
        return (
            f"a classifier's ROC-AUC {details['auc']:.3f} at telling them apart: 0.5 is "
            "chance and scores 1, an AUC of 1 scores 0"
        )
    if metric == "membership_inference" and _finite(details.get("auc")):
        return f"attack ROC-AUC {details['auc']:.3f}: 0.5 is chance and scores 1"
    if metric == "ml_utility" and _finite(details.get("tstr")) and _finite(details.get("trtr")):
        name = _PRIMARY_NAMES.get(str(details.get("primary_metric")), "score")
        return (
            f"{name} {details['tstr']:.3f} for models trained on synthetic rows against "
            f"{details['trtr']:.3f} trained on real rows, both tested on real patients; "
            "TSTR / TRTR per model, capped at 1"
        )
    if metric == "dcr" and _finite(details.get("share_closer_to_training")):
        ideal = details.get("ideal_share")
        return (
            f"{details['share_closer_to_training']:.0%} of synthetic rows are closer to a "
            "training patient than to an unseen one"
            + (f" (ideal {ideal:.0%})" if _finite(ideal) else "")
        )
    return None


def readings(report: EvaluationReport) -> dict[str, str]:
    """:func:`reading` for every metric of the report that has one (from the first seed's
    details; the score is the mean over seeds)."""
    seeds = int(report.meta.get("seeds", 1) or 1)
    out = {}
    for metric in report.summary["metric"]:
        text = reading(str(metric), report.sections.get(str(metric)))
        if text:
            out[str(metric)] = text + (" (first seed)" if seeds > 1 else "")
    return out


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
