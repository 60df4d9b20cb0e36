"""``evaluate(real, synthetic, ...)``: every evaluation family in one report object.

Fidelity (SDMetrics-compatible quality, column details, association heatmaps, detection),
ML utility (TSTR vs TRTR, size curve), privacy against a holdout, clinical rules and subgroup
representation. Stochastic parts (models, attacks, subsampling) run once per seed and are shown
as mean and spread. Neither table is ever modified.
"""

from __future__ import annotations

import json
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.errors import DataError, SynthPatientWarning
from synthpatient.evaluation import privacy
from synthpatient.evaluation._encoding import check_columns, check_frame, row_hashes
from synthpatient.evaluation.columns import association_matrix, column_details
from synthpatient.evaluation.detection import detection_score
from synthpatient.evaluation.fidelity import quality_report
from synthpatient.evaluation.representation import subgroup_shares
from synthpatient.evaluation.utility import ml_utility, size_curve
from synthpatient.rules import RuleSet
from synthpatient.schema import Schema
from synthpatient.schema._validate import coerce_column

#: Above this many rows a table is sampled down (with a notice) instead of exhausting memory.
MAX_ROWS = 200_000
SIZE_MULTIPLIERS = (0.5, 1.0, 2.0, 5.0)


@dataclass
class EvaluationReport:
    """Everything measured, as a summary, a tidy table, JSON and a self-contained HTML page.

    Attributes:
        summary: one row per headline score: family, metric, score, sd, verdict, level.
        results: tidy per-seed values: family, metric, seed, value.
        sections: the detailed results each report section is drawn from.
        meta: rows, columns, seeds, target, notices (things the reader must know).
    """

    summary: pd.DataFrame
    results: pd.DataFrame
    sections: dict[str, Any]
    meta: dict[str, Any]
    _real: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    _synthetic: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)

    def to_dict(self) -> dict[str, Any]:
        sections = {}
        for key, value in self.sections.items():
            sections[key] = _jsonable(value)
        return {"meta": self.meta, "summary": self.summary.to_dict("records"),
                "results": self.results.to_dict("records"), "sections": sections}

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
        return {k: _jsonable(v) for k, v in value.items()
                if not (k.startswith("distances_") or k.endswith("_values"))}
    if hasattr(value, "__dataclass_fields__"):
        return _jsonable({k: getattr(value, k) for k in value.__dataclass_fields__})
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


# -- input checks ----------------------------------------------------------------------------
def _check_inputs(real: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame | None,
                  schema: Schema, target: str | None, notices: list[str]) -> None:
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
                raise DataError(f"Column '{spec.name}' is {spec.kind} in the real table but "
                                f"{failed} value(s) of the {name} table are not. Give tables "
                                "whose columns have the same types.")
    if target is not None:
        if target not in real.columns:
            raise DataError(f"The target column '{target}' is not in the real table. "
                            f"Columns: {', '.join(map(str, real.columns))}.")
        if target not in [c.name for c in schema.learned]:
            raise DataError(f"The target '{target}' is an identifier or free text; choose a "
                            "clinical column.")
        if real[target].nunique(dropna=True) < 2:
            raise DataError(f"The target '{target}' has a single value in the real table, so "
                            "there is nothing to predict. Choose another target.")
    if holdout is not None:
        kinds = {c.name: c.kind for c in schema.learned}
        overlap = int(np.isin(row_hashes(holdout, kinds), row_hashes(real, kinds)).sum())
        if overlap:
            message = (f"{overlap} holdout row(s) also appear in the training table: the holdout "
                       "should hold patients the generator never saw.")
            warnings.warn(message, SynthPatientWarning, stacklevel=3)
            notices.append(message)


def _limit(frame: pd.DataFrame | None, name: str, notices: list[str]) -> pd.DataFrame | None:
    if frame is None or len(frame) <= MAX_ROWS:
        return frame
    message = (f"The {name} table has {len(frame):,} rows; a random {MAX_ROWS:,} of them were "
               "evaluated to stay within memory.")
    warnings.warn(message, SynthPatientWarning, stacklevel=3)
    notices.append(message)
    return frame.sample(MAX_ROWS, random_state=0)


