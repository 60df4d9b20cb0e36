"""A simulated history as tables: encounters, observations, medications, conditions.

Repeated text (patient ids, codes, names, units, encounter ids in the observations) is held as
pandas categoricals, so that 100,000 patients' millions of observations build and write in
seconds; every frame is sorted by patient, then date.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthpatient.knowledge._model import Observation
from synthpatient.knowledge._timeline_events import start_onsets
from synthpatient.knowledge._timeline_sim import Record, Simulation

_KIND_ORDER = {"diagnosis": 0, "annual review": 1, "follow-up": 1, "event": 2}


def _dates(record: Record, patient: np.ndarray, day: np.ndarray) -> np.ndarray:
    return (record.start[patient] + day.astype("timedelta64[D]")).astype("datetime64[ns]")


def encounters(
    sim: Simulation, ids: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray, list[np.ndarray]]:
    """The encounter table, each row's patient index, and per visit number the row of each
    patient's visit (to point observations at their encounter)."""
    r, cond = sim.record, sim.condition
    target = sim.spec.visits.target
    # (patients, days, kind, reason, visit number): kind and reason one for all or per row
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray | str, np.ndarray | str, int]] = []
    before = r.diagnosis_day < 0  # diagnosed before the history: its own encounter
    parts.append(
        (np.flatnonzero(before), r.diagnosis_day[before], "diagnosis", f"{cond.name} diagnosed", -1)
    )
    side = sim.spec.visits.direction  # the worse side: "above" (HbA1c), "below" (eGFR)
    above = f"follow-up: {sim.spec.visits.observation} {side} target {target:g}" if target else ""
    at = f"follow-up: {sim.spec.visits.observation} at target" if target else "follow-up"
    for k, (patient, day, annual) in enumerate(
        zip(r.visit_patient, r.visit_day, r.visit_annual, strict=True)
    ):
        prev_above = r.visit_above[k - 1] if k else None
        if k == 0:
            new = r.diagnosis_day[patient] == 0
            kind = np.where(new, "diagnosis", "annual review")
            reason = np.where(new, f"{cond.name} diagnosed", "first visit of the history")
        else:
            was = np.zeros(len(patient), dtype=bool)
            where = np.searchsorted(r.visit_patient[k - 1], patient)
            was = prev_above[where] if prev_above is not None else was
            kind = np.where(annual, "annual review", "follow-up")
            reason = np.where(annual, "annual review", np.where(was, above, at))
        parts.append((patient, day, kind, reason, k))
    names = {c.key: c.name for c in sim.spec.complications}
    for key, patient, day in r.events:
        parts.append((patient, day, "event", names[key], -2))
    patient = np.concatenate([p[0] for p in parts])
    day = np.concatenate([p[1] for p in parts]).astype(np.int64)
    kind = np.concatenate(
        [np.broadcast_to(np.asarray(p[2], dtype=object), len(p[0])) for p in parts]
    )
    reason = np.concatenate(
        [np.broadcast_to(np.asarray(p[3], dtype=object), len(p[0])) for p in parts]
    )
    visit = np.concatenate([np.full(len(p[0]), p[4]) for p in parts])
    rank = pd.Series(kind).map(_KIND_ORDER).to_numpy()
    order = np.lexsort((rank, day, patient))
    patient, day, kind, reason, visit = (a[order] for a in (patient, day, kind, reason, visit))
    first = np.searchsorted(patient, patient)  # row of each patient's first encounter
    number = np.arange(len(patient)) - first + 1
    enc_id = np.char.add(
        np.char.add(ids[patient].astype(str), "-E"), np.char.zfill(number.astype(str), 3)
    )
    frame = pd.DataFrame(
        {
            "patient_id": pd.Categorical(ids[patient], categories=ids),
            "encounter_id": enc_id.astype(object),
            "date": _dates(r, patient, day),
            "kind": pd.Categorical(kind, categories=list(_KIND_ORDER)),
            "reason": pd.Categorical(reason),
        }
    )
    rows = np.arange(len(patient))
    row_of_visit = []
    for k, vp in enumerate(r.visit_patient):
        mine = visit == k
        lookup = np.full(sim.n, -1)
        lookup[patient[mine]] = rows[mine]
        row_of_visit.append(lookup[vp])
    return frame, patient, row_of_visit


def observations(
    sim: Simulation,
    wanted: list[Observation],
    encounter_frame: pd.DataFrame,
    row_of_visit: list[np.ndarray],
) -> pd.DataFrame:
    """One row per measured value of a recorded observation, at its encounter's date."""
    r = sim.record
    parts_enc, parts_obs, parts_val = [], [], []
    for i, obs in enumerate(wanted):
        for k, patient, values in r.measured.get(obs.key, []):
            where = np.searchsorted(r.visit_patient[k], patient)
            parts_enc.append(row_of_visit[k][where])
            parts_obs.append(np.full(len(patient), i, dtype=np.int32))
            parts_val.append(values)
    enc = np.concatenate(parts_enc) if parts_enc else np.zeros(0, dtype=np.int64)
    which = np.concatenate(parts_obs) if parts_obs else np.zeros(0, dtype=np.int32)
    value = np.concatenate(parts_val) if parts_val else np.zeros(0)
    order = np.lexsort((which, enc))
    enc, which, value = enc[order], which[order], value[order]

    def cat(values: list[str]) -> pd.Categorical:
        return (
            pd.Categorical.from_codes(which, categories=pd.Index(values).unique())
            if len(set(values)) == len(values)
            else pd.Categorical(np.asarray(values, dtype=object)[which])
        )

    encounter_ids = pd.Categorical.from_codes(enc, categories=encounter_frame["encounter_id"])
    return pd.DataFrame(
        {
            "patient_id": encounter_frame["patient_id"].to_numpy()[enc],
            "encounter_id": encounter_ids,
            "observation": cat([o.key for o in wanted]),
            "name": cat([o.name for o in wanted]),
            "loinc": cat([o.loinc for o in wanted]),
            "value": value.astype(float),
            "unit": cat([o.unit for o in wanted]),
            "effective_date": encounter_frame["date"].to_numpy()[enc],
        }
    )


