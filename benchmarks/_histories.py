"""What the condition-history benchmarks share (``check_t1d_timelines.py``,
``check_ckd_timelines.py``): drawing a cohort with its whole history, the run over seeds that
prints every sourced check PASS or FAIL, and the shares and rates each describes."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from synthpatient.knowledge import CohortSampler, CohortSpec, load_knowledge_base
from synthpatient.knowledge.timeline import timeline_checks


def draw(condition: str, n: int, years: float, seed: int) -> Any:
    """``n`` patients of ``condition`` with every observation it records and ``years`` of
    history."""
    kb = load_knowledge_base()
    observations = len(kb.conditions[condition].observations)
    spec = CohortSpec(
        condition=condition, n=n, n_observations=observations, follow_up_years=years, seed=seed
    )
    return CohortSampler(kb).sample(spec)


def incidence(cohort: Any, keys: Iterable[str], start: pd.Series, years: float) -> str:
    """New conditions per 1,000 patient-years: onsets after each patient's ``start``."""
    keys = tuple(keys)
    conditions = cohort.timeline.conditions.astype({"patient_id": str})
    rows = conditions[conditions["condition"].isin(keys)]
    new = rows[rows["onset_date"] > rows["patient_id"].map(start)]
    return ", ".join(f"{key} {1000 * (new['condition'] == key).sum() / years:.1f}" for key in keys)


def first_to_last(cohort: Any, columns: Iterable[str]) -> str:
    """Each column's mean at the first visit and at the last ("key 0.120 -> 0.180")."""
    return ", ".join(
        f"{key} {cohort.baseline[key].mean():.3f} -> {cohort.wide[key].mean():.3f}"
        for key in columns
        if key in cohort.wide
    )


def main(condition: str, doc: str, describe: Callable[[Any], None]) -> None:
    """Seeds from the command line; per seed every check PASS/FAIL, then ``describe``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--years", type=float, default=5.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8])
    args = parser.parse_args()
    failed = 0
    for seed in args.seeds:
        began = time.perf_counter()
        cohort = draw(condition, args.n, args.years, seed)
        seconds = time.perf_counter() - began
        print(f"\n## {args.n} patients x {args.years:g} years, seed {seed} ({seconds:.1f} s)")
        for result in timeline_checks(cohort):
            failed += not result.ok
            print(f"{'PASS' if result.ok else 'FAIL'}  {result.line()}")
        describe(cohort)
        if cohort.timeline.notes:
            print("- notes: " + " ".join(cohort.timeline.notes))
    print(f"\n{failed} check(s) failed over {len(args.seeds)} seed(s)")
