"""The shipped knowledge base loads, is internally consistent, and broken edits fail clearly."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import pytest

from synthpatient.errors import KnowledgeBaseError
from synthpatient.knowledge import load_from_folder, load_knowledge_base

DATA = Path(str(resources.files("synthpatient.knowledge") / "data"))


def test_type2_diabetes_has_twenty_ranked_coded_observations():
    condition = load_knowledge_base().conditions["type2_diabetes"]
    ranked = condition.ranked_observations
    assert len(ranked) >= 20
    assert [o.rank for o in ranked] == list(range(1, len(ranked) + 1))
    assert ranked[0].key == "hba1c" and ranked[0].loinc == "4548-4" and ranked[0].unit == "%"
    assert all(o.unit and o.how_generated for o in ranked)
    assert {"hypertension", "chronic_kidney_disease"} <= {c.key for c in condition.comorbidities}
    assert next(m for m in condition.medications if m.key == "metformin").rxnorm == "6809"


def test_every_cited_source_exists_and_unverified_ones_say_so():
    kb = load_knowledge_base()
    for condition in kb.conditions.values():
        assert set(condition.cited_sources()) <= set(kb.sources)
    assert "not verified" in kb.sources["adag_2008"].citation()
    assert "not verified" not in kb.sources["bailey_2014"].citation()


@pytest.mark.parametrize(
    "text",
    [
        "2000 Type 2 diabetes patients",
        "T2D cohort",
        "women with type II diabetes",
        "diabetic patients aged 40 to 65",
    ],
)
def test_condition_synonyms(text):
    assert load_knowledge_base().find_condition(text).key == "type2_diabetes"


def test_unknown_condition_and_observation_are_none():
    kb = load_knowledge_base()
    assert kb.find_condition("patients with a broken leg") is None
    assert kb.find_observation("eye colour") is None


@pytest.mark.parametrize(
    "text,key",
    [
        ("4548-4", "hba1c"),
        ("A1c", "hba1c"),
        ("fasting glucose", "fasting_glucose"),
        ("eGFR", "egfr"),
    ],
)
def test_find_observation(text, key):
    assert load_knowledge_base().find_observation(text)[1].key == key


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "kb"
    shutil.copytree(DATA, folder)
    return folder


def test_an_undefined_source_is_named(tmp_path):
    folder = _copy(tmp_path)
    path = folder / "type2_diabetes.yaml"
    path.write_text(path.read_text().replace("[adag_2008, dia_2018_ch9]", "[adag_2009]"))
    with pytest.raises(KnowledgeBaseError, match="adag_2009"):
        load_from_folder(folder)


def test_malformed_yaml_gives_the_line(tmp_path):
    folder = _copy(tmp_path)
    (folder / "type2_diabetes.yaml").write_text("key: x\nname: [unclosed\n")
    with pytest.raises(KnowledgeBaseError, match=r"type2_diabetes.yaml line \d+"):
        load_from_folder(folder)


def test_a_bad_loinc_code_is_rejected(tmp_path):
    folder = _copy(tmp_path)
    path = folder / "type2_diabetes.yaml"
    path.write_text(path.read_text().replace("loinc: 4548-4", "loinc: HBA1C"))
    with pytest.raises(KnowledgeBaseError, match="LOINC"):
        load_from_folder(folder)
