"""Clinical columns for tables without data, from the knowledge base and sourced stay figures.

Per row: a condition of the knowledge base; age and sex from that condition's sourced
demographics; a medication from the condition's own drug list (weighted by its sourced share);
a test result from the condition's key measurement drawn from its sourced distribution; a
length of stay by condition and admission type; a bill from the condition's cost per stay,
split into a fixed and a per-day part so that it grows with the stay.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import yaml

from synthpatient.knowledge import (
    Condition,
    KnowledgeBase,
    Medication,
    Observation,
    load_knowledge_base,
    marginal_quantile,  # the knowledge base's one marginal
)


@cache
def stay_figures() -> dict[str, Any]:
    path = resources.files("synthpatient.schema_only").joinpath("data/hospital_stays.yaml")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def knowledge_base() -> KnowledgeBase:
    return load_knowledge_base()


def key_test(condition: Condition) -> Observation:
    """The condition's best-ranked measurement that is drawn (not computed from others)."""
    return next(o for o in condition.ranked_observations if not o.derived)


def treatments(condition: Condition) -> list[Medication]:
    """Drugs that treat the condition itself and need no comorbidity the table cannot show."""
    return [m for m in condition.medications if m.treats and not m.requires]


@dataclass(frozen=True)
class Drawn:
    condition: np.ndarray  # index into the condition list, per row
    age: np.ndarray
    female: np.ndarray


def draw_people(conditions: list[Condition], rng: np.random.Generator, n: int) -> Drawn:
    """A condition per row (uniform: the base has no sourced share of admissions between
    conditions), then age band and sex from that condition's sourced demographics."""
    which = rng.integers(0, len(conditions), n)
    age = np.zeros(n, dtype=int)
    female = np.zeros(n, dtype=bool)
    for index, condition in enumerate(conditions):
        rows = np.flatnonzero(which == index)
        demo = condition.demographics
        bands = [(k, v["share"]) for k, v in demo["age_bands"].items()]
        shares = np.array([s for _, s in bands]) / sum(s for _, s in bands)
        chosen = rng.choice(len(bands), size=len(rows), p=shares)
        lows = np.array([int(k.split("-")[0]) for k, _ in bands])[chosen]
        highs = np.array([int(k.split("-")[1]) for k, _ in bands])[chosen]
        age[rows] = rng.integers(lows, highs + 1)
        female[rows] = rng.random(len(rows)) < demo["female_share"]["value"]
    return Drawn(which, age, female)


def medications(
    conditions: list[Condition], which: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    out = np.empty(len(which), dtype=object)
    for index, condition in enumerate(conditions):
        rows = np.flatnonzero(which == index)
        drugs = treatments(condition)
        weights = np.array([d.share for d in drugs])
        out[rows] = np.array([d.name for d in drugs], dtype=object)[
            rng.choice(len(drugs), size=len(rows), p=weights / weights.sum())
        ]
    return out


def test_values(
    conditions: list[Condition], which: np.ndarray, female: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(label, value) per row: 'Hemoglobin A1c: 7.2 %' and the number, from the sourced
    distribution of the condition's key test (rounded and bounded as the base says)."""
    labels = np.empty(len(which), dtype=object)
    values = np.zeros(len(which))
    for index, condition in enumerate(conditions):
        rows = np.flatnonzero(which == index)
        test = key_test(condition)
        drawn = draw_test(test, female[rows], rng)
        values[rows] = drawn
        digits = int(test.distribution.get("decimals", 1))
        labels[rows] = [f"{test.name}: {v:.{digits}f} {test.unit}" for v in drawn]
    return labels, values


def draw_test(test: Observation, female: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Values of ``test`` from its sourced distribution, bounded and rounded as the base says
    (the age and treatment effects of the cohort sampler are not applied)."""
    dist = test.distribution
    drawn = marginal_quantile(dist, rng.standard_normal(len(female)), female)
    bounded = np.clip(drawn, dist.get("min", -np.inf), dist.get("max", np.inf))
    return np.round(bounded, int(dist.get("decimals", 1)))


def stay_days(
    keys: list[str], which: np.ndarray, admission: np.ndarray | None, rng: np.random.Generator
) -> np.ndarray:
    """Whole days (>= 1, so discharge is after admission) from the condition's mean stay,
    log-normal, stretched or shortened by the admission type."""
    figures = stay_figures()
    model = figures["stay_model"]
    means = np.array([_stay(k)["mean_days"] for k in keys])[which]
    if admission is not None:
        factors = model["admission_type_factor"]
        means = means * np.array([factors.get(str(a).lower(), 1.0) for a in admission])
    sigma = model["sd_log"]
    days = np.exp(np.log(means) - sigma**2 / 2 + sigma * rng.standard_normal(len(which)))
    return np.maximum(1, np.round(days)).astype(int)


def billing(
    keys: list[str], which: np.ndarray, days: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    model = stay_figures()["stay_model"]
    cost = np.array([_stay(k)["mean_cost"] for k in keys])[which]
    mean_days = np.array([_stay(k)["mean_days"] for k in keys])[which]
    fixed = model["fixed_share"] * cost
    per_day = (1 - model["fixed_share"]) * cost / mean_days
    sigma = model["cost_sd_log"]
    noise = np.exp(-(sigma**2) / 2 + sigma * rng.standard_normal(len(which)))
    return np.round((fixed + per_day * days) * noise, 2)


def _stay(key: str) -> dict[str, Any]:
    stays = stay_figures()["stays"]
    return stays.get(key, stays["other"])


def blood_types(
    values: tuple[str, ...] | None, rng: np.random.Generator, n: int
) -> tuple[np.ndarray, bool]:
    """(types, sourced): the sourced US shares restricted to the schema's values, when every
    value is a type the shares know; otherwise uniform over the values (``sourced`` False)."""
    shares = stay_figures()["blood_types"]["shares"]
    labels = list(values) if values else list(shares)
    if all(v in shares for v in labels):
        weights = np.array([shares[v] for v in labels])
        return np.array(labels, dtype=object)[
            rng.choice(len(labels), n, p=weights / weights.sum())
        ], True
    return np.array(labels, dtype=object)[rng.integers(0, len(labels), n)], False
