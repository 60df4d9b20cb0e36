"""Clinical notes: offline templates never contradict their row (checked on many rows of several
tables), the checker itself catches contradictions, and LLM answers are checked, re-asked or
replaced, against a local scripted server (no real network)."""

from __future__ import annotations

import json
import re
import socket

import numpy as np
import pandas as pd
import pytest

from synthpatient import datasets
from synthpatient.errors import InvalidParameterError
from synthpatient.notes import check_note, note_diversity, profile_table, write_notes
from tests.conftest import make_clinical_table

KEY = "sk-notes-secret-456"


def _mixed_table(n_rows: int = 120, seed: int = 0) -> pd.DataFrame:
    """Roles the other tables lack: a blood pressure pair, HbA1c in mmol/mol, a smoker flag,
    has_/history_of_/is_ flags, a mortality outcome, negative values, codes with digits."""
    rng = np.random.default_rng(seed)
    admitted = pd.Timestamp("2021-01-01") + pd.to_timedelta(
        rng.integers(0, 20_000_000, n_rows), "s"
    )
    frame = pd.DataFrame(
        {
            "mrn": [f"MRN{i:05d}" for i in range(n_rows)],
            "first_name": [f"Ann{i}" for i in range(n_rows)],
            "gender": rng.choice(["F", "M", "other"], n_rows),
            "age_years": rng.integers(18, 95, n_rows),
            "systolic_bp": rng.integers(95, 190, n_rows),
            "diastolic_bp": rng.integers(55, 110, n_rows),
            "hba1c_mmol_mol": rng.normal(55, 12, n_rows).round(0),
            "fasting_glucose": rng.normal(6.5, 1.5, n_rows).round(1),
            "smoker": rng.random(n_rows) < 0.2,
            "has_diabetes": rng.random(n_rows) < 0.4,
            "history_of_stroke": rng.random(n_rows) < 0.1,
            "is_pregnant": rng.random(n_rows) < 0.05,
            "statin": rng.random(n_rows) < 0.3,
            "mortality": rng.random(n_rows) < 0.1,
            "stage": rng.choice(["stage 1", "stage 2", "stage 3"], n_rows),
            "egfr_z": rng.normal(0, 1, n_rows).round(2),
            "admission_time": admitted,
            "discharge_date": (
                admitted + pd.to_timedelta(rng.integers(1, 20, n_rows), "D")
            ).normalize(),
        }
    )
    frame.loc[rng.random(n_rows) < 0.2, "fasting_glucose"] = np.nan
    frame.loc[rng.random(n_rows) < 0.1, "age_years"] = np.nan
    frame["has_diabetes"] = frame["has_diabetes"].astype(object)
    frame.loc[rng.random(n_rows) < 0.1, "has_diabetes"] = None
    return frame


def _tables() -> dict[str, pd.DataFrame]:
    return {
        "clinical": make_clinical_table(300, seed=2),
        "diabetes": datasets.load("diabetes"),
        "breast_cancer": datasets.load("breast_cancer").iloc[:120],
        "mixed": _mixed_table(),
    }


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return _tables()


# -- offline templates ------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["visit", "admission"])
@pytest.mark.parametrize("name", ["clinical", "diabetes", "breast_cancer", "mixed"])
def test_template_notes_never_contradict_their_rows(tables, name, kind):
    table = tables[name]
    notes = write_notes(table, kind=kind, seed=7)
    assert notes.index.equals(table.index) and notes.map(bool).all()
    profile = profile_table(table)
    problems = {
        i: check_note(n, r, profile=profile)
        for i, (n, r) in enumerate(zip(notes, table.to_dict("records"), strict=True))
    }
    assert not {i: p for i, p in problems.items() if p}
    assert notes.attrs["notes_report"]["template_fallbacks"] == 0


def test_notes_state_the_values_with_units_and_never_invent_missing_ones(tables):
    table = tables["clinical"]
    notes = write_notes(table, seed=1)
    for note, row in zip(notes, table.to_dict("records"), strict=True):
        assert f"{row['bmi']:g} kg/m2" in note and str(row["age"]) in note
        if pd.isna(row["ldl"]):
            assert check_note(note + " LDL cholesterol 120 mg/dL.", row) != []
            assert "LDL cholesterol was" not in note and "LDL cholesterol of" not in note
        else:
            assert f"{row['ldl']:g} mg/dL" in note
        assert (
            "not on insulin" in note or "not taking insulin" in note or "takes no insulin" in note
        ) != row["on_insulin"]


