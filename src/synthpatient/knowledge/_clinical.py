"""Step 4 of the sampler: the deterministic clinical layer over the drawn values.

Fasting glucose from HbA1c (ADAG), creatinine from eGFR (CKD-EPI 2021), weight and waist from
BMI, value-defined comorbidities, treatment and drugs (never where contraindicated), bounded
treatment effects and Friedewald lipids. Derived values are computed from rounded inputs so
the identities hold in the written output.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthpatient.knowledge._latent import TREATED, member_share
from synthpatient.knowledge._model import Condition, Medication, Observation
from synthpatient.knowledge._physiology import (
    bun_with_kidney_function,
    fev1_within_fvc,
    pulse_pressure_floor,
)
from synthpatient.knowledge._regimen import exclusive_groups, group_key
from synthpatient.knowledge._spec import CohortSpec
from synthpatient.rules import evaluate_expression, parse_expression

#: ADAG (Nathan et al. 2008): estimated average glucose (mg/dL) = 28.7 x HbA1c - 46.7.
ADAG_SLOPE, ADAG_INTERCEPT = 28.7, -46.7


#: Spread of fasting glucose around the ADAG line (mg/dL), giving r(HbA1c, FPG) of about 0.9.
FASTING_GLUCOSE_NOISE = 25.0


#: Fasting glucose runs below the 24-hour average that ADAG estimates; the size (mg/dL) is not
#: from a source: it brings the cohort's mean FPG to the 137-153 mg/dL of Diabetes in America.
FASTING_BELOW_AVERAGE = 12.0


def _rounded(values: np.ndarray, dist: dict) -> np.ndarray:
    low, high = dist.get("min", -np.inf), dist.get("max", np.inf)
    return np.round(np.clip(values, low, high), int(dist.get("decimals", 1)))


def _clinical_layer(
    condition: Condition,
    spec: CohortSpec,
    values: dict[str, np.ndarray],
    liabilities: dict[str, tuple[np.ndarray, float | np.ndarray]],
    people: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Rounded observations, derived values, comorbidities, treatment and drugs, as a table.

    Derived values are computed from the *rounded* inputs, so the identities hold in the
    output to the precision it is written with.
    """
    by_key = {o.key: o for o in condition.observations}
    frame = pd.DataFrame(_derived(values, by_key, people, rng))

    drawn = {key: score > threshold for key, (score, threshold) in liabilities.items()}
    asked: dict[tuple[str, str], bool] = {(f.kind, f.key): f.present for f in spec.filters}
    for c in condition.comorbidities:
        if c.definition:
            frame[c.key] = np.asarray(
                evaluate_expression(parse_expression(c.definition), frame), bool
            )
        else:
            frame[c.key] = drawn[c.key]

    for members in exclusive_groups(condition):
        for med in members:  # asked for by name: it is the group's choice for everyone
            if asked.get(("medication", med.key)):
                drawn[med.key] = drawn[group_key(members)]
    if condition.treatment is not None:
        frame["treated"] = _treated(condition, frame, drawn, liabilities[TREATED][0], asked)
    _prescribe(condition, frame, drawn, {k: v[0] for k, v in liabilities.items()}, asked)
    _treatment_effects(condition, frame, values, by_key, rng)
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