# -- the families ----------------------------------------------------------------------------
def _repeat(seeds: list[int], run: Callable[[int], Any]) -> list[Any]:
    return [run(seed) for seed in seeds]


def _spread(values: list[float]) -> tuple[float, float]:
    clean = [v for v in values if v is not None and not np.isnan(v)]
    if not clean:
        return float("nan"), float("nan")
    return float(np.mean(clean)), float(statistics.pstdev(clean)) if len(clean) > 1 else 0.0


def evaluate(real: pd.DataFrame, synthetic: pd.DataFrame, *, holdout: pd.DataFrame | None = None,
             target: str | None = None, rules: RuleSet | None = None,
             schema: Schema | None = None, seeds: int = 1, sensitive: str | None = None,
             examples: pd.DataFrame | None = None,
             sample: Callable[[int], pd.DataFrame] | None = None) -> EvaluationReport:
    """Evaluate ``synthetic`` against ``real`` (the rows the generator was fitted on).

    Args:
        real: the real rows the generator saw.
        synthetic: the generated rows.
        holdout: real rows the generator never saw. Privacy is only measured against one
            (without it the report says so); utility tests on it (else on a split of ``real``,
            which the generator has seen, so TSTR is optimistic: the report says so too).
        target: column for ML utility (TSTR vs TRTR) and utility per subgroup.
        rules: clinical-consistency rules (see :mod:`synthpatient.rules`).
        schema: column kinds; inferred from ``real`` when None.
        seeds: how many times to repeat the stochastic parts (mean and spread reported).
        sensitive: column for the attribute-inference risk.
        examples: rows shown to a prompted generator; the share copied from them is reported.
        sample: ``n -> n synthetic rows`` from the fitted generator, for the size curve; without
            it the curve uses sub-samples of ``synthetic`` where it is large enough.

    Examples:
        >>> report = evaluate(train, synthetic, holdout=test, target="progression",
        ...                   rules=load_rule_pack("diabetes"), seeds=3)
        >>> report.summary
        >>> Path("report.html").write_text(report.to_html())
    """
    check_frame(real, "real")
    check_frame(synthetic, "synthetic")
    if holdout is not None:
        check_frame(holdout, "holdout")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise DataError(f"seeds must be a whole number >= 1. Got {seeds!r}.")
    notices: list[str] = []
    schema = schema or Schema.infer(real)
    _check_inputs(real, synthetic, holdout, schema, target, notices)
    real = _limit(real, "real", notices)  # type: ignore[assignment]
    synthetic = _limit(synthetic, "synthetic", notices)  # type: ignore[assignment]
    holdout = _limit(holdout, "holdout", notices)
    sdtypes = schema.sdtypes()
    seed_list = list(range(seeds))
    rows: list[dict[str, Any]] = []
    sections: dict[str, Any] = {}

    def record(family: str, metric: str, values: list[float]) -> None:
        rows.extend({"family": family, "metric": metric, "seed": s, "value": v}
                    for s, v in zip(seed_list if len(values) > 1 else [0], values, strict=False))

    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    # fidelity
    quality = quality_report(real, synthetic, sdtypes)
    sections["quality"] = quality
    sections["columns"] = column_details(real, synthetic, sdtypes)
    sections["association"] = {"real": association_matrix(real, sdtypes),
                               "synthetic": association_matrix(synthetic, sdtypes)}
    record("fidelity", "quality", [quality.score])
    record("fidelity", "column_shapes", [quality.column_shapes])
    record("fidelity", "column_pair_trends", [quality.column_pair_trends])
    detections = _repeat(seed_list, lambda s: detection_score(real, synthetic, schema, seed=s))
    record("fidelity", "detection", [d.score for d in detections])
    sections["detection"] = detections[0].details | {"auc_per_seed": [d.details["auc"] for d in detections]}
    lap("fidelity")

    # utility
    if target is not None:
        if holdout is None:
            notices.append("No holdout was given: utility tests on 25% of the real rows, which "
                           "the generator saw, so TSTR is optimistic. Pass a holdout.")
        groups = _group_labels(holdout, target, schema)
        utilities = _repeat(seed_list, lambda s: ml_utility(real, synthetic, holdout, target=target,
                                                           schema=schema, seed=s,
                                                           groups=groups if s == 0 else None))
        record("utility", "ml_utility", [u.score for u in utilities])
        sections["utility"] = utilities[0]
        sections["utility_per_seed"] = [u.score for u in utilities]
        sections["size_curve"] = _size_curve(real, synthetic, holdout, target, schema, sample, notices)
        sections["subgroup_utility"] = _subgroup_utility(utilities[0])
        lap("utility")

    # privacy
    if holdout is not None:
        dcrs = _repeat(seed_list, lambda s: privacy.dcr(real, synthetic, holdout, schema=schema, seed=s))
        mias = _repeat(seed_list, lambda s: privacy.membership_inference(real, synthetic, holdout,
                                                                         schema=schema, seed=s))
        nndrs = _repeat(seed_list, lambda s: privacy.nndr(real, synthetic, holdout, schema=schema, seed=s))
        copies = privacy.exact_copies(real, synthetic, holdout, schema=schema, seed=0)
        record("privacy", "dcr", [d.score for d in dcrs])
        record("privacy", "membership_inference", [m.score for m in mias])
        record("privacy", "nndr", [n.score for n in nndrs])
        record("privacy", "exact_copies", [copies.score])
        sections.update({"dcr": dcrs[0], "mia": mias[0], "nndr": nndrs[0], "copies": copies,
                         "mia_auc_per_seed": [m.auc for m in mias]})
        if sensitive is not None:
            attrs = _repeat(seed_list, lambda s: privacy.attribute_inference(
                real, synthetic, holdout, sensitive, schema=schema, seed=s))
            record("privacy", "attribute_inference", [a.score for a in attrs])
            sections["attribute"] = attrs[0]
    else:
        copies = privacy.exact_copies(real, synthetic, schema=schema, seed=0)
        record("privacy", "exact_copies", [copies.score])
        sections["copies"] = copies
        notices.append("No holdout was given: distance-to-closest-record and membership "
                       "inference need real rows the generator never saw, so they were not run. "
                       "Pass --holdout to measure them.")
    if examples is not None:
        example_copies = privacy.copied_from_examples(synthetic, examples, schema=schema)
        record("privacy", "copied_from_examples", [example_copies.score])
        sections["example_copies"] = example_copies

    lap("privacy")

    # consistency
    if rules is not None:
        table = rules.compare(real, synthetic)
        sections["rules"] = table
        excess = (table["synthetic_rate"].fillna(0) - table["real_rate"].fillna(0)).clip(lower=0)
        record("consistency", "rule_violations", [float(1 - excess.max()) if len(excess) else 1.0])

    # representation
    shares = subgroup_shares(real, synthetic, schema)
    sections["representation"] = shares
    if shares.columns:
        record("representation", "subgroup_shares", [shares.score])

    lap("consistency and representation")
    results = pd.DataFrame(rows, columns=["family", "metric", "seed", "value"])
    summary = _summary(results, sections)
    meta = {"n_real": len(real), "n_synthetic": len(synthetic),
            "n_holdout": None if holdout is None else len(holdout),
            "columns": list(sdtypes), "ignored_columns": [c.name for c in schema if not c.is_learned],
            "target": target, "seeds": seeds, "sensitive": sensitive,
            "rules": None if rules is None else rules.name, "notices": notices,
            "timings_s": timings}
    return EvaluationReport(summary, results, sections, meta, real, synthetic)


