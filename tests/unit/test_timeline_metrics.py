"""Patient-level metrics on hand-built long tables whose answers are known."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from synthpatient.errors import DataError, InvalidParameterError, SynthPatientWarning
from synthpatient.evaluation import Timeline, get_metric_class, split_patients
from synthpatient.evaluation import evaluate as evaluate_module
from synthpatient.evaluation._metric import REQUIREMENTS
from synthpatient.evaluation.evaluate import evaluate

TIMELINE = Timeline("patient_id", "day")
PATIENT_LEVEL = [
    "events_per_patient",
    "event_gaps",
    "lag1_correlation",
    "trajectory_shape",
    "parent_child",
    "static_constancy",
    "patient_dcr",
    "patient_membership_inference",
    "patient_ml_utility",
]


def visits(n: int, seed: int, *, first_id: int = 0) -> pd.DataFrame:
    """n patients with 2-6 visits: a persistent marker rising over time, static age and sex,
    a static outcome tied to the marker."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(n):
        count = int(rng.integers(2, 7))
        age = int(rng.integers(30, 80))
        level = 4 + 0.05 * (age - 55) + rng.normal(0, 1)
        days = np.r_[0, np.cumsum(rng.integers(30, 200, count - 1))]
        parts.append(
            pd.DataFrame(
                {
                    "patient_id": first_id + i,
                    "age": age,
                    "sex": "female" if i % 2 else "male",
                    "high": bool(level > 4),
                    "day": days,
                    "marker": np.round(level + days / 365 + rng.normal(0, 0.2, count), 2),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


REAL = visits(40, 1)
HOLDOUT = visits(40, 2, first_id=1000)
FRESH = visits(40, 3, first_id=2000)


def score(key: str, real: pd.DataFrame, synthetic: pd.DataFrame, **kwargs):
    kwargs.setdefault("timeline", TIMELINE)
    return get_metric_class(key)().compute(real, synthetic, seed=0, **kwargs)


# -- known answers -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "key",
    [
        "events_per_patient",
        "event_gaps",
        "lag1_correlation",
        "trajectory_shape",
        "parent_child",
        "static_constancy",
    ],
)
def test_identical_tables_score_one(key):
    renamed = REAL.assign(patient_id=REAL["patient_id"] + 10_000)
    assert score(key, REAL, renamed).score == pytest.approx(1.0)


def long_table(counts: list[int], gap: int = 10) -> pd.DataFrame:
    rows = [
        {"patient_id": p, "day": gap * v, "marker": float(p + v), "age": 40 + p}
        for p, count in enumerate(counts)
        for v in range(count)
    ]
    return pd.DataFrame(rows)


def test_events_per_patient_is_one_minus_the_ks_distance():
    real = long_table([2] * 10)
    assert score("events_per_patient", real, long_table([4] * 10)).score == 0.0
    half = score("events_per_patient", real, long_table([2] * 5 + [4] * 5))
    assert half.score == pytest.approx(0.5)
    assert half.details["real_mean"] == 2 and half.details["synthetic_mean"] == 3


def test_gaps_are_measured_in_the_time_unit_and_need_a_time():
    real = long_table([3] * 10, gap=10)
    result = score("event_gaps", real, long_table([3] * 10, gap=20))
    assert result.score == 0.0 and result.details["real_median"] == 10
    unordered = score("event_gaps", real, real, timeline=Timeline("patient_id"))
    assert np.isnan(unordered.score) and "time" in unordered.details["error"]


def test_gaps_of_dates_are_days():
    real = long_table([3] * 6, gap=7)
    real["day"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(real["day"], "D")
    result = score("event_gaps", real, real)
    assert result.details["real_median"] == 7 and result.details["time_unit"] == "days"


def test_lag1_correlation_drops_when_visits_are_shuffled():
    rng = np.random.default_rng(0)
    shuffled = REAL.assign(marker=REAL["marker"].to_numpy()[rng.permutation(len(REAL))])
    same = score("lag1_correlation", REAL, FRESH)
    drop = score("lag1_correlation", REAL, shuffled)
    columns = drop.details["columns"].set_index("column")
    assert columns.loc["marker", "real"] > 0.8 and abs(columns.loc["marker", "synthetic"]) < 0.3
    assert same.score > 0.9 > 0.7 > drop.score


def test_lag1_score_is_one_minus_half_the_gap():
    # real: each patient's next value tracks the last (r = 1); synthetic: it reverses (r = -1)
    real = pd.DataFrame(
        {
            "patient_id": np.repeat(np.arange(10), 2),
            "day": [0, 5] * 10,
            "marker": np.repeat(np.arange(10.0), 2) + np.tile([0, 0.5], 10),
        }
    )
    synthetic = real.assign(marker=np.ravel([[v, -v] for v in range(10)]).astype(float))
    result = score("lag1_correlation", real, synthetic)
    assert result.details["columns"]["real"].iloc[0] == pytest.approx(1.0)
    assert result.details["columns"]["synthetic"].iloc[0] == pytest.approx(-1.0)
    assert result.score == pytest.approx(0.0)


def test_trajectory_shape_is_the_gap_in_real_standard_deviations():
    spread = float(np.std(REAL["marker"]))
    half = score("trajectory_shape", REAL, REAL.assign(marker=REAL["marker"] + 0.5 * spread))
    whole = score("trajectory_shape", REAL, REAL.assign(marker=REAL["marker"] + 2 * spread))
    assert half.score == pytest.approx(0.5) and whole.score == 0.0
    curves = half.details["curves"]
    assert set(curves["column"]) == {"marker"} and curves["n_real"].sum() == len(REAL)


def test_parent_child_sees_a_broken_relation():
    rng = np.random.default_rng(1)
    ages = REAL.groupby("patient_id")["age"].first()
    moved = dict(zip(ages.index, rng.permutation(ages.to_numpy()), strict=True))
    broken = REAL.assign(age=REAL["patient_id"].map(moved))
    result = score("parent_child", REAL, broken)
    pairs = result.details["pairs"].set_index(["static", "aggregate"])
    assert pairs.loc[("age", "mean marker"), "real"] > 0.5
    assert abs(pairs.loc[("age", "mean marker"), "difference"]) > 0.4
    assert result.score < 1.0 - 0.4 / 2 / len(pairs)  # that pair alone costs this much
    assert "sex" in set(result.details["pairs"]["static"])  # two levels: 0/1


def test_static_constancy_counts_patients_whose_static_values_change():
    changed = REAL.copy()
    patients = changed["patient_id"].unique()[::2]  # half the patients change sex at visit 2
    later = changed["patient_id"].isin(patients) & changed["patient_id"].duplicated()
    changed.loc[later, "sex"] = np.where(changed.loc[later, "sex"] == "male", "female", "male")
    result = score("static_constancy", REAL, changed)
    shares = result.details["columns"].set_index("column")["share_constant"]
    assert shares["sex"] == pytest.approx(0.5) and shares["age"] == 1.0


# -- privacy and utility with the patient as the unit ------------------------------------------
def test_copying_training_patients_is_caught_per_patient():
    copy = REAL.assign(patient_id=REAL["patient_id"] + 50_000)
    dcr = score("patient_dcr", REAL, copy, holdout=HOLDOUT)
    mia = score("patient_membership_inference", REAL, copy, holdout=HOLDOUT)
    assert dcr.details["share_closer_to_training"] > 0.95 and dcr.score < 0.1
    assert mia.details["auc"] > 0.9 and dcr.details["unit"] == "patient"
    assert dcr.details["n_synthetic"] == REAL["patient_id"].nunique()
    fresh = score("patient_dcr", REAL, FRESH, holdout=HOLDOUT)
    assert fresh.score > 0.7


def test_patient_utility_needs_a_patient_attribute():
    result = score("patient_ml_utility", REAL, FRESH, holdout=HOLDOUT, target="high")
    assert result.score > 0.6 and result.details["unit"] == "patient"
    varying = score("patient_ml_utility", REAL, FRESH, holdout=HOLDOUT, target="marker")
    assert np.isnan(varying.score) and "changes within patients" in varying.details["error"]


# -- through evaluate ----------------------------------------------------------------------------
def test_one_row_per_patient_skips_patient_metrics_with_the_reason():
    wide = REAL.drop_duplicates("patient_id")
    report = evaluate(
        wide,
        FRESH.drop_duplicates("patient_id"),
        metrics=PATIENT_LEVEL,
        holdout=HOLDOUT.drop_duplicates("patient_id"),
        target="high",
    )
    assert report.meta["metrics"] == [] and report.meta["timeline"] is None
    reasons = {s["metric"]: s["reason"] for s in report.meta["skipped"]}
    assert set(reasons) == set(PATIENT_LEVEL)
    assert all(REQUIREMENTS["timeline"] in r for r in reasons.values())
    with pytest.raises(DataError, match="one row per patient was given as a long table"):
        evaluate(wide, wide, metrics=["events_per_patient"], patient_key="patient_id")


def test_evaluate_infers_the_timeline_and_names_it():
    report = evaluate(REAL, FRESH, metrics=["events_per_patient", "quality"], detailed=False)
    timeline = report.meta["timeline"]
    assert (timeline["patient_key"], timeline["time_column"]) == ("patient_id", "day")
    assert set(timeline["static"]) == {"age", "sex", "high"}
    assert timeline["varying"] == ["marker"]
    assert report.meta["metrics"] == ["events_per_patient", "quality"]


def test_bad_timelines_are_one_line_errors_without_values():
    with pytest.raises(InvalidParameterError, match="column name"):
        Timeline(3)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="no time column 'visit_date'"):
        score("events_per_patient", REAL, FRESH, timeline=Timeline("patient_id", "visit_date"))
    with pytest.raises(DataError, match="synthetic table has no patient key column") as info:
        evaluate(
            REAL,
            FRESH.drop(columns="patient_id").assign(pid=1),
            metrics=["events_per_patient"],
            patient_key="patient_id",
        )
    assert "\n" not in str(info.value)
    with pytest.raises(DataError, match="pass patient_key= as well"):
        evaluate(REAL.drop_duplicates("patient_id"), FRESH, time_column="day", metrics=["quality"])
    with pytest.raises(DataError, match="neither dates nor numbers"):
        evaluate(REAL, FRESH, patient_key="patient_id", time_column="sex", metrics=["quality"])


def test_a_holdout_split_by_row_is_warned_about():
    train, holdout = REAL.iloc[::2], REAL.iloc[1::2]
    with pytest.warns(SynthPatientWarning, match=r"\d+ of the holdout's \d+ patients") as caught:
        report = evaluate(train, FRESH, holdout=holdout, metrics=["patient_dcr"], detailed=False)
    assert any("split by patient" in n for n in report.meta["notices"])
    message = str(caught[0].message)
    assert not re.search(r"\b1\d\d\d\b", message)  # no patient id in it


def test_split_patients_keeps_every_patient_on_one_side():
    train, holdout = split_patients(REAL, "patient_id", holdout_share=0.25, seed=0)
    assert len(train) + len(holdout) == len(REAL)
    assert not set(train["patient_id"]) & set(holdout["patient_id"])
    assert holdout["patient_id"].nunique() == 10
    with pytest.raises(InvalidParameterError, match="holdout_share"):
        split_patients(REAL, "patient_id", holdout_share=1.5)


def test_large_long_tables_are_cut_by_whole_patients(monkeypatch):
    monkeypatch.setattr(evaluate_module, "MAX_ROWS", 60)
    with pytest.warns(SynthPatientWarning, match="patients"):
        report = evaluate(
            REAL,
            FRESH,
            metrics=["events_per_patient"],
            patient_key="patient_id",
            time_column="day",
            detailed=False,
        )
    kept = report._real
    assert len(kept) <= 60
    full = REAL.groupby("patient_id").size()
    assert (kept.groupby("patient_id").size() == full[kept["patient_id"].unique()]).all()


def test_rows_without_a_key_or_time_are_counted_not_dropped_silently():
    holes = FRESH.copy()
    holes.loc[[0, 1], "patient_id"] = np.nan
    holes.loc[[5], "day"] = np.nan
    report = evaluate(REAL, holes, metrics=["events_per_patient"], detailed=False)
    notices = " ".join(report.meta["notices"])
    assert "2 row(s) of the synthetic table have no patient key" in notices
    assert "1 row(s) of the synthetic table have no time" in notices


def test_the_report_has_a_timeline_section():
    pytest.importorskip("matplotlib")
    report = evaluate(REAL, FRESH, holdout=HOLDOUT, metrics=PATIENT_LEVEL[:-1] + ["dcr"])
    html = report.to_html()
    section = html[
        html.index('id="timeline"') : html.index("</section>", html.index('id="timeline"'))
    ]
    assert "Patient timelines" in html and section.count("<img") == 3
    assert "Within-patient lag-1 correlation" in section
    assert "Unit of each privacy test" in html and "patient (whole history)" in html
    no_timeline = evaluate(
        REAL.drop_duplicates("patient_id"),
        FRESH.drop_duplicates("patient_id"),
        metrics=["quality"],
        detailed=False,
    ).to_html()
    assert "pass patient_key= and time_column=" in no_timeline
