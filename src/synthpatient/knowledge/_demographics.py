"""Step 1 of the sampler: age, sex, race/ethnicity and dates, narrowed natively to the spec.

Age-band shares are renormalised over the asked age range (nothing is drawn and discarded);
dates are counted to a fixed reference day so that a seed gives the same cohort on any day.
The diagnosis date is the last visit minus a duration drawn from the knowledge base's
distribution of years since diagnosis (truncated at the minimum age at diagnosis), not an age
at diagnosis drawn on its own: capped at the patient's age, that put most young patients'
diagnosis on their birthday in the past year (issue 15).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from synthpatient.errors import KnowledgeBaseError
from synthpatient.knowledge._model import Condition
from synthpatient.knowledge._spec import CohortSpec

#: The day ages are counted to; fixed so that a seed gives the same cohort on any day.
REFERENCE_DATE = np.datetime64("2025-12-31")
YEAR = 365.25


@dataclass(frozen=True)
class DiagnosisDuration:
    """Years since diagnosis among prevalent patients (a gamma with this mean and SD), the
    youngest age a diagnosis may fall at, and the sources of those numbers."""

    mean: float
    sd: float
    min_age: float
    sources: tuple[str, ...]


def diagnosis_duration(condition: Condition) -> DiagnosisDuration:
    """The condition's duration distribution: its timeline's when it has one (the same draw
    as a history's), else ``demographics.duration_years`` of its YAML file."""
    if condition.timeline is not None:
        d = condition.timeline.duration
        return DiagnosisDuration(d.mean, d.sd, d.min_age_at_diagnosis, tuple(d.sources))
    item = condition.demographics.get("duration_years")
    if not isinstance(item, dict) or not {"mean", "sd", "sources"} <= set(item):
        raise KnowledgeBaseError(
            f"{condition.key}: the knowledge base gives no duration of the condition; add "
            "demographics.duration_years with mean, sd (years) and sources to its YAML file."
        )
    mean, sd = float(item["mean"]), float(item["sd"])
    if not (mean > 0 and sd > 0):
        raise KnowledgeBaseError(
            f"{condition.key}: demographics.duration_years needs a positive mean and sd."
        )
    min_age = float(condition.demographics.get("age_at_diagnosis", {}).get("min", 18))
    return DiagnosisDuration(mean, sd, min_age, tuple(item["sources"]))


def draw_years_since_diagnosis(
    rng: np.random.Generator, mean: float, sd: float, longest: np.ndarray
) -> np.ndarray:
    """Years since diagnosis per patient: a gamma (``mean``, ``sd``) truncated to
    ``[0, longest]`` by inverting its CDF at a uniform scaled to the kept mass, so one uniform
    per patient and no rejection (the same seed gives the same draw at any truncation)."""
    shape, scale = (mean / sd) ** 2, sd**2 / mean
    longest = np.maximum(np.asarray(longest, dtype=float), 0.0)
    top = stats.gamma.cdf(longest, shape, scale=scale)
    years = stats.gamma.ppf(rng.random(len(longest)) * top, shape, scale=scale)
    return np.minimum(np.nan_to_num(years), longest)


def _age_bands(condition: Condition) -> list[tuple[int, int, float]]:
    bands = []
    for band, item in condition.demographics["age_bands"].items():
        low, high = (int(x) for x in band.split("-"))
        bands.append((low, high, float(item["share"])))
    return bands


def _birthday(birth: np.ndarray, years: float) -> np.ndarray:
    """The day each patient turns ``years`` old, by the calendar (a 29 February birthday
    falls on 1 March in other years); a fraction of a year is added in days."""
    whole = int(years)
    month = birth.astype("datetime64[M]")
    day_of_month = birth - month.astype("datetime64[D]")
    on = (month + np.timedelta64(12 * whole, "M")).astype("datetime64[D]") + day_of_month
    return on + np.timedelta64(int(round((years - whole) * YEAR)), "D")


def _dates(
    condition: Condition, age: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Birth, last visit (in the year before the reference date, never before the minimum
    age at diagnosis) and diagnosis (the last visit minus a drawn duration, never before that
    age), as ``datetime64[D]``."""
    n = len(age)
    duration = diagnosis_duration(condition)
    # birth date: age in whole years on the reference date
    days_into_year = rng.integers(0, 365, n)
    birth = (
        REFERENCE_DATE
        - (age * YEAR).astype("timedelta64[D]")
        - days_into_year.astype("timedelta64[D]")
    )
    # the day each patient reaches the minimum age at diagnosis, by the calendar (at most the
    # reference date, on which ``age`` says the patient has reached it)
    adult = np.minimum(_birthday(birth, duration.min_age), REFERENCE_DATE)
    # the last visit: within the past year, and on or after the minimum age (a patient who
    # reached it this year is seen after reaching it)
    span = np.clip((REFERENCE_DATE - adult).astype(int) + 1, 1, 365)
    last_visit = REFERENCE_DATE - rng.integers(0, span).astype("timedelta64[D]")
    longest = (last_visit - adult).astype(int)
    years = draw_years_since_diagnosis(rng, duration.mean, duration.sd, longest / YEAR)
    days = np.minimum(np.round(years * YEAR), longest).astype(np.int64)
    return {"birth": birth, "last_visit": last_visit, "diagnosis": last_visit - days}


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
        share = demo["female_share"]["value"] if spec.female_share is None else spec.female_share
        female = rng.random(n) < float(share)
    else:
        female = np.full(n, spec.sex == "female")
    groups = list(demo["race_ethnicity"])
    race_p = np.array([demo["race_ethnicity"][g]["share"] for g in groups], dtype=float)
    race = np.asarray(groups, dtype=object)[
        rng.choice(len(groups), size=n, p=race_p / race_p.sum())
    ]
    dates = _dates(condition, age, rng)
    return {
        "age": age,
        "female": female,
        "sex": np.where(female, "female", "male"),
        "race_ethnicity": race,
        "birth_date": dates["birth"].astype("datetime64[ns]"),
        "diagnosis_date": dates["diagnosis"].astype("datetime64[ns]"),
        "last_visit_date": dates["last_visit"].astype("datetime64[ns]"),
    }
