"""Step 1 of the sampler: age, sex, race/ethnicity and dates, narrowed natively to the spec.

Age-band shares are renormalised over the asked age range (nothing is drawn and discarded);
dates are counted to a fixed reference day so that a seed gives the same cohort on any day.
"""

from __future__ import annotations

import numpy as np

from synthpatient.knowledge._model import Condition
from synthpatient.knowledge._spec import CohortSpec

#: The day ages are counted to; fixed so that a seed gives the same cohort on any day.
REFERENCE_DATE = np.datetime64("2025-12-31")


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
