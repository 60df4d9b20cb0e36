"""Evaluation: metrics in five families (fidelity, utility, privacy, consistency,
representation), a registry of them, and ``evaluate()``, which runs them into one report.

Every metric reads the tables it is given and never modifies them. Table metrics follow one
contract (:class:`Metric`: ``key``, ``family``, ``goal``, ``bounds``, ``verdicts``,
``requires``, ``compute``) and are listed in :mod:`synthpatient.evaluation.registry`; SDMetrics'
column and pair metrics (KSComplement...) keep SDMetrics' own signatures (:class:`ColumnMetric`).
Long tables (several rows per patient) are also evaluated patient by patient: a
:class:`Timeline` names their patient key and time column, :func:`split_patients` splits off
a holdout of whole patients.
"""

from synthpatient.evaluation._histories import Timeline, split_patients
from synthpatient.evaluation._metric import ColumnMetric, Metric, MetricResult, Verdicts
from synthpatient.evaluation.fidelity import (
    ContingencySimilarity,
    CorrelationSimilarity,
    KSComplement,
    QualityResult,
    SdType,
    TVComplement,
    quality_report,
)
from synthpatient.evaluation.registry import available_metrics, get_metric_class

__all__ = [
    "ColumnMetric",
    "ContingencySimilarity",
    "CorrelationSimilarity",
    "KSComplement",
    "Metric",
    "MetricResult",
    "QualityResult",
    "SdType",
    "TVComplement",
    "Timeline",
    "Verdicts",
    "available_metrics",
    "get_metric_class",
    "quality_report",
    "split_patients",
]
