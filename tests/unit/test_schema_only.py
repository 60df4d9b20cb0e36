"""Tables from a description alone: generation, what cannot be honoured, evaluation, CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from synthpatient import from_schema
from synthpatient.cli import app
from synthpatient.errors import DataError
from synthpatient.knowledge._kb import load_knowledge_base
from synthpatient.schema_only import evaluate_schema_only, generate_from_schema, load_table_schema


@pytest.fixture(scope="module")
def admissions():
    return generate_from_schema("admissions", 2000, seed=3)


def test_admissions_rows_keep_relations_and_the_knowledge_base(admissions):
    data = admissions.data
    assert list(data.columns) == [c.name for c in load_table_schema("admissions").columns]
    assert (data["Discharge Date"] > data["Date of Admission"]).all()
    assert data["Name"].nunique() / len(data) >= 0.95
    kb = load_knowledge_base()
    for label, group in data.groupby("Medical Condition"):
        condition = kb.find_condition(label)
        drugs = {m.name for m in condition.medications}
        tests = {o.name for o in condition.observations}
        assert set(group["Medication"]) <= drugs
        assert {t.split(":")[0] for t in group["Test Results"]} <= tests
    # billing grows with the stay (the relation "depends on ... length of stay")
    stay = (data["Discharge Date"] - data["Date of Admission"]).dt.days
    assert np.corrcoef(stay, data["Billing Amount"])[0, 1] > 0.5
    # each doctor works at one hospital
    assert data.groupby("Doctor")["Hospital"].nunique().max() == 1
    assert {c.column for c in admissions.choices} == set(data.columns)


def test_same_seed_same_rows_and_from_schema_matches(admissions):
    again = from_schema("admissions", 2000, seed=3)
    pd.testing.assert_frame_equal(admissions.data, again.data)
    assert not generate_from_schema("admissions", 50, seed=4).data.equals(admissions.data.head(50))


def test_names_follow_sex(admissions):
    from faker.providers.person.en_US import Provider

    first = admissions.data["Name"].str.split().str[0]
    women = admissions.data["Gender"] == "Female"
    assert first[women].isin(set(Provider.first_names_female)).all()
    assert first[~women].isin(set(Provider.first_names_male)).all()


def _schema(columns, relations=()):
    return {"name": "t", "columns": columns, "relations": list(relations)}


def test_a_column_nothing_can_fill_is_named_not_filled():
    spec = _schema(
        [{"name": "Age", "kind": "integer"}, {"name": "Favourite colour", "kind": "text"}]
    )
    with pytest.raises(DataError, match="'Favourite colour'"):
        generate_from_schema(spec, 10, seed=0)


@pytest.mark.parametrize(
    ("relation", "message"),
    [
        ("Discharge after Nowhere", "'Nowhere', which is not a column"),
        ("Age goes up with Visit", "not understood"),
        ("Age depends on Visit", "cannot be honoured"),
    ],
)
def test_relations_that_cannot_be_honoured_are_errors(relation, message):
    spec = _schema(
        [
            {"name": "Age", "kind": "integer", "range": [18, 90]},
            {"name": "Visit", "kind": "date", "range": ["2020-01-01", "2020-12-31"]},
            {"name": "Discharge", "kind": "date", "range": ["2020-01-01", "2020-12-31"]},
        ],
        [relation],
    )
    with pytest.raises(DataError, match=message):
        generate_from_schema(spec, 10, seed=0)


def test_generic_columns_take_the_schema_values_and_ranges():
    spec = _schema(
        [
            {"name": "Ward", "kind": "categorical", "values": ["A", "B"]},
            {"name": "Score", "kind": "numeric", "range": [1, 2]},
            {"name": "Seen", "kind": "date", "range": ["2021-01-01", "2021-01-31"]},
            {"name": "Followed", "kind": "date", "range": ["2021-01-01", "2021-01-31"]},
        ],
        ["Followed after Seen"],
    )
    result = generate_from_schema(spec, 500, seed=0)
    assert set(result.data["Ward"]) == {"A", "B"}
    assert result.data["Score"].between(1, 2).all()
    assert (pd.to_datetime(result.data["Followed"]) > pd.to_datetime(result.data["Seen"])).all()
    report = evaluate_schema_only(result.data, spec)
    assert report.summary.set_index("metric").loc["relation_violations", "score"] == 0


def test_conditions_outside_the_knowledge_base_are_named():
    spec = _schema(
        [{"name": "Medical Condition", "kind": "categorical", "values": ["Asthma", "COPD"]}]
    )
    with pytest.raises(DataError, match="'Asthma' not in the knowledge base"):
        generate_from_schema(spec, 10, seed=0)


def test_evaluation_catches_broken_rows(admissions):
    good = evaluate_schema_only(admissions.data, "admissions", seconds=1.0)
    scores = good.summary.set_index("metric")["score"]
    assert scores["relation_violations"] == 0 and scores["schema_validity"] == 1
    assert scores["medication_consistency"] == 1 and scores["test_consistency"] == 1
    assert scores["test_distribution"] > 0.85
    broken = admissions.data.copy()
    broken.loc[:99, "Discharge Date"] = broken.loc[:99, "Date of Admission"]  # 100 same-day
    broken.loc[:199, "Medication"] = "Aspirin"
    broken.loc[:49, "Gender"] = "Unknown"
    broken = pd.concat([broken, broken.head(300)], ignore_index=True)
    bad = evaluate_schema_only(broken, "admissions").summary.set_index("metric")["score"]
    assert bad["relation_violations"] == pytest.approx(200 / len(broken))
    assert bad["medication_consistency"] == pytest.approx(1 - 400 / len(broken))
    assert bad["schema_validity"] == pytest.approx(1 - 100 / len(broken))
    assert bad["duplicate_rows"] == pytest.approx(300 / len(broken))
    assert bad["unique_names"] < scores["unique_names"]


def test_cli_from_schema_writes_rows_and_names_bad_input(tmp_path):
    runner = CliRunner()
    out = tmp_path / "a.csv"
    result = runner.invoke(
        app, ["from-schema", "admissions", "--rows", "50", "--out", str(out), "--seed", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "Medication: from the knowledge base's drug list" in result.output
    assert len(pd.read_csv(out)) == 50
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns:\n  - {name: Colour, kind: text}\n", encoding="utf-8")
    result = runner.invoke(app, ["from-schema", str(bad), "--out", str(tmp_path / "b.csv")])
    assert result.exit_code == 2
    assert "'Colour'" in result.output and "Traceback" not in result.output


def test_an_llm_writes_the_structured_columns_and_the_evaluation_judges_them():
    pytest.importorskip("httpx")
    from tests.fake_llm_server import FakeLLMServer

    llm = {"model": "fake-llm", "rows_per_request": 30, "backoff_s": 0.0, "timeout_s": 5.0}
    with FakeLLMServer(json_schema_status=500) as server:
        result = generate_from_schema("admissions", 40, seed=0, llm={"base_url": server.url, **llm})
        sent = "\n".join(m["content"] for r in server.requests for m in r["body"]["messages"])
    data = result.data
    assert list(data.columns) == [c.name for c in load_table_schema("admissions").columns]
    assert len(data) == 40 and data["Name"].notna().all()
    how = {c.column: c.how for c in result.choices}
    assert how["Medication"] == "written by the LLM" and "sex" in how["Name"]
    assert any("json_object" in n for n in result.notices)
    assert "Realname" not in sent and "<example_rows>" not in sent  # no rows in the prompt
    kb = load_knowledge_base()
    for label, test in zip(data["Medical Condition"], data["Test Results"], strict=True):
        condition = kb.find_condition(label)
        assert test.split(":")[0] in {o.name for o in condition.observations}
    # the test double draws every column on its own: the evaluation must notice
    scores = evaluate_schema_only(data, "admissions").summary.set_index("metric")["score"]
    assert scores["schema_validity"] == 1  # every row the model wrote was validated
    assert scores["medication_consistency"] < 1 and scores["relation_violations"] > 0


def test_a_dependence_that_is_not_there_breaks_its_relation(admissions):
    shuffled = admissions.data.copy()
    shuffled["Medication"] = shuffled["Medication"].sample(frac=1, random_state=0).to_numpy()
    report = evaluate_schema_only(shuffled, "admissions")
    kept = {
        d["relation"]: d.get("kept") for d in report.sections["relation_violations"]["relations"]
    }
    assert kept["Medication depends on Medical Condition"] is False
    assert kept["Billing Amount depends on Medical Condition and length of stay"] is True
    assert report.summary.set_index("metric").loc["relation_violations", "score"] == 1


def test_columns_given_by_name_and_description_alone_get_their_kind_said():
    spec = _schema(
        [
            {"name": "patient_id", "description": "unique patient identifier"},
            {"name": "encounter_id"},
            {"name": "sex", "description": "biological sex"},
            {"name": "admitted", "description": "date of ICU admission"},
            {"name": "lactate", "description": "serum lactate mmol/L (0.5-15)"},
            {"name": "sofa", "description": "SOFA score at admission (0-24)"},
            {"name": "ventilated", "description": "whether the patient was ventilated"},
            {"name": "dx", "description": "admitting diagnosis (sepsis, pneumonia, trauma)"},
            {"name": "disposition", "description": "discharge disposition (home, died)"},
        ]
    )
    result = generate_from_schema(spec, 300, seed=0)
    rows, notes = result.data, " | ".join(result.notices)
    assert rows["patient_id"].is_unique and rows["encounter_id"].is_unique
    assert rows["lactate"].between(0.5, 15).all() and rows["sofa"].between(0, 24).all()
    assert set(rows["ventilated"]) == {"yes", "no"}
    assert set(rows["dx"]) == {"sepsis", "pneumonia", "trauma"}
    assert set(rows["disposition"]) == {"home", "died"}  # a discharge word, never a date
    assert pd.api.types.is_datetime64_any_dtype(rows["admitted"])
    for said in ("'admitted' read as date", "'sofa' read as integer", "'dx': none of its"):
        assert said in notes


def test_a_column_whose_kind_nothing_says_is_asked_for():
    with pytest.raises(DataError, match="'comment' has no kind"):
        generate_from_schema(_schema([{"name": "comment"}]), 10, seed=0)
