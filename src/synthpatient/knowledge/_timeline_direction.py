"""Which side of the visit target is worse, finer visit intervals on that side, and
complications defined by measured values.

Diabetes and hypertension are worse above their targets (HbA1c, systolic pressure); chronic
kidney disease is worse below one (eGFR), and its monitoring grows more frequent category by
category (KDIGO: G3a, G3b, G4, G5). ``direction: below`` flips every "above target" of the
simulator (the visit interval, inertia thresholds, hazards per point); ``days_by_band`` gives
an interval per category; a complication with a ``definition`` (kidney failure: eGFR below 15)
starts at the first visit where its expression holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthpatient.rules import evaluate_expression, parse_expression

YEAR = 365.25

if TYPE_CHECKING:
    from synthpatient.knowledge._model import Visits
    from synthpatient.knowledge._timeline_sim import Simulation


def worse(visits: Visits, value: np.ndarray, edge: float) -> np.ndarray:
    """On the worse side of ``edge``: above it, or below it for ``direction: below``."""
    if visits.direction == "below":
        return np.asarray(value < edge)
    return np.asarray(value > edge)


def band_gap(visits: Visits, value: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """The interval of the most extreme band ``value`` passes, else ``gap``."""
    bands = sorted(
        ((float(edge), days) for edge, days in visits.days_by_band.items()),
        reverse=visits.direction == "below",
    )
    for edge, days in bands:  # least to most extreme: the last one passed wins
        gap = np.where(worse(visits, value, edge), days, gap)
    return gap


def defined_onsets(sim: Simulation, idx: np.ndarray, d: np.ndarray) -> None:
    """Complications defined by measured values, dated at the first visit where the
    expression holds (in place; the comorbidity they name is set with them)."""
    r = sim.record
    for c in sim.spec.complications:
        if c.definition is None:
            continue
        free = np.isnan(r.onsets[c.key][idx])
        if not free.any():
            continue
        holds = evaluate_expression(parse_expression(c.definition), sim._frame(idx))
        found = free & np.asarray(holds, dtype=bool)
        r.onsets[c.key][idx[found]] = d[found]
        if c.comorbidity in sim.flags:
            sim.flags[c.comorbidity][idx[found]] = True


def kidney_shift(sim: Simulation, idx: np.ndarray, day: np.ndarray) -> np.ndarray:
    """How far the kidney observation has moved by ``day``: the patient's slope (which holds
    the change of drugs taken at the first visit) times the years, plus the slope change of
    each drug started during the history for the years since its start (until a stop)."""
    k = sim.spec.kidney
    assert k is not None
    shift = sim.slope[idx] * day / YEAR
    for key, change in k.slope_change_on.items():
        start = sim.record.drug_start.get(key)
        if start is None or key not in sim.baseline_drug:
            continue
        begun = np.nan_to_num(start[idx], nan=np.inf)
        stop = np.nan_to_num(sim.record.drug_stop[key][idx], nan=np.inf)
        years = np.clip(np.minimum(day, stop) - begun, 0.0, None) / YEAR
        shift = shift + np.where(sim.baseline_drug[key][idx], 0.0, change * years)
    return shift
