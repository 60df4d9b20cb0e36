"""Acute events that recur (type 1 diabetes: ketoacidosis, severe hypoglycaemia) and the
comorbidities that mean such an event within a window before the last visit.

A recurrent complication keeps its hazard after the first event (see ``Simulation._events``);
every event is an encounter and a condition row. A comorbidity such as "ketoacidosis in the
past year" is then a fact about the history's events, not a flag drawn once: it is set from
the events in the window before each patient's last visit, and the flag drawn with the cohort
stands only for patients whose history is shorter than the window (its events lie before it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from synthpatient.knowledge._timeline_sim import Simulation


def windowed_flags(sim: Simulation) -> None:
    """Set each windowed comorbidity from the events before the last visit (in place)."""
    for c in sim.spec.complications:
        window = c.comorbidity_window_days
        if window is None or c.comorbidity not in sim.flags:
            continue
        flag = sim.start_flags[c.comorbidity] & (sim.last_day < window)
        for key, patient, day in sim.record.events:
            if key == c.key:
                flag[patient[day >= sim.last_day[patient] - window]] = True
        sim.flags[c.comorbidity] = flag


def start_onsets(sim: Simulation, key: str, had: np.ndarray) -> np.ndarray | None:
    """Days (<= 0) of the comorbidity ``key`` drawn with the cohort for the patients ``had``:
    within its window before the first visit (and after the diagnosis) when a recurrent
    event's window defines it, else None (the caller dates it between diagnosis and start)."""
    window = next(
        (
            c.comorbidity_window_days
            for c in sim.spec.complications
            if c.comorbidity == key and c.comorbidity_window_days is not None
        ),
        None,
    )
    if window is None:
        return None
    span = np.minimum(-sim.record.diagnosis_day[had], window)
    return -np.round(sim.rng.random(len(had)) * span)
