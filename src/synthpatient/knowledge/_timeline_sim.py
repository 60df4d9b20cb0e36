"""Simulating patient histories, vectorised over patients: one loop step per visit number.

Each patient is simulated in days since their first visit. A step of the loop takes every
patient still in follow-up to their next visit at once, whatever its date: trajectories are
Ornstein-Uhlenbeck deviations around a drifting level (exact at any spacing, so AR(1) between
visits), eGFR falls on a per-patient slope, drugs started lower the visit observation (HbA1c,
systolic pressure; others by a fraction, e.g. diastolic) after an onset period,
complications start at their hazards over the interval (acute events may recur), and the
next visit is due after the interval above or at target the value just measured calls for
(type 2 and type 1 diabetes: 3 or 6 months). 100,000 patients x 5 years is ~26 steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from synthpatient._steps import step as report_step
from synthpatient._steps import watched
from synthpatient.knowledge._demographics import draw_years_since_diagnosis
from synthpatient.knowledge._latent import marginal_quantile
from synthpatient.knowledge._model import Condition, DrugStep, Trajectory
from synthpatient.knowledge._timeline_direction import band_gap, defined_onsets, kidney_shift, worse
from synthpatient.knowledge._timeline_events import windowed_flags
from synthpatient.knowledge._timeline_persistence import Episode, archive, discontinue, restartable
from synthpatient.rules import evaluate_expression, parse_expression

YEAR = 365.25
#: Lowest value a drug can bring a measured value to (HbA1c, %); values below it are not the
#: drug's doing, so a lowered value is clipped there.
EFFECT_FLOOR = {"hba1c": 5.0}
#: Lowest underlying level drugs can bring a patient to (mmHg): systolic 110, diastolic 60.
#: Blood-pressure drugs lower pressure less from lower starting levels (Law 2003: 1 mmHg less
#: systolic per 10 mmHg lower), trials treating to intensive targets reach about 120 systolic,
#: and prescribers stop adding drugs near symptomatic hypotension; round approximations, not
#: sourced figures. The drugs' fall is capped at the patient's level (before this visit's
#: variation) minus the floor, so the visit-to-visit variation stays around the floor: a clip
#: of the measured values, as for HbA1c, put 15 % of all diastolic results at exactly 60.
LEVEL_FLOOR = {"systolic_bp": 110.0, "diastolic_bp": 60.0}


@dataclass
class Record:
    """Everything a simulation produced, in days since each patient's first visit."""

    start: np.ndarray  # datetime64[D] first visit per patient
    diagnosis_day: np.ndarray  # int days (<= 0)
    visit_patient: list[np.ndarray] = field(default_factory=list)  # per visit number
    visit_day: list[np.ndarray] = field(default_factory=list)
    visit_annual: list[np.ndarray] = field(default_factory=list)
    visit_above: list[np.ndarray] = field(default_factory=list)  # last result above target
    measured: dict[str, list[tuple[int, np.ndarray, np.ndarray]]] = field(default_factory=dict)
    events: list[tuple[str, np.ndarray, np.ndarray]] = field(default_factory=list)
    onsets: dict[str, np.ndarray] = field(default_factory=dict)  # key -> day (nan: none)
    drug_start: dict[str, np.ndarray] = field(default_factory=dict)  # nan: never on
    drug_stop: dict[str, np.ndarray] = field(default_factory=dict)  # nan: ongoing
    drug_step: dict[str, np.ndarray] = field(default_factory=dict)  # step started at (0: before)
    drug_discontinued: dict[str, np.ndarray] = field(default_factory=dict)  # stopped by the patient
    past: list[Episode] = field(default_factory=list)  # earlier courses of restarted drugs
    last: dict[str, np.ndarray] = field(default_factory=dict)  # last measured value
    flags: dict[str, np.ndarray] = field(default_factory=dict)  # comorbidities at the end
    notes: list[str] = field(default_factory=list)


def _ramp(x: np.ndarray, onset: float) -> np.ndarray:
    x = np.nan_to_num(x, nan=-1.0)
    return (x >= 0).astype(float) if onset <= 0 else np.clip(x / onset, 0.0, 1.0)


def _expression(text: str, frame: pd.DataFrame) -> np.ndarray:
    return np.asarray(evaluate_expression(parse_expression(text), frame), dtype=bool)


