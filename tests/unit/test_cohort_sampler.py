"""The knowledge-driven cohort sampler: targets met, filters native, clinical layer exact."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import stats

from synthpatient.errors import InvalidParameterError, KnowledgeBaseError
from synthpatient.knowledge import load_knowledge_base
from synthpatient.knowledge._demographics import diagnosis_duration, draw_years_since_diagnosis
from synthpatient.knowledge.realism import check_cohort
from synthpatient.knowledge.sampler import (
    CohortSampler,
    CohortSpec,
    Filter,
    ckd_epi_2021_creatinine,
    ckd_epi_2021_egfr,
)


@pytest.fixture(scope="module")
def sampler() -> CohortSampler:
    return CohortSampler(load_knowledge_base())


@pytest.fixture(scope="module")
def cohort(sampler):
    return sampler.sample(CohortSpec(condition="type2_diabetes", n=4000, seed=11))


def test_twenty_observations_in_rank_order(cohort):
    keys = [o.key for o in cohort.observations]
    assert len(keys) == 20 and keys[:3] == ["hba1c", "fasting_glucose", "bmi"]
    assert all(k in cohort.wide for k in keys)
    assert cohort.wide["patient_id"].is_unique and len(cohort.wide) == 4000
    long = cohort.long()
    assert len(long) == 4000 * 20
    assert set(long["loinc"]) >= {"4548-4", "1558-6", "39156-5"}


def test_targets_and_rules_hold(cohort):
    report = check_cohort(cohort)
    failed = [t.what for t in report.targets if not t.ok]
    broken = [r["rule"] for r in report.rules if r["violations"]]
    assert not failed and not broken, (failed, broken)
    assert report.ok
    corr = np.corrcoef(cohort.wide["hba1c"], cohort.wide["fasting_glucose"])[0, 1]
    assert corr >= 0.7


def test_same_seed_same_cohort(sampler):
    spec = CohortSpec(condition="type2_diabetes", n=300, seed=3)
    a, b = sampler.sample(spec).wide, sampler.sample(spec).wide
    assert a.equals(b)
    assert not a.equals(sampler.sample(spec.model_copy(update={"seed": 4})).wide)


def test_dates_are_ordered_and_ages_match(cohort):
    w = cohort.wide
    assert (w["birth_date"] < w["diagnosis_date"]).all()
    assert (w["diagnosis_date"] <= w["last_visit_date"]).all()
    age_at_reference = (np.datetime64("2025-12-31") - w["birth_date"].to_numpy()).astype(
        "timedelta64[D]"
    ).astype(int) / 365.25
    assert np.all(np.abs(age_at_reference - w["age"]) < 1.01)


def test_ckd_epi_round_trip():
    egfr = np.array([10.0, 45.0, 59.0, 90.0, 120.0])
    for female in (True, False):
        sex = np.full(5, female)
        creatinine = ckd_epi_2021_creatinine(egfr, np.full(5, 55.0), sex)
        np.testing.assert_allclose(ckd_epi_2021_egfr(creatinine, np.full(5, 55.0), sex), egfr)
    # by hand: 142 x (1.0/0.7)^-1.200 x 0.9938^50 x 1.012 = 68.6 for a woman of 50
    assert (
        round(float(ckd_epi_2021_egfr(np.array([1.0]), np.array([50.0]), np.array([True]))[0]))
        == 69
    )


def test_women_40_65_with_ckd_stage_3_drawn_natively(sampler):
    spec = CohortSpec(
        condition="type2_diabetes",
        n=1500,
        sex="female",
        age_min=40,
        age_max=65,
        filters=(Filter(kind="observation", key="egfr", min=30, max=59),),
        seed=5,
    )
    w = sampler.sample(spec).wide
    assert len(w) == 1500  # nothing discarded
    assert set(w["sex"]) == {"female"} and w["age"].between(40, 65).all()
    assert w["egfr"].between(30, 59).all() and w["chronic_kidney_disease"].all()
    assert not (w["on_metformin"] & (w["egfr"] < 30)).any()


@pytest.mark.parametrize(
    "flt,column",
    [
        (Filter(kind="medication", key="insulin"), "on_insulin"),
        (Filter(kind="comorbidity", key="hypertension"), "hypertension"),
        (Filter(kind="comorbidity", key="chronic_kidney_disease"), "chronic_kidney_disease"),
    ],
)
def test_filters_hold_for_every_patient(sampler, flt, column):
    w = sampler.sample(CohortSpec(condition="type2_diabetes", n=1000, filters=(flt,), seed=2)).wide
    assert w[column].all()
    report = check_cohort(
        sampler.sample(CohortSpec(condition="type2_diabetes", n=1000, filters=(flt,), seed=2))
    )
    assert not [r for r in report.rules if r["violations"]]


def test_without_ckd_and_on_metformin(sampler):
    w = sampler.sample(
        CohortSpec(
            condition="type2_diabetes",
            n=1000,
            seed=8,
            filters=(
                Filter(kind="comorbidity", key="chronic_kidney_disease", present=False),
                Filter(kind="medication", key="metformin"),
            ),
        )
    ).wide
    assert not w["chronic_kidney_disease"].any() and w["on_metformin"].all()
    assert (w["egfr"] >= 60).all() and (w["uacr"] < 30).all()


def test_older_patients_have_lower_egfr_and_hba1c(sampler):
    young = sampler.sample(CohortSpec(condition="type2_diabetes", n=3000, age_max=45, seed=1))
    old = sampler.sample(CohortSpec(condition="type2_diabetes", n=3000, age_min=70, seed=1))
    assert old.wide["egfr"].mean() < young.wide["egfr"].mean() - 15
    assert old.wide["hba1c"].mean() < young.wide["hba1c"].mean()


def test_statin_users_have_lower_ldl_and_insulin_users_higher_hba1c(cohort):
    w = cohort.wide
    assert w.loc[w["on_statin"], "ldl"].mean() < 0.8 * w.loc[~w["on_statin"], "ldl"].mean()
    assert w.loc[w["on_insulin"], "hba1c"].mean() > w.loc[~w["on_insulin"], "hba1c"].mean()
    assert (
        w.loc[w["hypertension"], "systolic_bp"].mean()
        > w.loc[~w["hypertension"], "systolic_bp"].mean() + 10
    )


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"condition": "broken_leg"}, "Unknown condition"),
        ({"population": "mars"}, "No data for population"),
        ({"observations": ("eye_colour",)}, "Unknown observation"),
        ({"n_observations": 99}, "were asked for"),
        ({"filters": (Filter(kind="observation", key="ldl", max=100),)}, "not supported"),
        ({"filters": (Filter(kind="medication", key="aspirin"),)}, "Unknown medication"),
        ({"filters": (Filter(kind="observation", key="egfr", min=200),)}, "contradict"),
    ],
)
def test_unsupported_requests_say_what_is_supported(sampler, kwargs, match):
    spec = CohortSpec(**{"condition": "type2_diabetes", "n": 10, **kwargs})
    with pytest.raises(InvalidParameterError, match=match):
        sampler.sample(spec)


@pytest.mark.parametrize(
    "kwargs", [{"n": 0}, {"n": -5}, {"n": 10**9}, {"age_min": 70, "age_max": 40}]
)
def test_invalid_specs_are_refused(kwargs):
    with pytest.raises(ValidationError):
        CohortSpec(**{"condition": "type2_diabetes", "n": 10, **kwargs})


@pytest.mark.parametrize("condition", sorted(load_knowledge_base().conditions))
def test_every_condition_samples_and_keeps_its_rules(sampler, condition):
    cohort = sampler.sample(CohortSpec(condition=condition, n=2000, n_observations=None, seed=21))
    assert len(cohort.observations) >= 10
    report = check_cohort(cohort)
    assert not [r["rule"] for r in report.rules if r["violations"]]
    # sourced marginals: at most one target off (drug shares interact; see the realism report)
    assert sum(not t.ok for t in report.targets) <= 1


def test_realism_of_a_cohort_with_few_observations_checks_only_what_it_has(sampler):
    cohort = sampler.sample(
        CohortSpec(condition="type2_diabetes", n=500, seed=1, observations=("hba1c", "bmi"))
    )
    report = check_cohort(cohort)
    rules = {r["rule"] for r in report.rules}
    assert "hba1c-range" in rules and "friedewald-ldl" not in rules
    assert "fasting_glucose" in report.skipped_targets


def test_a_constant_column_skips_its_correlation_target(sampler):
    cohort = sampler.sample(
        CohortSpec(
            condition="type2_diabetes",
            n=200,
            seed=2,
            filters=(Filter(kind="observation", key="hba1c", min=16),),
        )
    )
    report = check_cohort(cohort)
    assert "r(fasting_glucose, hba1c)" in report.skipped_targets


# --- diagnosis dates of snapshot cohorts (issue 15) -------------------------------------------


def _turns(birth: np.ndarray, years: int) -> np.ndarray:
    """The calendar day each birth date reaches ``years`` of age."""
    month = birth.astype("datetime64[M]")
    return (month + np.timedelta64(12 * years, "M")).astype("datetime64[D]") + (
        birth - month.astype("datetime64[D]")
    )


def _near_birthday_share(wide) -> float:
    offset = (wide["diagnosis_date"].dt.day_of_year - wide["birth_date"].dt.day_of_year).abs()
    return float((np.minimum(offset, 365 - offset) <= 2).mean())


def test_young_patients_are_not_diagnosed_on_their_birthday(sampler):
    # before the fix: ~94 % of 20-39-year-olds with T2D diagnosed in the past year, most of
    # them on their birthday; by chance a diagnosis is within 2 days of a birthday ~1.4 %
    wide = sampler.sample(
        CohortSpec(condition="type2_diabetes", n=3000, seed=8, age_min=20, age_max=39)
    ).wide
    assert _near_birthday_share(wide) < 0.04
    past_year = (wide["last_visit_date"] - wide["diagnosis_date"]).dt.days < 365
    assert past_year.mean() < 0.25


@pytest.mark.parametrize("condition", sorted(load_knowledge_base().conditions))
@pytest.mark.parametrize("ages", [(18, 19), (18, 90)])
def test_diagnosis_is_adult_and_not_after_the_last_visit(sampler, condition, ages):
    spec = CohortSpec(
        condition=condition, n=1500, seed=13, age_min=ages[0], age_max=ages[1], n_observations=3
    )
    w = sampler.sample(spec).wide
    birth = w["birth_date"].to_numpy().astype("datetime64[D]")
    dx = w["diagnosis_date"].to_numpy().astype("datetime64[D]")
    last = w["last_visit_date"].to_numpy().astype("datetime64[D]")
    # adult-onset conditions from 18; type 1 diabetes from childhood (its knowledge base's minimum)
    youngest = int(diagnosis_duration(load_knowledge_base().conditions[condition]).min_age)
    adult = np.minimum(_turns(birth, youngest), np.datetime64("2025-12-31"))
    assert (dx >= adult).all() and (dx <= last).all() and (birth < dx).all()
    assert (last <= np.datetime64("2025-12-31")).all()
    assert (last > np.datetime64("2025-12-31") - 365).all()
    # by chance ~1.4 %; patients who turned 18 weeks before their last visit can only have
    # been diagnosed in those weeks, so an 18-19 cohort has some diagnoses near the birthday
    assert _near_birthday_share(w) < (0.04 if ages[1] > 19 else 0.12)


def test_duration_follows_the_knowledge_base(sampler):
    kb = load_knowledge_base()
    for key in ("type2_diabetes", "heart_failure"):
        d = diagnosis_duration(kb.conditions[key])
        shape, scale = (d.mean / d.sd) ** 2, d.sd**2 / d.mean
        # at 60-79 the truncation at age 18 removes almost nothing of the distribution
        spec = CohortSpec(condition=key, n=4000, seed=3, age_min=60, age_max=79, n_observations=3)
        w = sampler.sample(spec).wide
        years = (w["last_visit_date"] - w["diagnosis_date"]).dt.days / 365.25
        median = stats.gamma.median(shape, scale=scale)
        assert abs(np.median(years) - median) < 0.1 * median, key
        assert abs(np.mean(years) - d.mean) < 0.1 * d.mean, key
    assert diagnosis_duration(kb.conditions["type2_diabetes"]).mean == (
        kb.conditions["type2_diabetes"].timeline.duration.mean
    )


def test_truncated_duration_draw_is_bounded_and_reproducible():
    longest = np.array([0.0, 0.5, 2.0, 60.0] * 250)
    a = draw_years_since_diagnosis(np.random.default_rng(1), 11.0, 9.0, longest)
    b = draw_years_since_diagnosis(np.random.default_rng(1), 11.0, 9.0, longest)
    assert np.array_equal(a, b)
    assert (a >= 0).all() and (a <= longest).all() and (a[longest == 0] == 0).all()
    # within a short window the draw is spread over it, not piled at its end (the old bug)
    short = a[longest == 2.0]
    assert 0.6 < np.median(short) < 1.4


def test_a_condition_without_a_duration_is_refused_in_one_line():
    hypertension = load_knowledge_base().conditions["hypertension"]
    demographics = {k: v for k, v in hypertension.demographics.items() if k != "duration_years"}
    # without its history's duration too (hypertension has a timeline, which gives one)
    bare = hypertension.model_copy(update={"demographics": demographics, "timeline": None})
    with pytest.raises(KnowledgeBaseError, match="duration_years"):
        diagnosis_duration(bare)
