"""Task-level functions the CLI mirrors: generate, from_schema, and the demo's quality summary."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from synthpatient.schema import Schema
from synthpatient.synthesizers import make_synthesizer

if TYPE_CHECKING:
    from synthpatient.schema_only import SchemaGeneration


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


def from_schema(
    schema: str | Path | Mapping[str, Any], n_rows: int, *, seed: int | None = None
) -> SchemaGeneration:
    """Rows for a table described by its columns alone (no real data, no network):
    ``synthpatient from-schema``. ``schema``: a YAML/JSON file, a bundled name
    (``admissions``) or a dict. The result holds the rows (``.data``), what was done for each
    column and relation (``.describe()``) and the time taken.

    Examples:
        >>> from synthpatient import from_schema
        >>> result = from_schema("admissions", 1000, seed=0)
        >>> result.data.shape
        (1000, 15)
    """
    from synthpatient.schema_only import generate_from_schema

    source = dict(schema) if isinstance(schema, Mapping) else str(schema)
    return generate_from_schema(source, n_rows, seed=seed)
