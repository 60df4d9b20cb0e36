"""Knowledge-driven patient histories: dates, visits, treatment, trajectories, wording."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthpatient.errors import Clarification, InvalidParameterError
from synthpatient.knowledge import CohortSampler, CohortSpec, load_knowledge_base
from synthpatient.knowledge.timeline import (
    FollowUp,
    parse_follow_up,
    simulate_timeline,
    timeline_checks,
)


@pytest.fixture(scope="module")
def cohort():
    kb = load_knowledge_base()
    drawn = CohortSampler(kb).sample(CohortSpec(condition="type2_diabetes", n=300, seed=3))
    return simulate_timeline(drawn, FollowUp(3.0, "3 years of follow-up"))


def _hba1c(cohort) -> pd.DataFrame:
    obs = cohort.timeline.observations
    return obs[obs["observation"] == "hba1c"].astype({"patient_id": str})


def test_frames_have_the_agreed_columns_and_are_sorted(cohort):
    tl = cohort.timeline
    assert list(tl.encounters.columns) == ["patient_id", "encounter_id", "date", "kind", "reason"]
    assert list(tl.observations.columns) == [
        "patient_id", "encounter_id", "observation", "name", "loinc", "value", "unit",
        "effective_date",
    ]  # fmt: skip
    assert tl.encounters["encounter_id"].is_unique
    for frame, date in ((tl.encounters, "date"), (tl.observations, "effective_date"),
                        (tl.medications, "start_date"), (tl.conditions, "onset_date")):  # fmt: skip
        keys = frame[["patient_id", date]].astype({"patient_id": str})
        assert keys.equals(keys.sort_values(["patient_id", date], kind="stable"))
        assert frame[date].dtype == "datetime64[ns]"
        assert (frame[date].dt.normalize() == frame[date]).all()


def test_dates_are_in_order(cohort):
    checks = {c.key: c for c in timeline_checks(cohort)}
    assert checks["date_order_violations"].measured == 0
    wide = cohort.wide
    age_at_dx = (wide["diagnosis_date"] - wide["birth_date"]).dt.days / 365.25
    assert (age_at_dx >= 18 - 1 / 365).all()
    # the bug of the snapshot: young patients diagnosed on their birthday in the past year
    young = wide[wide["age"] < 40]
    assert (young["diagnosis_date"] < wide["last_visit_date"].min() - pd.Timedelta(days=365)).any()
    assert young["diagnosis_date"].dt.strftime("%m-%d").nunique() > len(young) // 2


def test_hba1c_is_tested_more_often_above_target(cohort):
    a1c = _hba1c(cohort).sort_values(["patient_id", "effective_date"])
    gap = a1c.groupby("patient_id")["effective_date"].diff().dt.days.shift(-1)
    above = a1c["value"] > 7.0
    assert gap[above].median() < 110 < 160 < gap[~above].median()


def test_treatment_intensifies_above_target_and_lowers_hba1c(cohort):
    meds = cohort.timeline.medications.astype({"patient_id": str})
    new = meds[meds["reason"].str.contains("step")]
    assert len(new) > 10
    a1c = _hba1c(cohort)
    before, after = [], []
    for row in new.itertuples():
        mine = a1c[a1c["patient_id"] == row.patient_id]
        at = mine[mine["effective_date"] == row.start_date]["value"]
        later = mine[mine["effective_date"] > row.start_date + pd.Timedelta(days=150)]["value"]
        if len(at) and len(later):
            before.append(at.iloc[0])
            after.append(later.iloc[:2].mean())
    assert min(before) > 7.0  # started only when above target
    assert np.mean(after) < np.mean(before) - 0.3


def test_no_metformin_started_at_low_egfr(cohort):
    meds = cohort.timeline.medications.astype({"patient_id": str})
    obs = cohort.timeline.observations.astype({"patient_id": str})
    egfr = obs[obs["observation"] == "egfr"].sort_values("effective_date")
    started = meds[(meds["medication"] == "metformin") & meds["reason"].str.contains("step")]
    latest = pd.merge_asof(
        started.sort_values("start_date"), egfr, left_on="start_date",
        right_on="effective_date", by="patient_id",
    )  # fmt: skip
    assert (latest["value"].dropna() >= 30).all()


def test_egfr_declines_on_average(cohort):
    check = next(c for c in timeline_checks(cohort) if c.key == "egfr_slope")
    assert -4.0 < check.measured < -0.5


def test_complications_start_within_follow_up(cohort):
    tl = cohort.timeline
    cond = tl.conditions.astype({"patient_id": str})
    events = cond[cond["condition"].isin(["myocardial_infarction", "stroke", "heart_failure"])]
    wide = cohort.wide.set_index("patient_id")
    first = _hba1c(cohort).groupby("patient_id")["effective_date"].min()  # the first visit
    incident = events[events["onset_date"] > events["patient_id"].map(first)]
    assert len(incident) > 0
    assert (incident["onset_date"] <= incident["patient_id"].map(wide["last_visit_date"])).all()
    kinds = tl.encounters[tl.encounters["kind"] == "event"]
    assert len(kinds) == len(incident)


def test_every_source_exists_and_checks_report_targets(cohort):
    kb = load_knowledge_base()
    assert cohort.timeline.sources_used
    assert set(cohort.timeline.sources_used) <= set(kb.sources)
    assert set(cohort.sources_used) <= set(kb.sources)
    assert not kb.sources["khunti_2013"].verified
    for check in timeline_checks(cohort):
        assert check.sources and np.isfinite(check.measured)


def test_wide_holds_the_last_visit(cohort):
    obs = cohort.timeline.observations.astype({"patient_id": str})
    last = obs[obs["observation"] == "hba1c"].groupby("patient_id")["value"].last()
    wide = cohort.wide.set_index("patient_id")
    assert (wide.loc[last.index, "hba1c"] == last).all()
    ckd = (wide["egfr"] < 60) | (wide["uacr"] >= 30)
    assert (wide["chronic_kidney_disease"] == ckd).all()


def test_same_seed_same_history():
    kb = load_knowledge_base()
    spec = CohortSpec(condition="type2_diabetes", n=60, seed=9)
    a = simulate_timeline(CohortSampler(kb).sample(spec), FollowUp(2.0, "2 years"))
    b = simulate_timeline(CohortSampler(kb).sample(spec), FollowUp(2.0, "2 years"))
    for name in ("encounters", "observations", "medications", "conditions"):
        pd.testing.assert_frame_equal(getattr(a.timeline, name), getattr(b.timeline, name))


def test_other_conditions_say_which_have_histories():
    kb = load_knowledge_base()
    drawn = CohortSampler(kb).sample(CohortSpec(condition="copd", n=20, n_observations=5, seed=1))
    listed = "available for: chronic_kidney_disease, hypertension, type1_diabetes, type2_diabetes"
    with pytest.raises(InvalidParameterError, match=listed):
        simulate_timeline(drawn, FollowUp(2.0, "2 years"))


@pytest.mark.parametrize(
    ("text", "years"),
    [
        ("500 T2D patients with 5 years of follow-up", 5.0),
        ("T2D cohort over 3 years", 3.0),
        ("a 10-year history of diabetics", 10.0),
        ("18 months of follow-up", 1.5),
        ("followed for two years", 2.0),
        ("quarterly HbA1c for 300 diabetics", 5.0),
        ("longitudinal T2D cohort", 5.0),
        ("T2D patients with visits", 5.0),
        ("2000 T2D patients with 20 observations", None),
        ("women over 60 years with T2D", None),
        ("patients aged 40-65 years", None),
    ],
)
def test_parse_follow_up(text, years):
    found = parse_follow_up(text)
    assert (found.years if found else None) == years
    if found:
        assert "follow-up" in found.what


@pytest.mark.parametrize("text", ["0 years of follow-up", "100 years of follow-up"])
def test_parse_follow_up_refuses_impossible_lengths(text):
    with pytest.raises(Clarification, match="at most 30 years"):
        parse_follow_up(text)
    with pytest.raises(Clarification):
        FollowUp(0.0, "none")


# -- the request -> spec -> sampler path ---------------------------------------------------


def test_a_request_for_follow_up_yields_histories_and_says_so():
    from synthpatient.knowledge.realism import check_cohort
    from synthpatient.knowledge.request import parse_request

    kb = load_knowledge_base()
    request = parse_request("generate 200 type 2 diabetes patients with 3 years of follow-up", kb)
    assert request.follow_up_years == 3.0
    assert "3 years of follow-up per patient" in request.describe(kb)
    spec = request.to_spec(kb)
    assert spec.follow_up_years == 3.0
    drawn = CohortSampler(kb).sample(spec.model_copy(update={"seed": 5}))
    assert drawn.timeline is not None and drawn.baseline is not None
    visits = drawn.timeline.encounters.groupby("patient_id").size()
    assert visits.min() >= 2 and len(visits) == 200
    report = check_cohort(drawn)
    assert "first visit" in report.measured_at
    assert {h["key"] for h in report.history} >= {"date_order_violations"}
    assert "## Patient histories" in report.to_markdown()


def test_observation_counts_never_become_visits():
    from synthpatient.knowledge.request import parse_request

    kb = load_knowledge_base()
    request = parse_request("generate 200 type 2 diabetes patients with 20 observations", kb)
    assert request.follow_up_years is None
    assert "one visit per patient" in request.describe(kb)
    assert CohortSampler(kb).sample(request.to_spec(kb)).timeline is None


def test_follow_up_for_a_condition_without_histories_is_refused_before_drawing():
    kb = load_knowledge_base()
    spec = CohortSpec(condition="copd", n=50, follow_up_years=2)
    with pytest.raises(InvalidParameterError, match="Follow-up histories are available for"):
        spec.validate_against(kb)


def test_a_follow_up_before_the_observation_count_keeps_both():
    from synthpatient.knowledge.request import parse_request

    kb = load_knowledge_base()
    text = "generate 50 type 2 diabetes patients with 18 months of follow-up and 10 observations"
    request = parse_request(text, kb)
    assert (request.n_observations, request.follow_up_years) == (10, 1.5)
    # said back by its clinical name, not the file's column key
    assert "1 observation type (Hemoglobin A1c)" in parse_request(
        "generate 50 type 2 diabetes patients with HbA1c", kb
    ).describe(kb)
