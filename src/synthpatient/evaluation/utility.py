"""Machine-learning utility: does a model trained on synthetic data work on real patients?

TSTR (train on synthetic, test on real holdout) is compared with TRTR (train on the real
training rows, test on the same holdout). The ratio TSTR / TRTR is the share of the real
data's predictive value the synthetic table keeps. Neither table is modified: in particular
a class missing from the synthetic table is NOT patched in (published evaluators append
flipped rows to make metrics computable, which hides mode collapse); its ROC-AUC then counts
as chance.

Models (both fast, both deterministic for a given seed):

* ``"linear"``: the shared encoder (robust-scaled numbers, one-hot categories, missing
  indicators) then ``LogisticRegression`` or ``Ridge``;
* ``"gbm"``: ``HistGradientBoostingClassifier`` / ``Regressor`` on numbers with NaN left in
  and native categorical splits.

Metrics: classification ROC-AUC (binary: probability of the positive class; multiclass:
one-vs-rest macro average over the holdout's classes), accuracy and macro F1; regression R2
and MAE. The primary metric (AUC or R2) gives the score.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.errors import InvalidParameterError, SynthPatientWarning
from synthpatient.evaluation._metric import Inputs, Metric, Verdicts, flat_details
from synthpatient.evaluation._tstr import (
    HOLDOUT_SHARE,
    MIN_GROUP_ROWS,
    MODELS,
    Task,
    _baseline,
    _tstr,
)
from synthpatient.schema import Schema

# the models, the holdout share and the subgroup size are defined with the fitting code in
# _tstr; they stay importable from here
__all__ = [
    "HOLDOUT_SHARE",
    "LOWER_IS_BETTER",
    "MIN_GROUP_ROWS",
    "MODELS",
    "PRIMARY",
    "SIZE_MULTIPLIERS",
    "MLUtility",
    "SizeCurveResult",
    "Task",
    "UtilityResult",
    "ml_utility",
    "size_curve",
]
#: Synthetic sizes of the size curve, as multiples of the real training rows.
SIZE_MULTIPLIERS = (0.5, 1.0, 2.0, 5.0)
PRIMARY = {"classification": "roc_auc", "regression": "r2"}
#: Metrics where lower is better (their ratio above 1 means worse).
LOWER_IS_BETTER = frozenset({"mae"})


@dataclass(frozen=True)
class UtilityResult:
    """TSTR versus TRTR for each model and metric.

    ``metrics[model][metric] = {"tstr": ..., "trtr": ..., "ratio": tstr / trtr}`` (for MAE a
    ratio above 1 is worse). ``score`` is the mean over models of ``min(1, TSTR / TRTR)`` of
    the primary metric (ROC-AUC or R2), both clipped at 0 first; for ROC-AUC note that chance
    is 0.5, so a useless synthetic table scores about ``0.5 / TRTR``, not 0.
    """

    score: float
    task: str
    target: str
    primary_metric: str
    metrics: dict[str, dict[str, dict[str, float]]]
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SizeCurveResult:
    """TSTR of the primary metric at several synthetic table sizes, against TRTR.

    ``tstr[model][i]`` is for ``n_rows[i]`` synthetic rows (``multipliers[i] * len(train)``);
    ``scores[i]`` is the utility score at that size. ``score`` is the best of ``scores``: the
    most utility the generator gives at any of the sizes tried.
    """

    score: float
    task: str
    target: str
    primary_metric: str
    multipliers: list[float]
    n_rows: list[int]
    tstr: dict[str, list[float]]
    trtr: dict[str, float]
    scores: list[float]
    details: dict[str, Any] = field(default_factory=dict)


def empty_message(columns: Sequence[str]) -> str:
    """The notice for synthetic feature columns that hold no value (names only)."""
    return (
        f"The synthetic table has no value in {len(columns)} feature column(s) "
        f"({', '.join(map(str, columns))}): models trained on it could not use them, which "
        "lowers TSTR. Check why the generator left them empty."
    )


def _ratio(tstr: float, trtr: float) -> float:
    return float(tstr / trtr) if trtr and np.isfinite(trtr) and np.isfinite(tstr) else float("nan")


def _primary_score(tstr: float, trtr: float) -> float:
    """min(1, TSTR / TRTR) of the primary metric, both clipped at 0; NaN when TRTR <= 0."""
    tstr, trtr = max(0.0, tstr), max(0.0, trtr)
    return float(min(1.0, tstr / trtr)) if trtr > 0 and np.isfinite(tstr) else float("nan")


def _nanmean(values: Sequence[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


# -- public API ------------------------------------------------------------------------------
# over 80 lines only by its docstring (the caveat on holdouts and every argument); code ~45
def ml_utility(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None = None,
    *,
    target: str,
    schema: Schema | None = None,
    task: Task | None = None,
    seed: int | None = None,
    models: Sequence[str] = MODELS,
    groups: pd.DataFrame | None = None,
) -> UtilityResult:
    """Train on synthetic, test on real (TSTR) versus train on real, test on real (TRTR).

    When ``holdout`` is None, 25% of ``real`` is split off with ``seed`` (stratified on the
    target for classification) and TRTR trains on the remaining 75%. The comparison is then
    only fair if ``synthetic`` was generated from those same remaining rows: the caller must
    split first (e.g. with the same seed), fit the generator on the training part, and ideally
    pass the holdout explicitly. A generator fitted on all of ``real`` has seen the test rows,
    which inflates TSTR.

    Args:
        real: Real training rows (TRTR trains on them; the generator should have seen only them).
        synthetic: Generated rows (TSTR trains on them).
        holdout: Real rows neither saw, the test set of both.
        target: The column to predict.
        schema: Column kinds; inferred from ``real`` when None. Only learned columns are used
            as features (identifiers and free text never are).
        task: "classification" or "regression"; from the target's kind when None
            (categorical/boolean -> classification, numeric/integer/datetime -> regression).
        seed: Seed of the split and the models.
        models: Any of ``"linear"`` and ``"gbm"``.
        groups: subgroup labels of the holdout rows (same index), one column per subgroup
            variable (e.g. sex, age band). Each group with at least ``MIN_GROUP_ROWS`` test rows
            is also scored, by the same fitted models, into
            ``details["subgroups"]["column=level"][model][metric] = {"tstr", "trtr", "ratio"}``.

    Returns:
        A :class:`UtilityResult`.

    Raises:
        DataError: The target is missing from a table or constant in the real or synthetic
            training table, or the tables have different columns.
    """
    base = _baseline(real, holdout, target, schema, task, seed, models, groups)
    tstr, n_syn, dropped, tstr_groups, empty = _tstr(base, synthetic, models, with_groups=True)
    if empty:
        warnings.warn(empty_message(empty), SynthPatientWarning, stacklevel=2)
    metrics: dict[str, dict[str, dict[str, float]]] = {}
    for name in models:
        metrics[name] = {
            m: {
                "tstr": tstr[name][m],
                "trtr": base.trtr[name][m],
                "ratio": _ratio(tstr[name][m], base.trtr[name][m]),
            }
            for m in base.trtr[name]
        }
    primary = PRIMARY[base.problem.task]
    per_model = {
        name: _primary_score(tstr[name][primary], base.trtr[name][primary]) for name in models
    }
    details = dict(base.details)
    details["rows_without_target"]["synthetic"] = dropped
    if groups is not None:
        details["subgroups"] = _subgroup_metrics(base.trtr_groups, tstr_groups)
    details.update(
        {
            "n_synthetic": n_syn,
            "synthetic_empty_features": empty,
            "primary_score_per_model": per_model,
            "score_formula": f"mean over models of min(1, TSTR / TRTR) of {primary}, "
            "each clipped at 0",
            "lower_is_better": sorted(LOWER_IS_BETTER),
        }
    )
    return UtilityResult(
        score=_nanmean(list(per_model.values())),
        task=base.problem.task,
        target=target,
        primary_metric=primary,
        metrics=metrics,
        details=details,
    )


def size_curve(
    real: pd.DataFrame,
    synthesizer_samples: Callable[[int], pd.DataFrame] | Mapping[float, pd.DataFrame],
    holdout: pd.DataFrame | None,
    *,
    target: str,
    multipliers: Sequence[float] = (0.5, 1, 2, 5),
    schema: Schema | None = None,
    task: Task | None = None,
    seed: int | None = None,
    models: Sequence[str] = ("gbm",),
) -> SizeCurveResult:
    """TSTR at several synthetic sizes (``multiplier * len(training rows)``) against TRTR.

    More synthetic rows than real ones can help (a smooth generator adds data) or not (a
    copying one adds nothing); this shows which.

    Args:
        real: Real training rows.
        synthesizer_samples: Either ``n -> DataFrame of n synthetic rows`` (e.g.
            ``synthesizer.sample``), or ``{multiplier: DataFrame}`` already drawn (its keys
            then replace ``multipliers``).
        holdout: Real rows neither saw; when None, split off ``real`` as in :func:`ml_utility`
            (with the same caveat) and sizes are multiples of the remaining rows.
        target: The column to predict.
        multipliers: Sizes as multiples of the number of real training rows.
        schema, task, seed, models: As in :func:`ml_utility` (default: only ``"gbm"``).

    Returns:
        A :class:`SizeCurveResult`.
    """
    tables, multipliers = _drawn_tables(synthesizer_samples, multipliers)
    base = _baseline(real, holdout, target, schema, task, seed, models)
    primary = PRIMARY[base.problem.task]
    n_train = len(base.train)
    tstr: dict[str, list[float]] = {name: [] for name in models}
    sizes, scores = [], []
    for m in multipliers:
        if tables is not None:
            frame = tables[m]
        else:
            assert callable(synthesizer_samples)  # not a table of sizes: a sampler
            frame = synthesizer_samples(max(1, round(m * n_train)))
            if not isinstance(frame, pd.DataFrame):
                raise InvalidParameterError("'synthesizer_samples' must return a DataFrame.")
        result, n_syn, _, _, _ = _tstr(base, frame, models, what=f"synthetic (x{m:g})")
        sizes.append(n_syn)
        for name in models:
            tstr[name].append(result[name][primary])
        scores.append(
            _nanmean(
                [_primary_score(result[name][primary], base.trtr[name][primary]) for name in models]
            )
        )
    trtr = {name: base.trtr[name][primary] for name in models}
    details = dict(base.details)
    details["score_formula"] = "max over sizes of the mean over models of min(1, TSTR / TRTR)"
    finite = [s for s in scores if np.isfinite(s)]
    return SizeCurveResult(
        score=max(finite) if finite else float("nan"),
        task=base.problem.task,
        target=target,
        primary_metric=primary,
        multipliers=multipliers,
        n_rows=sizes,
        tstr=tstr,
        trtr=trtr,
        scores=scores,
        details=details,
    )


def _subgroup_metrics(
    trtr_groups: dict[str, dict[str, dict[str, float]]],
    tstr_groups: dict[str, dict[str, dict[str, float]]],
) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """``[column=level][model][metric] = {"tstr", "trtr", "ratio"}`` for every subgroup and
    model scored both ways."""
    return {
        level: {
            name: {
                m: {
                    "tstr": values[m],
                    "trtr": trtr_groups[level][name][m],
                    "ratio": _ratio(values[m], trtr_groups[level][name][m]),
                }
                for m in values
            }
            for name, values in per_model.items()
            if name in trtr_groups.get(level, {})
        }
        for level, per_model in tstr_groups.items()
        if level in trtr_groups
    }


def _drawn_tables(
    synthesizer_samples: Callable[[int], pd.DataFrame] | Mapping[float, pd.DataFrame],
    multipliers: Sequence[float],
) -> tuple[dict[float, pd.DataFrame] | None, list[float]]:
    """The tables already drawn (None when they are to be sampled) and the checked sizes."""
    tables: dict[float, pd.DataFrame] | None
    if isinstance(synthesizer_samples, Mapping):
        tables = {float(m): frame for m, frame in synthesizer_samples.items()}
        multipliers = sorted(tables)
    elif callable(synthesizer_samples):
        tables = None
    else:
        raise InvalidParameterError(
            "'synthesizer_samples' must be a function n -> DataFrame or "
            "a dict {multiplier: DataFrame}."
        )
    checked = [float(m) for m in multipliers]
    if not checked or any(not np.isfinite(m) or m <= 0 for m in checked):
        raise InvalidParameterError("'multipliers' must be positive numbers.")
    return tables, checked


def _group_labels(holdout: pd.DataFrame | None, target: str, schema: Schema) -> pd.DataFrame | None:
    """Subgroup level of every holdout row, one column per subgroup variable (sex, age band...)."""
    from synthpatient.evaluation.representation import subgroup_columns, subgroup_labels

    if holdout is None:
        return None
    labels = {
        column: subgroup_labels(holdout[column], how).astype(str)
        for column, how in subgroup_columns(schema).items()
        if column != target
    }
    return pd.DataFrame(labels, index=holdout.index) if labels else None


def _subgroup_table(result: UtilityResult) -> pd.DataFrame | None:
    """TSTR and TRTR within each subgroup of the test rows (from the models already fitted)."""
    groups = result.details.get("subgroups")
    if not groups:
        return None
    rows = []
    for label, per_model in groups.items():
        column, _, level = label.partition("=")
        for model, metrics in per_model.items():
            values = metrics[result.primary_metric]
            rows.append(
                {
                    "column": column,
                    "group": level,
                    "model": model,
                    "metric": result.primary_metric,
                    "tstr": values["tstr"],
                    "trtr": values["trtr"],
                    "ratio": values["ratio"],
                }
            )
    return pd.DataFrame(rows)


def _curve(inputs: Inputs, notices: list[str]) -> SizeCurveResult | None:
    """The size curve from the generator (``inputs.sample``) or, without it, from sub-samples
    of the synthetic table at the sizes it is large enough for (the missing ones noted)."""
    real, holdout, target = inputs.real, inputs.holdout, inputs.target
    assert target is not None  # in requires: compute_inputs refused it missing
    if inputs.sample is not None:
        return size_curve(
            real,
            inputs.sample,
            holdout,
            target=target,
            schema=inputs.schema,
            seed=inputs.seed,
            multipliers=SIZE_MULTIPLIERS,
        )
    n_train = len(real) if holdout is not None else int(round((1 - HOLDOUT_SHARE) * len(real)))
    tables = {
        m: inputs.synthetic.sample(int(round(m * n_train)), random_state=0)
        for m in SIZE_MULTIPLIERS
        if m * n_train <= len(inputs.synthetic)
    }
    missing = [m for m in SIZE_MULTIPLIERS if m not in tables]
    if missing:
        notices.append(
            f"Size curve: the synthetic table is too small for "
            f"{', '.join(f'{m:g}x' for m in missing)} the real training size; "
            "generate more rows (or pass the generator) to see those sizes."
        )
    if not tables:
        return None
    return size_curve(
        real,
        tables,
        holdout,
        target=target,
        schema=inputs.schema,
        seed=inputs.seed,
    )


class MLUtility(Metric):
    """Mean over models of min(1, TSTR / TRTR) of ROC-AUC or R2 (see :func:`ml_utility`).

    Details: every field of :class:`UtilityResult` and its details; ``tstr`` and ``trtr``,
    the primary metric averaged over the models; when detailed, ``subgroup_utility`` (TSTR and
    TRTR within each subgroup of the test rows) and ``size_curve`` (TSTR at several synthetic
    sizes, from ``sample`` when given, else from sub-samples of the synthetic table);
    ``notices`` say what the reader must know (no holdout, sizes not tried).

    Examples:
        >>> MLUtility().compute(train, synthetic, holdout=holdout, target="progression",
        ...                     seed=0).details["tstr"]
    """

    key = "ml_utility"
    family = "utility"
    name = "ML utility (TSTR / TRTR)"
    verdicts = Verdicts(
        0.9,
        0.7,
        "models trained on it do nearly as well as on real data",
        "models trained on it lose some accuracy",
        "models trained on it do much worse",
    )
    requires = frozenset({"target"})
    repeat = True

    def __init__(self, *, models: Sequence[str] = MODELS, task: Task | None = None) -> None:
        self.models = models
        self.task = task
        super().__init__()

    def _validate_params(self) -> None:
        unknown = [m for m in self.models if m not in MODELS]
        if unknown or not self.models or isinstance(self.models, str):
            raise InvalidParameterError(
                f"'models' must be a non-empty selection of {list(MODELS)}. Got {self.models!r}."
            )
        if self.task not in (None, "classification", "regression"):
            raise InvalidParameterError(
                f"'task' must be 'classification', 'regression' or None. Got {self.task!r}."
            )

    def _compute(self, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        target = inputs.target
        assert target is not None  # in requires: compute_inputs refused it missing
        groups = _group_labels(inputs.holdout, target, inputs.schema) if inputs.detailed else None
        result = ml_utility(
            inputs.real,
            inputs.synthetic,
            inputs.holdout,
            target=target,
            schema=inputs.schema,
            task=self.task,
            seed=inputs.seed,
            models=self.models,
            groups=groups,
        )
        primary = result.primary_metric
        notices: list[str] = []
        if inputs.holdout is None:
            notices.append(
                "No holdout was given: utility tests on 25% of the real rows, which "
                "the generator saw, so TSTR is optimistic. Pass a holdout."
            )
        if result.details["synthetic_empty_features"]:
            notices.append(empty_message(result.details["synthetic_empty_features"]))
        details = flat_details(result)
        details.update(
            {
                "tstr": float(np.mean([m[primary]["tstr"] for m in result.metrics.values()])),
                "trtr": float(np.mean([m[primary]["trtr"] for m in result.metrics.values()])),
                "notices": notices,
            }
        )
        if inputs.detailed:
            details["subgroup_utility"] = _subgroup_table(result)
            curve = _curve(inputs, notices)
            details["size_curve"] = (
                None if curve is None else {"score": curve.score, **flat_details(curve)}
            )
        return result.score, details
