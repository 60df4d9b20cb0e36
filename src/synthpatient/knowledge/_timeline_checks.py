"""Does a drawn history look like its sources? Measures beside the knowledge base's targets.

Measured on the written tables alone (not on the simulation's state), so the same checks
hold for a history read back from files. Each check of the knowledge base names a generic
measure of its ``observation`` (default: the visit observation, HbA1c or systolic pressure):
lag-1 correlation within patients, median interval between measurements, mean per-patient
slope; the share of results above target followed by a new drug within 6 months, or with a
drug started at that visit; a complication's events per 100 patient-years; the share meeting
an expression at the last visit; the share of treated patients on a number of drugs or more
at the end; and date-order violations (which must be 0).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from synthpatient.knowledge._model import TimelineCheck
    from synthpatient.knowledge.sampler import Cohort
    from synthpatient.knowledge.timeline import CohortTimeline

SIX_MONTHS_DAYS = 183


@dataclass(frozen=True)
class TimelineCheckResult:
    """One measure of a history beside its sourced target range."""

    key: str
    what: str
    measured: float
    target_min: float
    target_max: float
    unit: str
    sources: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return bool(self.target_min - 1e-9 <= self.measured <= self.target_max + 1e-9)

    def line(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return (
            f"{self.what}: {self.measured:.3g}{unit} (target {self.target_min:g} to "
            f"{self.target_max:g}; {', '.join(self.sources)}) {'ok' if self.ok else 'OFF'}"
        )


def _codes(column: pd.Series) -> np.ndarray:
    """Patient ids as integers, the same for every frame of one timeline."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        raise ValueError("timeline frames keep patient_id as a categorical of the cohort's ids")
    return column.cat.codes.to_numpy().astype(np.int64)


