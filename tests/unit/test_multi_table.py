"""Several event tables per patient: PatientTables and MultiTableSynthesizer."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from synthpatient import datasets
from synthpatient.errors import ConditionError, DataError, ModelFileError
from synthpatient.longitudinal import PatientTables
from synthpatient.synthesizers.multi_table import MultiTableSynthesizer


def _small_frames(n: int = 200) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    patients, events = datasets._tables.load_frames("nafld")
    keep = patients["id"] <= n
    return patients[keep], {k: v[v["id"] <= n] for k, v in events.items()}


def _tables(n: int = 200) -> PatientTables:
    patients, events = _small_frames(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PatientTables.from_frames(
            patients, events, key="id", times={"labs": "days", "diagnoses": "days"}
        )


@pytest.fixture(scope="module")
def real() -> PatientTables:
    return _tables()


@pytest.fixture(scope="module")
def fitted(real: PatientTables) -> MultiTableSynthesizer:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MultiTableSynthesizer(seed=3).fit(real)


def test_bundled_tables_load_with_their_layout() -> None:
    with pytest.warns(UserWarning, match="diagnoses: kept .* as events at the same time"):
        tables = datasets.load_tables("nafld")
    assert tables.names == ("labs", "diagnoses")
    assert tables.n_patients == 998
    assert tables.layout("labs").static == tables.layout("diagnoses").static
    assert "case.id" in tables.layout("labs").identifiers
    assert tables.table("labs").events_per_patient().eq(0).any()  # patients without labs kept


def test_bad_tables_get_one_line_errors() -> None:
    patients, events = _small_frames(50)
    with pytest.raises(DataError, match="at least one event table"):
        PatientTables.from_frames(patients, {}, key="id")
    with pytest.raises(DataError, match="not usable"):
        PatientTables.from_frames(patients, {"my labs": events["labs"]}, key="id")
    with pytest.raises(DataError, match="not among the event tables"):
        PatientTables.from_frames(patients, events, key="id", times={"visits": "days"})
    stray = events["labs"].copy()
    stray.loc[stray.index[0], "id"] = 99_999
    with pytest.raises(DataError, match="^Event table 'labs': ") as caught:
        PatientTables.from_frames(patients, {"labs": stray}, key="id", times={"labs": "days"})
    assert "99999" not in str(caught.value)  # no patient value in a message


def test_relation_file_round_trip_and_refusals(tmp_path, real: PatientTables) -> None:
    folder = real.write(tmp_path / "out")
    relation = json.loads((folder / "tables.json").read_text())
    assert relation["patient_key"] == "id"
    assert set(relation["events"]) == {"labs", "diagnoses"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = PatientTables.read(folder / "tables.json")
    assert again.names == real.names
    pd.testing.assert_frame_equal(
        again.events("labs").reset_index(drop=True),
        real.events("labs").reset_index(drop=True),
        check_dtype=False,
    )
    with pytest.raises(Exception, match="exists"):
        real.write(folder)  # never overwritten by default
    bad = tmp_path / "bad.json"
    for text, message in (
        ("{not json", "not JSON"),
        ('{"patient_key": "id", "patients": "p.csv"}', "needs 'events'"),
        ('{"patient_key": "id", "patients": "p.csv", "events": {"x": {"time": 1}}}', "'file'"),
        ('{"patient_key": "id", "patients": "p.csv", "events": {}, "extra": 1}', "unknown"),
    ):
        bad.write_text(text)
        with pytest.raises(DataError, match=message):
            PatientTables.read(bad)


def test_sample_gives_whole_new_patients_in_every_table(
    fitted: MultiTableSynthesizer, real: PatientTables
) -> None:
    synthetic = fitted.sample(80, seed=1)
    assert synthetic.n_patients == 80
    assert synthetic.names == real.names
    assert list(synthetic.patients.columns) == list(real.patients.columns)
    assert not set(synthetic.patients["id"]) & set(real.patients["id"])
    assert not set(synthetic.patients["case.id"].dropna()) & set(real.patients["case.id"])
    for name in real.names:
        events = synthetic.events(name)
        assert list(events.columns) == list(real.events(name).columns)
        assert set(events["id"]) <= set(synthetic.patients["id"])
        # times strictly increase within a patient in every table
        steps = events.groupby("id")["days"].diff().dropna()
        assert (steps > 0).all()
    # patients without events in a table exist, as in the real tables
    assert synthetic.table("diagnoses").events_per_patient().eq(0).any()


def test_same_seed_same_tables_and_conditions_choose_patients(
    fitted: MultiTableSynthesizer,
) -> None:
    first, second = fitted.sample(40, seed=5), fitted.sample(40, seed=5)
    pd.testing.assert_frame_equal(first.events("labs"), second.events("labs"))
    women = fitted.sample(30, conditions={"male": 0}, seed=2)
    assert (women.patients["male"] == 0).all()
    with pytest.raises(ConditionError, match="patients table"):
        fitted.sample(10, conditions={"hdl": 50})
    empty = fitted.sample(0)
    assert empty.n_patients == 0


def test_save_and_load_give_the_same_tables(tmp_path, fitted: MultiTableSynthesizer) -> None:
    path = fitted.save(tmp_path / "model")
    assert not list(path.rglob("*.pkl"))
    loaded = MultiTableSynthesizer.load(path)
    a, b = fitted.sample(25, seed=9), loaded.sample(25, seed=9)
    for name in a.names:
        pd.testing.assert_frame_equal(a.events(name), b.events(name))
    manifest = json.loads((path / "model.json").read_text())
    manifest["format"] = "something else"
    (path / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFileError, match="format"):
        MultiTableSynthesizer.load(path)
    (path / "model.json").write_text("[]")
    with pytest.raises(ModelFileError, match="damaged"):
        MultiTableSynthesizer.load(path)


def test_fit_refuses_what_it_cannot_learn() -> None:
    with pytest.raises(DataError, match="PatientTables"):
        MultiTableSynthesizer().fit(pd.DataFrame({"a": [1]}))  # type: ignore[arg-type]
    patients, events = _small_frames(60)
    dated = events["diagnoses"].assign(
        days=pd.Timestamp("2000-01-01") + pd.to_timedelta(events["diagnoses"]["days"], "D")
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mixed = PatientTables.from_frames(
            patients, {"labs": events["labs"], "diagnoses": dated}, key="id"
        )
    with pytest.raises(DataError, match="all be dates or all be numbers"):
        MultiTableSynthesizer().fit(mixed)


def test_counts_across_tables_stay_related(
    fitted: MultiTableSynthesizer, real: PatientTables
) -> None:
    """A patient with many lab tests has many diagnoses, in the real and synthetic tables."""
    synthetic = fitted.sample(400, seed=4)

    def corr(tables: PatientTables) -> float:
        labs = tables.table("labs").events_per_patient().to_numpy()
        diagnoses = tables.table("diagnoses").events_per_patient().to_numpy()
        return float(np.corrcoef(labs, diagnoses)[0, 1])

    assert corr(real) > 0.3
    assert corr(synthetic) > 0.5 * corr(real)
