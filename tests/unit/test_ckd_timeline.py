"""Knowledge-driven chronic kidney disease histories: monitoring more often at lower eGFR
(``direction: below``, ``days_by_band``), eGFR decline by albuminuria and slower on an SGLT2
inhibitor, kidney failure by definition, the checks, and ``synthpatient ask`` end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from synthpatient.knowledge._model import Complication, Visits
from synthpatient.knowledge.timeline import timeline_checks
from tests.unit.histories import ask, history_cohort, results


@pytest.fixture(scope="module")
def cohort():
    return history_cohort("chronic_kidney_disease", n=800, years=4.0, seed=23)


def _egfr(cohort) -> pd.DataFrame:
    return results(cohort, "egfr")


def test_visits_are_more_frequent_at_lower_egfr(cohort):
    egfr = _egfr(cohort)
    gap = egfr.groupby("patient_id")["effective_date"].diff().dt.days.shift(-1)
    value = egfr["value"]
    # KDIGO's grid by GFR category (within the jitter of 14 days): >= 60 yearly, G3a every
    # 243 days, G3b 146, G4 104, G5 91
    medians = [
        gap[value >= 60].median(),
        gap[value.between(45, 59.9)].median(),
        gap[value.between(30, 44.9)].median(),
        gap[value.between(15, 29.9)].median(),
        gap[value < 15].median(),
    ]
    assert medians == pytest.approx([365, 243, 146, 104, 91], abs=14)


def test_egfr_declines_faster_with_albuminuria_and_slower_on_sglt2i(cohort):
    egfr = _egfr(cohort)
    t = egfr["effective_date"] - egfr.groupby("patient_id")["effective_date"].transform("min")
    egfr = egfr.assign(t=t.dt.days / 365.25)
    slopes = egfr.groupby("patient_id")[["t", "value"]].apply(
        lambda g: np.polyfit(g["t"], g["value"], 1)[0] if g["t"].nunique() > 2 else np.nan
    )
    base = cohort.baseline.set_index(cohort.baseline["patient_id"].astype(str))
    slopes = slopes.dropna()
    slopes = slopes[base.loc[slopes.index, "egfr"] > 20]  # away from the floor of 5
    uacr = base.loc[slopes.index, "uacr"]
    assert -2.5 < slopes.mean() < -1.0
    assert slopes[uacr > 300].mean() < slopes[uacr < 30].mean() - 1.5
    sglt2 = base.loc[slopes.index, "on_sglt2i"].to_numpy(bool)
    a2 = uacr.between(30, 300).to_numpy()
    assert slopes[a2 & sglt2].mean() > slopes[a2 & ~sglt2].mean() + 0.4


def test_kidney_failure_starts_at_the_first_egfr_below_15(cohort):
    cond = cohort.timeline.conditions.astype({"patient_id": str})
    wide = cohort.wide.set_index("patient_id")
    assert (cond["onset_date"] >= cond["patient_id"].map(wide["diagnosis_date"])).all()
    failure = cond[cond["condition"] == "kidney_failure"].set_index("patient_id")["onset_date"]
    egfr = _egfr(cohort)
    first_below = egfr[egfr["value"] < 15].groupby("patient_id")["effective_date"].min()
    assert len(failure) > 10 and set(failure.index) == set(first_below.index)
    assert (failure.sort_index() == first_below.sort_index()).all()
    # cardiovascular events arise during follow-up too
    first = egfr.groupby("patient_id")["effective_date"].min()
    new = cond[cond["onset_date"] > cond["patient_id"].map(first)]
    assert {"myocardial_infarction", "stroke", "heart_failure"} <= set(new["condition"])


def test_drugs_start_below_egfr_60_and_sglt2i_not_below_20(cohort):
    meds = cohort.timeline.medications.astype({"patient_id": str})
    started = meds[~meds["reason"].astype(str).str.startswith("taken before")]
    assert {"sglt2i"} <= set(started["medication"]) and len(started) > 50
    egfr = _egfr(cohort)
    at = started.merge(
        egfr, left_on=["patient_id", "start_date"], right_on=["patient_id", "effective_date"]
    )
    assert len(at) == len(started)  # started at a visit, on its result
    assert (at["value"] < 60).all()
    assert (at.loc[at["medication"] == "sglt2i", "value"] >= 20).all()
    # never an ACE inhibitor with an ARB
    for key in ("acei", "arb"):
        assert cohort.wide[f"on_{key}"].mean() >= cohort.baseline[f"on_{key}"].mean()
    assert not (cohort.wide["on_acei"] & cohort.wide["on_arb"]).any()


def test_checks_run(cohort):
    results = timeline_checks(cohort)
    keys = [c.key for c in results]
    assert keys == [
        "lag1_correlation",
        "test_interval_days",
        "mean_slope",
        "share_meeting_at_end",
        "date_order_violations",
    ]
    by_what = {c.what: c for c in results}
    assert by_what["date-order violations"].measured == 0
    last = _egfr(cohort).groupby("patient_id")["value"].last()
    share = by_what["share with eGFR below 15 at the last visit"].measured
    assert share == pytest.approx((last < 15).mean())
    for check in results:
        assert np.isfinite(check.measured) and check.sources


def test_band_and_definition_options_are_validated():
    with pytest.raises(ValidationError, match="jitter_days"):
        Visits(observation="egfr", target=60, direction="below", days_above_target=243,
               days_at_target=365, days_by_band={"15": 20}, jitter_days=14,
               sources=("x",))  # fmt: skip
    with pytest.raises(ValidationError, match="needs an observation"):
        Visits(days_above_target=243, days_at_target=365, days_by_band={"30": 104},
               sources=("x",))  # fmt: skip
    with pytest.raises(ValidationError, match="onset 'definition'"):
        Complication(key="x", name="X", snomed="1", icd10="N18.5", onset="event",
                     definition="egfr < 15", sources=("x",))  # fmt: skip


def test_ask_writes_ckd_histories(tmp_path):
    """100 patients: FHIR validation takes about 25 ms a patient."""
    out = tmp_path / "ckd"
    result = ask("100 CKD stage 3 patients with 3 years of follow-up, seed 5", out)
    assert result.exit_code == 0, result.output
    assert "Histories:" in result.output
    observations = pd.read_csv(out / "observations.csv")
    egfr = observations[observations["observation"] == "egfr"]
    assert egfr.groupby("patient_id").size().median() >= 4
    assert egfr["patient_id"].nunique() == 100
    assert len(list((out / "fhir").glob("*.json"))) == 100


def test_measures_of_results_above_target_mean_below_it_for_egfr(cohort):
    """With ``direction: below`` the generic measures count results below the target."""
    import dataclasses

    from synthpatient.knowledge._model import TimelineCheck

    spec = cohort.condition.timeline
    keys = ("started_at_visits_above_target", "share_meeting_at_end")
    checks = tuple(TimelineCheck(key=k, what=k, min=0, max=1, sources=("x",)) for k in keys)
    condition = cohort.condition.model_copy(
        update={"timeline": spec.model_copy(update={"checks": checks})}
    )
    results = timeline_checks(dataclasses.replace(cohort, condition=condition))
    measured = {r.what: r.measured for r in results}
    assert measured["share_meeting_at_end"] == pytest.approx((cohort.wide["egfr"] >= 60).mean())
    # drugs start only below 60, so some visits below it end with a start
    assert 0 < measured["started_at_visits_above_target"] < 0.5
