"""``EvaluationReport``: what ``evaluate()`` measured, as a summary, tidy results, JSON and HTML."""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.evaluation._metric import Metric

SUMMARY_COLUMNS = ["family", "metric", "score", "sd", "verdict", "level"]
RESULT_COLUMNS = ["family", "metric", "seed", "value"]


class Summary(pd.DataFrame):
    """The summary table, printed whole: every row and every verdict, scores to 3 decimals.

    pandas would print a 6-column table with long verdicts as ``family ... level``, hiding
    the score and the verdict; this is a plain DataFrame in every other respect.
    """

    @property
    def _constructor(self) -> type[Summary]:  # a selection of rows or columns stays readable
        return Summary

    def __repr__(self) -> str:
        frame = pd.DataFrame(self)
        if frame.empty:
            return "(no metrics)"
        cells = {str(name): [_cell(value) for value in frame[name]] for name in frame.columns}
        numeric = {str(n) for n in frame.columns if pd.api.types.is_numeric_dtype(frame[n])}
        widths = {name: max(len(name), *map(len, column)) for name, column in cells.items()}

        def line(values: dict[str, str]) -> str:
            return "  ".join(
                values[n].rjust(widths[n]) if n in numeric else values[n].ljust(widths[n])
                for n in cells
            ).rstrip()

        rows = [line({n: cells[n][i] for n in cells}) for i in range(len(frame))]
        return "\n".join([line({n: n for n in cells}), *rows])

    __str__ = __repr__


def _cell(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return "nan" if np.isnan(value) else f"{value:.3f}"
    return str(value)


@dataclass
class EvaluationReport:
    """Everything measured, as a summary, a tidy table, JSON and a self-contained HTML page.

    Attributes:
        summary: one row per metric run: family, metric (its registry key), score (mean over
            seeds), sd, verdict, level ("good", "fair", "poor", or "info" when not
            computable).
        results: tidy per-seed values: family, metric, seed, value.
        sections: the details each report section is drawn from, by metric key (the first
            seed's ``MetricResult.details``), plus "rules": the per-rule violation table.
        meta: rows, columns, seeds, target, the metrics run and those ``skipped`` (with the
            reason), those ``not_computed`` (ran, but had no score on these tables: metric ->
            reason, also the summary's verdict), notices (things the reader must know), timings.

    Examples:
        >>> report = evaluate(train, synthetic, holdout=holdout, target="progression")
        >>> report.summary[["metric", "score", "verdict"]]
        >>> Path("report.html").write_text(report.to_html())
    """

    summary: pd.DataFrame
    results: pd.DataFrame
    sections: dict[str, Any]
    meta: dict[str, Any]
    _real: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    _synthetic: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)

    def __post_init__(self) -> None:
        if not isinstance(self.summary, Summary):  # `print(report.summary)` shows it all
            self.summary = Summary(self.summary)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (tables as lists of records, long per-row lists left out)."""
        sections = {key: _jsonable(value) for key, value in self.sections.items()}
        return {
            "meta": self.meta,
            "summary": self.summary.to_dict("records"),
            "results": self.results.to_dict("records"),
            "sections": sections,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=_default)

    def to_html(self) -> str:
        from synthpatient.evaluation._report_html import render

        return render(self)


def _default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, pd.DataFrame):
        return value.replace({np.nan: None}).to_dict("records")
    if isinstance(value, dict):
        return {
            k: _jsonable(v)
            for k, v in value.items()
            if not (k.startswith("distances_") or k.endswith("_values"))
        }
    if hasattr(value, "__dataclass_fields__"):
        return _jsonable({k: getattr(value, k) for k in value.__dataclass_fields__})
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def _spread(values: list[float]) -> tuple[float, float]:
    clean = [v for v in values if v is not None and not np.isnan(v)]
    if not clean:
        return float("nan"), float("nan")
    return float(np.mean(clean)), float(statistics.pstdev(clean)) if len(clean) > 1 else 0.0


def summarise(
    results: pd.DataFrame, metrics: Mapping[str, Metric], reasons: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """One row per metric: mean and spread over seeds, and the metric's verdict on the mean.

    ``reasons``: why a metric could not compute its score (its ``error`` detail); a metric
    without a score then reads "not computed (reason)".
    """
    rows = []
    for (family, key), group in results.groupby(["family", "metric"], sort=False):
        mean, sd = _spread(group["value"].tolist())
        level, verdict = metrics[key].verdict(metrics[key].normalize(mean))
        if np.isnan(mean) and (reasons or {}).get(key):
            verdict = f"not computed ({(reasons or {})[key]})"
        rows.append(
            {
                "family": family,
                "metric": key,
                "score": mean,
                "sd": sd,
                "verdict": verdict,
                "level": level,
            }
        )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
