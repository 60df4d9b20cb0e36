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

import argparse
import time

import pandas as pd

from synthpatient.knowledge import CohortSampler, CohortSpec, load_knowledge_base
from synthpatient.knowledge.timeline import timeline_checks

CONDITION = "type1_diabetes"
INCIDENT = ("retinopathy", "chronic_kidney_disease", "myocardial_infarction", "stroke")
FLAGS = ("dka_past_year", "severe_hypoglycemia_past_year", "chronic_kidney_disease")


def _cohort(n: int, years: float, seed: int):  # type: ignore[no-untyped-def]
    kb = load_knowledge_base()
    observations = len(kb.conditions[CONDITION].observations)
    spec = CohortSpec(
        condition=CONDITION, n=n, n_observations=observations, follow_up_years=years, seed=seed
    )
    return CohortSampler(kb).sample(spec)


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
    cond = tl.conditions.astype({"patient_id": str})
    enc = tl.encounters.astype({"patient_id": str})
    first_visit = enc[enc["reason"].astype(str) != "Type 1 diabetes mellitus diagnosed"]
    start = first_visit.groupby("patient_id")["date"].min()
    rows = cond[cond["condition"].isin(INCIDENT)]
    new = rows[rows["onset_date"] > rows["patient_id"].map(start)]
    rates = ", ".join(
        f"{key} {1000 * (new['condition'] == key).sum() / years:.1f}" for key in INCIDENT
    )
    print(f"- new complications per 1,000 patient-years: {rates}")
    flags = ", ".join(
        f"{key} {cohort.baseline[key].mean():.3f} -> {cohort.wide[key].mean():.3f}"
        for key in FLAGS
        if key in cohort.wide
    )
    print(f"- share with the flag at the first -> last visit: {flags}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--years", type=float, default=5.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8])
    args = parser.parse_args()
    failed = 0
    for seed in args.seeds:
        began = time.perf_counter()
        cohort = _cohort(args.n, args.years, seed)
        seconds = time.perf_counter() - began
        print(f"\n## {args.n} patients x {args.years:g} years, seed {seed} ({seconds:.1f} s)")
        for result in timeline_checks(cohort):
            verdict = "PASS" if result.ok else "FAIL"
            failed += not result.ok
            print(f"{verdict}  {result.line()}")
        describe(cohort)
        notes = cohort.timeline.notes
        if notes:
            print("- notes: " + " ".join(notes))
    pd.set_option("display.width", 120)
    print(f"\n{failed} check(s) failed over {len(args.seeds)} seed(s)")


if __name__ == "__main__":
    main()