def _with_ids(frame: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    """``frame`` with patient_id a categorical over the cohort's ids (e.g. after reading)."""
    column = frame["patient_id"]
    if isinstance(column.dtype, pd.CategoricalDtype) and column.cat.categories.equals(ids):
        return frame
    return frame.assign(patient_id=pd.Categorical(column.astype(str), categories=ids))


def _series(obs: pd.DataFrame, key: str) -> pd.DataFrame:
    part = obs[obs["observation"] == key]
    return pd.DataFrame(
        {
            "patient": _codes(part["patient_id"]),
            "date": part["effective_date"].to_numpy(),
            "value": part["value"].to_numpy(float),
        }
    ).sort_values(["patient", "date"], kind="stable", ignore_index=True)


def lag1_correlation(obs: pd.DataFrame, key: str) -> float:
    """Spearman correlation of each value with the patient's next, pooled over patients (as
    the evaluation suite's ``lag1_correlation`` measures it)."""
    s = _series(obs, key)
    same = s["patient"].to_numpy()[1:] == s["patient"].to_numpy()[:-1]
    x = s["value"].to_numpy()
    if same.sum() < 3:
        return float("nan")
    before = pd.Series(x[:-1][same]).rank().to_numpy()
    after = pd.Series(x[1:][same]).rank().to_numpy()
    return float(np.corrcoef(before, after)[0, 1])


def median_interval_days(obs: pd.DataFrame, key: str) -> float:
    s = _series(obs, key)
    same = s["patient"].to_numpy()[1:] == s["patient"].to_numpy()[:-1]
    gaps = np.diff(s["date"].to_numpy()).astype("timedelta64[D]").astype(float)
    return float(np.median(gaps[same])) if same.any() else float("nan")


def mean_slope_per_year(obs: pd.DataFrame, key: str) -> float:
    """Mean over patients (with 2+ values) of each patient's least-squares slope per year."""
    s = _series(obs, key)
    t = (s["date"] - s.groupby("patient")["date"].transform("min")).dt.days / 365.25
    g = pd.DataFrame(
        {"p": s["patient"], "t": t, "y": s["value"], "tt": t * t, "ty": t * s["value"]}
    )
    sums = g.groupby("p").agg(
        n=("t", "size"), t=("t", "sum"), y=("y", "sum"), tt=("tt", "sum"), ty=("ty", "sum")
    )
    den = sums["n"] * sums["tt"] - sums["t"] ** 2
    ok = (sums["n"] >= 2) & (den > 0)
    slope = (sums["n"] * sums["ty"] - sums["t"] * sums["y"])[ok] / den[ok]
    return float(slope.mean()) if len(slope) else float("nan")


def share_intensified(
    obs: pd.DataFrame,
    meds: pd.DataFrame,
    key: str,
    target: float,
    top: list[str],
    first_only: bool = False,
) -> float:
    """Of the results above target in patients not yet on a top-step drug (or only each
    patient's first such result), the share followed by a drug started within the 6 months
    after it (not on the same day: the hazard behind a same-day start covers the interval
    before the result)."""
    s = _series(obs, key)
    s = s[s["value"] > target]
    started = meds[~meds["reason"].astype(str).str.startswith("taken before")]
    starts = pd.DataFrame(
        {"patient": _codes(started["patient_id"]), "start": started["start_date"].to_numpy()}
    )
    on_top = meds[meds["medication"].isin(top)]
    top_start = (
        pd.Series(on_top["start_date"].to_numpy(), index=_codes(on_top["patient_id"]))
        .groupby(level=0)
        .min()
    )
    first_top = s["patient"].map(top_start)
    s = s[~(first_top <= s["date"])]
    if first_only:  # as Khunti 2013 counts: from each patient's first result above target
        s = s.drop_duplicates("patient")
    if s.empty:
        return float("nan")
    later = pd.merge_asof(
        s.sort_values("date"),
        starts.sort_values("start"),
        left_on="date",
        right_on="start",
        by="patient",
        direction="forward",
        allow_exact_matches=False,
    )
    gap = (later["start"] - later["date"]).dt.days
    return float((gap <= SIX_MONTHS_DAYS).mean())


def date_order_violations(cohort: Cohort) -> dict[str, int]:
    """Counts of every date out of order (each must be 0)."""
    tl = cohort.timeline
    assert tl is not None
    wide = cohort.wide.set_index("patient_id")
    enc = tl.encounters
    pid = enc["patient_id"].astype(str).to_numpy()
    first = enc.groupby(pid)["date"].min()
    last = enc.groupby(pid)["date"].max()
    birth, dx = wide["birth_date"], wide["diagnosis_date"]
    same = pid[1:] == pid[:-1]
    dates = enc["date"].to_numpy()
    obs_dates = enc.set_index("encounter_id")["date"]
    obs = tl.observations
    meds = tl.medications
    cond = tl.conditions
    cpid = cond["patient_id"].astype(str)
    return {
        "birth before diagnosis": int((birth >= dx).sum()),
        "diagnosis on or before the first encounter": int((dx > first.reindex(dx.index)).sum()),
        "encounters in date order": int((dates[1:][same] < dates[:-1][same]).sum()),
        "last visit is the last encounter": int(
            (wide["last_visit_date"] != last.reindex(wide.index)).sum()
        ),
        "observation date is its encounter's": int(
            (
                obs["effective_date"].to_numpy()
                != obs_dates.reindex(obs["encounter_id"].astype(str)).to_numpy()
            ).sum()
        ),
        "medication start on or before stop": int(
            (meds["stop_date"].notna() & (meds["stop_date"] < meds["start_date"])).sum()
        ),
        "condition onset within birth and last visit": int(
            (
                (cond["onset_date"].to_numpy() <= birth.reindex(cpid).to_numpy())
                | (cond["onset_date"].to_numpy() > last.reindex(cpid).to_numpy())
            ).sum()
        ),
    }


#: The first type 2 diabetes check keys, each the generic measure it names (kept so that the
#: knowledge base's files stay valid and print the same figures).
ALIASES = {
    "hba1c_lag1_correlation": "lag1_correlation",
    "hba1c_test_interval_days": "test_interval_days",
    "egfr_slope": "mean_slope",
}


def share_meeting_at_end(wide: pd.DataFrame, expression: str) -> float:
    """Share of patients whose values at the last visit meet ``expression``."""
    from synthpatient.rules import evaluate_expression, parse_expression

    met = np.asarray(evaluate_expression(parse_expression(expression), wide), dtype=bool)
    return float(met.mean()) if len(met) else float("nan")


def share_started_at_visits_above(
    obs: pd.DataFrame, meds: pd.DataFrame, key: str, target: float
) -> float:
    """Of the results above target, the share at whose visit (the same day) a drug was
    started: how often a visit above target ends with a step-up (the complement of
    therapeutic inertia as it is counted per visit)."""
    s = _series(obs, key)
    s = s[s["value"] > target]
    started = meds[~meds["reason"].astype(str).str.startswith("taken before")]
    starts = pd.DataFrame(
        {"patient": _codes(started["patient_id"]), "date": started["start_date"].to_numpy()}
    ).drop_duplicates()
    if s.empty:
        return float("nan")
    hit = s.merge(starts.assign(hit=True), on=["patient", "date"], how="left")["hit"]
    return float(hit.notna().mean())


def _measure(cohort: Cohort, tl: CohortTimeline, check: TimelineCheck) -> float:
    """The value of one check on the history ``tl`` (patient ids already categorical)."""
    spec = cohort.condition.timeline
    assert spec is not None
    v = spec.visits
    key, target = v.observation or "", float(v.target or 0.0)
    name = ALIASES.get(check.key, check.key)
    of = check.observation or key
    if check.key == "egfr_slope" and spec.kidney:  # the first check key named its observation
        of = check.observation or spec.kidney.observation
    obs, meds = tl.observations, tl.medications
    below = v.direction == "below"  # lower is worse (eGFR): results "above target" are below
    if below and name in ("intensified_within_6_months", "started_at_visits_above_target"):
        is_key = (obs["observation"] == key).to_numpy()
        obs = obs.assign(value=np.where(is_key, -obs["value"].to_numpy(float), obs["value"]))
        target = -target  # the measures count results above it: mirrored
    if name == "lag1_correlation":
        return lag1_correlation(obs, of)
    if name == "test_interval_days":
        return median_interval_days(obs, of)
    if name == "mean_slope":
        return mean_slope_per_year(obs, of)
    if name == "intensified_within_6_months":
        top_step = max((d.step for d in spec.drugs), default=0)
        top = [d.medication for d in spec.drugs if d.step == top_step]
        return share_intensified(obs, meds, key, target, top)
    if name == "started_at_visits_above_target":
        return share_started_at_visits_above(obs, meds, key, target)
    if name == "share_treated_on_at_least":
        stepped = [d.medication for d in spec.drugs]
        return share_treated_on_at_least(meds, stepped, check.drugs or 2)
    if name == "events_per_100_patient_years":
        comp = next((c for c in spec.complications if c.key == check.complication), None)
        if comp is None:
            raise ValueError(f"the check '{check.key}' names no complication of the timeline")
        return events_per_100_patient_years(tl.encounters, obs, key, comp.name)
    if name == "share_meeting_at_end":
        at_target = f"{key} {'>=' if below else '<='} {target:g}"
        return share_meeting_at_end(cohort.wide, check.expression or at_target)
    raise ValueError(f"no measure for the timeline check '{check.key}'")


def events_per_100_patient_years(
    enc: pd.DataFrame, obs: pd.DataFrame, key: str, name: str
) -> float:
    """Event encounters named ``name`` per 100 years of follow-up; a patient's follow-up runs
    from the first to the last measurement of ``key`` (the visit observation, measured at
    every visit; events fall between visits)."""
    s = _series(obs, key)
    span = s.groupby("patient")["date"].agg(["min", "max"])
    years = float(((span["max"] - span["min"]).dt.days / 365.25).sum())
    kind, reason = enc["kind"].astype(str), enc["reason"].astype(str)
    events = int(((kind == "event") & (reason == name)).sum())
    return 100.0 * events / years if years > 0 else float("nan")


def share_treated_on_at_least(meds: pd.DataFrame, stepped: list[str], drugs: int) -> float:
    """Of the patients taking any of the ``stepped`` drugs at the end of their history (not
    stopped), the share taking ``drugs`` or more of them."""
    taking = meds[meds["medication"].isin(stepped) & meds["stop_date"].isna()]
    count = pd.Series(_codes(taking["patient_id"])).value_counts()
    return float((count >= drugs).mean()) if len(count) else float("nan")


def timeline_checks(cohort: Cohort) -> list[TimelineCheckResult]:
    """The knowledge base's timeline targets, each measured on ``cohort.timeline``; plus the
    number of date-order violations (target 0)."""
    tl, spec = cohort.timeline, cohort.condition.timeline
    if tl is None or spec is None:
        raise ValueError("the cohort has no timeline; draw it with a follow-up")
    ids = pd.Index(cohort.wide["patient_id"].astype(str))
    tl = dataclasses.replace(
        tl,
        observations=_with_ids(tl.observations, ids),
        medications=_with_ids(tl.medications, ids),
    )
    out = [
        TimelineCheckResult(
            check.key,
            check.what,
            _measure(cohort, tl, check),
            check.min,
            check.max,
            check.unit,
            check.sources,
        )
        for check in spec.checks
    ]
    violations = date_order_violations(cohort)
    out.append(
        TimelineCheckResult(
            "date_order_violations",
            "date-order violations",
            float(sum(violations.values())),
            0.0,
            0.0,
            "",
            ("timeline rules",),
        )
    )
    return out
