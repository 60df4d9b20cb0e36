"""Representation: do subgroups (sex, age bands, race or ethnicity) keep their real shares?

A generator can reach a good overall quality score while shrinking a small subgroup; these
shares, side by side, make such bias visible before anyone trains a model on the output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.evaluation._metric import Inputs, Metric, Verdicts
from synthpatient.schema import Schema, category_key

AGE_BANDS = (0, 18, 40, 65, 80, np.inf)
_GROUP_NAMES = re.compile(r"(^|_)(sex|gender|race|ethnicity|ethnic_group|race_ethnicity)($|_)")
_AGE_NAMES = re.compile(r"(^|_)age(_years)?$")


@dataclass(frozen=True)
class SubgroupSharesResult:
    """Shares of each level of each subgroup column, real versus synthetic."""

    table: pd.DataFrame  # column, group, real_share, synthetic_share, difference
    score: float  # 1 - the largest total-variation distance over subgroup columns
    columns: list[str] = field(default_factory=list)


def subgroup_columns(schema: Schema) -> dict[str, str]:
    """Subgroup columns found by name: ``{column: "category" | "age"}``."""
    from synthpatient.schema import normalise_name

    found = {}
    for spec in schema.learned:
        name = normalise_name(spec.name)
        if spec.kind in ("categorical", "boolean") and _GROUP_NAMES.search(name):
            found[spec.name] = "category"
        elif spec.kind in ("integer", "numeric") and _AGE_NAMES.search(name):
            found[spec.name] = "age"
    return found


def subgroup_labels(values: pd.Series, how: str) -> pd.Series:
    """Level of each row: the category itself, or an age band such as '40-64'."""
    if how == "age":
        edges = list(AGE_BANDS)
        labels = [
            f"{int(lo)}-{int(hi) - 1}" if np.isfinite(hi) else f"{int(lo)}+"
            for lo, hi in zip(edges[:-1], edges[1:], strict=True)
        ]
        return (
            pd.cut(pd.to_numeric(values, errors="coerce"), edges, right=False, labels=labels)
            .astype(object)
            .where(values.notna(), "missing")
        )
    return values.map(category_key, na_action="ignore").fillna("missing")


def subgroup_shares(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: Schema | None = None,
    columns: dict[str, str] | None = None,
) -> SubgroupSharesResult:
    """Real and synthetic shares of every subgroup level (neither table is modified).

    Args:
        columns: ``{column: "category" | "age"}``; found by name when None (sex, gender, race,
            ethnicity, age).
    """
    schema = schema or Schema.infer(real)
    columns = subgroup_columns(schema) if columns is None else columns
    rows, worst = [], 0.0
    for column, how in columns.items():
        real_share = subgroup_labels(real[column], how).value_counts(normalize=True)
        synth_share = subgroup_labels(synthetic[column], how).value_counts(normalize=True)
        levels = real_share.index.union(synth_share.index)
        real_share = real_share.reindex(levels, fill_value=0.0)
        synth_share = synth_share.reindex(levels, fill_value=0.0)
        worst = max(worst, 0.5 * float(np.abs(real_share - synth_share).sum()))
        for level in levels:
            rows.append(
                {
                    "column": column,
                    "group": str(level),
                    "real_share": float(real_share[level]),
                    "synthetic_share": float(synth_share[level]),
                    "difference": float(synth_share[level] - real_share[level]),
                }
            )
    table = pd.DataFrame(
        rows, columns=["column", "group", "real_share", "synthetic_share", "difference"]
    )
    return SubgroupSharesResult(
        table=table, score=1.0 - worst if columns else float("nan"), columns=list(columns)
    )


class SubgroupShares(Metric):
    """1 - the largest total-variation distance between real and synthetic subgroup shares, over
    the subgroup columns found by name (sex, gender, race, ethnicity, age bands).

    Skipped when the table has no such column. Details: ``table`` (column, group, real_share,
    synthetic_share, difference) and ``columns``.

    Examples:
        >>> SubgroupShares().compute(real, synthetic).details["table"]
    """

    key = "subgroup_shares"
    family = "representation"
    name = "Subgroup shares"
    verdicts = Verdicts(
        0.95,
        0.9,
        "subgroups keep their real shares",
        "some subgroup shares shift",
        "subgroups are misrepresented",
    )

    def skip_reason(self, inputs: Inputs) -> str | None:
        if not subgroup_columns(inputs.schema):
            return "the table has no subgroup column (sex, gender, race, ethnicity or age)"
        return super().skip_reason(inputs)

    def _compute(self, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        result = subgroup_shares(inputs.real, inputs.synthetic, inputs.schema)
        return result.score, {"table": result.table, "columns": result.columns}
