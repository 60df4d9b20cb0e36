"""The explicit registry of table metrics: key -> class, imported only when asked for.

The key is the metric's name everywhere: in ``EvaluationReport.summary``, the report's JSON,
the benchmark's columns and the docs. ``evaluate()`` runs the metrics in this order (grouped
by family, the order of the report). Adding a metric is one module with its class and one line
here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from synthpatient.errors import UnknownMetricError

if TYPE_CHECKING:
    from synthpatient.evaluation._metric import Metric

_EVALUATION = "synthpatient.evaluation"
#: key -> "module:Class" (lazy, so listing keys imports no metric module)
_REGISTRY: dict[str, str] = {
    "quality": f"{_EVALUATION}.fidelity:Quality",
    "column_shapes": f"{_EVALUATION}.fidelity:ColumnShapes",
    "column_pair_trends": f"{_EVALUATION}.fidelity:ColumnPairTrends",
    "detection": f"{_EVALUATION}.detection:Detection",
    "alpha_precision": f"{_EVALUATION}.alpha_precision:AlphaPrecision",
    "beta_recall": f"{_EVALUATION}.alpha_precision:BetaRecall",
    "events_per_patient": f"{_EVALUATION}.timeline:EventsPerPatient",
    "event_gaps": f"{_EVALUATION}.timeline:EventGaps",
    "lag1_correlation": f"{_EVALUATION}.timeline:Lag1Correlation",
    "trajectory_shape": f"{_EVALUATION}.timeline:TrajectoryShape",
    "parent_child": f"{_EVALUATION}.timeline_relations:ParentChild",
    "ml_utility": f"{_EVALUATION}.utility:MLUtility",
    "patient_ml_utility": f"{_EVALUATION}.patient_privacy:PatientMLUtility",
    "dcr": f"{_EVALUATION}.distances:DCR",
    "membership_inference": f"{_EVALUATION}.attacks:MembershipInference",
    "nndr": f"{_EVALUATION}.distances:NNDR",
    "patient_dcr": f"{_EVALUATION}.patient_privacy:PatientDCR",
    "patient_membership_inference": f"{_EVALUATION}.patient_privacy:PatientMembershipInference",
    "exact_copies": f"{_EVALUATION}.copies:ExactCopies",
    "attribute_inference": f"{_EVALUATION}.attacks:AttributeInference",
    "copied_from_examples": f"{_EVALUATION}.copies:CopiedFromExamples",
    "rule_violations": f"{_EVALUATION}.consistency:RuleViolations",
    "static_constancy": f"{_EVALUATION}.timeline_relations:StaticConstancy",
    "subgroup_shares": f"{_EVALUATION}.representation:SubgroupShares",
}


def available_metrics() -> list[str]:
    """Registered keys, in the order ``evaluate()`` runs and reports them."""
    return list(_REGISTRY)


def get_metric_class(key: str) -> type[Metric]:
    """The class registered under ``key``; an unknown key lists the known ones."""
    if not isinstance(key, str) or key not in _REGISTRY:
        raise UnknownMetricError(
            f"Unknown metric {key!r}. Known metrics: {', '.join(available_metrics())}."
        )
    module_name, class_name = _REGISTRY[key].split(":")
    return getattr(importlib.import_module(module_name), class_name)
