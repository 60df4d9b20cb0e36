"""``evaluate(real, synthetic, ...)``: the registered metrics, run in one loop, in one report.

Fidelity (SDMetrics-compatible quality, detection, alpha-precision and beta-recall), ML utility
(TSTR vs TRTR, size curve), privacy against a holdout, clinical rules and subgroup
representation: every metric in :mod:`synthpatient.evaluation.registry`, or those chosen.
Stochastic metrics (models, attacks, subsampling) run once per seed and are shown as mean and
spread. A metric whose required input is missing (a holdout, a target...) is skipped and the
report says why. Neither table is ever modified.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from synthpatient._row_hash import row_hashes
from synthpatient.errors import DataError, InvalidParameterError, SynthPatientWarning
from synthpatient.evaluation._encoding import check_columns, check_frame
from synthpatient.evaluation._histories import Timeline, infer_timeline
from synthpatient.evaluation._metric import Inputs, Metric
from synthpatient.evaluation.registry import available_metrics, get_metric_class
from synthpatient.evaluation.report import RESULT_COLUMNS, EvaluationReport, summarise
from synthpatient.rules import RuleSet
from synthpatient.schema import DATE_RANGE_TEXT, Schema, coerce_column, explain_schema

__all__ = ["MAX_ROWS", "EvaluationReport", "evaluate"]

#: Above this many rows a table is sampled down (with a notice) instead of exhausting memory.
MAX_ROWS = 200_000


# -- input checks ----------------------------------------------------------------------------
def _check_inputs(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None,
    schema: Schema,
    target: str | None,
    notices: list[str],
) -> None:
    learned = [c.name for c in schema.learned]
    check_columns(synthetic, learned, "synthetic", real)
    if holdout is not None:
        check_columns(holdout, learned, "holdout", real)
    for name, frame in (("synthetic", synthetic), ("holdout", holdout)):
        if frame is None:
            continue
        for spec in schema.learned:
            _, failed = coerce_column(spec, frame[spec.name])
            if failed:
                extra = (
                    f" (or are dates outside {DATE_RANGE_TEXT})" if spec.kind == "datetime" else ""
                )
                raise DataError(
                    f"Column '{spec.name}' is {spec.kind} in the real table but "
                    f"{failed} value(s) of the {name} table are not{extra}. Give "
                    "tables whose columns have the same types."
                )
    if target is not None:
        if target not in real.columns:
            raise DataError(
                f"The target column '{target}' is not in the real table. "
                f"Columns: {', '.join(map(str, real.columns))}."
            )
        if target not in [c.name for c in schema.learned]:
            raise DataError(
                f"The target '{target}' is an identifier or free text; choose a clinical column."
            )
        if real[target].nunique(dropna=True) < 2:
            raise DataError(
                f"The target '{target}' has a single value in the real table, so "
                "there is nothing to predict. Choose another target."
            )
    if holdout is not None:
        kinds = {c.name: c.kind for c in schema.learned}
        overlap = int(np.isin(row_hashes(holdout, kinds), row_hashes(real, kinds)).sum())
        if overlap:
            message = (
                f"{overlap} holdout row(s) also appear in the training table: the holdout "
                "should hold patients the generator never saw."
            )
            warnings.warn(message, SynthPatientWarning, stacklevel=3)
            notices.append(message)


def _limit(
    frame: pd.DataFrame | None, name: str, notices: list[str], key: str | None = None
) -> pd.DataFrame | None:
    if frame is None or len(frame) <= MAX_ROWS:
        return frame
    if key is not None:
        return _limit_patients(frame, name, notices, key)
    message = (
        f"The {name} table has {len(frame):,} rows; a random {MAX_ROWS:,} of them were "
        "evaluated to stay within memory."
    )
    warnings.warn(message, SynthPatientWarning, stacklevel=3)
    notices.append(message)
    return frame.sample(MAX_ROWS, random_state=0)


def _limit_patients(frame: pd.DataFrame, name: str, notices: list[str], key: str) -> pd.DataFrame:
    """Whole patients of a long table, drawn at random until MAX_ROWS rows: a random sample
    of rows would cut every history short."""
    sizes = frame[key].value_counts(dropna=True)
    sizes = sizes.iloc[np.random.default_rng(0).permutation(len(sizes))]
    kept = sizes.index[np.cumsum(sizes.to_numpy()) <= MAX_ROWS]
    out = frame[frame[key].isin(kept)]
    message = (
        f"The {name} table has {len(frame):,} rows; the rows of a random {len(kept):,} of its "
        f"{len(sizes):,} patients ({len(out):,} rows) were evaluated to stay within memory."
    )
    warnings.warn(message, SynthPatientWarning, stacklevel=4)
    notices.append(message)
    return out


def _shared_patients(
    real: pd.DataFrame, holdout: pd.DataFrame | None, timeline: Timeline, notices: list[str]
) -> None:
    """Warn when holdout patients are also training patients (a holdout split by row)."""
    if holdout is None:
        return
    patients = holdout[timeline.key].dropna().unique()
    shared = int(np.isin(patients, real[timeline.key].dropna().unique()).sum())
    if shared:
        message = (
            f"{shared} of the holdout's {len(patients)} patients have a patient key that is "
            "also in the training table: the holdout should hold whole patients the generator "
            "never saw (split by patient, e.g. with split_patients()), or privacy risk is "
            "understated."
        )
        warnings.warn(message, SynthPatientWarning, stacklevel=4)
        notices.append(message)


def _timeline(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None,
    schema: Schema | None,
    patient_key: str | None,
    time_column: str | None,
    notices: list[str],
) -> tuple[Schema, Timeline | None]:
    """The schema (inferred when None) and the timeline: the given patient key and time,
    checked, or those inferred from a real table whose rows repeat a patient key."""
    for name, value in (("patient_key", patient_key), ("time_column", time_column)):
        if value is not None and (not isinstance(value, str) or not value):
            raise InvalidParameterError(f"'{name}' must be a column name or None.")
    found: str | None | bool = False
    if schema is None:
        schema, decisions = explain_schema(real)
        found = next((d.name for d in decisions if d.patient_key), None)
    timeline, _, found_notices = infer_timeline(
        real, schema, key=patient_key, time=time_column, found_key=found
    )
    if timeline is not None:
        for frame, what in ((synthetic, "synthetic"), (holdout, "holdout")):
            if frame is not None:
                timeline.check(frame, what)
        notices += found_notices
        _shared_patients(real, holdout, timeline, notices)
    return schema, timeline


#: How each privacy metric counts a record, shown by the report.
_ROW_PRIVACY = ("dcr", "membership_inference", "nndr", "exact_copies", "attribute_inference")


def _privacy_units(ran: list[str], timeline: Timeline | None, notices: list[str]) -> dict[str, str]:
    """Which unit each privacy metric that ran used: with a timeline, row-level tests count
    events (rows) and the patient-level ones whole histories; without, a row is a patient."""
    units = {}
    for key in ran:
        if key.startswith("patient_") and key != "patient_ml_utility":
            units[key] = "patient (whole history)"
        elif key in _ROW_PRIVACY:
            units[key] = "patient (one row each)" if timeline is None else "event (one row)"
    rows = [k for k, unit in units.items() if unit.startswith("event")]
    if rows:
        notices.append(
            f"Privacy unit: {', '.join(rows)} treat each row (event) of the long table as a "
            "record; the patient_* privacy metrics treat each patient's whole history as one."
        )
    return units


def _select(metrics: Sequence[str | Metric] | None) -> list[Metric]:
    """Metric instances: every registered one (with defaults) when None, else those named (a
    key) or given (a configured instance), in the order given."""
    if metrics is None:
        return [get_metric_class(key)() for key in available_metrics()]
    if isinstance(metrics, str | Metric) or not isinstance(metrics, Sequence) or not metrics:
        raise InvalidParameterError(
            "'metrics' must be a non-empty list of metric keys (or "
            f"Metric instances). Known keys: "
            f"{', '.join(available_metrics())}."
        )
    chosen = [m if isinstance(m, Metric) else get_metric_class(m)() for m in metrics]
    keys = [m.key for m in chosen]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise InvalidParameterError(f"'metrics' names {repeated} more than once.")
    return chosen


def _skip_notices(skipped: list[dict[str, str]]) -> list[str]:
    """One notice per reason, naming every metric it skipped."""
    by_reason: dict[str, list[str]] = {}
    for entry in skipped:
        by_reason.setdefault(entry["reason"], []).append(entry["metric"])
    return [f"Not measured: {', '.join(keys)}, as {reason}." for reason, keys in by_reason.items()]


# -- the loop --------------------------------------------------------------------------------
# long: the docstring documents each of its 15 arguments; the body is about 60 lines
def evaluate(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    *,
    metrics: Sequence[str | Metric] | None = None,
    holdout: pd.DataFrame | None = None,
    target: str | None = None,
    rules: RuleSet | None = None,
    schema: Schema | None = None,
    seeds: int = 1,
    seed: int = 0,
    sensitive: str | None = None,
    examples: pd.DataFrame | None = None,
    sample: Callable[[int], pd.DataFrame] | None = None,
    detailed: bool = True,
    patient_key: str | None = None,
    time_column: str | None = None,
) -> EvaluationReport:
    """Evaluate ``synthetic`` against ``real`` (the rows the generator was fitted on).

    Args:
        real: the real rows the generator saw.
        synthetic: the generated rows.
        metrics: registry keys (see :func:`~synthpatient.evaluation.available_metrics`) or
            configured :class:`~synthpatient.evaluation.Metric` instances; None runs every
            registered metric. One whose required input is not given is skipped, and
            ``meta["skipped"]`` and a notice say why.
        holdout: real rows the generator never saw. Privacy is only measured against one;
            utility tests on it (else on a split of ``real``, which the generator has seen,
            so TSTR is optimistic: the report says so).
        target: column for ML utility (TSTR vs TRTR) and utility per subgroup.
        rules: clinical-consistency rules (see :mod:`synthpatient.rules`).
        schema: column kinds; inferred from ``real`` when None.
        seeds: how many times to run the stochastic metrics (mean and spread reported).
        seed: the first seed; the runs use ``seed, seed + 1, ..., seed + seeds - 1``, the
            deterministic metrics ``seed``.
        sensitive: column for the attribute-inference risk.
        examples: rows shown to a prompted generator; the share copied from them is reported.
        sample: ``n -> n synthetic rows`` from the fitted generator, for the size curve; without
            it the curve uses sub-samples of ``synthetic`` where it is large enough.
        detailed: also compute the diagnostics behind the report's tables and figures (per
            column, associations, size curve, subgroups); scores are the same without them.
        patient_key: the column that ties the rows of a long table (several rows per patient)
            to their patient; inferred when None and a column of ``real`` repeats as one.
            With it, the patient-level metrics run beside the row-level ones (events per
            patient, gaps, lag-1 correlation, trajectories, relations, privacy and utility
            with the patient as the unit); without one they are skipped, with the reason.
        time_column: the time of each event (dates, or numbers such as days); inferred
            when None (a date, or a number named like a time), else row order.

    Examples:
        >>> report = evaluate(train, synthetic, holdout=test, target="progression",
        ...                   rules=load_rule_pack("diabetes"), seeds=3)
        >>> report.summary
        >>> evaluate(train, synthetic, metrics=["quality", "dcr"], holdout=test).summary
        >>> evaluate(visits, synthetic_visits, holdout=unseen_patients, patient_key="id",
        ...          time_column="day").summary
        >>> Path("report.html").write_text(report.to_html())
    """
    check_frame(real, "real")
    check_frame(synthetic, "synthetic")
    if holdout is not None:
        check_frame(holdout, "holdout")
    if examples is not None:
        check_frame(examples, "examples")
    for name, value, least in (("seeds", seeds, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise DataError(f"{name} must be a whole number >= {least}. Got {value!r}.")
    chosen = _select(metrics)
    notices: list[str] = []
    schema, timeline = _timeline(
        real, synthetic, holdout, schema, patient_key, time_column, notices
    )
    _check_inputs(real, synthetic, holdout, schema, target, notices)
    key = None if timeline is None else timeline.key
    real = _limit(real, "real", notices, key)
    synthetic = _limit(synthetic, "synthetic", notices, key)
    holdout = _limit(holdout, "holdout", notices, key)
    # one Inputs per seed, shared by every metric of that seed (common work is done once);
    # diagnostics on the first seed only, where the report's tables come from
    runs = [
        Inputs(
            real,
            synthetic,
            holdout,
            schema,
            seed + i,
            target,
            rules,
            sensitive,
            examples,
            sample,
            detailed and i == 0,
            timeline,
        )
        for i in range(seeds)
    ]
    timeline_meta = None if timeline is None else _timeline_meta(runs[0])
    results, sections, ran = _run(chosen, runs, notices)
    ran["privacy_unit"] = _privacy_units(ran["metrics"], timeline, ran["notices"])
    summary = summarise(results, {m.key: m for m in chosen}, ran["not_computed"])
    meta = {
        "n_real": len(real),
        "n_synthetic": len(synthetic),
        "n_holdout": None if holdout is None else len(holdout),
        "columns": list(schema.sdtypes()),
        "sdtypes": schema.sdtypes(),
        "ignored_columns": [c.name for c in schema if not c.is_learned],
        "target": target,
        "seeds": seeds,
        "seed": seed,
        "sensitive": sensitive,
        "rules": None if rules is None else rules.name,
        "labels": {m.key: m.name for m in chosen},
        "timeline": timeline_meta,
        **ran,
    }
    return EvaluationReport(summary, results, sections, meta, real, synthetic)


def _timeline_meta(inputs: Inputs) -> dict[str, Any]:
    """What the report says about the patient histories: key, time and the column split."""
    from synthpatient.evaluation.timeline import prepared

    prep = prepared(inputs)
    return {
        "patient_key": prep.timeline.key,
        "time_column": prep.timeline.time,
        "time_kind": prep.time_kind,
        "time_unit": prep.unit,
        "static": list(prep.columns.static),
        "varying": list(prep.columns.varying),
        "numbers": list(prep.columns.numbers),
        "n_real_patients": prep.real.n_patients,
        "n_synthetic_patients": prep.synthetic.n_patients,
        "n_holdout_patients": None if prep.holdout is None else prep.holdout.n_patients,
    }


def _run(
    chosen: list[Metric], runs: list[Inputs], notices: list[str]
) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """Every chosen metric that can run, once per seed if it is stochastic: the tidy results,
    the report's sections, and what ``meta`` records of the run (metrics, skipped, notices,
    timings)."""
    rows: list[dict[str, Any]] = []
    sections: dict[str, Any] = {}
    skipped: list[dict[str, str]] = []
    timings: dict[str, float] = {}
    not_computed: dict[str, str] = {}  # metric -> why it has no score (its "error" detail)
    for metric in chosen:
        reason = metric.skip_reason(runs[0])
        if reason is not None:
            skipped.append({"metric": metric.key, "reason": reason})
            continue
        start = time.perf_counter()
        results = [
            metric.compute_inputs(inputs) for inputs in (runs if metric.repeat else runs[:1])
        ]
        timings[metric.key] = round(time.perf_counter() - start, 3)
        rows += [
            {
                "family": metric.family,
                "metric": metric.key,
                "seed": inputs.seed,
                "value": result.score,
            }
            for inputs, result in zip(runs, results, strict=False)
        ]
        reasons = [
            str(r.details["error"]) for r in results if np.isnan(r.score) and r.details.get("error")
        ]
        if reasons and all(np.isnan(r.score) for r in results):
            not_computed[metric.key] = reasons[0]
        sections.update(metric.report_sections(results[0]))
        # patient-level metrics share their tables' notices: each is said once
        notices += [n for n in results[0].details.get("notices", []) if n not in notices]
    notices += _skip_notices(skipped)
    ran = [m.key for m in chosen if m.key in timings]
    return (
        pd.DataFrame(rows, columns=RESULT_COLUMNS),
        sections,
        {
            "metrics": ran,
            "skipped": skipped,
            "not_computed": not_computed,
            "notices": notices,
            "timings_s": timings,
        },
    )
