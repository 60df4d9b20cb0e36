"""Evaluating a partitioned synthetic dataset against a real table.

The fidelity quality score and its two properties (``quality``, ``column_shapes``,
``column_pair_trends``) are computed from summaries of every synthetic row, merged over
partitions (``_summaries``); they equal the in-memory report's on the same rows with
``num_rows_subsample=None`` (KS and category frequencies exactly, correlations to float
rounding). Every other metric (privacy, utility, detection, rules, representation...) runs
in memory on a uniform sample of ``sample_rows`` synthetic rows; the report's notices say so.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.errors import DataError, InvalidParameterError
from synthpatient.evaluation import Metric, fidelity
from synthpatient.evaluation.evaluate import evaluate
from synthpatient.evaluation.registry import get_metric_class
from synthpatient.evaluation.report import EvaluationReport
from synthpatient.evaluation.similarity import CONTINUOUS, UNSEEN_CATEGORY_WEIGHT
from synthpatient.scale._partitions import (
    Engine,
    Partition,
    columns_of,
    map_partitions,
    partitions_of,
    sample_plan,
    session,
    take_rows,
)
from synthpatient.scale._summaries import (
    TableSummary,
    make_plan,
    own_range_edges,
    summarize,
    summarize_partition,
    value_range,
)
from synthpatient.schema import Schema, explain_schema

SAMPLE_ROWS = 50_000
FIDELITY = ("quality", "column_shapes", "column_pair_trends")
_NAN = float("nan")


def partitioned_quality(
    real: pd.DataFrame,
    synthetic: Any,
    sdtypes: Mapping[str, str],
    *,
    engine: Engine = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    client: Any = None,
) -> fidelity.QualityResult:
    """The fidelity quality report of a partitioned synthetic dataset (a Parquet folder or a
    Dask DataFrame) against ``real``, from mergeable summaries (see the module).

    Examples:
        >>> result = partitioned_quality(real, "big/", Schema.infer(real).sdtypes())
        >>> result.score, result.column_details
    """
    parts = synthetic if isinstance(synthetic, list) else partitions_of(synthetic)
    _check_columns(parts, sdtypes)
    run: dict[str, Any] = {"engine": engine, "client": client}
    if client is None and engine == "dask":
        with session(engine, scheduler, workers) as own:
            return partitioned_quality(real, parts, sdtypes, **own)
    plan = make_plan(real, sdtypes)
    ranges: dict[str, tuple[float, float]] = {}
    for found in map_partitions(value_range, [(p, plan) for p in parts], **run):
        for c, (low, high) in found.items():
            old = ranges.get(c, (low, high))
            ranges[c] = (min(old[0], low), max(old[1], high))
    plan.edges = {c: own_range_edges(*ranges.get(c, (_NAN, _NAN))) for c in plan.continuous}
    pieces = map_partitions(summarize_partition, [(p, plan) for p in parts], **run)
    synth = pieces[0]
    for piece in pieces[1:]:
        synth = synth.merge(piece)
    real_plan = make_plan(real, sdtypes)
    real_ranges = {c: value_range_of(real, c, plan.sdtypes[c]) for c in plan.continuous}
    real_plan.edges = {c: own_range_edges(*r) for c, r in real_ranges.items()}
    truth = summarize(real, real_plan)
    shapes = _shapes(truth, synth, plan.sdtypes)
    constant = {c: r[0] == r[1] for c, r in ranges.items()}
    pairs = _pairs(real, truth, synth, plan.sdtypes, constant, plan.edges, real_plan.edges)
    overall, shape_score, pair_score = fidelity._scores(shapes, pairs)
    return fidelity.QualityResult(overall, shape_score, pair_score, shapes, pairs)


def value_range_of(frame: pd.DataFrame, column: str, sdtype: str) -> tuple[float, float]:
    part = Partition(index=0, rows=len(frame), delayed=frame[[column]])
    plan = make_plan(frame[[column]], {column: sdtype})
    return value_range(part, plan).get(column, (_NAN, _NAN))


def _check_columns(parts: list[Partition], sdtypes: Mapping[str, str]) -> None:
    have = set(columns_of(parts))
    missing = [c for c in sdtypes if c not in have]
    if missing:
        raise DataError(
            f"The synthetic dataset lacks the column(s) {missing} of the real table; give "
            "a dataset sampled from a model of this table."
        )


def _ks(truth: tuple[Any, Any, int], synth: tuple[Any, Any, int]) -> float:
    """The two-sample KS statistic from the counts on the real grid (see ``_summaries``)."""
    real_on, _, n_real = truth
    on, gaps, n = synth
    if not n_real or not n:
        return _NAN
    real_cdf = np.cumsum(real_on) / n_real
    synth_cdf = (np.cumsum(on) + np.cumsum(gaps[:-1])) / n
    at_grid = np.abs(real_cdf - synth_cdf)
    before = np.concatenate([[0.0], real_cdf]), np.concatenate([[0.0], synth_cdf])
    last_in_gap = np.abs(before[0] - (before[1] + gaps / n))
    return float(max(at_grid.max(initial=0.0), last_in_gap[gaps > 0].max(initial=0.0)))


def _tv(real: Mapping[Hashable, int], synth: Mapping[Hashable, int]) -> float:
    """TVComplement from value counts (a synthetic-only value weighs 1e-6 in the real ones)."""
    if not real or not synth:
        return _NAN
    keys = list(dict.fromkeys([*real, *synth]))
    r = np.array([real.get(k, 0) for k in keys], dtype=float)
    s = np.array([synth.get(k, 0) for k in keys], dtype=float)
    r[(s > 0) & (r == 0)] = UNSEEN_CATEGORY_WEIGHT
    return 1.0 - 0.5 * float(np.abs(s / s.sum() - r / r.sum()).sum())


def _shapes(truth: TableSummary, synth: TableSummary, sdtypes: Mapping[str, str]) -> pd.DataFrame:
    rows = []
    for c, sdtype in sdtypes.items():
        if sdtype in CONTINUOUS:
            statistic = _ks(truth.ks[c], synth.ks[c])
            rows.append({"column": c, "metric": "KSComplement", "score": 1.0 - statistic})
        else:
            score = _tv(truth.values[c], synth.values[c])
            rows.append({"column": c, "metric": "TVComplement", "score": score})
    return pd.DataFrame(rows, columns=["column", "metric", "score"]).astype({"score": float})


def _similarity(real: Mapping[Any, int], synth: Mapping[Any, int]) -> float:
    keys = list(dict.fromkeys([*real, *synth]))
    r = np.array([real.get(k, 0) for k in keys], dtype=float)
    s = np.array([synth.get(k, 0) for k in keys], dtype=float)
    r_share = r / r.sum() if r.sum() else r * 0.0
    s_share = s / s.sum() if s.sum() else s * 0.0
    return 1.0 - 0.5 * float(np.abs(r_share - s_share).sum())


def _pairs(
    real: pd.DataFrame,
    truth: TableSummary,
    synth: TableSummary,
    sdtypes: Mapping[str, str],
    constant: Mapping[Any, bool],
    edges: Mapping[Any, Any],
    real_edges: Mapping[Any, Any],
) -> pd.DataFrame:
    """Column Pair Trends: what depends on the real table alone (the thresholds, real
    correlations and associations) from the in-memory code on the real table; the synthetic
    side from the summaries."""
    base = fidelity.column_pair_trends(real, real, sdtypes, num_rows_subsample=None)
    rows = []
    for row in base.to_dict("records"):
        pair = (row["column_1"], row["column_2"])
        if pair in synth.moments:
            r = float(row["real_correlation"])
            s = synth.moments[pair].pearson
            failed = any(constant.get(c, False) for c in pair) or synth.moments[pair].n < 2
            similarity = _NAN if np.isnan(r - s) else 1.0 - abs(r - s) / 2
            meets = bool(row["meets_threshold"]) and not failed
            row.update(
                synthetic_correlation=_NAN if failed else s,
                similarity=_NAN if failed else similarity,
                score=similarity if meets else _NAN,
                meets_threshold=meets,
            )
        elif pair in synth.cells and all(
            edges.get(c, 0) is not None and real_edges.get(c, 0) is not None for c in pair
        ):
            similarity = _similarity(truth.cells[pair], synth.cells[pair])
            row.update(similarity=similarity, score=similarity if row["meets_threshold"] else _NAN)
        else:  # binning either table failed: the report records NaN
            row.update(similarity=_NAN, score=_NAN, meets_threshold=False)
        rows.append(row)
    types = {c: float for c in fidelity.PAIR_COLUMNS[3:]}
    frame = pd.DataFrame(rows, columns=fidelity.PAIR_COLUMNS)
    return frame.astype({**types, "meets_threshold": bool})


def evaluate_partitioned(
    real: pd.DataFrame,
    synthetic: Any,
    *,
    sample_rows: int = SAMPLE_ROWS,
    metrics: Sequence[str | Metric] | None = None,
    schema: Schema | None = None,
    seed: int = 0,
    engine: Engine = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    **options: Any,
) -> EvaluationReport:
    """Evaluate a partitioned synthetic dataset (a Parquet folder, e.g. one written by
    ``sample_partitioned``, or a Dask DataFrame) against ``real``.

    Fidelity (quality and its two properties) from every synthetic row through mergeable
    summaries; every other metric on a uniform sample of ``sample_rows`` synthetic rows
    (without replacement; seed ``seed``). ``options`` go to :func:`evaluate` (``holdout``,
    ``target``, ``rules``, ``seeds``, ``sensitive``...).

    Examples:
        >>> report = evaluate_partitioned(real, "big/", holdout=test, target="progression")
        >>> report.summary
    """
    if isinstance(sample_rows, bool) or not isinstance(sample_rows, int) or sample_rows < 1:
        raise InvalidParameterError(
            f"sample_rows must be a whole number >= 1; got {sample_rows!r}."
        )
    parts = [p for p in partitions_of(synthetic) if p.rows]
    total = sum(p.rows for p in parts)
    if not total:
        raise DataError("The synthetic dataset has no rows.")
    with session(engine, scheduler, workers) as run:
        return _evaluate(real, parts, total, sample_rows, metrics, schema, seed, run, options)


def _evaluate(
    real: pd.DataFrame,
    parts: list[Partition],
    total: int,
    sample_rows: int,
    metrics: Sequence[str | Metric] | None,
    schema: Schema | None,
    seed: int,
    run: dict[str, Any],
    options: dict[str, Any],
) -> EvaluationReport:
    plan = sample_plan(parts, sample_rows, seed)
    columns = columns_of(parts)
    tasks = [(p, rows, columns) for p, rows in zip(parts, plan, strict=True) if len(rows)]
    sample = pd.concat(map_partitions(take_rows, tasks, **run), ignore_index=True)
    report = evaluate(real, sample, metrics=metrics, schema=schema, seed=seed, **options)
    keys = set(report.results["metric"]) & set(FIDELITY)
    notice = (
        f"Metrics other than fidelity were computed on a uniform sample of {len(sample):,} of "
        f"the {total:,} synthetic rows."
    )
    if keys:
        sdtypes = (schema or explain_schema(real)[0]).sdtypes()
        result = partitioned_quality(real, parts, sdtypes, **run)
        _replace_fidelity(report, result, keys)
        notice += (
            f" Quality, column shapes and column pair trends use all {total:,} rows (mergeable "
            "summaries; contingency tables without the 50,000-row subsample); their per-column "
            "diagnostics and heatmaps come from the sample."
        )
    report.meta["notices"] = [*report.meta.get("notices", []), notice]
    report.meta["n_synthetic"] = total
    report.meta["n_synthetic_sample"] = len(sample)
    return report


def _replace_fidelity(
    report: EvaluationReport, result: fidelity.QualityResult, keys: set[str]
) -> None:
    values = {
        "quality": result.score,
        "column_shapes": result.column_shapes,
        "column_pair_trends": result.column_pair_trends,
    }
    results = report.results.copy()
    for key in keys:
        results.loc[results["metric"] == key, "value"] = values[key]
    report.results = results
    sections = report.sections
    if "quality" in keys:
        sections["quality"] = {
            **sections.get("quality", {}),
            "column_shapes": result.column_shapes,
            "column_pair_trends": result.column_pair_trends,
        }
    if "column_shapes" in keys:
        sections["column_shapes"] = {
            **sections.get("column_shapes", {}),
            "column_details": result.column_details,
        }
    if "column_pair_trends" in keys:
        sections["column_pair_trends"] = {
            **sections.get("column_pair_trends", {}),
            "pair_details": result.pair_details,
        }
    summary = report.summary.copy()
    for key in keys:
        metric = get_metric_class(key)()
        level, verdict = metric.verdict(metric.normalize(values[key]))
        where = summary["metric"] == key
        summary.loc[where, ["score", "sd", "verdict", "level"]] = [values[key], 0.0, verdict, level]
    report.summary = summary
