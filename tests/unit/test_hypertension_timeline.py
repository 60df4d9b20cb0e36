"""Knowledge-driven hypertension histories: visits by systolic pressure, antihypertensive steps
that lower both pressures, complications, the checks, and ``synthpatient ask`` end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthpatient.knowledge import CohortSampler, CohortSpec, load_knowledge_base
from synthpatient.knowledge.timeline import timeline_checks
from tests.unit.histories import ask, history_cohort

TARGET = 130.0


@pytest.fixture(scope="module")
def cohort():
    """Drawn as a request is (the sampler simulates the history and keeps the tails'
    relations, e.g. the pulse-pressure floor, at every visit)."""
    return history_cohort("hypertension", n=400, years=3.0, seed=21)


def _pressures(cohort) -> pd.DataFrame:
    """One row per visit: systolic and diastolic pressure, sorted by patient and date."""
    obs = cohort.timeline.observations.astype({"patient_id": str})
    bp = obs[obs["observation"].isin(["systolic_bp", "diastolic_bp"])]
    wide = bp.pivot_table(
        index=["patient_id", "effective_date"], columns="observation", values="value"
    )
    return wide.reset_index().sort_values(["patient_id", "effective_date"], ignore_index=True)


def test_visits_are_closer_while_above_target(cohort):
    bp = _pressures(cohort)
    gap = bp.groupby("patient_id")["effective_date"].diff().dt.days.shift(-1)
    above = bp["systolic_bp"] > TARGET
    assert gap[above].median() < 40 < 100 < gap[~above].median()


def test_diastolic_stays_below_systolic_at_every_visit(cohort):
    bp = _pressures(cohort)
    assert len(bp) > 3000 and bp[["systolic_bp", "diastolic_bp"]].notna().all().all()
    assert (bp["systolic_bp"] - bp["diastolic_bp"] >= 20).all()  # the pulse-pressure floor
    # the drugs' floors (110/60) cap the underlying level: no pile of results at the floor
    for key, floor in (("systolic_bp", 110), ("diastolic_bp", 60)):
        at, near = (bp[key] == floor).sum(), (bp[key] == floor + 1).sum()
        assert at < 2 * near + 10, (key, at, near)


def _change_after(bp: pd.DataFrame, starts: pd.DataFrame, key: str) -> tuple[float, float]:
    """Mean change of ``key`` from a visit above target to the next two visits at least 28
    days later (once a drug has taken effect): after visits where a drug was started, and
    after the other visits above target (the regression to the mean both share)."""
    bp = bp.assign(started=pd.MultiIndex.from_frame(bp[["patient_id", "effective_date"]]).isin(
        pd.MultiIndex.from_frame(starts[["patient_id", "start_date"]])
    ))  # fmt: skip
    changes: dict[bool, list[float]] = {True: [], False: []}
    for _, mine in bp.groupby("patient_id"):
        dates, values = mine["effective_date"].to_numpy(), mine[key].to_numpy()
        for i in np.flatnonzero(mine["systolic_bp"].to_numpy() > TARGET):
            later = values[dates >= dates[i] + np.timedelta64(28, "D")][:2]
            if len(later):
                changes[bool(mine["started"].iloc[i])].append(later.mean() - values[i])
    assert len(changes[True]) > 50 and len(changes[False]) > 50
    return float(np.mean(changes[True])), float(np.mean(changes[False]))


def test_drugs_started_above_target_lower_both_pressures(cohort):
    meds = cohort.timeline.medications.astype({"patient_id": str})
    started = meds[meds["reason"].astype(str).str.contains("step")]
    bp = _pressures(cohort)
    at_start = started.merge(
        bp, left_on=["patient_id", "start_date"], right_on=["patient_id", "effective_date"]
    )
    assert len(at_start) == len(started) > 50
    assert (at_start["systolic_bp"] > TARGET).all()  # started only when above target
    with_drug, without = _change_after(bp, started, "systolic_bp")
    assert with_drug < without - 4  # a standard-dose drug lowers systolic about 9 mmHg
    with_drug, without = _change_after(bp, started, "diastolic_bp")
    assert with_drug < without - 2  # and diastolic by about 0.6 of it


def _overlapping(a: pd.DataFrame, b: pd.DataFrame) -> int:
    """Pairs of courses (one of ``a``, one of ``b``, same patient) taken at the same time."""
    pairs = a.merge(b, on="patient_id", suffixes=("_a", "_b"))
    far = pd.Timestamp("2200-01-01")
    end_a, end_b = pairs["stop_date_a"].fillna(far), pairs["stop_date_b"].fillna(far)
    return int(((pairs["start_date_a"] < end_b) & (pairs["start_date_b"] < end_a)).sum())


def test_no_drug_taken_twice_at_once_and_no_ace_inhibitor_with_an_arb(cohort):
    meds = cohort.timeline.medications.astype({"patient_id": str})
    for key, courses in meds.groupby("medication"):
        mine = courses[["patient_id", "start_date", "stop_date"]]
        # a restarted drug's courses follow each other: each pair overlaps only with itself
        assert _overlapping(mine, mine) == len(mine), key
    acei, arb = meds[meds["medication"] == "acei"], meds[meds["medication"] == "arb"]
    assert _overlapping(acei, arb) == 0  # a patient may have had both, one after the other
    steps = meds["reason"].astype(str).str.extract(r"step (\d+)")[0].dropna().astype(int)
    assert steps.max() >= 2  # combinations are the next steps


def test_complications_start_after_diagnosis_within_follow_up(cohort):
    cond = cohort.timeline.conditions.astype({"patient_id": str})
    wide = cohort.wide.set_index("patient_id")
    diagnosed = cond["patient_id"].map(wide["diagnosis_date"])
    assert (cond["onset_date"] >= diagnosed).all()
    events = cond[cond["condition"].isin(["stroke", "myocardial_infarction", "heart_failure"])]
    first = _pressures(cohort).groupby("patient_id")["effective_date"].min()
    incident = events[events["onset_date"] > events["patient_id"].map(first)]
    assert len(incident) > 0
    assert (incident["onset_date"] <= incident["patient_id"].map(wide["last_visit_date"])).all()


def test_checks_run_and_print(cohort):
    results = {c.key: c for c in timeline_checks(cohort)}
    assert set(results) == {
        "lag1_correlation",
        "test_interval_days",
        "mean_slope",
        "started_at_visits_above_target",
        "share_meeting_at_end",
        "share_treated_on_at_least",
        "date_order_violations",
    }
    assert results["date_order_violations"].measured == 0
    for check in results.values():
        assert np.isfinite(check.measured) and check.sources
        assert check.what in check.line() and (" ok" in check.line() or "OFF" in check.line())
    wide = cohort.wide
    met = ((wide["systolic_bp"] < 130) & (wide["diastolic_bp"] < 80)).mean()
    assert results["share_meeting_at_end"].measured == pytest.approx(met)
    assert 20 < results["test_interval_days"].measured < 60  # most visits are above target
    meds = cohort.timeline.medications.astype({"patient_id": str})
    on = meds[meds["stop_date"].isna() & (meds["medication"] != "statin")]
    count = on.groupby("patient_id").size()
    assert results["share_treated_on_at_least"].measured == pytest.approx((count >= 3).mean())


def test_ask_writes_hypertension_histories(tmp_path):
    """100 patients, not 500: FHIR validation takes about 25 ms a patient."""
    out = tmp_path / "htn"
    result = ask("100 hypertension patients with 2 years of follow-up, seed 8", out)
    assert result.exit_code == 0, result.output
    assert "Histories:" in result.output
    observations = pd.read_csv(out / "observations.csv")
    per_patient = observations[observations["observation"] == "systolic_bp"].groupby("patient_id")
    assert per_patient.size().median() > 3 and per_patient.ngroups == 100
    assert len(pd.read_csv(out / "encounters.csv")) > 500
    assert "step" in " ".join(pd.read_csv(out / "medications.csv")["reason"])
    assert len(list((out / "fhir").glob("*.json"))) == 100


def _starts_at_visits(cohort) -> pd.DataFrame:
    """Courses started during the history, with the pressures at their visit and the
    systolic pressure at the visit before."""
    meds = cohort.timeline.medications.astype({"patient_id": str})
    started = meds[~meds["reason"].astype(str).str.startswith("taken before")]
    bp = _pressures(cohort)
    bp["previous_systolic"] = bp.groupby("patient_id")["systolic_bp"].shift(1)
    return started.merge(
        bp, left_on=["patient_id", "start_date"], right_on=["patient_id", "effective_date"]
    )


def test_step_ups_rest_on_two_results_above_target_and_diastolic_at_least_70(cohort):
    at = _starts_at_visits(cohort)
    assert len(at) > 50
    assert (at["systolic_bp"] > TARGET).all() and (at["previous_systolic"] > TARGET).all()
    assert (at["diastolic_bp"] >= 70).all()  # no step-up at a diastolic pressure below 70
    bp = _pressures(cohort)  # while such visits are common
    assert ((bp["systolic_bp"] > TARGET) & (bp["diastolic_bp"] < 70)).sum() > 500


def test_a_fourth_class_only_with_a_diuretic_among_three(cohort):
    meds = cohort.timeline.medications.astype({"patient_id": str})
    stepped = meds[meds["medication"].isin(["thiazide", "acei", "arb", "ccb", "beta_blocker"])]
    at = _starts_at_visits(cohort)
    fourth = 0
    for _, row in at.iterrows():
        mine = stepped[stepped["patient_id"] == row["patient_id"]]
        date = row["start_date"]
        on = mine[(mine["start_date"] < date) & ~(mine["stop_date"] <= date)]
        if len(on) >= 3:
            fourth += 1
            assert "thiazide" in set(on["medication"]), row["patient_id"]
    assert fourth > 0  # resistant hypertension does get a fourth class


def test_patients_stop_drugs_with_dates_and_pressure_rises_after(cohort):
    meds = cohort.timeline.medications.astype({"patient_id": str})
    quit_ = meds[meds["reason"].astype(str).str.contains("discontinued")]
    assert len(quit_) > 50 and quit_["stop_date"].notna().all()
    assert (quit_["stop_date"] > quit_["start_date"]).all()
    last = quit_["patient_id"].map(cohort.wide.set_index("patient_id")["last_visit_date"])
    assert (quit_["stop_date"] <= last).all()
    # a restart follows the earlier course's end by the 28 days its effect takes to wear off
    again = quit_.merge(meds, on=["patient_id", "medication"], suffixes=("", "_next"))
    again = again[again["start_date_next"] > again["start_date"]]
    assert len(again) > 0
    assert (again["start_date_next"] - again["stop_date"] >= pd.Timedelta(days=28)).all()
    bp = _pressures(cohort)
    rise = []
    for _, row in quit_.iterrows():
        mine = bp[bp["patient_id"] == row["patient_id"]]
        before = mine[mine["effective_date"] < row["stop_date"]]["systolic_bp"]
        after = mine[mine["effective_date"] >= row["stop_date"] + pd.Timedelta(days=28)]
        if len(before) and len(after):
            rise.append(after["systolic_bp"].iloc[0] - before.iloc[-1])
    assert len(rise) > 30 and np.mean(rise) > 2  # the drug's fall (about 9 mmHg) wears off


def test_type2_diabetes_draws_nothing_for_discontinuation():
    """Type 2 diabetes has no discontinuation, confirmation, hold or ceiling: its simulation
    draws the same random numbers as before these existed (same output for a seed)."""
    from synthpatient.knowledge._timeline_persistence import discontinue
    from synthpatient.knowledge._timeline_sim import Simulation

    kb = load_knowledge_base()
    t2d = kb.conditions["type2_diabetes"]
    spec = t2d.timeline
    assert spec is not None and spec.intensification is not None
    assert spec.intensification.confirm_results == 1 and spec.intensification.hold_when is None
    assert spec.intensification.ceiling_drugs is None
    cohort = CohortSampler(kb).sample(
        CohortSpec(condition="type2_diabetes", n=50, n_observations=17, seed=3)
    )
    rng = np.random.default_rng(5)
    sim = Simulation(t2d, cohort.wide, 2.0, rng)
    state = rng.bit_generator.state
    everyone = np.arange(sim.n)
    discontinue(sim, everyone, np.zeros(sim.n), np.full(sim.n, 90.0))
    assert rng.bit_generator.state == state and not sim.record.drug_discontinued
    # while a hypertension drug step does stop some patients over the same interval
    htn = kb.conditions["hypertension"]
    wide = (
        CohortSampler(kb)
        .sample(CohortSpec(condition="hypertension", n=200, n_observations=17, seed=3))
        .wide
    )
    sim = Simulation(htn, wide, 2.0, np.random.default_rng(5))
    discontinue(sim, np.arange(sim.n), np.zeros(sim.n), np.full(sim.n, 365.0))
    assert sum(int(v.sum()) for v in sim.record.drug_discontinued.values()) > 10


def test_a_ceiling_needing_an_unknown_drug_is_refused():
    kb = load_knowledge_base()
    htn = kb.conditions["hypertension"]
    assert htn.timeline is not None and htn.timeline.intensification is not None
    bad = htn.timeline.intensification.model_copy(update={"beyond_ceiling_needs": "aspirin"})
    with pytest.raises(ValueError, match="beyond_ceiling_needs names no drug step 'aspirin'"):
        htn.timeline.model_copy(update={"intensification": bad}).check_against(htn)


def test_about_a_quarter_of_booked_visits_are_missed(cohort):
    """A missed visit (23 %, dantas_2018) is booked again one interval later: after a result
    above target the next visit is about 30 days later, or 60 (or more) when missed."""
    bp = _pressures(cohort)
    gap = bp.groupby("patient_id")["effective_date"].diff().dt.days.shift(-1)
    after_above = gap[(bp["systolic_bp"] > TARGET) & gap.notna()]
    assert len(after_above) > 2000
    assert 0.15 < (after_above >= 53).mean() < 0.32  # none without missed visits (30 +- 7)
