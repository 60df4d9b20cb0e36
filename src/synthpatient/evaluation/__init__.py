"""Evaluation: fidelity (SDMetrics-compatible), and more families as they are added.

Every evaluator reads the tables it is given and never modifies them.
"""

from synthpatient.evaluation._metric import Metric, MetricResult
from synthpatient.evaluation.fidelity import (
    ContingencySimilarity,
    CorrelationSimilarity,
    KSComplement,
    QualityResult,
    SdType,
    TVComplement,
    quality_report,
)

__all__ = ["ContingencySimilarity", "CorrelationSimilarity", "KSComplement", "Metric",
           "MetricResult", "QualityResult", "SdType", "TVComplement", "quality_report"]
