"""Diagnosis dates of snapshot cohorts (no follow-up): are they plausible? (issue 15)

The bug this measures: the age at diagnosis was drawn on its own and capped at the patient's
age, so most patients under 40 were "diagnosed" on their birthday in the past year. For each
condition of the knowledge base it prints, from one drawn cohort:

- the share diagnosed within 2 days of a birthday (by chance: about 5/365 = 1.4 %);
- the share diagnosed within the year before the last visit, by age band;
- the median and mean years since diagnosis beside the knowledge base's duration distribution
  (a gamma with the sourced mean and SD, whose median is printed), and the mean age at
  diagnosis beside the knowledge base's ``age_at_diagnosis``;
- the earliest age at diagnosis and any diagnosis after the last visit.

Run: .venv/bin/python benchmarks/check_diagnosis_dates.py [--n 20000] [--seed 5]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from scipy import stats

from synthpatient.knowledge import CohortSampler, CohortSpec, Condition, load_knowledge_base

YEAR = 365.25
BANDS = ((18, 39), (40, 59), (60, 79), (80, 120))


def _source_duration(condition: Condition) -> tuple[float, float, list[str]] | None:
    """The duration distribution the knowledge base gives (mean, SD, sources), if any."""
    if condition.timeline is not None:
        d = condition.timeline.duration
        return d.mean, d.sd, list(d.sources)
    d = condition.demographics.get("duration_years")
    return (float(d["mean"]), float(d["sd"]), list(d["sources"])) if d else None


def _near_birthday(birth: pd.Series, dx: pd.Series, days: int = 2) -> np.ndarray:
    """Whether each diagnosis falls within ``days`` of a birthday (any year)."""
    offset = (dx.dt.day_of_year - birth.dt.day_of_year).abs().to_numpy()
    return np.minimum(offset, 365 - offset) <= days


def measure(condition: Condition, wide: pd.DataFrame) -> dict[str, object]:
    birth, dx, last = wide["birth_date"], wide["diagnosis_date"], wide["last_visit_date"]
    years = (last - dx).dt.days.to_numpy() / YEAR
    age_dx = (dx - birth).dt.days.to_numpy() / YEAR
    age = wide["age"].to_numpy()
    out: dict[str, object] = {
        "birthday": float(_near_birthday(birth, dx).mean()),
        "median_years": float(np.median(years)),
        "mean_years": float(np.mean(years)),
        "mean_age_dx": float(np.mean(age_dx)),
        "min_age_dx": float(np.min(age_dx)),
        "after_last_visit": int((dx > last).sum()),
    }
    for low, high in BANDS:
        inside = (age >= low) & (age <= high)
        out[f"past_year_{low}"] = float(np.mean(years[inside] < 1.0)) if inside.any() else None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    kb = load_knowledge_base()
    sampler = CohortSampler(kb)
    print(f"## Diagnosis dates of snapshot cohorts ({args.n:,} patients, seed {args.seed})\n")
    bands = " | ".join(f"<1 y, {lo}-{hi}" if hi < 120 else f"<1 y, {lo}+" for lo, hi in BANDS)
    print(
        "| condition | on a birthday (+-2 d) | "
        + bands
        + " | median y (source) | mean y (source) | mean age at dx (source) | min age at dx"
        " | dx after last visit |"
    )
    print("|" + "---|" * (7 + len(BANDS)))
    for key in sorted(kb.conditions):
        condition = kb.conditions[key]
        spec = CohortSpec(condition=key, n=args.n, n_observations=None, seed=args.seed)
        m = measure(condition, sampler.sample(spec).wide)
        source = _source_duration(condition)
        if source is None:
            median_src = mean_src = "none"
        else:
            mean, sd, _ = source
            shape, scale = (mean / sd) ** 2, sd**2 / mean
            median_src = f"{stats.gamma.median(shape, scale=scale):.1f}"
            mean_src = f"{mean:.1f}"
        past = " | ".join(
            "-" if m[f"past_year_{lo}"] is None else f"{m[f'past_year_{lo}']:.1%}"
            for lo, _ in BANDS
        )
        age_src = condition.demographics["age_at_diagnosis"]["mean"]
        print(
            f"| {key} | {m['birthday']:.1%} | {past} | {m['median_years']:.1f} ({median_src})"
            f" | {m['mean_years']:.1f} ({mean_src}) | {m['mean_age_dx']:.1f} ({age_src:g})"
            f" | {m['min_age_dx']:.1f} | {m['after_last_visit']} |"
        )
    print("\nSources of the duration distributions:")
    for key in sorted(kb.conditions):
        source = _source_duration(kb.conditions[key])
        for sid in source[2] if source else []:
            print(f"- {key}: {sid}: {kb.sources[sid].citation()}")


if __name__ == "__main__":
    main()
