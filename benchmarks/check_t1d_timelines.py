"""Knowledge-driven type 1 diabetes histories beside their sourced ranges.

2,000 adults with type 1 diabetes x 5 years (two seeds): each check of
``type1_diabetes_timeline.yaml`` (HbA1c lag-1 correlation within patients, median HbA1c
testing interval, mean eGFR slope, share below HbA1c 7 % at the last visit, ketoacidosis and
severe hypoglycaemia events per 100 patient-years, date-order violations) beside its range and
sources, PASS or FAIL; then what the history looks like: HbA1c at the first and last visit
(mean and share below 7 %), visits per patient-year, incident complications per 1,000
patient-years, the past-year event flags at the first and last visit, and the time to draw
and simulate (inflated on a busy machine).

Run: .venv/bin/python benchmarks/check_t1d_timelines.py [--n 2000] [--years 5] [--seeds 7 8]
"""

from __future__ import annotations

from _histories import first_to_last, incidence, main

CONDITION = "type1_diabetes"
INCIDENT = ("retinopathy", "chronic_kidney_disease", "myocardial_infarction", "stroke")
FLAGS = ("dka_past_year", "severe_hypoglycemia_past_year", "chronic_kidney_disease")


def describe(cohort) -> None:  # type: ignore[no-untyped-def]
    tl = cohort.timeline
    obs = tl.observations.astype({"patient_id": str})
    a1c = obs[obs["observation"] == "hba1c"].sort_values(["patient_id", "effective_date"])
    by = a1c.groupby("patient_id")["value"]
    first, last = by.first(), by.last()
    print(
        f"- HbA1c mean at the first visit {first.mean():.2f} % ({(first < 7).mean():.3f} "
        f"below 7), at the last {last.mean():.2f} % ({(last < 7).mean():.3f} below 7)"
    )
    dates = a1c.groupby("patient_id")["effective_date"].agg(["min", "max"])
    years = float(((dates["max"] - dates["min"]).dt.days / 365.25).sum())
    print(f"- visits per patient-year: {len(a1c) / years:.2f} ({years:,.0f} patient-years)")
    enc = tl.encounters.astype({"patient_id": str})
    first_visit = enc[enc["reason"].astype(str) != "Type 1 diabetes mellitus diagnosed"]
    start = first_visit.groupby("patient_id")["date"].min()
    print(
        f"- new complications per 1,000 patient-years: {incidence(cohort, INCIDENT, start, years)}"
    )
    print(f"- share with the flag at the first -> last visit: {first_to_last(cohort, FLAGS)}")


if __name__ == "__main__":
    main(CONDITION, __doc__ or "", describe)
