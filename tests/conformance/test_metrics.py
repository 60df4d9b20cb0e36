"""The metric conformance suite: every registered metric, each check built from the registry.

Checks are chosen from each metric's declared ``family`` and ``requires``, never from its key,
so a new metric is tested the day it is registered. The tables are small (300 rows) and drawn
with fixed seeds from one made-up clinical population with strong relations between columns:

* ``fresh``: another sample of the same population, what a perfect generator would give;
* ``noisy``: the fresh sample with half a standard deviation of noise on every number and a
  fifth of the categories redrawn;
* ``far``: a noisier copy (1.5 standard deviations, half the categories) with every column
  shuffled on its own. Shuffling alone keeps each column's distribution, which column-shape
  metrics cannot see by design, so the far table is also noisier: it is worse than the noisy
  one in every respect a metric may measure;
* ``copy``: the training rows themselves (identifiers renewed, as a generator would).

Fidelity and utility must rank fresh > noisy > far; privacy must rank the copy worst;
consistency and representation must give the real rows themselves their best score.

Patient-level metrics (those that require a ``timeline``) are checked the same way on long
tables of 80 patients with 3-8 visits each (``timelines``): an autocorrelated marker that
rises over time, a second lab, a symptom and static attributes tied to the history. Their
``noisy`` table adds noise and a bias to the labs, stretches the times, drops visits and
redraws some static categories per patient; their ``far`` table does all of it harder and
then shuffles every value across patients and visits.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pytest

from synthpatient.errors import DataError, InvalidParameterError, UnknownMetricError
from synthpatient.evaluation import (
    Metric,
    MetricResult,
    Timeline,
    available_metrics,
    get_metric_class,
)
from synthpatient.evaluation._metric import FAMILIES, REQUIREMENTS
from synthpatient.evaluation.evaluate import evaluate
from synthpatient.evaluation.report import _default, _jsonable
from synthpatient.rules import RuleSet
from synthpatient.schema import Schema

KEYS = available_metrics()
N = 300
ORDERED_FAMILIES = {"fidelity", "utility"}
BEST_ON_REAL_FAMILIES = {"consistency", "representation"}
RULES = RuleSet.from_yaml("""
name: conformance
rules:
  - id: bmi-possible
    range: {column: bmi, min: 15, max: 45}
  - id: sbp-possible
    range: {column: sbp, min: 90, max: 200}
  - id: age-adult
    range: {column: age, min: 18, max: 95}
