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

import argparse
import time

import pandas as pd

from synthpatient.knowledge import CohortSampler, CohortSpec, load_knowledge_base
from synthpatient.knowledge.timeline import timeline_checks

CONDITION = "chronic_kidney_disease"
INCIDENT = ("kidney_failure", "myocardial_infarction", "stroke", "heart_failure")
FLAGS = ("ascvd", "heart_failure")
DRUGS = ("acei", "arb", "sglt2i")
BANDS = [(60, 1e9, ">=60"), (45, 60, "G3a"), (30, 45, "G3b"), (15, 30, "G4"), (0, 15, "G5")]


def _cohort(n: int, years: float, seed: int):  # type: ignore[no-untyped-def]
    kb = load_knowledge_base()
    observations = len(kb.conditions[CONDITION].observations)
    spec = CohortSpec(
        condition=CONDITION, n=n, n_observations=observations, follow_up_years=years, seed=seed
    )
    return CohortSampler(kb).sample(spec)


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
    cond = tl.conditions.astype({"patient_id": str})
    start = dates["min"]
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
    drugs = ", ".join(
        f"{key} {cohort.baseline[f'on_{key}'].mean():.3f} -> {cohort.wide[f'on_{key}'].mean():.3f}"
        for key in DRUGS
    )
    print(f"- share on each drug at the first -> last visit: {drugs}")


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
    print(f"\n{failed} check(s) failed over {len(args.seeds)} seed(s)")


if __name__ == "__main__":
    main()