class Simulation:
    """One cohort's follow-up: state arrays per patient, advanced visit by visit."""

    def __init__(
        self, condition: Condition, wide: pd.DataFrame, years: float, rng: np.random.Generator
    ) -> None:
        if condition.timeline is None:
            raise ValueError(f"{condition.key} has no timeline")
        self.condition, self.spec, self.rng = condition, condition.timeline, rng
        self.n = len(wide)
        self.horizon = int(round(years * YEAR))
        self.female = (wide["sex"] == "female").to_numpy()
        self.birth = wide["birth_date"].to_numpy().astype("datetime64[D]")
        end = wide["last_visit_date"].to_numpy().astype("datetime64[D]")
        start = end - np.timedelta64(self.horizon, "D")
        duration = self.spec.duration
        youngest = duration.min_age_at_history
        youngest = duration.min_age_at_diagnosis if youngest is None else youngest
        adult = self.birth + np.round(duration.min_age_at_diagnosis * YEAR).astype("timedelta64[D]")
        floor = self.birth + np.round(youngest * YEAR).astype("timedelta64[D]")
        late = start < floor
        start = np.where(late, floor, start)
        self.horizon_of = (end - start).astype(int)  # per patient; shorter for the young
        self.record = Record(start=start, diagnosis_day=self._diagnosis(start, adult, late))
        if late.any():
            # diagnosed at the first visit only where no diagnosis may come before the history
            how = (
                "diagnosed at the first visit"
                if youngest == duration.min_age_at_diagnosis
                else "diagnosed before it"
            )
            self.record.notes.append(
                f"{int(late.sum())} patient(s) were under {youngest:g} at the start of the "
                f"asked follow-up: their histories start at that age ({how})."
            )
        self.by_key = {o.key: o for o in condition.observations}
        self.baseline = self._baselines(wide)
        self.waist0 = wide["waist"].to_numpy(float) if "waist" in wide else None
        self.flags = {
            c.key: wide[c.key].to_numpy(bool).copy()
            for c in condition.comorbidities
            if c.key in wide
        }
        self.start_flags = {key: flag.copy() for key, flag in self.flags.items()}
        self._init_trajectories(wide)
        self._init_drugs(wide)
        self._init_complications()

    # --- the start --------------------------------------------------------------------
    def _diagnosis(self, start: np.ndarray, adult: np.ndarray, late: np.ndarray) -> np.ndarray:
        """Days from the first visit back to diagnosis: a duration of the condition drawn from the
        sourced distribution, truncated so that the diagnosis is at or after the minimum age."""
        d = self.spec.duration
        longest = (start - adult).astype(float)
        years = draw_years_since_diagnosis(self.rng, d.mean, d.sd, longest / YEAR)
        days = np.minimum(np.round(years * YEAR), longest)
        if d.min_age_at_history is not None:  # a late start may follow a diagnosis before it
            late = np.zeros_like(late)
        return -np.where(late, 0, np.maximum(days, 0)).astype(np.int64)

    def _baselines(self, wide: pd.DataFrame) -> dict[str, np.ndarray]:
        """Values at the first visit: the drawn cohort's, or for observations it did not
        record but the history needs (e.g. eGFR for contraindications), marginal draws."""
        out, missing = {}, []
        for t in self.spec.trajectories:
            if t.observation in wide:
                out[t.observation] = wide[t.observation].to_numpy(float)
            else:
                dist = self.by_key[t.observation].distribution
                z = self.rng.standard_normal(self.n)
                out[t.observation] = np.clip(
                    marginal_quantile(dist, z, self.female),
                    dist.get("min", -np.inf),
                    dist.get("max"),
                )
                missing.append(t.observation)
        if missing:
            self.record.notes.append(
                "Not recorded but simulated to drive the histories (drawn from their sourced "
                f"distributions, independently of the other values): {', '.join(missing)}."
            )
        return out

    def _init_trajectories(self, wide: pd.DataFrame) -> None:
        self.level: dict[str, np.ndarray] = {}
        self.dev: dict[str, np.ndarray] = {}
        self.traj: dict[str, Trajectory] = {t.observation: t for t in self.spec.trajectories}
        for key, t in self.traj.items():
            x = self.baseline[key]
            x = np.log(np.clip(x, 1e-9, None)) if t.scale == "log" else x
            dev = self.rng.normal(0.0, t.within_sd, self.n)
            if t.stationary and self.n > 1:  # the share of the spread that is within-patient
                share = min(t.within_sd**2 / max(float(np.var(x)), 1e-12), 1.0)
                dev = share * (x - x.mean()) + np.sqrt(1.0 - share) * dev
            self.dev[key], self.level[key] = dev, x - dev
        # waist follows BMI with each patient's own offset (the cohort's, or drawn like it)
        bmi0 = self.baseline.get("bmi", np.zeros(self.n))
        self.waist_offset = (
            self.waist0 - np.where(self.female, 32.0, 38.0) - 2.2 * bmi0
            if self.waist0 is not None
            else self.rng.normal(0.0, 5.0, self.n)
        )
        self.slope = np.zeros(self.n)
        k = self.spec.kidney
        if k is not None:
            uacr = self.baseline[k.albuminuria]
            mean = np.select(
                [uacr < 30, uacr <= 300],
                [k.slope_by_albuminuria["<30"], k.slope_by_albuminuria["30-300"]],
                k.slope_by_albuminuria[">300"],
            )
            self.slope = mean + self.rng.normal(0.0, k.slope_sd, self.n)
            for key, change in k.slope_change_on.items():  # drugs taken at the first visit
                col = f"on_{key}"
                if col in wide:
                    self.slope += change * wide[col].to_numpy(bool)
        self.last_day = np.zeros(self.n)
        self.above_run = np.zeros(self.n, dtype=np.int64)  # results above target in a row

    def _init_drugs(self, wide: pd.DataFrame) -> None:
        """Drugs taken at the first visit started between diagnosis and it, in step order."""
        self.drugs: list[DrugStep] = sorted(self.spec.drugs, key=lambda d: d.step)
        r = self.record
        keys = [m.key for m in self.condition.medications]
        on0 = {k: wide[f"on_{k}"].to_numpy(bool) if f"on_{k}" in wide else None for k in keys}
        fractions = np.sort(self.rng.random((self.n, len(keys))), axis=1)
        stepped = [d.medication for d in self.drugs]
        ordered = stepped + [k for k in keys if k not in stepped]
        self.lowering: dict[str, np.ndarray] = {}
        for key in keys:
            # the first step's drug nearest the diagnosis, later steps nearer the first visit
            share = 1.0 - fractions[:, ordered.index(key)]
            before = np.round(share * r.diagnosis_day).astype(float)
            flag = on0[key]
            taken = flag if flag is not None else np.zeros(self.n, dtype=bool)
            r.drug_start[key] = np.where(taken, np.minimum(before, 0.0), np.nan)
            r.drug_stop[key] = np.full(self.n, np.nan)
            r.drug_step[key] = np.zeros(self.n, dtype=np.int64)
        for d in self.drugs:
            self.lowering[d.medication] = self.rng.uniform(d.lowering_min, d.lowering_max, self.n)
        self.also_lowered = {key for d in self.drugs for key in d.also_lowers}
        # drugs never given with each other: a listed conflict of classes, or one class twice
        classes = {m.key: m.drug_class for m in self.condition.medications}
        pairs = {(c.a, c.b) for c in self.condition.conflicts}
        self.conflicting: dict[str, list[str]] = {
            key: [
                other
                for other in keys
                if other != key
                and classes[key] is not None
                and (
                    classes[other] == classes[key]
                    or (classes[key], classes[other]) in pairs
                    or (classes[other], classes[key]) in pairs
                )
            ]
            for key in keys
        }
        self.baseline_drug = {
            d.medication: ~np.isnan(r.drug_start[d.medication]) for d in self.drugs
        }
        # a course taken before the history stopped and the drug restarted since (see archive)
        self.base_removed = {d.medication: np.zeros(self.n, dtype=bool) for d in self.drugs}

    def _init_complications(self) -> None:
        r = self.record
        for c in self.spec.complications:
            onset = np.full(self.n, np.nan)
            if c.comorbidity and c.comorbidity == c.key and c.key in self.flags:
                had = self.flags[c.key]  # already present: its onset lies before the history
                onset[had] = np.round(self.rng.random(int(had.sum())) * r.diagnosis_day[had])
            if c.baseline_share > 0:
                had = self.rng.random(self.n) < c.baseline_share
                onset[had] = np.round(self.rng.random(int(had.sum())) * r.diagnosis_day[had])
            r.onsets[c.key] = onset
        self.last_annual = np.full(self.n, -np.inf)

    # --- values -----------------------------------------------------------------------
    def _reduction(self, idx: np.ndarray, day: np.ndarray, key: str) -> np.ndarray:
        """How far the drugs started (or stopped) since the first visit move ``key``: the
        visit observation by each drug's lowering, others by its ``also_lowers`` fraction."""
        r, onset = self.record, self.spec.intensification
        ramp_days = onset.effect_onset_days if onset else 0.0
        out = np.zeros(len(idx))
        visit = key == self.spec.visits.observation
        for d in self.drugs:
            if not visit and key not in d.also_lowers:
                continue
            low = self.lowering[d.medication][idx]
            if not visit:
                low = low * d.also_lowers[key]
            base = self.baseline_drug[d.medication][idx]  # its effect is in the baseline
            on = np.where(base, 1.0, _ramp(day - r.drug_start[d.medication][idx], ramp_days))
            off = _ramp(day - r.drug_stop[d.medication][idx], ramp_days)
            out += low * (on - off) - low * (base | self.base_removed[d.medication][idx])
        return out

    def _advance(self, idx: np.ndarray, day: np.ndarray) -> None:
        dt = (day - self.last_day[idx]) / YEAR
        for key, t in self.traj.items():
            keep = np.exp(-dt / t.correlation_years)
            noise = self.rng.standard_normal(len(idx))
            self.dev[key][idx] = (
                self.dev[key][idx] * keep + t.within_sd * np.sqrt(1 - keep**2) * noise
            )
        self.last_day[idx] = day

    def true_value(self, key: str, idx: np.ndarray, day: np.ndarray) -> np.ndarray:
        t = self.traj[key]
        level = self.level[key][idx] + t.drift_per_year * day / YEAR
        x = level + self.dev[key][idx]
        if self.spec.kidney is not None and key == self.spec.kidney.observation:
            x, level = x + kidney_shift(self, idx, day), level + kidney_shift(self, idx, day)
        x = np.exp(x) if t.scale == "log" else x
        if self.drugs and (self.spec.visits.observation == key or key in self.also_lowered):
            fall = self._reduction(idx, day, key)
            if key in LEVEL_FLOOR:  # capped at the level, the variation kept (see above)
                level = np.exp(level) if t.scale == "log" else level
                x = x - np.minimum(fall, np.maximum(level - LEVEL_FLOOR[key], 0.0))
            else:
                floor = EFFECT_FLOOR.get(key, -np.inf)
                reduced = x - fall
                x = np.where(reduced < x, np.maximum(reduced, np.minimum(x, floor)), reduced)
        dist = self.by_key[key].distribution
        return np.round(
            np.clip(x, dist.get("min", -np.inf), dist.get("max", np.inf)),
            int(dist.get("decimals", 1)),
        )

    # --- the visits -------------------------------------------------------------------
    def run(self) -> Record:
        """Every patient from the first visit to the last, one visit number per step."""
        r, v = self.record, self.spec.visits
        day = np.zeros(self.n)
        last_test = np.full(self.n, -v.days_above_target)
        active = np.ones(self.n, dtype=bool)
        k = 0
        while active.any():
            idx = np.flatnonzero(active)
            d = day[idx]
            if k > 0:
                self._events(idx, d)
                discontinue(self, idx, self.last_day[idx], d)
            self._advance(idx, d)
            # an annual review once a year has passed (within half the shortest interval)
            annual = d - self.last_annual[idx] >= v.annual_days - v.days_above_target / 2
            self.last_annual[idx[annual]] = d[annual]
            self._measure(k, idx, d, annual)
            self._annual_onsets(idx[annual], d[annual])
            defined_onsets(self, idx, d)
            changed = self._stops(idx, d)
            above = np.zeros(len(idx), dtype=bool)
            if v.observation is not None and v.target is not None:
                h = r.last[v.observation][idx]
                above = worse(v, h, v.target)
                self.above_run[idx] = np.where(above, self.above_run[idx] + 1, 0)
                if self.drugs:
                    changed |= self._intensify(idx, d, h, d - last_test[idx], k)
                last_test[idx] = d
            r.visit_patient.append(idx)
            r.visit_day.append(d.astype(np.int64))
            r.visit_annual.append(annual)
            r.visit_above.append(above)
            gap = np.where(above | changed, v.days_above_target, v.days_at_target)
            if v.days_by_band:  # finer intervals on the worse side (e.g. by eGFR category)
                gap = band_gap(v, r.last[str(v.observation)][idx], gap)
            jitter = self.rng.integers(-int(v.jitter_days), int(v.jitter_days) + 1, len(idx))
            if v.missed_share > 0:  # booked visits missed before the one attended
                gap = gap * self.rng.geometric(1 - v.missed_share, len(idx))
            day[idx] = d + gap + jitter
            active[idx] = day[idx] <= self.horizon_of[idx]
            k += 1
            if watched():  # the share of the follow-up simulated (the caller may stop here)
                report_step(
                    "history", np.minimum(day, self.horizon_of).sum(), self.horizon_of.sum()
                )
        windowed_flags(self)
        r.flags = self.flags
        return r

    def _measure(self, k: int, idx: np.ndarray, d: np.ndarray, annual: np.ndarray) -> None:
        r = self.record
        values: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for key, t in self.traj.items():
            sub = np.ones(len(idx), dtype=bool) if t.schedule == "every_visit" else annual
            values[key] = (sub, self.true_value(key, idx[sub], d[sub]))
        for key, schedule in self.spec.derived_schedule.items():
            sub = np.ones(len(idx), dtype=bool) if schedule == "every_visit" else annual
            values[key] = (sub, self._derived(key, idx[sub], d[sub], values, sub))
        for key, (sub, x) in values.items():
            r.measured.setdefault(key, []).append((k, idx[sub], x))
            r.last.setdefault(key, np.full(self.n, np.nan))[idx[sub]] = x

    def _derived(
        self,
        key: str,
        idx: np.ndarray,
        d: np.ndarray,
        values: dict[str, tuple[np.ndarray, np.ndarray]],
        sub: np.ndarray,
    ) -> np.ndarray:
        """A computed observation from the values measured at the same visit."""
        from synthpatient.knowledge._clinical import (
            ADAG_INTERCEPT,
            ADAG_SLOPE,
            FASTING_BELOW_AVERAGE,
            FASTING_GLUCOSE_NOISE,
            ckd_epi_2021_creatinine,
        )

        def at(name: str) -> np.ndarray:  # the value of ``name`` at these visits
            where, x = values[name]
            full = np.full(len(where), np.nan)
            full[where] = x
            return full[sub]

        m = len(idx)
        if key == "fasting_glucose":
            raw = ADAG_SLOPE * at("hba1c") + ADAG_INTERCEPT - FASTING_BELOW_AVERAGE
            raw = raw + self.rng.normal(0.0, FASTING_GLUCOSE_NOISE, m)
        elif key == "creatinine":
            age = np.floor(
                (self.record.start[idx] + d.astype("timedelta64[D]") - self.birth[idx]).astype(
                    float
                )
                / YEAR
            )
            raw = ckd_epi_2021_creatinine(at("egfr"), age, self.female[idx])
        elif key == "weight":
            raw = at("bmi") * (self.baseline["height"][idx] / 100) ** 2
        elif key == "waist":
            raw = np.where(self.female[idx], 32.0, 38.0) + 2.2 * at("bmi")
            raw = raw + self.waist_offset[idx]
        elif key == "total_cholesterol":
            raw = at("ldl") + at("hdl") + at("triglycerides") / 5
        elif key == "non_hdl":
            raw = at("ldl") + at("triglycerides") / 5
        elif key == "fev1_fvc":
            raw = 100 * at("fev1") / at("fvc")
        else:
            raise ValueError(f"no rule computes {key} over time")
        dist = self.by_key[key].distribution
        return np.round(
            np.clip(raw, dist.get("min", -np.inf), dist.get("max", np.inf)),
            int(dist.get("decimals", 1)),
        )

    def _frame(self, idx: np.ndarray) -> pd.DataFrame:
        """Latest measured values and current comorbidities, for the KB's expressions."""
        data = {key: values[idx] for key, values in self.record.last.items()}
        data.update({key: flag[idx] for key, flag in self.flags.items()})
        return pd.DataFrame(data)

    def _on(self, key: str, idx: np.ndarray) -> np.ndarray:
        r = self.record
        return ~np.isnan(r.drug_start[key][idx]) & np.isnan(r.drug_stop[key][idx])

    def _stops(self, idx: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Drugs stopped where they became contraindicated (e.g. metformin at eGFR < 30)."""
        changed = np.zeros(len(idx), dtype=bool)
        for drug in self.drugs:
            if not drug.stop_when:
                continue
            on = self._on(drug.medication, idx)
            if not on.any():
                continue
            stop = np.zeros(len(idx), dtype=bool)
            stop[on] = _expression(drug.stop_when, self._frame(idx[on]))
            self.record.drug_stop[drug.medication][idx[stop]] = d[stop]
            changed |= stop
        return changed

    def _intensify(
        self, idx: np.ndarray, d: np.ndarray, h: np.ndarray, since: np.ndarray, k: int
    ) -> np.ndarray:
        """Step up at this visit with the chance the sourced median times give (inertia)."""
        spec, r = self.spec, self.record
        assert spec.intensification is not None and spec.visits.target is not None
        median = np.full(len(idx), np.inf)
        for threshold, years in sorted(
            (float(t), y) for t, y in spec.intensification.median_years_by_threshold.items()
        ):
            median = np.where(worse(spec.visits, h, threshold) | (h == threshold), years, median)
        p = 1 - 0.5 ** (np.maximum(since, 1.0) / (median * YEAR))
        go = worse(spec.visits, h, spec.visits.target) & (self.rng.random(len(idx)) < p)
        go &= self.above_run[idx] >= spec.intensification.confirm_results
        go = self._held(idx, go)
        if not go.any():
            return go
        rows = np.flatnonzero(go)
        sub = idx[rows]
        low, high = self._step_bounds(sub)
        frame = self._frame(sub)
        chosen = np.full(len(sub), -1)
        for step in sorted({drug.step for drug in self.drugs}):
            open_ = (chosen < 0) & (low < step) & (step <= high)
            if not open_.any():
                continue
            options = [(i, drug) for i, drug in enumerate(self.drugs) if drug.step == step]
            available = np.column_stack(
                [self._available(drug, sub, frame, d[rows]) & open_ for _, drug in options]
            )
            preferred = np.column_stack(
                [
                    available[:, j] & _expression(drug.preferred_when, frame)
                    if drug.preferred_when
                    else np.zeros(len(sub), dtype=bool)
                    for j, (_, drug) in enumerate(options)
                ]
            )
            some_preferred = np.asarray(preferred.any(axis=1), dtype=bool)
            weight = np.where(some_preferred[:, None], preferred, available)
            pick = np.argmax(weight * self.rng.random(weight.shape), axis=1)
            has = weight.any(axis=1)
            chosen[has] = np.asarray([i for i, _ in options])[pick[has]]
        for i, drug in enumerate(self.drugs):
            who = chosen == i
            archive(self, drug.medication, sub[who & ~np.isnan(r.drug_start[drug.medication][sub])])
            r.drug_start[drug.medication][sub[who]] = d[rows[who]]
            # the step it was started at: its own, or (count) the number of drugs it makes
            at = high[who] if spec.intensification.steps == "count" else drug.step
            r.drug_step[drug.medication][sub[who]] = at
        started = np.zeros(len(idx), dtype=bool)
        started[rows] = chosen >= 0
        if spec.intensification.confirm_results > 1:  # the new drug's result confirms again
            self.above_run[idx[started]] = 0
        return started

    def _held(self, idx: np.ndarray, go: np.ndarray) -> np.ndarray:
        """No step-up where ``hold_when`` holds (e.g. diastolic already below 70 mmHg), nor
        beyond the ceiling unless the needed drug is taken (resistant hypertension)."""
        spec = self.spec.intensification
        assert spec is not None
        if spec.hold_when and go.any():
            rows = np.flatnonzero(go)
            go[rows] &= ~_expression(spec.hold_when, self._frame(idx[rows]))
        if spec.ceiling_drugs is not None and go.any():
            rows = np.flatnonzero(go)
            taken = sum(self._on(drug.medication, idx[rows]).astype(int) for drug in self.drugs)
            needed = spec.beyond_ceiling_needs
            has = self._on(needed, idx[rows]) if needed else np.zeros(len(rows), dtype=bool)
            go[rows] &= (np.asarray(taken) < spec.ceiling_drugs) | has
        return go

    def _step_bounds(self, sub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Steps a drug may be started at lie above the first bound and at or below the
        second: above the highest step taken (``highest``), or up to the number of stepped
        drugs taken plus one (``count``: a second first-line class, a third, then add-ons)."""
        assert self.spec.intensification is not None
        taken = np.zeros(len(sub), dtype=np.int64)
        if self.spec.intensification.steps == "count":
            for drug in self.drugs:
                taken += self._on(drug.medication, sub)
            return np.zeros(len(sub), dtype=np.int64), taken + 1
        for drug in self.drugs:
            taken = np.maximum(taken, np.where(self._on(drug.medication, sub), drug.step, 0))
        return taken, np.full(len(sub), np.iinfo(np.int64).max)

    def _available(
        self, drug: DrugStep, sub: np.ndarray, frame: pd.DataFrame, day: np.ndarray
    ) -> np.ndarray:
        """Never taken before (or stopped by the patient and worn off: a restart), not
        contraindicated by a value, and not in conflict with (nor a duplicate of) a drug being
        taken (drug_classes.yaml: e.g. no ACE inhibitor with an angiotensin receptor blocker)."""
        never = np.isnan(self.record.drug_start[drug.medication][sub])
        never |= restartable(self, drug.medication, sub, day)
        if drug.start_contraindication:
            never &= ~_expression(drug.start_contraindication, frame)
        for other in self.conflicting.get(drug.medication, ()):
            never &= ~self._on(other, sub)
        return never

    # --- complications ----------------------------------------------------------------
    def _hazard(self, rate: float, ratio: float, idx: np.ndarray, dt: np.ndarray) -> np.ndarray:
        v = self.spec.visits
        excess = np.zeros(len(idx))
        if v.observation is not None and v.target is not None:
            excess = self.record.last[v.observation][idx] - v.target
            excess = np.clip(-excess if v.direction == "below" else excess, 0, None)
        return 1 - np.exp(-rate * ratio**excess * dt / YEAR)

    def _events(self, idx: np.ndarray, d: np.ndarray) -> None:
        """Acute complications between the last visit and this one, on a day in between."""
        r = self.record
        prev = self.last_day[idx]
        for c in self.spec.complications:
            if c.onset != "event":
                continue
            free = np.isnan(r.onsets[c.key][idx]) | c.recurrent
            if c.comorbidity == c.key and c.key in self.flags:
                free &= ~self.flags[c.key][idx]
            hit = free & (
                self.rng.random(len(idx))
                < self._hazard(c.rate_per_year, c.hazard_ratio_per_point, idx, d - prev)
            )
            if not hit.any():
                continue
            when = prev[hit] + 1 + np.floor(self.rng.random(int(hit.sum())) * (d - prev)[hit])
            when = np.minimum(when, d[hit])
            first = np.isnan(r.onsets[c.key][idx[hit]])  # the first onset is kept
            r.onsets[c.key][idx[hit][first]] = when[first]
            r.events.append((c.key, idx[hit], when.astype(np.int64)))
            if c.comorbidity in self.flags and c.comorbidity_window_days is None:
                self.flags[c.comorbidity][idx[hit]] = True

    def _annual_onsets(self, idx: np.ndarray, d: np.ndarray) -> None:
        """Complications found at an annual review: by definition (CKD) or examination."""
        r = self.record
        for c in self.spec.complications:
            free = np.isnan(r.onsets[c.key][idx])
            if c.onset == "definition" and c.comorbidity and c.definition is None:
                definition = next(
                    x.definition for x in self.condition.comorbidities if x.key == c.comorbidity
                )
                found = free & _expression(str(definition), self._frame(idx))
            elif c.onset == "annual_review":
                dt = np.full(len(idx), self.spec.visits.annual_days)
                risk = self._hazard(c.rate_per_year, c.hazard_ratio_per_point, idx, dt)
                found = free & (self.rng.random(len(idx)) < risk) & (d > 0)
            else:
                continue
            r.onsets[c.key][idx[found]] = d[found]
            if c.comorbidity in self.flags:
                self.flags[c.comorbidity][idx[found]] = True