def test_diabetes_notes_use_catalogue_units_and_keep_sex_codes_neutral(tables):
    table = tables["diabetes"]
    notes = write_notes(table.iloc[:50], seed=0)
    assert notes.str.contains("mg/dL").all() and notes.str.contains("mmHg").all()
    assert notes.str.contains(r"sex code [12]\b").all()  # a code, not a sex, is what is known
    assert not notes.str.contains(r"\b(?:she|he|woman|man)\b", case=False).any()


def test_log_columns_are_written_in_their_clinical_unit(tables):
    """``log_triglycerides`` in ln(mg/dL) reads "triglycerides 129 mg/dL" (exp of the stored
    value), and the checker holds a note to that value or to the log it names."""
    table = tables["diabetes"]
    notes = write_notes(table.iloc[:30], seed=0)
    assert not notes.str.contains(r"ln\(|log triglycerides", case=False).any()
    profile = profile_table(table)
    for note, row in zip(notes, table.iloc[:30].to_dict("records"), strict=True):
        shown = round(float(np.exp(row["log_triglycerides"])))
        assert re.search(rf"triglycerides (?:\w+ )*?(?:= |of |at )?{shown} mg/dL", note), note
    row = table.iloc[0].to_dict()
    mg_dl = round(float(np.exp(row["log_triglycerides"])))
    assert check_note(f"Triglycerides {mg_dl} mg/dL.", row, profile=profile) == []
    named_log = f"Log triglycerides {row['log_triglycerides']:.2f}."
    assert check_note(named_log, row, profile=profile) == []
    wrong = check_note(f"Triglycerides {row['log_triglycerides']:.1f} mg/dL.", row, profile=profile)
    assert any("log_triglycerides" in p for p in wrong)


def test_a_log_of_unknown_base_or_beside_its_plain_column_keeps_its_log_label():
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "triglycerides": rng.integers(50, 300, 20),
            "log_triglycerides": np.log(rng.integers(50, 300, 20)).round(3),
            "log_crp": rng.normal(0, 1, 20).round(2),
            "log10_viral_load": rng.normal(4, 0.5, 20).round(2),
        }
    )
    roles = profile_table(table).columns
    assert roles["log_triglycerides"].label == "log triglycerides"
    assert roles["log_triglycerides"].log_base is None and roles["log_crp"].unit is None
    assert roles["log10_viral_load"].label == "viral load"
    notes = write_notes(table, seed=0)
    for note, row in zip(notes, table.to_dict("records"), strict=True):
        assert f"{round(row['log_triglycerides'], 2):g}" in note and "log crp" in note.lower()
        assert format(round(10 ** row["log10_viral_load"]), "d") in note
        assert check_note(note, row, profile=profile_table(table)) == []


def test_notes_are_varied_and_reproducible(tables):
    table = tables["clinical"]
    notes = write_notes(table, seed=3)
    diversity = note_diversity(notes, table)
    assert diversity["top_structure_share"] < 0.05
    assert diversity["distinct_4gram_ratio"] > 0.03
    assert notes.str.split(".").str[0].nunique() >= 5  # several headers
    assert notes.str.extract(r"\(record \d+\)\. (\w+ \w+)")[0].nunique() >= 4  # openings
    assert notes.equals(write_notes(table, seed=3))
    assert not notes.equals(write_notes(table, seed=4))


def test_bad_arguments_and_empty_tables():
    with pytest.raises(InvalidParameterError, match="kind"):
        write_notes(pd.DataFrame({"age": [1]}), kind="discharge")
    with pytest.raises(InvalidParameterError, match="max_attempts"):
        write_notes(pd.DataFrame({"age": [1]}), max_attempts=0)
    with pytest.raises(InvalidParameterError, match="LLMClient"):
        write_notes(pd.DataFrame({"age": [1]}), llm="http://localhost")
    assert write_notes(pd.DataFrame({"age": []})).empty