def _derived(
    values: dict[str, np.ndarray],
    by_key: dict[str, Observation],
    people: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Drawn values rounded, and the values derived from them (glucose, creatinine, weight,
    waist, FEV1/FVC) computed from the rounded inputs."""
    n = len(people["age"])
    female, age = people["female"], people["age"].astype(float)
    out: dict[str, np.ndarray] = {}
    for key, raw in values.items():
        # values a drug changes are replaced once drugs are known; until then (for the
        # diagnosis and comorbidity definitions) they are the untreated values
        out[key] = _rounded(raw, by_key[key].distribution)
    pulse_pressure_floor(out, by_key)
    fev1_within_fvc(out)

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
    bun_with_kidney_function(out, by_key)
    if "bmi" in out and "height" in out:
        derive("weight", out["bmi"] * (out["height"] / 100) ** 2)
    if "bmi" in out:
        derive("waist", np.where(female, 32.0, 38.0) + 2.2 * out["bmi"] + rng.normal(0, 5, n))
    if "fev1" in out and "fvc" in out:
        derive("fev1_fvc", 100 * out["fev1"] / out["fvc"])
    return out


def _eligible(condition: Condition, med: Medication, frame: pd.DataFrame) -> np.ndarray:
    """Who may take ``med``: treated (a therapy of the condition), with the comorbidity it
    requires, and not where it is contraindicated."""
    ok = np.ones(len(frame), dtype=bool)
    if med.treats and "treated" in frame:
        ok &= frame["treated"].to_numpy(bool)
    if med.requires:
        ok &= frame[med.requires].to_numpy(bool)
    if med.contraindication:
        ok &= ~np.asarray(evaluate_expression(parse_expression(med.contraindication), frame), bool)
    return ok


def _prescribe(
    condition: Condition,
    frame: pd.DataFrame,
    drawn: dict[str, np.ndarray],
    scores: dict[str, np.ndarray],
    asked: dict[tuple[str, str], bool],
) -> None:
    """Adds an ``on_<drug>`` column per medication: drawn, only where eligible; a group of
    drugs never taken together gives each patient at most one; a treated patient left
    without therapy gets the first one allowed."""
    eligible = {m.key: _eligible(condition, m, frame) for m in condition.medications}
    for med in condition.medications:  # the columns in the knowledge base's order
        frame[f"on_{med.key}"] = False
    grouped = set()
    for members in exclusive_groups(condition):
        _choose_in_group(condition, members, frame, drawn, scores, eligible, asked)
        grouped |= {m.key for m in members}
    fallback_order = []
    for med in condition.medications:
        if med.key not in grouped:
            frame[f"on_{med.key}"] = drawn[med.key] & eligible[med.key]
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


def _choose_in_group(
    condition: Condition,
    members: tuple[Medication, ...],
    frame: pd.DataFrame,
    drawn: dict[str, np.ndarray],
    scores: dict[str, np.ndarray],
    eligible: dict[str, np.ndarray],
    asked: dict[tuple[str, str], bool],
) -> None:
    """One drug of the group per patient whose group liability is drawn: a drug asked for by
    name for everyone, otherwise each member in turn takes its share of those still without
    one (among those it suits), ranked by its liability against the remaining members' (so
    its drivers still decide who gets it: sacubitril/valsartan at the lowest LVEF)."""
    on = drawn[group_key(members)]
    wanted = [m for m in members if asked.get(("medication", m.key))]
    left = on.copy()
    shares = [member_share(m, condition) for m in members]
    for j, med in enumerate(members):
        rest = members[j + 1 :]
        candidates = np.flatnonzero(left & eligible[med.key])
        if wanted:
            pick_rows = candidates if med is wanted[0] else candidates[:0]
        elif not rest:
            pick_rows = candidates
        else:
            fraction = shares[j] / max(sum(shares[j:]), 1e-12)
            preference = scores[med.key] - np.mean([scores[r.key] for r in rest], axis=0)
            order = np.argsort(-preference[candidates], kind="stable")
            pick_rows = candidates[order[: int(round(fraction * len(candidates)))]]
        pick = np.zeros(len(frame), dtype=bool)
        pick[pick_rows] = True
        left &= ~pick
        # asked against by name: its patients keep no drug of the group
        frame[f"on_{med.key}"] = pick & (asked.get(("medication", med.key)) is not False)


def _treatment_effects(
    condition: Condition,
    frame: pd.DataFrame,
    values: dict[str, np.ndarray],
    by_key: dict[str, Observation],
    rng: np.random.Generator,
) -> None:
    """Replaces each value a drug changes by its treated value for the drug's users."""
    n = len(frame)
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


def _treated(
    condition: Condition,
    frame: pd.DataFrame,
    drawn: dict[str, np.ndarray],
    liability: np.ndarray,
    asked: dict[tuple[str, str], bool],
) -> np.ndarray:
    """Treated: everyone whose values would not support the diagnosis and anyone asked to be
    on a therapy; of the others, those with the highest treatment liability (which follows
    the treatment's drivers, e.g. HbA1c) until the cohort's share matches."""
    n = len(frame)
    treatment = condition.treatment
    assert treatment is not None  # called only for a condition with a treatment
    forced = np.zeros(n, dtype=bool)
    if treatment.untreated_requires:
        forced = ~np.asarray(
            evaluate_expression(parse_expression(treatment.untreated_requires), frame), bool
        )
    for med in condition.medications:
        if med.treats and asked.get(("medication", med.key)):
            forced |= drawn[med.key]
    p_rest = np.clip((treatment.share - forced.mean()) / max(1 - forced.mean(), 1e-9), 0, 1)
    free = np.flatnonzero(~forced)
    order = np.argsort(-liability[free], kind="stable")
    treated = forced.copy()
    treated[free[order[: int(round(p_rest * len(free)))]]] = True
    return treated


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