def medications(sim: Simulation, ids: np.ndarray) -> pd.DataFrame:
    """Start and stop dates of every medication taken during (or before) the history: the
    current course of each drug, and the earlier courses of drugs that were restarted."""
    r, cond = sim.record, sim.condition
    rows = []
    for med in cond.medications:
        taken = np.flatnonzero(~np.isnan(r.drug_start[med.key]))
        quit_ = r.drug_discontinued.get(med.key, np.zeros(sim.n, dtype=bool))[taken]
        course = (r.drug_start[med.key][taken], r.drug_stop[med.key][taken])
        rows.append(_courses(sim, med.key, taken, course, r.drug_step[med.key][taken], quit_))
    for ep in r.past:  # every earlier course was stopped by the patient
        quit_ = np.ones(len(ep.patient), dtype=bool)
        rows.append(_courses(sim, ep.medication, ep.patient, (ep.start, ep.stop), ep.step, quit_))
    return _by_patient(pd.concat(rows, ignore_index=True), ids, "start_date")


def _courses(
    sim: Simulation,
    key: str,
    taken: np.ndarray,
    course: tuple[np.ndarray, np.ndarray],
    step: np.ndarray,
    quit_: np.ndarray,
) -> pd.DataFrame:
    """Rows of one drug's courses: patients, start and stop days, the step each was started
    at (0: before the history), and whether the patient stopped it (else a rule did)."""
    r, target = sim.record, sim.spec.visits.target
    med = next(m for m in sim.condition.medications if m.key == key)
    start, stop = course
    reason = np.where(
        step > 0,
        f"{_visit_name(sim)} {sim.spec.visits.direction} target {target:g}: step "
        + step.astype(str),
        "taken before the first visit of the history",
    ).astype(object)
    stop_rule = next((d.stop_when for d in sim.drugs if d.medication == key), None)
    if stop_rule:
        ruled = ~np.isnan(stop) & ~quit_
        reason = np.where(ruled, reason + f"; stopped: {stop_rule}", reason)
    reason = np.where(quit_, reason + "; discontinued (non-persistence or side effects)", reason)
    stop_date = np.where(
        np.isnan(stop),
        np.datetime64("NaT", "ns"),
        _dates(r, taken, np.nan_to_num(stop).astype(np.int64)),
    )
    return pd.DataFrame(
        {
            "patient": taken,
            "medication": key,
            "name": med.name,
            "rxnorm": med.rxnorm or "",
            "start_date": _dates(r, taken, start.astype(np.int64)),
            "stop_date": stop_date.astype("datetime64[ns]"),
            "reason": reason,
        }
    )


def _visit_name(sim: Simulation) -> str:
    key = sim.spec.visits.observation
    obs = sim.by_key.get(key or "")
    return f"{obs.name} ({obs.unit})" if obs else "value"


def conditions(sim: Simulation, ids: np.ndarray) -> pd.DataFrame:
    """The cohort's condition (onset = diagnosis), comorbidities present at the first visit
    (onset between diagnosis and it, or within the window a recurrent event gives them) and
    complications with their onset dates (a recurrent one: every event)."""
    r, cond = sim.record, sim.condition
    everyone = np.arange(sim.n)
    rows = [
        _condition_rows(r, everyone, r.diagnosis_day, cond.key, cond.name, cond.snomed, cond.icd10)
    ]
    tracked = {c.comorbidity for c in sim.spec.complications if c.comorbidity == c.key}
    start_flags = sim.start_flags
    for other in cond.comorbidities:
        if other.key in tracked or other.key not in start_flags:
            continue
        had = np.flatnonzero(start_flags[other.key])
        day = start_onsets(sim, other.key, had)  # within its window ("in the past year")
        if day is None:
            day = np.round(sim.rng.random(len(had)) * r.diagnosis_day[had])
        rows.append(_condition_rows(r, had, day, other.key, other.name, other.snomed, ""))
    for new in sim.spec.complications:
        if new.recurrent:  # a row for every event, not only the first
            for key, had, day in r.events:
                if key == new.key:
                    rows.append(
                        _condition_rows(r, had, day, new.key, new.name, new.snomed, new.icd10)
                    )
            continue
        onset = r.onsets[new.key]
        had = np.flatnonzero(~np.isnan(onset))
        rows.append(_condition_rows(r, had, onset[had], new.key, new.name, new.snomed, new.icd10))
    return _by_patient(pd.concat(rows, ignore_index=True), ids, "onset_date")


def _condition_rows(
    r: Record, patient: np.ndarray, day: np.ndarray, key: str, name: str, snomed: str, icd10: str
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient": patient,
            "condition": key,
            "name": name,
            "snomed": snomed,
            "icd10": icd10,
            "onset_date": _dates(r, patient, np.asarray(day).astype(np.int64)),
        }
    )


def _by_patient(frame: pd.DataFrame, ids: np.ndarray, date: str) -> pd.DataFrame:
    frame = frame.sort_values(["patient", date], kind="stable", ignore_index=True)
    patient = frame.pop("patient").to_numpy()
    frame.insert(0, "patient_id", pd.Categorical(ids[patient], categories=ids))
    return frame