# -- the checker can fail ---------------------------------------------------------------------
ROW = {
    "patient_id": 7,
    "name": "Mrs. Jane Roe",
    "age": 61,
    "sex": "male",
    "bmi": 31.27,
    "hba1c": 7.2,
    "ldl": np.nan,
    "smoker": "former",
    "on_insulin": False,
    "admitted": pd.Timestamp("2021-03-04"),
    "died": False,
    "cause_of_death": None,
}
PROFILE_TABLE = pd.DataFrame(
    [
        ROW,
        {
            **ROW,
            "sex": "female",
            "smoker": "never",
            "ldl": 100.0,
            "cause_of_death": "cancer",
            "died": True,
            "on_insulin": True,
            "name": "Ann Lee",
        },
        {**ROW, "cause_of_death": "cardiac", "smoker": "current"},
    ]
)


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        ("A 54-year-old man.", "age is 54"),
        ("Patient aged 70.", "age is 70"),
        ("He has a BMI of 35.1 kg/m2.", "bmi is 35.1"),
        ("HbA1c 9.1%.", "hba1c is 9.1"),
        ("LDL cholesterol 130 mg/dL.", "ldl, which is not recorded"),
        ("He is on insulin.", "on_insulin is True"),
        ("Currently taking insulin.", "on_insulin is True"),
        ("He died in hospital.", "died is True"),
        ("Outcome: deceased.", "died is True"),
        ("She has a BMI of 31.3 kg/m2.", "patient is male"),
        ("The woman was seen.", "patient is male"),
        ("He is a current smoker.", "smoking status is former"),
        ("He has never smoked.", "smoking status is former"),
        ("Smoking status: current.", "smoking status is former"),
        ("Admitted on 5 March 2021.", "admitted is"),
        ("Admitted on 2020-03-04.", "admitted is"),
        ("Seen on 1 April 2019.", "date 1 april 2019"),
        ("Review in 3 months.", "number 3"),
        ("Cause of death: cardiac.", "cardiac"),
        ("Blood pressure 140/90 mmHg.", "number 140"),
        ("A seventy-year-old man.", "in words"),
    ],
)
def test_checker_catches_hand_written_contradictions(note, expected):
    problems = check_note(note, ROW, profile=profile_table(PROFILE_TABLE))
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    "note",
    [
        "Clinic visit note. Patient: Mrs. Jane Roe (record 7). A 61-year-old man, BMI 31.3 kg/m2, "
        "HbA1c 7.2%; LDL cholesterol not recorded. He is not on insulin and is an ex-smoker. "
        "Admitted on March 4, 2021. He survived. Cause of death: not recorded.",
        "He is 61 years old; BMI was 31 kg/m2. He takes no insulin, quit smoking and did not die.",
        (
            "Age 61, sex male, smoker: former, on insulin: no, died: no, "
            "LDL cholesterol: not recorded."
        ),
        "Male patient aged 61 with type 2 diabetes, admitted on 04/03/2021 (BMI 31.27 kg/m2).",
    ],
)
def test_checker_accepts_consistent_rewordings(note):
    assert check_note(note, ROW, profile=profile_table(PROFILE_TABLE)) == []


def test_checker_reads_blood_pressure_pairs_and_labelled_flags(tables):
    table = tables["mixed"]
    profile = profile_table(table)
    row = table.iloc[0].to_dict()
    good = f"Blood pressure {row['systolic_bp']}/{row['diastolic_bp']} mmHg."
    assert check_note(good, row, profile=profile) == []
    bad = f"Blood pressure {row['systolic_bp']}/{row['diastolic_bp'] + 9} mmHg."
    assert any("diastolic" in p for p in check_note(bad, row, profile=profile))
    flip = "statin: no." if row["statin"] else "statin: yes."
    assert any("statin" in p for p in check_note(flip, row, profile=profile))


# -- with an LLM (a local scripted server) ----------------------------------------------------
def _answer(note: str | None = None, *, content: str | None = None, finish: str = "stop") -> dict:
    text = content if content is not None else json.dumps({"note": note})
    return {
        "choices": [{"finish_reason": finish, "message": {"role": "assistant", "content": text}}]
    }


