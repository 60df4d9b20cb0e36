"""Task-level functions the CLI mirrors: generate, and the demo's quality summary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from synthpatient.schema import Schema
from synthpatient.synthesizers import make_synthesizer


def generate(
    data: pd.DataFrame,
    n_rows: int,
    *,
    synthesizer: str = "copula",
    conditions: Mapping[str, Any] | None = None,
    seed: int | None = None,
    schema: Schema | None = None,
    **params: Any,
) -> pd.DataFrame:
    """Fit ``synthesizer`` on ``data`` and sample ``n_rows`` rows: ``synthpatient generate``.

    Examples:
        >>> from synthpatient import datasets, generate
        >>> synthetic = generate(datasets.load("diabetes"), 1000, seed=0)
    """
    model = make_synthesizer(synthesizer, seed=seed, **params).fit(data, schema=schema)
    return model.sample(n_rows, conditions=conditions)


def quality_summary(
    real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None
) -> dict[str, Any]:
    """SDMetrics-comparable quality scores (overall, column shapes, column pair trends) and the
    worst columns and pairs, as a plain dict ready for JSON.

    Examples:
        >>> quality_summary(real, synthetic)["score"]
        0.93
    """
    from synthpatient.evaluation.fidelity import quality_report

    schema = schema or Schema.infer(real)
    report = quality_report(real, synthetic, schema.sdtypes())
    worst_columns = report.column_details.sort_values("score").head(3)
    worst_pairs = report.pair_details.dropna(subset=["score"]).sort_values("score").head(3)
    return {
        "score": report.score,
        "column_shapes": report.column_shapes,
        "column_pair_trends": report.column_pair_trends,
        "n_real_rows": len(real),
        "n_synthetic_rows": len(synthetic),
        "worst_columns": worst_columns[["column", "metric", "score"]].to_dict("records"),
        "worst_pairs": worst_pairs[["column_1", "column_2", "metric", "score"]].to_dict("records"),
    }
