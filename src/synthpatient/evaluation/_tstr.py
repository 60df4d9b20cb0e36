"""TSTR and TRTR, the machinery of :mod:`synthpatient.evaluation.utility`: the prediction
problem, the holdout split, the two models and their scores.

No table is modified: rows without a target are left out (and counted), a class missing from
the synthetic table is not patched in (its ROC-AUC counts as chance), and every error names a
column, never a value.

Features are encoded once, from the real training rows (their medians, spreads and
categories), and every model, trained on real or synthetic rows, reads them through that one
encoding: a synthetic table is judged in the real data's terms, a category the real data never
had is unknown rather than a new code, and a synthetic column that is entirely missing is just
missing values (named in the details; a model cannot learn from it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, r2_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from synthpatient._random import check_seed, fresh_seed
from synthpatient.errors import DataError, InvalidParameterError
from synthpatient.evaluation._encoding import (
    CATEGORY_KINDS,
    HUGE,
    MAX_CATEGORIES,
    MAX_ORDINAL_CATEGORIES,
    NUMERIC_KINDS,
    Encoder,
    EncodingMode,
    category_keys,
    check_columns,
    check_frame,
    fit_encoder,
    learned_columns,
    model_threads,
    numbers,
)
from synthpatient.schema import Schema

Task = Literal["classification", "regression"]


MODELS = ("linear", "gbm")


HOLDOUT_SHARE = 0.25


#: Subgroups of the test rows smaller than this are not scored on their own (too noisy).
MIN_GROUP_ROWS = 30


# -- preparation -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Problem:
    schema: Schema
    target: str
    features: list[str]
    kinds: tuple[tuple[str, str], ...]
    task: Task
    seed: int


def _problem(
    real: pd.DataFrame,
    schema: Schema | None,
    target: str,
    task: str | None,
    models: Sequence[str],
    seed: int | None,
) -> _Problem:
    check_frame(real, "real")
    check_seed(seed)
    if not isinstance(target, str) or not target:
        raise InvalidParameterError(f"'target' must be a column name. Got {target!r}.")
    if target not in real.columns:
        raise DataError(f"The target column '{target}' is not in the real table.")
    schema = schema or Schema.infer(real)
    columns = learned_columns(schema)
    if target not in columns:
        raise InvalidParameterError(
            f"The target '{target}' is not a learned column (identifiers and free text are "
            f"not predicted); choose among {columns}."
        )
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise InvalidParameterError(
            f"'models' must be a non-empty selection of {list(MODELS)}. Unknown: {unknown}."
        )
    kind = schema[target].kind
    inferred: Task = "classification" if kind in CATEGORY_KINDS else "regression"
    if task is None:
        task = inferred
    if task not in ("classification", "regression"):
        raise InvalidParameterError(
            f"'task' must be 'classification', 'regression' or None. Got {task!r}."
        )
    if task == "regression" and kind not in NUMERIC_KINDS:
        raise InvalidParameterError(f"The target '{target}' is {kind}; it cannot be regressed.")
    features = [c for c in columns if c != target]
    if not features:
        raise DataError("There are no learned columns besides the target to predict from.")
    kinds = tuple((c, schema[c].kind) for c in features)
    return _Problem(
        schema,
        target,
        features,
        kinds,
        "regression" if task == "regression" else "classification",  # checked above
        fresh_seed() if seed is None else int(seed),
    )


def _labels(problem: _Problem, frame: pd.DataFrame) -> np.ndarray:
    kind = problem.schema[problem.target].kind
    if problem.task == "classification":
        return category_keys(frame[problem.target], kind)
    return numbers(frame[problem.target], kind)


def _usable(
    problem: _Problem, frame: pd.DataFrame, what: str, reference: pd.DataFrame
) -> tuple[pd.DataFrame, np.ndarray, int]:
    """Rows with a target, their labels, and how many were dropped; errors name columns only."""
    check_frame(frame, what)
    if problem.target not in frame.columns:
        raise DataError(f"The target column '{problem.target}' is not in the {what} table.")
    check_columns(frame, problem.features + [problem.target], what, reference)
    labels = _labels(problem, frame)
    present = ~pd.isna(labels)
    if not present.any():
        raise DataError(
            f"The target column '{problem.target}' of the {what} table is entirely missing."
        )
    return frame[present], labels[present], int((~present).sum())


def _check_varies(labels: np.ndarray, target: str, what: str) -> None:
    if len(pd.unique(labels)) < 2:
        raise DataError(
            f"The target column '{target}' is constant in the {what} table; a "
            "model trained on it predicts nothing. Give rows with at least two "
            "different target values."
        )


class _RealEncoding(TransformerMixin, BaseEstimator):
    """The features through an encoding fitted on the real training rows (``encoder``).

    Fitting learns only which encoded columns hold no value at all in the rows trained on
    (a synthetic column that is entirely missing, in the ordinal encoding that leaves NaN in
    place): they are set to 0 in training and prediction alike, a constant no model splits
    on. Gradient boosting cannot bin a column without values (scikit-learn fails on it), and
    a column with no value teaches nothing either way.
    """

    def __init__(self, encoder: Encoder | None = None) -> None:
        self.encoder = encoder

    def fit(self, X: pd.DataFrame, y: object = None) -> _RealEncoding:  # noqa: N803
        self.fit_transform(X)
        return self

    def fit_transform(self, X: pd.DataFrame, y: object = None) -> np.ndarray:  # noqa: N803
        if self.encoder is None:
            raise InvalidParameterError("_RealEncoding needs the encoder of the real rows.")
        x = self.encoder.transform(X, dtype=np.float64)
        self.empty_ = np.isnan(x).all(axis=0)
        x[:, self.empty_] = 0.0
        return x

    def transform(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        if self.encoder is None:
            raise InvalidParameterError("_RealEncoding needs the encoder of the real rows.")
        x = self.encoder.transform(X, dtype=np.float64)
        x[:, self.empty_] = 0.0
        return x


def _encoders(problem: _Problem, real_train: pd.DataFrame) -> dict[str, Encoder]:
    """The one-hot (linear) and ordinal (trees) encodings of the real training rows."""
    modes: tuple[tuple[EncodingMode, int], ...] = (
        ("onehot", MAX_CATEGORIES),
        ("ordinal", MAX_ORDINAL_CATEGORIES),
    )
    return {
        mode: fit_encoder(
            real_train, problem.schema, columns=problem.features, mode=mode, max_categories=cap
        )
        for mode, cap in modes
    }


def _model(problem: _Problem, name: str, encoders: dict[str, Encoder]) -> Pipeline:
    classify = problem.task == "classification"
    if name == "linear":
        encoder = _RealEncoding(encoders["onehot"])
        estimator: Any = LogisticRegression(max_iter=2000) if classify else Ridge(alpha=1.0)
    else:
        encoder = _RealEncoding(encoders["ordinal"])
        mask = [kind in CATEGORY_KINDS for _, kind in problem.kinds]
        cls = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
        estimator = cls(categorical_features=mask if any(mask) else None, random_state=problem.seed)
    return Pipeline([("encode", encoder), ("model", estimator)])


# -- metrics ---------------------------------------------------------------------------------
def _roc_auc(
    truth: np.ndarray, proba: np.ndarray, classes: list[str], positive: str | None
) -> float:
    """Binary AUC of the positive class, or one-vs-rest macro AUC over the truth's classes.

    A class the model never saw (absent from its training table) gets probability 0 for every
    row, i.e. chance-level AUC for that class, instead of an error.
    """
    column = {c: i for i, c in enumerate(classes)}

    def one(cls: str) -> float:
        hits = truth == cls
        if hits.all() or not hits.any():
            return float("nan")
        score = proba[:, column[cls]] if cls in column else np.zeros(len(truth))
        return float(roc_auc_score(hits, score))

    if positive is not None:
        return one(positive)
    values = [one(c) for c in np.unique(truth)]
    values = [v for v in values if not np.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def _evaluate(
    model: Pipeline, problem: _Problem, test: pd.DataFrame, truth: np.ndarray, positive: str | None
) -> dict[str, float]:
    x = test[problem.features]
    if problem.task == "regression":
        guess = model.predict(x)
        return {
            "r2": float(r2_score(truth, guess)),
            "mae": float(mean_absolute_error(truth, guess)),
        }
    guess = np.asarray(model.predict(x)).astype(str)
    truth = truth.astype(str)
    classes = [str(c) for c in model.classes_]
    return {
        "roc_auc": _roc_auc(truth, model.predict_proba(x), classes, positive),
        "accuracy": float(accuracy_score(truth, guess)),
        "f1_macro": float(f1_score(truth, guess, average="macro", zero_division=0)),
    }


def _fit_score(
    problem: _Problem,
    models: Sequence[str],
    train: pd.DataFrame,
    labels: np.ndarray,
    test: pd.DataFrame,
    truth: np.ndarray,
    positive: str | None,
    encoders: dict[str, Encoder],
    groups: pd.DataFrame | None = None,
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, dict[str, float]]]]:
    """Scores of each model on ``test`` and, when ``groups`` labels the test rows, on each group
    (the same fitted model, so per-group figures cost no extra training)."""
    y = labels.astype(str) if problem.task == "classification" else labels.astype(float)
    unit = 1.0
    if problem.task == "regression":
        # targets near the float limit (±1e308) are fitted and scored in units of their
        # largest magnitude, so that squares do not overflow; R² is unchanged, MAE scaled back
        peak = float(max(np.abs(y).max(initial=0.0), np.abs(truth.astype(float)).max(initial=0.0)))
        unit = peak if peak > HUGE else 1.0
        y, truth = y / unit, truth.astype(float) / unit

    def score(model: Pipeline, rows: pd.DataFrame, expected: np.ndarray) -> dict[str, float]:
        result = _evaluate(model, problem, rows, expected, positive)
        if "mae" in result:
            result["mae"] *= unit
        return result

    out: dict[str, dict[str, float]] = {}
    by_group: dict[str, dict[str, dict[str, float]]] = {}
    with model_threads(len(train)):
        for name in models:
            model = _model(problem, name, encoders).fit(train[problem.features], y)
            out[name] = score(model, test, truth)
            group_columns = {} if groups is None else {c: groups[c] for c in groups.columns}
            for column, group_labels in group_columns.items():
                labels_of_test = group_labels.reindex(test.index).to_numpy()
                for level in pd.unique(labels_of_test[pd.notna(labels_of_test)]):
                    rows = labels_of_test == level
                    if rows.sum() >= MIN_GROUP_ROWS and len(pd.unique(truth[rows])) > 1:
                        by_group.setdefault(f"{column}={level}", {})[name] = score(
                            model, test[rows], truth[rows]
                        )
    return out, by_group


def _split(
    problem: _Problem, real: pd.DataFrame, labels: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray, bool]:
    """A seeded 25% holdout off ``real`` (stratified when every class has 2+ rows)."""
    stratify = None
    if problem.task == "classification" and pd.Series(labels).value_counts().min() >= 2:
        stratify = labels
    try:
        train_pos, test_pos = train_test_split(
            np.arange(len(real)),
            test_size=HOLDOUT_SHARE,
            random_state=problem.seed,
            stratify=stratify,
        )
    except ValueError:  # too few rows per class for a stratified split of this size
        stratify = None
        train_pos, test_pos = train_test_split(
            np.arange(len(real)), test_size=HOLDOUT_SHARE, random_state=problem.seed
        )
    return (
        real.iloc[train_pos],
        labels[train_pos],
        real.iloc[test_pos],
        labels[test_pos],
        stratify is not None,
    )


@dataclass(frozen=True)
class _Baseline:
    problem: _Problem
    train: pd.DataFrame
    test: pd.DataFrame
    test_truth: np.ndarray
    positive: str | None
    trtr: dict[str, dict[str, float]]
    details: dict[str, Any]
    groups: pd.DataFrame | None = None
    trtr_groups: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    #: the encodings of the real training rows every model reads its features through
    encoders: dict[str, Encoder] = field(default_factory=dict)


def _baseline(
    real: pd.DataFrame,
    holdout: pd.DataFrame | None,
    target: str,
    schema: Schema | None,
    task: str | None,
    seed: int | None,
    models: Sequence[str],
    groups: pd.DataFrame | None = None,
) -> _Baseline:
    models = list(models)
    problem = _problem(real, schema, target, task, models, seed)
    train, train_y, dropped = _usable(problem, real, "real", real)
    details: dict[str, Any] = {
        "seed": problem.seed,
        "features": problem.features,
        "rows_without_target": {"real": dropped},
    }
    if holdout is None:
        train, train_y, test, test_y, stratified = _split(problem, train, train_y)
        details["holdout"] = f"{HOLDOUT_SHARE:.0%} of the real rows, split off with the seed" + (
            ", stratified" if stratified else ""
        )
    else:
        test, test_y, dropped = _usable(problem, holdout, "holdout", real)
        details["rows_without_target"]["holdout"] = dropped
        details["holdout"] = "given"
    _check_varies(train_y, target, "real")
    positive = None
    if problem.task == "classification":
        classes = sorted(pd.unique(train_y).astype(str))
        # binary: the second class in sorted key order, e.g. "1" of 0/1, "True" of booleans
        positive = classes[1] if len(classes) == 2 else None
        details["classes"] = classes
        details["positive_class"] = positive
    details.update({"n_train_real": len(train), "n_holdout": len(test)})
    encoders = _encoders(problem, train)
    trtr, trtr_groups = _fit_score(
        problem, models, train, train_y, test, test_y, positive, encoders, groups
    )
    return _Baseline(
        problem, train, test, test_y, positive, trtr, details, groups, trtr_groups, encoders
    )


def empty_features(problem: _Problem, frame: pd.DataFrame) -> list[str]:
    """Feature columns with no value at all in ``frame`` (a model learns nothing from them)."""
    return [c for c in problem.features if bool(frame[c].isna().all())]


def _tstr(
    base: _Baseline,
    synthetic: pd.DataFrame,
    models: Sequence[str],
    what: str = "synthetic",
    *,
    with_groups: bool = False,
) -> tuple[
    dict[str, dict[str, float]], int, int, dict[str, dict[str, dict[str, float]]], list[str]
]:
    """TSTR scores, synthetic rows used, rows without a target, per-group scores, and the
    features with no value in the rows used (the models could not learn from them)."""
    syn, syn_y, dropped = _usable(base.problem, synthetic, what, base.train)
    _check_varies(syn_y, base.problem.target, what)
    scores, by_group = _fit_score(
        base.problem,
        models,
        syn,
        syn_y,
        base.test,
        base.test_truth,
        base.positive,
        base.encoders,
        base.groups if with_groups else None,
    )
    return scores, len(syn), dropped, by_group, empty_features(base.problem, syn)