@pytest.fixture()
def server():
    from tests.llm_server import ScriptedLLMServer

    pytest.importorskip("httpx")
    s = ScriptedLLMServer()
    yield s
    s.close()


def _client(url: str, **kwargs):
    from synthpatient.llm import LLMClient

    return LLMClient(url, model="test-model", api_key=KEY, backoff_s=0.0, **kwargs)


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return make_clinical_table(4, seed=5)


def _good(row: dict) -> str:
    pronoun = "She" if row["sex"] == "female" else "He"
    return f"A {row['age']}-year-old {row['sex']} patient. {pronoun} has a BMI of {row['bmi']}."


def _bad(row: dict) -> str:
    return f"A {row['age'] + 11}-year-old patient with HbA1c {row['hba1c'] + 3:.1f}%."


def test_llm_notes_are_checked_reasked_and_replaced(server, small):
    rows = small.to_dict("records")
    server.script = [
        (200, _answer(_good(rows[0]))),
        (200, _answer(_bad(rows[1]))),
        (200, _answer(_good(rows[1]))),
        (200, _answer(_bad(rows[2]))),
        (200, _answer(_bad(rows[2]))),
        (200, _answer(content="Sure! Here is a lovely note about the patient.")),
        (200, _answer(content='{"note": "A ', finish="length")),
    ]
    notes = write_notes(small, llm=_client(server.url), seed=0)
    report = notes.attrs["notes_report"]
    assert notes.iloc[0] == _good(rows[0]) and notes.iloc[1] == _good(rows[1])
    assert notes.iloc[2] == write_notes(small, seed=0).iloc[2]  # the template note
    assert (
        report["llm_accepted"],
        report["llm_rejected_contradiction"],
        report["llm_rejected_invalid"],
        report["template_fallbacks"],
    ) == (2, 3, 2, 2)
    profile = profile_table(small)
    assert all(check_note(n, r, profile=profile) == [] for n, r in zip(notes, rows, strict=True))
    # the re-ask names the problem; the prompt holds the row's values as JSON, never the key
    reask = server.requests[2]["body"]["messages"][-1]["content"]
    assert "age is" in reask
    prompt = server.requests[0]["body"]["messages"][1]["content"]
    assert f'"age": "{rows[0]["age"]}"' in prompt
    assert all(KEY not in json.dumps(r["body"]) for r in server.requests)
    assert KEY not in json.dumps(report)


def test_rate_limits_are_retried_and_server_errors_fall_back(server, small):
    rows = small.to_dict("records")
    server.script = [(429, {"error": {"message": "slow down"}}), (200, _answer(_good(rows[0])))]
    server.script += [(503, {})] * 12  # every later row: 503 after the client's retries
    with pytest.warns(UserWarning, match="switched off"):
        notes = write_notes(
            small, llm=_client(server.url, max_retries=1), seed=0, max_consecutive_failures=2
        )
    report = notes.attrs["notes_report"]
    assert notes.iloc[0] == _good(rows[0])
    assert report["llm_accepted"] == 1 and report["llm_request_errors"] == 2
    assert report["template_fallbacks"] == 3 and "503" in report["stopped"]
    assert notes.map(bool).all()


@pytest.mark.parametrize(
    ("status", "body", "match"),
    [
        (401, {"error": {"message": f"bad key {KEY}"}}, "API key"),
        (404, {"error": {"message": "model 'x' not found"}}, "does not know model"),
        (400, {"error": {"message": "maximum context length is 512 tokens"}}, "context window"),
    ],
)
def test_configuration_errors_are_one_line_and_never_show_the_key(
    server, small, status, body, match
):
    from synthpatient.llm import LLMError

    server.script = [(status, body)]
    with pytest.raises(LLMError, match=match) as info:
        write_notes(small, llm=_client(server.url), seed=0)
    assert "\n" not in str(info.value) and KEY not in str(info.value)


def test_an_unreachable_server_is_a_clear_error_not_a_hang():
    from synthpatient.llm import LLMError

    pytest.importorskip("httpx")
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(LLMError, match="Cannot reach"):
        write_notes(
            make_clinical_table(3), llm=_client(f"http://127.0.0.1:{port}/v1", timeout_s=2.0)
        )