""")


def patients(n: int, seed: int) -> pd.DataFrame:
    """Mixed types, a missing lab, an identifier, and relations strong enough to lose."""
    rng = np.random.default_rng(seed)
    age = rng.integers(20, 90, n)
    sex = rng.choice(["female", "male"], n)
    male = sex == "male"
    bmi = np.round(22 + 0.12 * (age - 50) + 2.5 * male + rng.normal(0, 2.5, n), 1)
    sbp = np.round(95 + 0.6 * age + 0.8 * bmi + rng.normal(0, 6, n), 0)
    hba1c = np.round(4.2 + 0.05 * bmi + 0.01 * age + rng.normal(0, 0.3, n), 1)
    hba1c[rng.random(n) < 0.1] = np.nan
    smoker = np.where(
        rng.random(n) < np.where(male, 0.5, 0.1),
        "current",
        np.where(rng.random(n) < 0.5, "former", "never"),
    )
    risk = 3 * (np.nan_to_num(hba1c, nan=6.0) - 6.0) + 0.04 * (age - 55)
    return pd.DataFrame(
        {
            "patient_id": np.arange(n) + 10_000 * (seed + 1),
            "age": age,
            "sex": sex,
            "bmi": bmi,
            "sbp": sbp,
            "hba1c": hba1c,
            "smoker": smoker,
            "diabetic": rng.random(n) < 1 / (1 + np.exp(-risk)),
            "admitted": pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 1000, n), "D"),
        }
    )


def perturbed(frame: pd.DataFrame, scale: float, flip: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = frame.copy()
    for column in ("age", "bmi", "sbp", "hba1c"):
        out[column] = out[column] + rng.normal(0, scale * frame[column].std(), len(out))
    out["age"] = out["age"].round().clip(18, 99).astype(int)
    for column in ("sex", "smoker", "diabetic"):
        hit = rng.random(len(out)) < flip
        out.loc[hit, column] = rng.choice(frame[column].unique(), hit.sum())
    days = int(300 * scale)
    out["admitted"] = out["admitted"] + pd.to_timedelta(
        rng.integers(-days, days + 1, len(out)), "D"
    )
    return out


def shuffled(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {c: frame[c].to_numpy()[rng.permutation(len(frame))] for c in frame.columns}
    ).assign(patient_id=frame["patient_id"].to_numpy())


def timelines(n: int, seed: int) -> pd.DataFrame:
    """Patients with 3-8 visits: an autocorrelated marker that rises over time, a second lab,
    a symptom that follows the marker, static attributes tied to the history."""
    rng = np.random.default_rng(seed)
    age = rng.integers(30, 85, n)
    sex = rng.choice(["female", "male"], n)
    level = 5 + 0.04 * (age - 55) + 0.8 * (sex == "male") + rng.normal(0, 0.8, n)
    visits = np.clip(3 + np.round((age - 30) / 55 * 3) + rng.integers(0, 3, n), 3, 8)
    progressed = level + rng.normal(0, 0.4, n) > 5.4
    parts = []
    for i, count in enumerate(visits.astype(int)):
        days = np.r_[0, np.cumsum(30 + np.round(rng.exponential(120, count - 1)))]
        noise = np.zeros(count)
        noise[0] = rng.normal(0, 0.6)
        for t in range(1, count):
            noise[t] = 0.8 * noise[t - 1] + rng.normal(0, 0.4)
        marker = level[i] + 0.8 * days / 365 + noise
        lab = 100 + 8 * (level[i] - 5) + 3 * days / 365 + rng.normal(0, 3, count)
        parts.append(
            pd.DataFrame(
                {
                    "patient_id": 10_000 * (seed + 1) + i,
                    "age": age[i],
                    "sex": sex[i],
                    "progressed": progressed[i],
                    "day": days.astype(int),
                    "marker": marker.round(2),
                    "lab": lab.round(1),
                    "symptom": np.where(marker > level[i] + 0.6, "yes", "no"),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def perturbed_timelines(
    frame: pd.DataFrame, scale: float, flip: float, stretch: float, drop: float, seed: int
) -> pd.DataFrame:
    """Labs with noise and a bias, times stretched, later visits dropped, static categories
    redrawn per patient (so they stay static), symptoms redrawn per visit."""
    rng = np.random.default_rng(seed)
    first = ~frame["patient_id"].duplicated().to_numpy()
    out = frame[first | (rng.random(len(frame)) >= drop)].reset_index(drop=True)
    patients, codes = np.unique(out["patient_id"], return_inverse=True)
    for column in ("marker", "lab"):
        noise = rng.normal(0, 1, len(out)) - 0.6
        out[column] = out[column] + scale * frame[column].std() * noise
    age_noise = rng.normal(0, scale * frame["age"].std(), len(patients))[codes]
    out["age"] = (out["age"] + age_noise).round().astype(int)
    out["day"] = (out["day"] * stretch).round().astype(int)
    for column in ("sex", "progressed"):
        hit = (rng.random(len(patients)) < flip)[codes]
        redrawn = rng.choice(frame[column].unique(), len(patients))[codes]
        out[column] = np.where(hit, redrawn, out[column].to_numpy())
    hit = rng.random(len(out)) < flip
    out.loc[hit, "symptom"] = rng.choice(["yes", "no"], hit.sum())
    return out


@dataclass(frozen=True)
class Case:
    """The tables a metric is checked on, and every input any metric of its kind requires."""

    real: pd.DataFrame
    holdout: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    schema: Schema
    inputs: dict[str, Any]

    @property
    def fresh(self) -> pd.DataFrame:
        return self.tables["fresh"]

    def evaluate_inputs(self, given: dict[str, Any]) -> dict[str, Any]:
        """``given`` as ``evaluate``'s arguments (a timeline is its key and time column)."""
        out = {k: v for k, v in given.items() if k != "timeline"}
        if "timeline" in given:
            out.update(patient_key=given["timeline"].key, time_column=given["timeline"].time)
        return out


REAL, HOLDOUT, FRESH = patients(N, 1), patients(N, 2), patients(N, 3)
TABLES = {
    "fresh": FRESH,
    "noisy": perturbed(FRESH, 0.5, 0.2, seed=4),
    "far": shuffled(perturbed(FRESH, 1.5, 0.5, seed=5), seed=6),
    "copy": REAL.assign(patient_id=REAL["patient_id"] + 500_000),
}
SCHEMA = Schema.infer(REAL)
#: Every input any row-level metric may require, so that each can run.
INPUTS = {
    "holdout": HOLDOUT,
    "target": "diabetic",
    "rules": RULES,
    "sensitive": "smoker",
    "examples": REAL,
}
ROWS = Case(REAL, HOLDOUT, TABLES, SCHEMA, INPUTS)