def _size_curve(real, synthetic, holdout, target, schema, sample, notices):  # type: ignore[no-untyped-def]
    n_train = len(real) if holdout is not None else int(round(0.75 * len(real)))
    if sample is not None:
        return size_curve(real, sample, holdout, target=target, schema=schema, seed=0,
                          multipliers=SIZE_MULTIPLIERS)
    tables = {m: synthetic.sample(int(round(m * n_train)), random_state=0)
              for m in SIZE_MULTIPLIERS if m * n_train <= len(synthetic)}
    missing = [m for m in SIZE_MULTIPLIERS if m not in tables]
    if missing:
        notices.append(f"Size curve: the synthetic table is too small for "
                       f"{', '.join(f'{m:g}x' for m in missing)} the real training size; "
                       "generate more rows (or pass the generator) to see those sizes.")
    if not tables:
        return None
    return size_curve(real, tables, holdout, target=target, schema=schema, seed=0)


def _group_labels(holdout: pd.DataFrame | None, target: str, schema: Schema) -> pd.DataFrame | None:
    """Subgroup level of every holdout row, one column per subgroup variable (sex, age band...)."""
    from synthpatient.evaluation.representation import subgroup_columns, subgroup_labels

    if holdout is None:
        return None
    labels = {column: subgroup_labels(holdout[column], how).astype(str)
              for column, how in subgroup_columns(schema).items() if column != target}
    return pd.DataFrame(labels, index=holdout.index) if labels else None


