"""Cohorts drawn from the knowledge base alone: demographics, a latent copula, a clinical layer.

1. Demographics from the composition of adults *with* the condition (age bands, sex,
   race/ethnicity), narrowed natively to the asked age range and sex (band shares are
   renormalised over the overlap; nothing is drawn and then discarded).
2. One latent Gaussian vector per patient: a normal score per drawn observation (correlations
   from the knowledge base) plus a liability per comorbidity and medication (a weighted sum of
   observation scores and noise, so e.g. hypertension goes with higher systolic pressure).
   Filters ("eGFR 30-59", "with hypertension", "on insulin") are bounds on these latent
   dimensions: the constrained dimensions are drawn first from truncated normals (each one
   conditional on those before it), the rest from the Gaussian conditional on them. So a
   narrow request costs no more than a broad one and no patient is thrown away.
3. Scores are mapped to each observation's sourced marginal, with age and sex effects.
4. A deterministic clinical layer: fasting glucose from HbA1c (ADAG line plus noise),
   creatinine solved from eGFR by CKD-EPI 2021, weight and waist from BMI and height,
   comorbidities that are defined by values (CKD = eGFR < 60 or UACR >= 30) follow them,
   untreated patients keep diagnostic values and the others are treated, drugs are never
   given where contraindicated, treatment effects are bounded, LDL and total cholesterol agree
   by Friedewald, and dates are in order (birth < diagnosis <= last visit).

Everything is vectorised numpy: a million patients take seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.special import ndtr, ndtri

from synthpatient._random import as_generator
from synthpatient.errors import InvalidParameterError
from synthpatient.knowledge._kb import KnowledgeBase
from synthpatient.knowledge._model import (
    Comorbidity,
    Condition,
    Correlation,
    Medication,
    Observation,
)
from synthpatient.rules import evaluate_expression, parse_expression

MAX_PATIENTS = 10_000_000
#: The day ages are counted to; fixed so that a seed gives the same cohort on any day.
REFERENCE_DATE = np.datetime64("2025-12-31")
#: ADAG (Nathan et al. 2008): estimated average glucose (mg/dL) = 28.7 x HbA1c - 46.7.
ADAG_SLOPE, ADAG_INTERCEPT = 28.7, -46.7
#: Spread of fasting glucose around the ADAG line (mg/dL), giving r(HbA1c, FPG) of about 0.9.
FASTING_GLUCOSE_NOISE = 25.0
#: Fasting glucose runs below the 24-hour average that ADAG estimates; the size (mg/dL) is not
#: from a source: it brings the cohort's mean FPG to the 137-153 mg/dL of Diabetes in America.
FASTING_BELOW_AVERAGE = 12.0
#: Age around which age effects are expressed (years).
PIVOT_AGE = 60
_COMPARISON = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$")


class Filter(BaseModel):
    """A narrowing of the cohort: an observation range, a comorbidity or a medication."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["observation", "comorbidity", "medication"]
    key: str
    min: float | None = None
    max: float | None = None
    present: bool = True

    @model_validator(mode="after")
    def _bounds(self) -> Filter:
        if self.kind == "observation" and self.min is None and self.max is None:
            raise ValueError(f"a filter on {self.key} needs a min or a max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"{self.key}: min ({self.min}) is above max ({self.max})")
        return self

    def describe(self) -> str:
        if self.kind == "observation":
            if self.min is not None and self.max is not None:
                return f"{self.key} {self.min:g}-{self.max:g}"
            return (
                f"{self.key} >= {self.min:g}"
                if self.min is not None
                else f"{self.key} <= {self.max:g}"
            )
        verb = {"comorbidity": ("with", "without"), "medication": ("on", "not on")}[self.kind]
        return f"{verb[0] if self.present else verb[1]} {self.key}"


class CohortSpec(BaseModel):
    """What cohort to draw: condition, size, observations, population and filters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    condition: str
    n: int = Field(ge=1, le=MAX_PATIENTS)
    observations: tuple[str, ...] | None = None
    n_observations: int | None = Field(default=20, ge=1)
    population: str = "us"
    age_min: int = Field(default=18, ge=18, le=90)
    age_max: int = Field(default=90, ge=18, le=90)
    sex: Literal["female", "male"] | None = None
    filters: tuple[Filter, ...] = ()
    seed: int | None = None

    @model_validator(mode="after")
    def _ages(self) -> CohortSpec:
        if self.age_min > self.age_max:
            raise ValueError(f"age_min ({self.age_min}) is above age_max ({self.age_max})")
        return self

    def observation_keys(self, condition: Condition) -> list[str]:
        """The observations the cohort records, in rank order unless named explicitly."""
        if self.observations:
            return list(self.observations)
        count = self.n_observations or len(condition.observations)
        return [o.key for o in condition.ranked_observations[:count]]

    def validate_against(self, kb: KnowledgeBase) -> Condition:
        """The condition, after checking that the knowledge base supports every request."""
        if self.condition not in kb.conditions:
            raise InvalidParameterError(
                f"Unknown condition '{self.condition}'. Supported: "
                f"{', '.join(sorted(kb.conditions))}."
            )
        condition = kb.conditions[self.condition]
        if self.population not in condition.populations:
            raise InvalidParameterError(
                f"No data for population '{self.population}' with {condition.name}. "
                f"Supported: {', '.join(condition.populations)}."
            )
        by_key = {o.key: o for o in condition.observations}
        unknown = [k for k in self.observations or () if k not in by_key]
        if unknown:
            raise InvalidParameterError(
                f"Unknown observation(s) {', '.join(unknown)} for {condition.name}. "
                f"Available: {', '.join(o.key for o in condition.ranked_observations)}."
            )
        if self.n_observations and self.n_observations > len(by_key) and not self.observations:
            raise InvalidParameterError(
                f"{condition.name} has {len(by_key)} observations in the knowledge base; "
                f"{self.n_observations} were asked for."
            )
        comorbidities = {c.key: c for c in condition.comorbidities}
        medications = {m.key for m in condition.medications}
        affected = {m.effect.observation for m in condition.medications if m.effect}
        for f in self.filters:
            if f.kind == "observation":
                if f.key not in by_key:
                    raise InvalidParameterError(
                        f"Cannot filter on '{f.key}': not an observation of {condition.name}."
                    )
                if by_key[f.key].derived or f.key in affected:
                    raise InvalidParameterError(
                        f"Filtering on {by_key[f.key].name} is not supported (it is computed "
                        f"from other values); filter on the values it comes from instead."
                    )
                dist = by_key[f.key].distribution
                if (f.min is not None and f.min > dist["max"]) or (
                    f.max is not None and f.max < dist["min"]
                ):
                    raise InvalidParameterError(
                        f"The filter {f.describe()} contradicts the possible range of "
                        f"{by_key[f.key].name} ({dist['min']}-{dist['max']} "
                        f"{by_key[f.key].unit})."
                    )
            elif f.kind == "comorbidity":
                if f.key not in comorbidities:
                    raise InvalidParameterError(
                        f"Unknown comorbidity '{f.key}' for {condition.name}. Known: "
                        f"{', '.join(comorbidities)}."
                    )
                definition = comorbidities[f.key].definition
                if definition and not _disjunction(definition, condition):
                    raise InvalidParameterError(f"Filtering on {f.key} is not supported.")
            elif f.key not in medications:
                raise InvalidParameterError(
                    f"Unknown medication '{f.key}' for {condition.name}. Known: "
                    f"{', '.join(medications)}."
                )
        return condition


@dataclass(frozen=True)
class Cohort:
    """A drawn cohort: one row per patient, the spec, and the sources its numbers came from."""

    spec: CohortSpec
    condition: Condition
    wide: pd.DataFrame
    observations: list[Observation]
    sources_used: list[str] = field(default_factory=list)

    def long(self) -> pd.DataFrame:
        """One row per patient and observation, with LOINC code and UCUM unit."""
        parts = [
            pd.DataFrame(
                {
                    "patient_id": self.wide["patient_id"],
                    "observation": obs.key,
                    "name": obs.name,
                    "loinc": obs.loinc,
                    "value": self.wide[obs.key],
                    "unit": obs.unit,
                    "effective_date": self.wide["last_visit_date"],
                }
            )
            for obs in self.observations
        ]
        return pd.concat(parts, ignore_index=True)


class CohortSampler:
    """Draws cohorts for the conditions of a knowledge base.

    Examples:
        >>> kb = load_knowledge_base()
        >>> cohort = CohortSampler(kb).sample(CohortSpec(condition="type2_diabetes", n=2000))
        >>> cohort.wide.shape
    """

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    def sample(self, spec: CohortSpec) -> Cohort:
        condition = spec.validate_against(self.kb)
        wanted = spec.observation_keys(condition)
        rng = as_generator(spec.seed)
        people = _demographics(condition, spec, rng)
        latent = _Latent(condition, people)
        scores = latent.draw(spec.filters, rng)
        values = latent.to_values(scores)
        table = _clinical_layer(condition, spec, values, latent.liabilities(scores), people, rng)
        by_key = {o.key: o for o in condition.observations}
        wide = pd.DataFrame(
            {
                "patient_id": _patient_ids(spec.n),
                **{
                    k: people[k]
                    for k in (
                        "sex",
                        "race_ethnicity",
                        "age",
                        "birth_date",
                        "diagnosis_date",
                        "last_visit_date",
                    )
                },
            }
        )
        for key in wanted:
            wide[key] = table[key]
        for column in table.columns:
            if column not in by_key:  # comorbidities, treated, medications
                wide[column] = table[column]
        observations = [by_key[k] for k in wanted]
        used = _sources_used(condition, observations)
        return Cohort(spec, condition, wide, observations, used)


def _patient_ids(n: int) -> np.ndarray:
    return np.char.add("P", np.char.zfill(np.arange(1, n + 1).astype(str), 7))


def _sources_used(condition: Condition, observations: list[Observation]) -> list[str]:
    ids = [s for o in observations for s in o.sources]
    ids += _nested_sources(condition.demographics)
    ids += list(condition.diagnosis.get("sources", []))
    cited: list[Comorbidity | Medication | Correlation] = [
        *condition.comorbidities,
        *condition.medications,
        *condition.correlations,
    ]
    for item in cited:
        ids += list(item.sources)
    if condition.treatment:
        ids += list(condition.treatment.sources)
    return list(dict.fromkeys(ids))


def _nested_sources(group: object) -> list[str]:
    out: list[str] = []
    if isinstance(group, dict):
        for key, value in group.items():
            out += list(value) if key == "sources" else _nested_sources(value)
    return out


# --- demographics -------------------------------------------------------------------------


def _age_bands(condition: Condition) -> list[tuple[int, int, float]]:
    bands = []
    for band, item in condition.demographics["age_bands"].items():
        low, high = (int(x) for x in band.split("-"))
        bands.append((low, high, float(item["share"])))
    return bands


def _demographics(
    condition: Condition, spec: CohortSpec, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    n = spec.n
    demo = condition.demographics
    lows, highs, shares = [], [], []
    for low, high, share in _age_bands(condition):
        # the band's share of the asked range, assuming ages are even within a band
        overlap = min(high, spec.age_max) - max(low, spec.age_min) + 1
        if overlap > 0:
            lows.append(max(low, spec.age_min))
            highs.append(min(high, spec.age_max))
            shares.append(share * overlap / (high - low + 1))
    if not shares:  # the asked range lies outside the sourced bands (e.g. 18-19): uniform
        lows, highs, shares = [spec.age_min], [spec.age_max], [1.0]
    shares_arr = np.asarray(shares) / np.sum(shares)
    band = rng.choice(len(shares_arr), size=n, p=shares_arr)
    age = rng.integers(np.asarray(lows)[band], np.asarray(highs)[band] + 1)
    if spec.sex is None:
        female = rng.random(n) < float(demo["female_share"]["value"])
    else:
        female = np.full(n, spec.sex == "female")
    groups = list(demo["race_ethnicity"])
    race_p = np.array([demo["race_ethnicity"][g]["share"] for g in groups], dtype=float)
    race = np.asarray(groups, dtype=object)[
        rng.choice(len(groups), size=n, p=race_p / race_p.sum())
    ]
    # birth date: age in whole years on the reference date
    days_into_year = rng.integers(0, 365, n)
    birth = (
        REFERENCE_DATE
        - (age * 365.25).astype("timedelta64[D]")
        - days_into_year.astype("timedelta64[D]")
    )
    dx = demo["age_at_diagnosis"]
    age_dx = np.minimum(np.clip(rng.normal(dx["mean"], dx["sd"], n), dx["min"], None), age)
    diagnosis = birth + (age_dx * 365.25).astype("timedelta64[D]")
    last_visit = REFERENCE_DATE - rng.integers(0, 365, n).astype("timedelta64[D]")
    last_visit = np.maximum(last_visit, diagnosis)
    return {
        "age": age,
        "female": female,
        "sex": np.where(female, "female", "male"),
        "race_ethnicity": race,
        "birth_date": birth.astype("datetime64[ns]"),
        "diagnosis_date": diagnosis.astype("datetime64[ns]"),
        "last_visit_date": last_visit.astype("datetime64[ns]"),
    }


# --- the latent Gaussian ------------------------------------------------------------------


def _nearest_correlation(matrix: np.ndarray) -> np.ndarray:
    """The matrix with negative eigenvalues lifted and unit diagonal restored."""
    eigval, eigvec = np.linalg.eigh(matrix)
    fixed = eigvec @ np.diag(np.clip(eigval, 1e-6, None)) @ eigvec.T
    d = np.sqrt(np.diag(fixed))
    return fixed / np.outer(d, d)


def _truncated_normal(
    mean: np.ndarray, sd: float, low: np.ndarray, high: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Draws from N(mean, sd) restricted to [low, high], by the inverse CDF (no rejection)."""
    a, b = ndtr((low - mean) / sd), ndtr((high - mean) / sd)
    u = a + (b - a) * rng.random(mean.shape[0])
    return mean + sd * ndtri(np.clip(u, 1e-15, 1 - 1e-15))


def _disjunction(definition: str, condition: Condition) -> list[tuple[str, str, float]] | None:
    """``a < x or b >= y`` over drawn observations as [(a, '<', x), ...], else None."""
    drawn = {o.key for o in condition.observations if not o.derived}
    clauses = []
    for part in definition.split(" or "):
        match = _COMPARISON.match(part)
        if not match or match.group(1) not in drawn:
            return None
        clauses.append((match.group(1), match.group(2), float(match.group(3))))
    return clauses


class _Latent:
    """Normal scores of drawn observations and liabilities of comorbidities and drugs."""

    def __init__(self, condition: Condition, people: dict[str, np.ndarray]) -> None:
        self.condition = condition
        self.people = people
        self.drawn = [o for o in condition.observations if not o.derived]
        keys = [o.key for o in self.drawn]
        index = {k: i for i, k in enumerate(keys)}
        obs_corr = np.eye(len(keys))
        for c in condition.correlations:
            obs_corr[index[c.a], index[c.b]] = obs_corr[index[c.b], index[c.a]] = c.r
        obs_corr = _nearest_correlation(obs_corr)
        liable: list[Comorbidity | Medication] = [
            c for c in condition.comorbidities if not c.definition
        ]
        liable += list(condition.medications)
        self.names = keys + [f"liability:{x.key}" for x in liable]
        loadings = np.zeros((len(liable), len(keys)))
        for i, item in enumerate(liable):
            for key, weight in item.drivers.items():
                loadings[i, index[key]] = weight
        # liability = w'z + noise with variance 1 - w'Cw, so each liability is N(0, 1)
        cross = loadings @ obs_corr
        between = cross @ loadings.T
        residual = np.clip(1 - np.diag(between), 1e-6, None)
        full = np.block([[obs_corr, cross.T], [cross, between + np.diag(residual)]])
        self.corr = _nearest_correlation(full)
        self.index = {name: i for i, name in enumerate(self.names)}
        self.thresholds = {item.key: _liability_threshold(item, condition) for item in liable}
        # the normal-score shift of latent age effects is rescaled by the age spread of the
        # condition's population (fixed), so narrowing ages shifts values as it should
        self.age_sd = _age_sd(condition)

    # value <-> score -------------------------------------------------------------------
    def _shift(self, obs: Observation) -> np.ndarray:
        e, age, female = obs.effects, self.people["age"].astype(float), self.people["female"]
        return (
            e.per_year_of_age * (age - PIVOT_AGE)
            + e.per_year_after_60 * np.clip(age - PIVOT_AGE, 0, None)
            + e.female_minus_male * np.where(female, 0.5, -0.5)
        )

    def _latent_age(self, obs: Observation) -> tuple[np.ndarray, float]:
        slope = obs.effects.latent_per_year_of_age
        offset = slope * (self.people["age"].astype(float) - PIVOT_AGE)
        return offset, float(np.sqrt(1 + (slope * self.age_sd) ** 2))

    def to_values(self, scores: np.ndarray) -> dict[str, np.ndarray]:
        values = {}
        for obs in self.drawn:
            offset, scale = self._latent_age(obs)
            z = (scores[:, self.index[obs.key]] + offset) / scale
            values[obs.key] = _quantile(obs.distribution, z, self.people["female"]) + self._shift(
                obs
            )
        return values

    def liabilities(self, scores: np.ndarray) -> dict[str, tuple[np.ndarray, float]]:
        """Per comorbidity or drug key: (liability per patient, threshold it must exceed)."""
        return {
            name.removeprefix("liability:"): (
                scores[:, i],
                self.thresholds[name.removeprefix("liability:")],
            )
            for i, name in enumerate(self.names)
            if name.startswith("liability:")
        }

    def score_of(self, obs: Observation, value: float) -> np.ndarray:
        """Per patient, the latent score at which ``obs`` takes ``value``."""
        base = value - self._shift(obs)
        offset, scale = self._latent_age(obs)
        return _score(obs.distribution, base, self.people["female"]) * scale - offset

    # drawing ---------------------------------------------------------------------------
    def draw(self, filters: tuple[Filter, ...], rng: np.random.Generator) -> np.ndarray:
        n = len(self.people["age"])
        low, high, predicates = self._bounds(filters, n)
        constrained = [i for i in range(len(self.names)) if i in low or i in predicates]
        constrained += [i for p in predicates.values() for i, *_ in p if i not in constrained]
        constrained = list(dict.fromkeys(constrained))
        scores = np.empty((n, len(self.names)))
        if constrained:
            self._draw_constrained(scores, constrained, low, high, predicates, rng)
        rest = [i for i in range(len(self.names)) if i not in constrained]
        if rest:
            c = self.corr
            if constrained:
                s_inv = np.linalg.inv(c[np.ix_(constrained, constrained)])
                gain = c[np.ix_(rest, constrained)] @ s_inv
                cond = c[np.ix_(rest, rest)] - gain @ c[np.ix_(constrained, rest)]
                mean = scores[:, constrained] @ gain.T
            else:
                cond, mean = c, 0.0
            chol = np.linalg.cholesky(_nearest_covariance(cond))
            scores[:, rest] = mean + rng.standard_normal((n, len(rest))) @ chol.T
        return scores

    def _bounds(self, filters: tuple[Filter, ...], n: int):  # type: ignore[no-untyped-def]
        low: dict[int, np.ndarray] = {}
        high: dict[int, np.ndarray] = {}
        predicates: dict[str, list] = {}
        by_key = {o.key: o for o in self.drawn}

        def narrow(i: int, lo: np.ndarray | float | None, hi: np.ndarray | float | None) -> None:
            if lo is not None:
                low[i] = np.maximum(low.get(i, np.full(n, -np.inf)), lo)
            if hi is not None:
                high[i] = np.minimum(high.get(i, np.full(n, np.inf)), hi)
            low.setdefault(i, np.full(n, -np.inf))
            high.setdefault(i, np.full(n, np.inf))

        def observation(key: str, lo: float | None, hi: float | None) -> None:
            obs = by_key[key]
            # bounds hold after rounding: 59.6 would be written as 60
            half = 0.49 * 10.0 ** -int(obs.distribution.get("decimals", 1))
            narrow(
                self.index[key],
                None if lo is None else self.score_of(obs, lo - half),
                None if hi is None else self.score_of(obs, hi + half),
            )

        comorbidities = {c.key: c for c in self.condition.comorbidities}
        medications = {m.key: m for m in self.condition.medications}
        for f in filters:
            if f.kind == "observation":
                observation(f.key, f.min, f.max)
            elif f.kind == "comorbidity" and comorbidities[f.key].definition:
                # checked when the spec was validated: a definition filtered on is a disjunction
                clauses = _disjunction(str(comorbidities[f.key].definition), self.condition) or []
                if f.present:  # at least one clause holds: a per-patient check on few scores
                    predicates[f.key] = [
                        (
                            self.index[k],
                            op,
                            self.score_of(by_key[k], _inclusive(op, x, by_key[k])[1]),
                        )
                        for k, op, x in clauses
                    ]
                else:  # no clause holds: each is a bound
                    for k, op, x in clauses:
                        observation(k, *_negated(op, x, by_key[k]))
            else:
                i = self.index[f"liability:{f.key}"]
                t = self.thresholds[f.key]
                narrow(i, t, None) if f.present else narrow(i, None, t)
                med = medications.get(f.key) if f.kind == "medication" else None
                if med and f.present and med.contraindication:
                    clause = _disjunction(med.contraindication, self.condition)
                    for k, op, x in clause or ():
                        observation(k, *_negated(op, x, by_key[k]))
        for i in low:
            if np.any(low[i] >= high[i]):
                raise InvalidParameterError(
                    f"The filters on {self.names[i].removeprefix('liability:')} contradict "
                    f"each other (or the knowledge base's bounds); loosen them."
                )
        return low, high, predicates

    def _draw_constrained(self, scores, constrained, low, high, predicates, rng) -> None:  # type: ignore[no-untyped-def]
        n = scores.shape[0]
        c = self.corr
        inf = np.full(n, np.inf)

        def once(rows: np.ndarray) -> None:
            for step, i in enumerate(constrained):
                before = constrained[:step]
                if before:
                    gain = c[i, before] @ np.linalg.inv(c[np.ix_(before, before)])
                    mean = scores[np.ix_(rows, before)] @ gain
                    sd = float(np.sqrt(max(c[i, i] - gain @ c[before, i], 1e-9)))
                else:
                    mean, sd = np.zeros(len(rows)), 1.0
                lo = low.get(i, -inf)[rows]
                hi = high.get(i, inf)[rows]
                scores[rows, i] = _truncated_normal(mean, sd, lo, hi, rng)

        rows = np.arange(n)
        once(rows)
        # a value-defined comorbidity asked for ("with CKD"): redraw only the few scores of
        # the patients whose draw met none of its clauses (patients are never discarded)
        for _ in range(1000):
            failing = np.zeros(n, dtype=bool)
            for clauses in predicates.values():
                met = np.zeros(n, dtype=bool)
                for i, op, x in clauses:
                    met |= _compare(scores[:, i], op, x)
                failing |= ~met
            if not failing.any():
                return
            once(np.flatnonzero(failing))
        raise InvalidParameterError("The filters are too narrow to draw patients for; loosen them.")


def _unit(obs: Observation) -> float:
    return 10.0 ** -int(obs.distribution.get("decimals", 1))


def _inclusive(op: str, x: float, obs: Observation) -> tuple[str, float]:
    """``value op x`` on written (rounded) values as a closed bound on the raw value."""
    u = _unit(obs)
    return {
        "<": ("<=", x - u + 0.49 * u),
        "<=": ("<=", x + 0.49 * u),
        ">": (">=", x + u - 0.49 * u),
        ">=": (">=", x - 0.49 * u),
    }[op]


def _negated(op: str, x: float, obs: Observation) -> tuple[float | None, float | None]:
    """(min, max) on written values where ``value op x`` does not hold."""
    u = _unit(obs)
    return {"<": (x, None), "<=": (x + u, None), ">": (None, x), ">=": (None, x - u)}[op]


def _compare(a: np.ndarray, op: str, b: np.ndarray) -> np.ndarray:
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _nearest_covariance(matrix: np.ndarray) -> np.ndarray:
    eigval, eigvec = np.linalg.eigh((matrix + matrix.T) / 2)
    return eigvec @ np.diag(np.clip(eigval, 1e-9, None)) @ eigvec.T


def _liability_threshold(item, condition: Condition) -> float:  # type: ignore[no-untyped-def]
    share = getattr(item, "prevalence", None)
    if share is None:  # a medication: of those treated when it treats the condition
        share = item.share
        if item.treats and condition.treatment and condition.treatment.share > 0:
            share = min(1.0, share / condition.treatment.share)
            first = _fallback_therapy(condition)
            if first is not None and item.key == first.key:
                # it is also given to treated patients who drew no other therapy: draw it
                # less often so that its share ends on target (others taken as independent)
                none_other = np.prod(
                    [
                        1 - min(1.0, m.share / condition.treatment.share)
                        for m in condition.medications
                        if m.treats and m.key != item.key
                    ]
                )
                share = float(np.clip((share - none_other) / (1 - none_other), 0, 1))
    return float(ndtri(1 - np.clip(share, 1e-9, 1 - 1e-9)))


def _fallback_therapy(condition: Condition):  # type: ignore[no-untyped-def]
    return next((m for m in condition.medications if m.treats and not m.requires), None)


def _age_sd(condition: Condition) -> float:
    bands = _age_bands(condition)
    shares = np.array([s for *_, s in bands]) / sum(s for *_, s in bands)
    mids = np.array([(lo + hi) / 2 for lo, hi, _ in bands])
    within = np.array([(hi - lo + 1) ** 2 / 12 for lo, hi, _ in bands])
    mean = shares @ mids
    return float(np.sqrt(shares @ (within + (mids - mean) ** 2)))


def _quantile(dist: dict, z: np.ndarray, female: np.ndarray) -> np.ndarray:
    family = dist["family"]
    if family == "normal":
        mean = (
            np.where(female, dist["mean_female"], dist["mean_male"])
            if "mean_female" in dist
            else dist["mean"]
        )
        return mean + dist["sd"] * z
    if family == "lognormal":
        mu, sigma = _lognormal(dist)
        return np.exp(mu + sigma * z)
    if family == "quantiles":  # piecewise-linear quantile function through [value, share]
        points = np.asarray(dist["points"], dtype=float)
        return np.interp(ndtr(z), points[:, 1], points[:, 0])
    raise ValueError(f"unknown distribution family {family!r}")


def _score(dist: dict, value: np.ndarray, female: np.ndarray) -> np.ndarray:
    """The inverse of :func:`_quantile`: the normal score at which the marginal gives value."""
    family = dist["family"]
    if family == "normal":
        mean = (
            np.where(female, dist["mean_female"], dist["mean_male"])
            if "mean_female" in dist
            else dist["mean"]
        )
        return (value - mean) / dist["sd"]
    if family == "lognormal":
        mu, sigma = _lognormal(dist)
        return (np.log(np.clip(value, 1e-12, None)) - mu) / sigma
    points = np.asarray(dist["points"], dtype=float)
    return ndtri(np.clip(np.interp(value, points[:, 0], points[:, 1]), 1e-12, 1 - 1e-12))


def _lognormal(dist: dict) -> tuple[float, float]:
    if "median" in dist:
        return float(np.log(dist["median"])), float(dist["sd_log"])
    sigma = float(np.sqrt(np.log1p((dist["sd"] / dist["mean"]) ** 2)))
    return float(np.log(dist["mean"]) - sigma**2 / 2), sigma


# --- the clinical layer -------------------------------------------------------------------


def _rounded(values: np.ndarray, dist: dict) -> np.ndarray:
    low, high = dist.get("min", -np.inf), dist.get("max", np.inf)
    return np.round(np.clip(values, low, high), int(dist.get("decimals", 1)))


def _clinical_layer(
    condition: Condition,
    spec: CohortSpec,
    values: dict[str, np.ndarray],
    liabilities: dict[str, tuple[np.ndarray, float]],
    people: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Rounded observations, derived values, comorbidities, treatment and drugs, as a table.

    Derived values are computed from the *rounded* inputs, so the identities hold in the
    output to the precision it is written with.
    """
    n = len(people["age"])
    female, age = people["female"], people["age"].astype(float)
    by_key = {o.key: o for o in condition.observations}
    out: dict[str, np.ndarray] = {}
    for key, raw in values.items():
        # values a drug changes are replaced once drugs are known; until then (for the
        # diagnosis and comorbidity definitions) they are the untreated values
        out[key] = _rounded(raw, by_key[key].distribution)

    def derive(key: str, raw: np.ndarray) -> None:
        if key in by_key:
            out[key] = _rounded(raw, by_key[key].distribution)

    if "hba1c" in out:
        derive(
            "fasting_glucose",
            ADAG_SLOPE * out["hba1c"]
            + ADAG_INTERCEPT
            - FASTING_BELOW_AVERAGE
            + rng.normal(0.0, FASTING_GLUCOSE_NOISE, n),
        )
    if "egfr" in out and "creatinine" in by_key:
        # creatinine solved from eGFR; where that falls below any plausible creatinine (a very
        # high eGFR at old age) the eGFR is what the equation gives at the lowest creatinine
        derive("creatinine", ckd_epi_2021_creatinine(out["egfr"], age, female))
        floor = out["creatinine"] <= by_key["creatinine"].distribution.get("min", 0)
        out["egfr"] = np.where(
            floor,
            _rounded(
                ckd_epi_2021_egfr(out["creatinine"], age, female), by_key["egfr"].distribution
            ),
            out["egfr"],
        )
    if "bmi" in out and "height" in out:
        derive("weight", out["bmi"] * (out["height"] / 100) ** 2)
    if "bmi" in out:
        derive("waist", np.where(female, 32.0, 38.0) + 2.2 * out["bmi"] + rng.normal(0, 5, n))
    if "fev1" in out and "fvc" in out:
        derive("fev1_fvc", 100 * out["fev1"] / out["fvc"])
    frame = pd.DataFrame(out)

    drawn = {key: score > threshold for key, (score, threshold) in liabilities.items()}
    asked = {(f.kind, f.key): f.present for f in spec.filters}
    for c in condition.comorbidities:
        if c.definition:
            frame[c.key] = np.asarray(
                evaluate_expression(parse_expression(c.definition), frame), bool
            )
        else:
            frame[c.key] = drawn[c.key]

    if condition.treatment is not None:
        frame["treated"] = _treated(condition, frame, drawn, asked, rng)
    fallback_order = []
    for med in condition.medications:
        on = drawn[med.key].copy()
        if med.treats:
            on &= frame["treated"].to_numpy()
        if med.requires:
            on &= frame[med.requires].to_numpy()
        if med.contraindication:
            on &= ~np.asarray(
                evaluate_expression(parse_expression(med.contraindication), frame), bool
            )
        frame[f"on_{med.key}"] = on
        if med.treats and asked.get(("medication", med.key)) is not False and not med.requires:
            fallback_order.append(med)
    if condition.treatment is not None:
        # every treated patient takes at least one therapy: the first one not contraindicated
        drugs = [f"on_{m.key}" for m in condition.medications if m.treats]
        without = frame["treated"].to_numpy() & ~frame[drugs].to_numpy().any(axis=1)
        for med in fallback_order:
            ok = without.copy()
            if med.contraindication:
                ok &= ~np.asarray(
                    evaluate_expression(parse_expression(med.contraindication), frame), bool
                )
            frame.loc[ok, f"on_{med.key}"] = True
            without &= ~ok

    for med in condition.medications:
        if med.effect is None:
            continue
        e = med.effect
        raw = values[e.observation]
        # scaled so that the cohort's mean stays on the sourced (mixed-treatment) mean
        mean_factor = (e.factor_min + e.factor_max) / 2
        raw = raw / (1 - med.share * (1 - mean_factor))
        users = frame[f"on_{med.key}"].to_numpy()
        raw = np.where(users, raw * rng.uniform(e.factor_min, e.factor_max, n), raw)
        frame[e.observation] = _rounded(raw, by_key[e.observation].distribution)
    if {"ldl", "hdl", "triglycerides"} <= set(frame.columns):
        total = frame["ldl"] + frame["hdl"] + frame["triglycerides"] / 5
        if "total_cholesterol" in by_key:
            frame["total_cholesterol"] = _rounded(
                total.to_numpy(), by_key["total_cholesterol"].distribution
            )
        if "non_hdl" in by_key:
            frame["non_hdl"] = _rounded(
                total.to_numpy() - frame["hdl"].to_numpy(), by_key["non_hdl"].distribution
            )
    return frame


def _treated(condition, frame, drawn, asked, rng) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Treated: everyone whose values would not support the diagnosis, others at random so
    that the cohort's share matches; anyone asked to be on a therapy is treated."""
    n = len(frame)
    treatment = condition.treatment
    forced = np.zeros(n, dtype=bool)
    if treatment.untreated_requires:
        forced = ~np.asarray(
            evaluate_expression(parse_expression(treatment.untreated_requires), frame), bool
        )
    for med in condition.medications:
        if med.treats and asked.get(("medication", med.key)):
            forced |= drawn[med.key]
    p_rest = np.clip((treatment.share - forced.mean()) / max(1 - forced.mean(), 1e-9), 0, 1)
    return forced | (rng.random(n) < p_rest)


def ckd_epi_2021_creatinine(egfr: np.ndarray, age: np.ndarray, female: np.ndarray) -> np.ndarray:
    """Serum creatinine (mg/dL) whose CKD-EPI 2021 eGFR is ``egfr`` (Inker et al. 2021).

    eGFR = 142 x min(Scr/k, 1)^a x max(Scr/k, 1)^-1.200 x 0.9938^age x (1.012 if female),
    k = 0.7 (female) / 0.9 (male), a = -0.241 (female) / -0.302 (male); solved for Scr.
    """
    kappa = np.where(female, 0.7, 0.9)
    alpha = np.where(female, -0.241, -0.302)
    base = 142.0 * 0.9938**age * np.where(female, 1.012, 1.0)
    ratio = egfr / base
    # ratio >= 1 means Scr <= kappa (the min() branch), else the max() branch
    scr_over_k = np.where(ratio >= 1, ratio ** (1 / alpha), ratio ** (1 / -1.200))
    return scr_over_k * kappa


def ckd_epi_2021_egfr(creatinine: np.ndarray, age: np.ndarray, female: np.ndarray) -> np.ndarray:
    """CKD-EPI 2021 eGFR (mL/min/1.73 m2) from serum creatinine (mg/dL), age and sex."""
    kappa = np.where(female, 0.7, 0.9)
    alpha = np.where(female, -0.241, -0.302)
    r = creatinine / kappa
    return (
        142.0
        * np.minimum(r, 1) ** alpha
        * np.maximum(r, 1) ** -1.200
        * 0.9938**age
        * np.where(female, 1.012, 1.0)
    )
