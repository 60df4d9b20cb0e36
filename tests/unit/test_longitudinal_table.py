"""PatientTable and infer_layout: pbcseq and visit tables, bad input, round trips, counts, gaps."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

from synthpatient import datasets
from synthpatient.errors import DataError, SynthPatientWarning
from synthpatient.longitudinal import Layout, PatientTable, infer_layout

PBC_STATIC = ("futime", "status", "trt", "age", "sex")
PBC_VARYING = (
    "ascites",
    "hepato",
    "spiders",
    "edema",
    "bili",
    "chol",
    "albumin",
    "alk.phos",
    "ast",
    "platelet",
    "protime",
    "stage",
)
FIRST_NAMES = ["Alice", "Bruno", "Chen", "Dara", "Emeka", "Fatima", "Goran", "Hana"]


@pytest.fixture(scope="module")
def pbc() -> pd.DataFrame:
    return datasets.load("pbcseq")


@pytest.fixture(scope="module")
def pbc_table(pbc) -> PatientTable:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean table: no repair, no warning
        return PatientTable.from_long(pbc)


def visits(n_patients: int = 40, seed: int = 0) -> pd.DataFrame:
    """A visit table: a named key, identifiers and sex constant per patient, dates as text."""
    rng = np.random.default_rng(seed)
    rows = []
    for patient in range(n_patients):
        start = pd.Timestamp("2020-01-01") + pd.Timedelta(days=int(rng.integers(0, 300)))
        gaps = rng.integers(30, 200, size=int(rng.integers(2, 7)))
        dates = start + pd.to_timedelta(np.concatenate([[0], np.cumsum(gaps)[:-1]]), unit="D")
        sex = "female" if patient % 2 else "male"
        name = f"{FIRST_NAMES[patient % 8]} Example{patient}"
        phone = f"+1-555-01{patient:02d}"
        level = rng.normal(7.5, 1.0)
        for date in dates:
            level += rng.normal(0, 0.3)
            rows.append(
                {
                    "patient_id": f"P{1000 + patient}",
                    "name": name,
                    "phone": phone,
                    "sex": sex,
                    "visit_date": date.strftime("%Y-%m-%d"),
                    "hba1c": round(level, 1),
                    "weight": round(float(rng.normal(80, 10)), 1),
                }
            )
    return pd.DataFrame(rows)


def quiet(df: pd.DataFrame, **kwargs) -> PatientTable:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return PatientTable.from_long(df, **kwargs)


def repaired(df: pd.DataFrame, **kwargs) -> tuple[PatientTable, str]:
    with pytest.warns(SynthPatientWarning) as caught:
        table = PatientTable.from_long(df, **kwargs)
    return table, " ".join(str(w.message) for w in caught)


# ------------------------------------------------------------------------------ pbcseq


def test_pbcseq_layout_is_inferred(pbc_table):
    layout = pbc_table.layout
    assert (layout.key, layout.time, layout.time_kind) == ("id", "day", "numeric")
    assert layout.static == PBC_STATIC
    assert layout.varying == PBC_VARYING
    assert layout.identifiers == ()
    assert pbc_table.repairs == ()
    assert pbc_table.n_patients == 312 and len(pbc_table.events) == 1945


def test_pbcseq_reasons_say_why(pbc_table):
    reasons = pbc_table.layout.reasons
    assert set(reasons) == {"id", "day", *PBC_STATIC, *PBC_VARYING}
    assert "patient key" in reasons["id"] and "312 patients" in reasons["id"]
    assert "sex" in reasons["id"]  # sex constant within patients: evidence for the key
    assert reasons["day"].startswith("time:") and "increasing within 100%" in reasons["day"]
    for name in PBC_STATIC:
        assert reasons[name].startswith("static: one value within 100% of the 285 patients")
    for name in PBC_VARYING:
        assert reasons[name].startswith("varying: changes within"), name
    # the most stable varying column still changes within a third of the patients
    assert "changes within 31%" in reasons["ascites"]
    assert "changes within 100%" in reasons["bili"]


def test_pbcseq_tables(pbc_table, pbc):
    patients, events = pbc_table.patients, pbc_table.events
    assert list(patients.columns) == ["id", *PBC_STATIC]
    assert list(events.columns) == ["id", "day", *PBC_VARYING]
    assert patients["id"].is_unique and list(patients["id"]) == sorted(pbc["id"].unique())
    assert patients["sex"].value_counts().to_dict() == {"f": 276, "m": 36}
    assert list(events.index) == list(range(1945))
    ordered = events.sort_values(["id", "day"], kind="stable")
    assert list(ordered.index) == list(events.index)


def test_pbcseq_round_trip(pbc_table, pbc):
    pd.testing.assert_frame_equal(pbc_table.to_long(), pbc)


def test_pbcseq_events_per_patient_and_gaps(pbc_table, pbc):
    counts = pbc_table.events_per_patient()
    assert counts.index.name == "id" and len(counts) == 312 and counts.sum() == 1945
    assert (counts.min(), counts.max()) == (1, 16)
    pd.testing.assert_series_equal(
        counts, pbc.groupby("id").size().astype("int64").rename("n_events"), check_names=True
    )
    gaps = pbc_table.gaps()
    assert len(gaps) == 1945 - 312 and (gaps > 0).all()
    expected = pbc.groupby("id")["day"].diff().dropna().to_numpy()
    np.testing.assert_array_equal(np.sort(gaps.to_numpy()), np.sort(expected))
    assert 300 < gaps.median() < 400  # protocol visits at 6 months, 1 year, then yearly


def test_the_catalogue_names_the_layout(pbc):
    meta = datasets.info("pbcseq")
    layout = infer_layout(pbc, key=meta.patient_key, time=meta.time)
    assert (layout.key, layout.time, layout.static) == ("id", "day", PBC_STATIC)
    assert layout.reasons["id"] == (
        "patient key: given (key=); groups the 1945 rows into 312 patients"
    )


# ------------------------------------------------------------------------------ a visit table


def test_visit_table_layout():
    table = quiet(visits())
    layout = table.layout
    assert (layout.key, layout.time, layout.time_kind) == ("patient_id", "visit_date", "datetime")
    assert layout.static == ("name", "phone", "sex")
    assert layout.varying == ("hba1c", "weight")
    assert set(layout.identifiers) == {"name", "phone"}
    for column in ("name", "phone"):
        assert "an identifier" in layout.reasons[column]
        assert "kept with its patient, never learned" in layout.reasons[column]
    assert "never learned" not in layout.reasons["sex"]
    assert layout.reasons["visit_date"].startswith("time: dates, increasing within 100%")
    assert table.events["visit_date"].dtype.kind == "M"


def test_visit_table_gaps_are_days():
    df = visits(n_patients=12, seed=3)
    table = quiet(df)
    dates = pd.to_datetime(df["visit_date"])
    expected = dates.groupby(df["patient_id"]).diff().dropna().dt.days.to_numpy(dtype=float)
    np.testing.assert_array_equal(np.sort(table.gaps().to_numpy()), np.sort(expected))
    assert ((table.gaps() >= 30) & (table.gaps() < 200)).all()


def test_visit_table_round_trip_keeps_column_order_and_rows():
    df = visits(seed=1)
    df = df[["visit_date", "hba1c", "patient_id", "sex", "weight", "phone", "name"]]
    back = quiet(df).to_long()
    assert list(back.columns) == list(df.columns)
    expected = df.assign(
        visit_date=pd.to_datetime(df["visit_date"]).astype(back["visit_date"].dtype)
    )
    expected = expected.sort_values(["patient_id", "visit_date"], kind="stable")
    pd.testing.assert_frame_equal(back, expected.reset_index(drop=True))


@pytest.mark.parametrize("name", ["patient_id", "mrn", "subject_id", "id"])
def test_patient_keys_are_found_by_name_or_evidence(name):
    df = visits(seed=2).drop(columns=["name", "phone"])
    if name == "id":  # no telling name: integers, found because sex is constant within them
        df["patient_id"] = df["patient_id"].str[1:].astype(int)
    df = df.rename(columns={"patient_id": name})
    layout = infer_layout(df)
    assert (layout.key, layout.time) == (name, "visit_date")
    assert layout.static == ("sex",)


def test_numeric_time_named_as_a_time_and_the_time_override():
    df = visits(seed=4)
    df["visit_number"] = df.groupby("patient_id").cumcount() + 1
    df = df.drop(columns=["visit_date"])
    layout = infer_layout(df)
    assert (layout.time, layout.time_kind) == ("visit_number", "numeric")
    df["age_at_visit"] = 50 + df["visit_number"] * 0.5
    given = infer_layout(df, time="age_at_visit")
    assert given.time == "age_at_visit" and "given (time=)" in given.reasons["age_at_visit"]
    assert "visit_number" in given.varying


def test_no_time_column_keeps_row_order():
    df = visits(seed=5).drop(columns=["visit_date"])
    table = quiet(df)
    assert (table.layout.time, table.layout.time_kind) == (None, "order")
    assert "row order" in table.layout.reasons["patient_id"]
    first = df[df["patient_id"] == "P1000"]["hba1c"].to_list()
    assert table.events[table.events["patient_id"] == "P1000"]["hba1c"].to_list() == first
    gaps = table.gaps()
    assert len(gaps) == len(df) - 40 and (gaps == 1.0).all()
    back = table.to_long()
    pd.testing.assert_frame_equal(
        back, df.sort_values("patient_id", kind="stable").reset_index(drop=True)
    )


def test_a_birth_date_is_static_not_the_time():
    df = visits(seed=6)
    births = {
        p: f"19{50 + i % 40}-03-0{1 + i % 9}" for i, p in enumerate(df["patient_id"].unique())
    }
    df["birth_date"] = df["patient_id"].map(births)
    layout = infer_layout(df)
    assert layout.time == "visit_date" and "birth_date" in layout.static


def test_layout_is_frozen(pbc_table):
    with pytest.raises(dataclasses.FrozenInstanceError):
        pbc_table.layout.key = "day"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        pbc_table.repairs = ()  # type: ignore[misc]
    assert isinstance(pbc_table.layout, Layout)


# ------------------------------------------------------------------------------ bad input


def test_an_identifier_that_differs_within_a_patient_is_an_error():
    df = visits(seed=7)
    rows = df.index[df["patient_id"] == "P1003"]
    df.loc[rows[-1], "name"] = "Zelda Otherperson"
    with pytest.raises(DataError) as caught:
        PatientTable.from_long(df, key="patient_id")
    message = str(caught.value)
    assert "not constant for what looks like one patient" in message
    assert "'name'" in message and "within 1 patient of 40" in message
    assert "\n" not in message
    for value in ("Zelda", "Otherperson", "P1003", "Dara"):
        assert value not in message


def test_a_static_attribute_that_differs_within_a_patient_is_repaired_and_counted():
    df = visits(seed=8)
    rows = df.index[df["patient_id"] == "P1001"]
    assert len(rows) >= 3
    df.loc[rows[0], "sex"] = "male"  # the patient is female on every other visit
    table, message = repaired(df)
    assert "sex" in table.layout.static
    assert any("'sex' (static) had several values within 1 patient" in r for r in table.repairs)
    assert "'sex' (static) had several values within 1 patient" in message
    patient = table.patients.set_index("patient_id").loc["P1001"]
    assert patient["sex"] == "female"
    assert "P1001" not in message


def test_rows_with_no_time_are_dropped_and_counted():
    df = visits(seed=9)
    df.loc[[0, 5, 9], "visit_date"] = None
    table, message = repaired(df)
    assert table.repairs == ("dropped 3 rows with no time value in 'visit_date'",)
    assert "dropped 3 rows with no time value" in message
    assert len(table.events) == len(df) - 3
    df["visit_date"] = "not a date"
    with pytest.raises(DataError, match="holds neither dates nor numbers"):
        PatientTable.from_long(df, key="patient_id", time="visit_date")


def test_a_time_column_with_no_values_is_an_error(pbc):
    df = pbc.copy()
    df["day"] = np.nan
    with pytest.raises(DataError, match="no values at all") as caught:
        PatientTable.from_long(df, key="id", time="day")
    assert "\n" not in str(caught.value)
    with pytest.raises(DataError, match="does not change within 100% of patients"):
        PatientTable.from_long(pbc, key="id", time="futime")  # one value per patient


def test_times_out_of_order_are_sorted_and_counted(pbc):
    shuffled = pbc.sample(frac=1.0, random_state=0).reset_index(drop=True)
    n_out_of_order = int(
        (shuffled.groupby("id")["day"].apply(lambda s: not s.is_monotonic_increasing)).sum()
    )
    assert n_out_of_order > 100
    table, message = repaired(shuffled)
    assert table.repairs == (
        f"sorted the events of {n_out_of_order} patients whose times were out of order",
    )
    assert table.layout.time == "day"  # still found, though it increases within few patients
    pd.testing.assert_frame_equal(table.to_long(), pbc)
    assert "sorted the events" in message


def test_interleaved_patients_are_no_repair(pbc):
    by_day = pbc.sort_values(["day", "id"], kind="stable").reset_index(drop=True)
    table = quiet(by_day)
    assert table.repairs == ()
    pd.testing.assert_frame_equal(table.to_long(), pbc)


def test_a_single_row_per_patient_is_an_error(pbc):
    first = pbc.drop_duplicates("id").reset_index(drop=True)
    with pytest.raises(DataError) as caught:
        PatientTable.from_long(first)
    assert "not longitudinal" in str(caught.value) and "row-level" in str(caught.value)
    with pytest.raises(DataError, match="single row.*row-level synthesizers"):
        PatientTable.from_long(first, key="id")


def test_a_patient_over_the_event_limit_is_an_error():
    n = 10_000
    df = pd.DataFrame(
        {
            "patient_id": ["A"] * n + [p for p in "BCDEF" for _ in range(3)],
            "day": np.r_[np.arange(n), np.tile(np.arange(3), 5)],
            "value": np.arange(n + 15, dtype=float),
        }
    )
    with pytest.raises(DataError) as caught:
        PatientTable.from_long(df)
    message = str(caught.value)
    assert "1 patient of key 'patient_id' have more than 5000 events" in message
    assert "max_events_per_patient=" in message and "'A'" not in message
    table = quiet(df, max_events_per_patient=10_000)
    assert table.events_per_patient().to_dict() == {"A": n, "B": 3, "C": 3, "D": 3, "E": 3, "F": 3}
    with pytest.raises(DataError, match="at least 1"):
        PatientTable.from_long(df, max_events_per_patient=0)


def test_duplicate_patient_time_rows():
    df = visits(seed=10)
    copy = df.iloc[[2]]
    same_time = df.iloc[[7, 8]].assign(hba1c=[99.0, 98.0])
    doubled = pd.concat([df, copy, same_time], ignore_index=True)
    table, message = repaired(doubled)
    n_patients = df.iloc[[7, 8]]["patient_id"].nunique()
    patients = f"{n_patients} patient{'s' if n_patients > 1 else ''}"
    # the rows appended at the end also put their patients' times out of order
    assert table.repairs[1:] == (
        "dropped 1 row that repeated another row exactly (same patient, time and values)",
        f"kept 4 rows ({patients}) that share their patient and time with another row but "
        "differ in values, as events at the same time",
    )
    assert table.repairs[0].startswith("sorted the events of")
    assert len(table.events) == len(df) + 2
    assert (table.gaps() == 0).sum() == 2
    assert "99" not in message


def test_rows_with_no_patient_id_are_dropped_and_counted():
    df = visits(seed=11)
    df.loc[[1, 2], "patient_id"] = None
    table, _ = repaired(df, key="patient_id")
    assert table.repairs == ("dropped 2 rows with no patient id in 'patient_id'",)
    assert len(table.events) == len(df) - 2


def test_missing_static_values_are_filled_and_counted():
    df = visits(seed=12)
    rows = df.index[df["patient_id"] == "P1002"]
    df.loc[rows[1], "sex"] = None
    table, _ = repaired(df)
    assert table.repairs == (
        "filled 1 missing value(s) of static column(s) sex from the same patient's other rows",
    )
    assert table.to_long()["sex"].notna().all()


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"key": "nope"}, "patient key 'nope' is not a column"),
        ({"time": "nope"}, "time column 'nope' is not a column"),
        ({"key": "patient_id", "time": "patient_id"}, "both the patient key and the time"),
        ({"time": "sex"}, "neither dates nor numbers"),
    ],
)
def test_named_columns_are_checked(kwargs, pattern):
    with pytest.raises(DataError, match=pattern):
        infer_layout(visits(n_patients=10), **kwargs)


def test_a_key_of_mixed_types_is_an_error():
    df = visits(n_patients=10, seed=14)
    ids = df["patient_id"].copy()
    df["patient_id"] = [int(p[1:]) if i % 5 == 0 else p for i, p in enumerate(ids)]
    with pytest.raises(DataError, match="key 'patient_id' of the table mixes types"):
        PatientTable.from_long(df, key="patient_id")
    df["patient_id"] = [int(p[1:]) if i % 2 else p for i, p in enumerate(ids)]
    with pytest.raises(DataError, match="'patient_id' mixes numbers and text"):  # the schema's
        PatientTable.from_long(df, key="patient_id")


def test_column_names_that_are_not_text_are_read_as_text(pbc):
    df = pbc.set_axis(range(pbc.shape[1]), axis=1)
    table = quiet(df, key="0", time="6")
    assert table.layout.static == ("1", "2", "3", "4", "5") and table.n_patients == 312
    assert list(table.to_long().columns) == [str(i) for i in range(19)]


# ------------------------------------------------------------------------------ two tables


def split(pbc: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    patients = pbc.drop_duplicates("id")[["id", *PBC_STATIC]].reset_index(drop=True)
    events = pbc[["id", "day", *PBC_VARYING]]
    return patients, events


def test_from_frames_round_trips(pbc):
    patients, events = split(pbc)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = PatientTable.from_frames(patients.iloc[::-1], events, key="id")
    assert (table.layout.time, table.layout.static) == ("day", PBC_STATIC)
    assert table.layout.varying == PBC_VARYING
    assert table.layout.reasons["bili"] == "varying: a column of the events table"
    pd.testing.assert_frame_equal(table.to_long(), pbc)
    pd.testing.assert_frame_equal(table.patients, patients)


def test_from_frames_keeps_patients_without_events(pbc):
    patients, events = split(pbc)
    events = events[events["id"] != 5]
    table = PatientTable.from_frames(patients, events, key="id", time="day")
    counts = table.events_per_patient()
    assert table.n_patients == 312 and counts.loc[5] == 0 and counts.sum() == len(events)
    assert 5 not in set(table.to_long()["id"])


def test_events_of_unknown_patients_are_an_error(pbc):
    patients, events = split(pbc)
    patients = patients[~patients["id"].isin([7, 8])]
    expected = int(events["id"].isin([7, 8]).sum())
    with pytest.raises(DataError) as caught:
        PatientTable.from_frames(patients, events, key="id")
    message = str(caught.value)
    assert f"{expected} rows of the events table (2 patient id(s))" in message
    assert "not in the patients table" in message


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (lambda p, e: (pd.concat([p, p.iloc[[0]]]), e), "repeat a patient id"),
        (lambda p, e: (p.assign(id=p["id"].where(p.index != 3)), e), "have no patient id"),
        (lambda p, e: (p.assign(bili=1.0), e), "in both the patients and the events"),
        (lambda p, e: (p.drop(columns="id"), e), "not a column of the patients table"),
        (lambda p, e: (p, e.rename(columns={"id": "pid"})), "not a column of the events table"),
    ],
)
def test_from_frames_bad_tables(pbc, change, pattern):
    patients, events = change(*split(pbc))
    with pytest.raises(DataError, match=pattern):
        PatientTable.from_frames(patients, events, key="id")


def test_direct_construction_is_checked(pbc_table):
    with pytest.raises(DataError, match="lacks column"):
        PatientTable(pbc_table.layout, pbc_table.patients.drop(columns="sex"), pbc_table.events)
    with pytest.raises(DataError, match="not in the patients table"):
        PatientTable(pbc_table.layout, pbc_table.patients.iloc[1:], pbc_table.events)


def test_the_input_table_is_not_changed():
    df = visits(seed=13)
    df.loc[[0, 3], "visit_date"] = None
    df = df.iloc[::-1]
    before = df.copy(deep=True)
    table, _ = repaired(df)
    pd.testing.assert_frame_equal(df, before)
    assert table.events["visit_date"].dtype.kind == "M" and df["visit_date"].dtype.kind != "M"