def _subgroup_utility(utility: Any) -> pd.DataFrame | None:
    """TSTR and TRTR within each subgroup of the test rows (from the models already fitted)."""
    groups = utility.details.get("subgroups")
    if not groups:
        return None
    metric = utility.primary_metric
    rows = []
    for label, per_model in groups.items():
        column, _, level = label.partition("=")
        for model, metrics in per_model.items():
            values = metrics[metric]
            rows.append({"column": column, "group": level, "model": model, "metric": metric,
                         "tstr": values["tstr"], "trtr": values["trtr"], "ratio": values["ratio"]})
    return pd.DataFrame(rows)


VERDICTS: dict[str, tuple[float, float, str, str, str]] = {
    # metric: (good at or above, fair at or above, good text, fair text, poor text)
    "quality": (0.9, 0.8, "close to the real data", "roughly like the real data",
                "far from the real data"),
    "column_shapes": (0.9, 0.8, "column distributions match", "distributions differ somewhat",
                      "distributions differ a lot"),
    "column_pair_trends": (0.9, 0.8, "relations between columns kept", "relations partly kept",
                           "relations lost"),
    "detection": (0.8, 0.5, "a classifier can hardly tell synthetic from real rows",
                  "a classifier partly tells them apart", "a classifier easily tells them apart"),
    "ml_utility": (0.9, 0.7, "models trained on it do nearly as well as on real data",
                   "models trained on it lose some accuracy", "models trained on it do much worse"),
    "dcr": (0.9, 0.7, "no closer to training patients than to unseen ones",
            "somewhat closer to training patients", "much closer to training patients: memorised"),
    "membership_inference": (0.9, 0.7, "the attack does no better than chance",
                             "the attack does a little better than chance",
                             "the attack tells training patients apart"),
    "nndr": (0.9, 0.7, "no synthetic row singles out one training patient",
             "some synthetic rows sit very close to single patients",
             "many synthetic rows single out training patients"),
    "exact_copies": (1.0, 0.99, "no synthetic row copies a training row",
                     "a few synthetic rows copy training rows", "many rows are copies"),
    "attribute_inference": (0.9, 0.7, "no extra risk for training patients' sensitive value",
                            "some extra risk", "the sensitive value leaks"),
    "copied_from_examples": (1.0, 0.95, "nothing copied from the prompt examples",
                             "a few rows copied from the examples", "many rows copied"),
    "rule_violations": (0.99, 0.95, "no more rule violations than the real data",
                        "a few more violations than the real data",
                        "many more violations than the real data"),
    "subgroup_shares": (0.95, 0.9, "subgroups keep their real shares",
                        "some subgroup shares shift", "subgroups are misrepresented"),
}


def _summary(results: pd.DataFrame, sections: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for (family, metric), group in results.groupby(["family", "metric"], sort=False):
        mean, sd = _spread(group["value"].tolist())
        good, fair, good_text, fair_text, poor_text = VERDICTS[metric]
        if np.isnan(mean):
            level, verdict = "info", "not computable on these tables"
        elif mean >= good:
            level, verdict = "good", good_text
        elif mean >= fair:
            level, verdict = "fair", fair_text
        else:
            level, verdict = "poor", poor_text
        rows.append({"family": family, "metric": metric, "score": mean, "sd": sd,
                     "verdict": verdict, "level": level})
    return pd.DataFrame(rows, columns=["family", "metric", "score", "sd", "verdict", "level"])