LONG_REAL, LONG_HOLDOUT, LONG_FRESH = timelines(80, 1), timelines(80, 2), timelines(80, 3)
LONG = Case(
    LONG_REAL,
    LONG_HOLDOUT,
    {
        "fresh": LONG_FRESH,
        "noisy": perturbed_timelines(LONG_FRESH, 0.5, 0.3, 1.3, 0.35, seed=4),
        "far": shuffled(perturbed_timelines(LONG_FRESH, 1.5, 0.5, 2.0, 0.5, seed=5), seed=6),
        "copy": LONG_REAL.assign(patient_id=LONG_REAL["patient_id"] + 500_000),
    },
    Schema.infer(LONG_REAL),
    {
        "holdout": LONG_HOLDOUT,
        "target": "progressed",
        "rules": RULES,
        "sensitive": "symptom",
        "examples": LONG_REAL,
        "timeline": Timeline("patient_id", "day"),
    },
)
assert set(LONG.inputs) == set(REQUIREMENTS)
assert set(INPUTS) == set(REQUIREMENTS) - {"timeline"}


def case(key: str) -> Case:
    """Patient-level metrics are checked on long tables, the others on one row per patient."""
    return LONG if "timeline" in get_metric_class(key).requires else ROWS


def fingerprint(frame: pd.DataFrame) -> tuple:
    """Values, index, column names and dtypes: any change to a frame changes this."""
    return (
        tuple(pd.util.hash_pandas_object(frame, index=True)),
        tuple(frame.columns),
        tuple(map(str, frame.dtypes)),
    )


@cache
def result(key: str, table: str, seed: int = 0) -> MetricResult:
    """The metric's result on one table, checking on the way that no input was modified."""
    c = case(key)
    frames = [c.real, c.tables[table], c.holdout]
    before = [fingerprint(f) for f in frames]
    outcome = get_metric_class(key)().compute(
        c.real, c.tables[table], schema=c.schema, seed=seed, detailed=False, **c.inputs
    )
    assert [fingerprint(f) for f in frames] == before, f"{key} modified an input on {table}"
    return outcome


# -- the contract ----------------------------------------------------------------------------
@pytest.mark.parametrize("key", KEYS)
def test_declares_the_contract(key):
    klass = get_metric_class(key)
    assert issubclass(klass, Metric) and klass.key == key
    assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", key), "keys are snake_case"
    assert klass.family in FAMILIES and klass.goal in ("maximize", "minimize")
    low, high = klass.bounds
    assert np.isfinite(low) and np.isfinite(high) and low < high
    assert klass.name and klass.__doc__ and "Examples:" in klass.__doc__
    assert set(klass.requires) <= set(REQUIREMENTS)
    verdicts = klass.verdicts
    assert 0 <= verdicts.fair <= verdicts.good <= 1
    assert len({verdicts.good_text, verdicts.fair_text, verdicts.poor_text}) == 3
    assert klass.verdict(1.0)[0] == "good" and klass.verdict(float("nan"))[0] == "info"


@pytest.mark.parametrize("key", KEYS)
def test_init_only_stores_params(key):
    metric = get_metric_class(key)()
    params = metric.get_params()
    assert not [name for name in vars(metric) if name not in params]
    again = get_metric_class(key)(**params)
    assert again.get_params() == params and repr(again) == repr(metric)


@pytest.mark.parametrize("key", KEYS)
def test_bad_tables_and_seeds_are_one_line_errors(key):
    metric, c = get_metric_class(key)(), case(key)
    with pytest.raises(InvalidParameterError, match="DataFrame"):
        metric.compute(c.real.to_numpy(), c.fresh, **c.inputs)
    with pytest.raises(DataError, match="no rows") as info:
        metric.compute(c.real, c.fresh.iloc[:0], **c.inputs)
    assert "\n" not in str(info.value)
    for seed in (-1, 1.5, np.random.default_rng(0)):
        with pytest.raises(InvalidParameterError, match="seed"):
            metric.compute(c.real, c.fresh, seed=seed, **c.inputs)


def test_unknown_keys_name_the_known_ones():
    with pytest.raises(UnknownMetricError, match="Known metrics: quality, column_shapes"):
        get_metric_class("qualty")
    with pytest.raises(UnknownMetricError, match="'qualty'"):
        evaluate(REAL, FRESH, metrics=["quality", "qualty"])
    with pytest.raises(InvalidParameterError, match="more than once"):
        evaluate(REAL, FRESH, metrics=["quality", "quality"])


