"""Drugs that patients stop between visits: non-persistence and side effects.

Persistence with a drug is poor in practice, and worst in the first year after it is started,
so a drug step may give two yearly shares of patients who stop it: within the first year of
taking it, and per year after that (which also holds for drugs taken before the history). Each
is a constant hazard over its part of the interval between two visits; a stop is dated on a day
in between (the patient stopped, the clinician learns it at the visit), the drug's effect wears
off from that day (the simulation's ramp). A later step-up may start another class (a switch)
or restart the stopped one once its effect has worn off; the stopped course is kept as an
:class:`Episode`, so the medications table shows both courses with their dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from synthpatient.knowledge._model import DrugStep

if TYPE_CHECKING:
    from synthpatient.knowledge._timeline_sim import Simulation

YEAR = 365.25


@dataclass
class Episode:
    """An earlier course of a drug, stopped by the patient, for the patients who restarted it."""

    medication: str
    patient: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    step: np.ndarray


def _hazard(share: float) -> float:
    """The constant yearly hazard under which ``share`` of patients stop within a year."""
    return -float(np.log1p(-share))


def stopping_drugs(drugs: list[DrugStep]) -> list[DrugStep]:
    return [
        d
        for d in drugs
        if d.discontinuation_per_year > 0 or (d.discontinuation_first_year or 0) > 0
    ]


def discontinue(sim: Simulation, idx: np.ndarray, prev: np.ndarray, day: np.ndarray) -> None:
    """Stop drugs taken between the visit on ``prev`` and the one on ``day`` at their hazards.

    Draws nothing when no drug step has a discontinuation rate, so conditions without one
    (type 2 diabetes) get the same histories for a seed as before these rates existed."""
    r = sim.record
    for drug in stopping_drugs(sim.drugs):
        key = drug.medication
        on = np.flatnonzero(sim._on(key, idx))
        if not len(on):
            continue
        first = drug.discontinuation_first_year
        later = _hazard(drug.discontinuation_per_year)
        early = later if first is None else _hazard(first)
        start, a, b = r.drug_start[key][idx[on]], prev[on], day[on]
        # the part of the interval within the drug's first year, and the part after it
        in_first = np.clip(np.minimum(b, start + YEAR) - np.maximum(a, start), 0.0, None)
        after = np.clip(b - a - in_first, 0.0, None)
        p = 1.0 - np.exp(-(early * in_first + later * after) / YEAR)
        hit = sim.rng.random(len(on)) < p
        if not hit.any():
            continue
        rows = on[hit]
        when = prev[rows] + 1 + np.floor(sim.rng.random(len(rows)) * (day - prev)[rows])
        r.drug_stop[key][idx[rows]] = np.minimum(when, day[rows])
        r.drug_discontinued.setdefault(key, np.zeros(sim.n, dtype=bool))[idx[rows]] = True


def restartable(sim: Simulation, key: str, sub: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Stopped by the patient (not by a rule such as a contraindication) at least the
    effect-onset time ago, so that the stopped course's effect has worn off before a restart."""
    quit_ = sim.record.drug_discontinued.get(key)
    if quit_ is None:
        return np.zeros(len(sub), dtype=bool)
    onset = sim.spec.intensification.effect_onset_days if sim.spec.intensification else 0.0
    stopped = sim.record.drug_stop[key][sub]
    return quit_[sub] & ~np.isnan(stopped) & (day - np.nan_to_num(stopped) >= onset)


def archive(sim: Simulation, key: str, patients: np.ndarray) -> None:
    """Keep the stopped course of ``patients`` (who restart ``key``) as an episode and clear the
    current one. A course taken before the history has its effect in the baseline values, so
    its removal is remembered (``base_removed``) and the new course lowers from there."""
    if not len(patients):
        return
    r = sim.record
    r.past.append(
        Episode(
            key,
            patients.copy(),
            r.drug_start[key][patients].copy(),
            r.drug_stop[key][patients].copy(),
            r.drug_step[key][patients].copy(),
        )
    )
    sim.base_removed[key][patients] |= sim.baseline_drug[key][patients]
    sim.baseline_drug[key][patients] = False
    r.drug_stop[key][patients] = np.nan
    r.drug_discontinued[key][patients] = False
