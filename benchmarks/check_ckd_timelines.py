"""Knowledge-driven chronic kidney disease histories beside their sourced ranges.

2,000 adults with CKD x 5 years (two seeds): each check of
``chronic_kidney_disease_timeline.yaml`` (eGFR lag-1 correlation within patients, median
interval between eGFR measurements, mean eGFR slope, share with eGFR below 15 at the last
visit, date-order violations) beside its range and sources, PASS or FAIL; then what the
history looks like: eGFR at the first and last visit by KDIGO category, the median interval
after a result in each category, visits per patient-year, new complications per 1,000
patient-years, the comorbidity flags and the share on each kidney-protective drug at the
first and last visit, and the time to draw and
simulate (inflated on a busy machine). Nothing is tuned to pass: a FAIL is reported as is.

Run: .venv/bin/python benchmarks/check_ckd_timelines.py [--n 2000] [--years 5] [--seeds 7 8]
"""

from __future__ import annotations

import pandas as pd
from _histories import first_to_last, incidence, main

CONDITION = "chronic_kidney_disease"
INCIDENT = ("kidney_failure", "myocardial_infarction", "stroke", "heart_failure")
FLAGS = ("ascvd", "heart_failure")
DRUGS = ("acei", "arb", "sglt2i")
BANDS = [(60, 1e9, ">=60"), (45, 60, "G3a"), (30, 45, "G3b"), (15, 30, "G4"), (0, 15, "G5")]


def _shares(values: pd.Series) -> str:
    return ", ".join(
        f"{name} {values.between(low, high - 1e-9).mean():.3f}" for low, high, name in BANDS
    )


def describe(cohort) -> None:  # type: ignore[no-untyped-def]
    tl = cohort.timeline
    obs = tl.observations.astype({"patient_id": str})
    egfr = obs[obs["observation"] == "egfr"].sort_values(["patient_id", "effective_date"])
    by = egfr.groupby("patient_id")["value"]
    first, last = by.first(), by.last()
    print(f"- eGFR mean at the first visit {first.mean():.1f} ({_shares(first)})")
    print(f"- eGFR mean at the last visit {last.mean():.1f} ({_shares(last)})")
    gap = egfr.groupby("patient_id")["effective_date"].diff().dt.days.shift(-1)
    medians = ", ".join(
        f"{name} {gap[egfr['value'].between(low, high - 1e-9)].median():.0f}"
        for low, high, name in BANDS
    )
    print(f"- median days to the next eGFR after a result in each category: {medians}")
    dates = egfr.groupby("patient_id")["effective_date"].agg(["min", "max"])
    years = float(((dates["max"] - dates["min"]).dt.days / 365.25).sum())
    print(f"- eGFR results per patient-year: {len(egfr) / years:.2f} ({years:,.0f} patient-years)")
    start = dates["min"]
    print(
        f"- new complications per 1,000 patient-years: {incidence(cohort, INCIDENT, start, years)}"
    )
    print(f"- share with the flag at the first -> last visit: {first_to_last(cohort, FLAGS)}")
    drugs = first_to_last(cohort, [f"on_{key}" for key in DRUGS])
    print(f"- share on each drug at the first -> last visit: {drugs}")


if __name__ == "__main__":
    main(CONDITION, __doc__ or "", describe)