# -- every table -----------------------------------------------------------------------------
@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("table", list(TABLES))
def test_scores_within_bounds_and_normalised(key, table):
    outcome = result(key, table)
    low, high = get_metric_class(key).bounds
    assert low <= outcome.score <= high, outcome.score
    assert 0.0 <= outcome.normalized <= 1.0
    json.dumps(_jsonable(outcome.details), default=_default)


@pytest.mark.parametrize("key", [k for k in KEYS if get_metric_class(k).family in ORDERED_FAMILIES])
def test_fresh_beats_noisy_beats_far(key):
    normalized = [result(key, table).normalized for table in ("fresh", "noisy", "far")]
    assert normalized[0] > normalized[1] > normalized[2], normalized


@pytest.mark.parametrize("key", [k for k in KEYS if get_metric_class(k).family == "privacy"])
def test_copying_the_real_rows_scores_worst_on_privacy(key):
    copy = result(key, "copy").normalized
    others = {t: result(key, t).normalized for t in ("fresh", "noisy", "far")}
    assert copy < others["fresh"] and copy <= min(others.values()), (copy, others)
    assert copy <= 0.1


@pytest.mark.parametrize(
    "key", [k for k in KEYS if get_metric_class(k).family in BEST_ON_REAL_FAMILIES]
)
def test_the_real_rows_themselves_score_best(key):
    assert result(key, "copy").normalized == 1.0
    assert result(key, "far").normalized < 1.0


@pytest.mark.parametrize("key", [k for k in KEYS if get_metric_class(k).repeat])
def test_same_seed_same_score(key):
    c = case(key)
    again = get_metric_class(key)().compute(
        c.real, c.tables["noisy"], schema=c.schema, seed=0, detailed=False, **c.inputs
    )
    assert again.score == result(key, "noisy").score


# -- requirements ----------------------------------------------------------------------------
@pytest.mark.parametrize("key", [k for k in KEYS if get_metric_class(k).requires])
def test_requirements_are_enforced(key):
    klass, c = get_metric_class(key), case(key)
    for requirement in sorted(klass.requires):
        given = {name: value for name, value in c.inputs.items() if name != requirement}
        with pytest.raises(InvalidParameterError, match=re.escape(REQUIREMENTS[requirement])):
            klass().compute(c.real, c.fresh, schema=c.schema, seed=0, **given)
        if requirement == "timeline":
            # a table of one row per patient: no timeline is found, the metric is skipped
            report = evaluate(REAL, FRESH, metrics=[key], schema=SCHEMA, **INPUTS)
        else:
            report = evaluate(
                c.real, c.fresh, metrics=[key], schema=c.schema, **c.evaluate_inputs(given)
            )
        assert report.summary.empty and report.meta["metrics"] == []
        [skipped] = report.meta["skipped"]
        assert skipped["metric"] == key and REQUIREMENTS[requirement] in skipped["reason"]
        assert any(key in notice for notice in report.meta["notices"])


# -- long tables through evaluate ----------------------------------------------------------------
def test_long_tables_get_row_and_patient_metrics():
    before = [fingerprint(f) for f in (LONG_REAL, LONG_FRESH, LONG_HOLDOUT)]
    report = evaluate(
        LONG_REAL,
        LONG_FRESH,
        metrics=["quality", "dcr", "events_per_patient", "patient_dcr", "static_constancy"],
        holdout=LONG_HOLDOUT,
        detailed=False,
    )
    assert [fingerprint(f) for f in (LONG_REAL, LONG_FRESH, LONG_HOLDOUT)] == before
    assert report.meta["metrics"] == [
        "quality",
        "dcr",
        "events_per_patient",
        "patient_dcr",
        "static_constancy",
    ]
    timeline = report.meta["timeline"]
    assert (timeline["patient_key"], timeline["time_column"]) == ("patient_id", "day")
    assert set(timeline["static"]) == {"age", "sex", "progressed"}
    assert report.meta["privacy_unit"] == {
        "dcr": "event (one row)",
        "patient_dcr": "patient (whole history)",
    }
    assert any("Patient key 'patient_id' inferred" in n for n in report.meta["notices"])


def test_one_row_per_patient_lists_every_patient_metric_as_skipped():
    patient_level = [k for k in KEYS if "timeline" in get_metric_class(k).requires]
    report = evaluate(
        REAL, FRESH, metrics=[*patient_level, "exact_copies"], schema=SCHEMA, **INPUTS
    )
    assert report.meta["metrics"] == ["exact_copies"]
    skipped = {s["metric"]: s["reason"] for s in report.meta["skipped"]}
    assert set(patient_level) <= set(skipped) and report.meta["timeline"] is None
    assert all(REQUIREMENTS["timeline"] in skipped[k] for k in patient_level)
