"""Physiology in the tails: relations between drawn values that a copula alone does not keep.

The latent copula gives each value its sourced marginal and correlations, but correlations
say nothing about the extremes: a diastolic pressure above the systolic, a normal urea
nitrogen at end-stage kidney failure. These steps make the extremes possible ones; each
relation is also a rule of the ``cohort_physiology`` rule pack, so the realism report checks it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthpatient.knowledge._model import Observation

#: Smallest systolic-diastolic difference kept (mmHg); narrower pulse pressures are rare
#: signs of a failing heart or a measurement error, not the resting state of a cohort.
PULSE_PRESSURE_FLOOR = 20.0

#: Below this eGFR (mL/min/1.73 m2) urea nitrogen rises as filtration falls: BUN scales with
#: (60 / eGFR) ** BUN_EXPONENT. The inverse of GFR (exponent 1) holds at a steady urea
#: production; 0.75 (not from a source) keeps BUN before dialysis mostly within 40-100 mg/dL,
#: as protein intake falls with kidney failure (lab_reference: BUN 7-20 mg/dL normal).
BUN_SCALES_BELOW_EGFR = 60.0
BUN_EXPONENT = 0.75
#: Upper reference limit of urea nitrogen (mg/dL); at eGFR < 15 (kidney failure) BUN is above.
BUN_UPPER_NORMAL = 20.0
KIDNEY_FAILURE_EGFR = 15.0

#: Friedewald's LDL is not valid above this triglyceride level (mg/dL; Friedewald 1972).
FRIEDEWALD_MAX_TRIGLYCERIDES = 400.0


def _round(values: np.ndarray, dist: dict) -> np.ndarray:
    low, high = dist.get("min", -np.inf), dist.get("max", np.inf)
    return np.round(np.clip(values, low, high), int(dist.get("decimals", 1)))


def pulse_pressure_floor(out: dict[str, np.ndarray], by_key: dict[str, Observation]) -> None:
    """Diastolic lowered (or, at its minimum, systolic raised) so that systolic exceeds it by
    at least :data:`PULSE_PRESSURE_FLOOR`; in place, on rounded values."""
    if not {"systolic_bp", "diastolic_bp"} <= set(out):
        return
    sbp, dbp = out["systolic_bp"], out["diastolic_bp"]
    narrow = sbp - dbp < PULSE_PRESSURE_FLOOR
    if not narrow.any():
        return
    d_dist, s_dist = by_key["diastolic_bp"].distribution, by_key["systolic_bp"].distribution
    dbp = np.where(narrow, _round(sbp - PULSE_PRESSURE_FLOOR, d_dist), dbp)
    sbp = np.where(sbp - dbp < PULSE_PRESSURE_FLOOR, dbp + PULSE_PRESSURE_FLOOR, sbp)
    out["diastolic_bp"], out["systolic_bp"] = dbp, _round(sbp, s_dist)


def fev1_within_fvc(out: dict[str, np.ndarray]) -> None:
    """FEV1 (a part of the forced vital capacity) never above FVC: where a draw crossed them,
    the two are swapped (both marginals kept), in place."""
    if {"fev1", "fvc"} <= set(out):
        low, high = np.minimum(out["fev1"], out["fvc"]), np.maximum(out["fev1"], out["fvc"])
        out["fev1"], out["fvc"] = low, high


def bun_with_kidney_function(out: dict[str, np.ndarray], by_key: dict[str, Observation]) -> None:
    """Urea nitrogen scaled by (60/eGFR)^0.75 below an eGFR of 60 (the drawn value is the
    patient's level at normal filtration), and above the upper reference limit in kidney
    failure."""
    if not {"bun", "egfr"} <= set(out):
        return
    egfr = np.maximum(out["egfr"], 1.0)
    scaled = out["bun"] * np.maximum(1.0, BUN_SCALES_BELOW_EGFR / egfr) ** BUN_EXPONENT
    failing = egfr < KIDNEY_FAILURE_EGFR
    scaled = np.where(failing, np.maximum(scaled, BUN_UPPER_NORMAL + 1), scaled)
    out["bun"] = _round(scaled, by_key["bun"].distribution)


def ldl_not_calculated(frame: pd.DataFrame) -> None:
    """Calculated LDL left missing where triglycerides exceed 400 mg/dL (Friedewald does not
    hold there; a laboratory reports no calculated value), in place."""
    if {"ldl", "triglycerides"} <= set(frame.columns):
        high = frame["triglycerides"].to_numpy(float) > FRIEDEWALD_MAX_TRIGLYCERIDES
        if high.any():
            frame["ldl"] = frame["ldl"].astype(float).where(~high)


def kidney_failure_bun_floor(out: dict[str, np.ndarray], by_key: dict[str, Observation]) -> None:
    """Urea nitrogen above its upper reference limit wherever eGFR < 15, in place (for values
    that moved over a history, where the drawn scaling no longer follows eGFR)."""
    if {"bun", "egfr"} <= set(out):
        failing = out["egfr"] < KIDNEY_FAILURE_EGFR
        out["bun"] = np.where(failing, np.maximum(out["bun"], BUN_UPPER_NORMAL + 1), out["bun"])
        out["bun"] = _round(out["bun"], by_key["bun"].distribution)


def tails_by_visit(obs: pd.DataFrame, by_key: dict[str, Observation]) -> pd.DataFrame:
    """A history's long observations table with the tail relations applied visit by visit
    (pulse pressure floor, urea nitrogen in kidney failure); a new table."""
    keys = [k for k in ("systolic_bp", "diastolic_bp", "egfr", "bun") if k in by_key]
    rows = obs["observation"].isin(keys)
    if not rows.any():
        return obs
    table = obs[rows].pivot(index="encounter_id", columns="observation", values="value")
    out = {str(k): table[k].to_numpy(float) for k in table.columns}
    before = {k: v.copy() for k, v in out.items()}
    pulse_pressure_floor(out, by_key)
    kidney_failure_bun_floor(out, by_key)
    obs = obs.copy()
    for key, values in out.items():
        if np.array_equal(values, before[key], equal_nan=True):
            continue
        these = obs["observation"] == key
        moved = pd.Series(values, index=table.index)
        obs.loc[these, "value"] = obs.loc[these, "encounter_id"].map(moved).to_numpy()
    return obs
