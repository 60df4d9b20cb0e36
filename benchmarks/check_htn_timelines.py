"""Knowledge-driven hypertension histories beside their sourced ranges.

2,000 hypertension patients x 5 years (two seeds): each check of
``hypertension_timeline.yaml`` (systolic lag-1 correlation within patients, median interval
between blood pressure measurements, mean eGFR slope, share of visits above target with a drug
added, share below 130/80 at the last visit, share of treated patients on 3 or more classes,
date-order violations) beside its range and
sources, PASS or FAIL; then what the history looks like: systolic and diastolic pressure at
the first and last visit, drugs per patient at both, starts per patient-year, incident complications
per 1,000 patient-years, visits with a pulse pressure under 20 mmHg, ACE inhibitor and ARB
taken together, courses stopped by the patient and restarted, step-ups held by a diastolic
pressure below 70, and the time to draw and simulate (inflated on a busy machine).
``--sensitivity`` reruns the first seed with the yearly discontinuation after the first year
and the inertia median times changed, printing the three treatment figures for each.

Run: .venv/bin/python benchmarks/check_htn_timelines.py [--n 2000] [--years 5] [--seeds 7 8]
     [--sensitivity]
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from synthpatient.knowledge import CohortSampler, CohortSpec, load_knowledge_base
from synthpatient.knowledge._model import Condition
from synthpatient.knowledge.timeline import timeline_checks

EVENTS = ("stroke", "myocardial_infarction", "heart_failure", "chronic_kidney_disease")


def _cohort(n: int, years: float, seed: int, condition: Condition | None = None):  # type: ignore[no-untyped-def]
    """Drawn as a request is: the sampler simulates the history and keeps the tails'
    relations (e.g. the pulse-pressure floor) at every visit."""
    kb = load_knowledge_base()
    if condition is not None:
        kb.conditions["hypertension"] = condition
    spec = CohortSpec(
        condition="hypertension", n=n, n_observations=17, follow_up_years=years, seed=seed
    )
    return CohortSampler(kb).sample(spec)


def _pressures(obs: pd.DataFrame) -> pd.DataFrame:
    bp = obs[obs["observation"].isin(["systolic_bp", "diastolic_bp"])]
    return bp.pivot_table(
        index=["patient_id", "effective_date"], columns="observation", values="value",
        observed=True,
    ).reset_index()  # fmt: skip


def describe(cohort, years: float) -> None:  # type: ignore[no-untyped-def]
    tl = cohort.timeline
    obs = tl.observations.astype({"patient_id": str})
    bp = _pressures(obs).sort_values(["patient_id", "effective_date"])
    first, last = bp.groupby("patient_id").first(), bp.groupby("patient_id").last()
    print(
        f"- systolic/diastolic mean at the first visit {first['systolic_bp'].mean():.1f}/"
        f"{first['diastolic_bp'].mean():.1f}, at the last {last['systolic_bp'].mean():.1f}/"
        f"{last['diastolic_bp'].mean():.1f} mmHg"
    )
    narrow = int((bp["systolic_bp"] - bp["diastolic_bp"] < 20).sum())
    print(f"- visits with pulse pressure < 20 mmHg: {narrow} of {len(bp):,}")
    low = ", ".join(
        f"{what} {(frame['diastolic_bp'] < 60).mean():.3f}"
        for what, frame in (("first visit", first), ("last visit", last), ("all visits", bp))
    )
    floors = ", ".join(
        f"{key} at exactly {v}: {(bp[key] == v).mean():.4f} "
        f"({v - 1}: {(bp[key] == v - 1).mean():.4f})"
        for key, v in (("systolic_bp", 110), ("diastolic_bp", 60))
    )
    print(f"- diastolic below 60 mmHg: {low}; {floors}")
    meds = tl.medications.astype({"patient_id": str})
    stepped = ["thiazide", "acei", "arb", "ccb", "beta_blocker"]
    on = meds[meds["medication"].isin(stepped) & meds["stop_date"].isna()]
    before = meds[meds["medication"].isin(stepped) & meds["reason"].str.startswith("taken before")]
    for when, taking in (("first", before), ("last", on)):  # the first visit: the snapshot
        count = taking.groupby("patient_id").size().reindex(cohort.wide["patient_id"], fill_value=0)
        shares = ", ".join(f"{k}: {(count == k).mean():.2f}" for k in range(5))
        treated = count[count > 0]
        print(
            f"- antihypertensive drugs at the {when} visit (share of patients): {shares}; "
            f"of the treated, 3 or more: {(treated >= 3).mean():.3f}"
        )
    started = meds[meds["reason"].str.contains("step")]
    began = first["effective_date"].reindex(cohort.wide["patient_id"]).to_numpy()
    person_years = (cohort.wide["last_visit_date"] - began).dt.days.sum() / 365.25
    print(f"- drugs started per patient-year: {len(started) / person_years:.3f}")
    ongoing = meds[meds["stop_date"].isna()]
    both = set(ongoing.loc[ongoing["medication"] == "acei", "patient_id"]) & set(
        ongoing.loc[ongoing["medication"] == "arb", "patient_id"]
    )
    print(f"- patients on an ACE inhibitor and an ARB together at the end: {len(both)}")
    quit_ = meds[meds["reason"].str.contains("discontinued")]
    restarted = meds.duplicated(["patient_id", "medication"]).sum()
    print(
        f"- courses stopped by the patient per patient-year: {len(quit_) / person_years:.3f}; "
        f"courses that restart a stopped drug: {restarted}"
    )
    above = bp[bp["systolic_bp"] > 130]
    print(
        f"- visits above 130 systolic with diastolic < 70 (no step-up there): "
        f"{(above['diastolic_bp'] < 70).mean():.3f}"
    )
    cond = tl.conditions.astype({"patient_id": str})
    start = first["effective_date"]
    incident = cond[cond["onset_date"] > cond["patient_id"].map(start)]
    rates = ", ".join(
        f"{key} {1000 * (incident['condition'] == key).sum() / person_years:.1f}" for key in EVENTS
    )
    print(f"- incident per 1,000 patient-years ({person_years:,.0f}): {rates}")


def run(n: int, years: float, seed: int) -> bool:
    start = time.perf_counter()
    cohort = _cohort(n, years, seed)
    took = time.perf_counter() - start
    print(f"\n## {n:,} hypertension patients x {years:g} years, seed {seed} ({took:.1f} s)\n")
    checks = timeline_checks(cohort)
    for check in checks:
        print(f"- {'PASS' if check.ok else 'FAIL'} {check.line()}")
    describe(cohort, years)
    return all(c.ok for c in checks)


def sensitivity(n: int, years: float, seed: int) -> None:
    """The treatment figures with the yearly discontinuation after the first year (an
    extrapolation of the second year's 0.246) and the inertia median times changed."""
    kb = load_knowledge_base()
    cond = kb.conditions["hypertension"]
    tl = cond.timeline
    assert tl is not None and tl.intensification is not None
    print(f"\n## Sensitivity ({n:,} patients x {years:g} years, seed {seed})\n")
    for later in (0.246, 0.1, 0.03):
        for factor in (1.0, 0.5):
            median = {
                k: v * factor for k, v in tl.intensification.median_years_by_threshold.items()
            }
            inten = tl.intensification.model_copy(update={"median_years_by_threshold": median})
            drugs = tuple(
                d.model_copy(update={"discontinuation_per_year": later}) for d in tl.drugs
            )
            spec = tl.model_copy(update={"intensification": inten, "drugs": drugs})
            cohort = _cohort(n, years, seed, cond.model_copy(update={"timeline": spec}))
            got = {c.key: c.measured for c in timeline_checks(cohort)}
            print(
                f"- discontinuation after year 1 {later:g}/year, inertia medians x{factor:g}: "
                f"step-up at visits above target {got['started_at_visits_above_target']:.3f}, "
                f"below 130/80 at the end {got['share_meeting_at_end']:.3f}, treated on 3+ "
                f"{got['share_treated_on_at_least']:.3f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2_000)
    parser.add_argument("--years", type=float, default=5.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8])
    parser.add_argument("--sensitivity", action="store_true")
    args = parser.parse_args()
    kb = load_knowledge_base()
    ids = dict.fromkeys(s for c in kb.conditions["hypertension"].timeline.checks for s in c.sources)
    print("# Hypertension histories beside their sources\n")
    for source in ids:
        print(f"- {source}: {kb.sources[source].citation()}")
    ok = [run(args.n, args.years, seed) for seed in args.seeds]
    print(f"\nall checks pass: {all(ok)} ({sum(ok)} of {len(ok)} seeds)")
    if args.sensitivity:
        sensitivity(args.n, args.years, args.seeds[0])


if __name__ == "__main__":
    main()
