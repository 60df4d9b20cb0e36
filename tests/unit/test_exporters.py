"""The exporter layer (issue 19, item 2): one interface, a registry, atomic writes, one FHIR
mapping for tables and cohorts, a data card without any row's value."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from synthpatient import ColumnSpec, Schema
from synthpatient._io import read_table
from synthpatient.errors import (
    DataError,
    FileIOError,
    InvalidParameterError,
    UnknownExporterError,
)
from synthpatient.exporters import (
    Table,
    available_exporters,
    checksums,
    exporter_for_path,
    get_exporter,
    get_exporter_class,
    map_table,
)
from synthpatient.knowledge import load_knowledge_base
from synthpatient.knowledge.sampler import CohortSampler, CohortSpec
from tests.conftest import make_clinical_table

SECRET = 987654.125  # a "patient's" value: no card, notice or message may show it
LOINC = "http://loinc.org"


@pytest.fixture(scope="module")
def table() -> Table:
    frame = make_clinical_table(60, seed=2)
    frame.loc[5, "bmi"] = SECRET
    return Table(frame, Schema.infer(frame))


@pytest.fixture(scope="module")
def cohort():
    return CohortSampler(load_knowledge_base()).sample(
        CohortSpec(condition="type2_diabetes", n=12, seed=5, n_observations=6)
    )


@pytest.fixture(scope="module")
def evaluation(table):
    from synthpatient.evaluation.evaluate import evaluate
    from synthpatient.synthesizers.copula import GaussianCopulaSynthesizer

    model = GaussianCopulaSynthesizer(seed=0).fit(table.frame, schema=table.schema)
    synthetic = model.sample(60, seed=1)
    return synthetic, evaluate(table.frame, synthetic, schema=model.schema_)


# -- the registry ----------------------------------------------------------------------------
def test_every_registered_exporter_declares_the_contract():
    assert set(available_exporters()) >= {
        "csv",
        "tsv",
        "parquet",
        "fhir_bundles",
        "fhir_ndjson",
        "html_report",
        "datacard",
        "datacard_json",
        "jsonl",
    }
    for key in available_exporters():
        klass = get_exporter_class(key)
        assert klass.key == key and klass.description and klass.accepts
        assert klass.kind in ("file", "folder")
        assert (klass.kind == "file") == bool(klass.suffixes)
        assert klass.__doc__ and "Examples:" in klass.__doc__


def test_unknown_format_and_extension_are_one_line_listing_the_known():
    with pytest.raises(UnknownExporterError) as caught:
        get_exporter("xlsx")
    assert "csv" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(UnknownExporterError, match=r"extension.*\.csv.*\.parquet"):
        exporter_for_path("out.xlsx")
    assert exporter_for_path("OUT.PQ").key == "parquet"
    assert exporter_for_path("s.tsv").key == "tsv" and exporter_for_path("s.jsonl").key == "jsonl"


# -- tables ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["t.csv", "t.tsv", "t.parquet"])
def test_table_formats_round_trip_and_match_their_bytes(tmp_path, table, name):
    exporter = exporter_for_path(name)
    path = exporter.export(table, tmp_path / name)
    back = read_table(path)
    assert list(back.columns) == list(table.frame.columns) and len(back) == len(table.frame)
    assert back["bmi"].iloc[5] == SECRET
    assert exporter.to_bytes(table.frame) == path.read_bytes()  # one writer, disk or memory
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary left


def test_an_existing_file_is_kept_unless_overwrite(tmp_path, table):
    target = tmp_path / "s.csv"
    target.write_text("precious\n")
    with pytest.raises(FileIOError, match="already exists"):
        get_exporter("csv").export(table, target)
    assert target.read_text() == "precious\n"
    get_exporter("csv").export(table, target, overwrite=True)
    assert len(pd.read_csv(target)) == len(table.frame)


def test_wrong_input_option_or_suffix_is_one_line(tmp_path, table):
    cases = [
        (
            lambda: get_exporter("html_report").export(table, tmp_path / "r.html"),
            "writes an EvaluationReport; got a table",
        ),
        (lambda: get_exporter("csv").export({"a": [1]}, tmp_path / "a.csv"), "got a dict"),
        (lambda: get_exporter("csv").export(table, tmp_path / "a.csv", sep=";"), "no option 'sep'"),
        (lambda: get_exporter("parquet").export(table, tmp_path / "a.csv"), "ending in .parquet"),
        (lambda: get_exporter("fhir_ndjson").to_text(table), "not text"),
    ]
    for call, expected in cases:
        with pytest.raises(InvalidParameterError) as caught:
            call()
        assert expected in str(caught.value) and "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_a_column_parquet_refuses_leaves_nothing_and_is_named_not_shown(tmp_path):
    frame = pd.DataFrame({"code": [1, "SECRET-VALUE-77", 2.5]})
    with pytest.raises(DataError, match="'code'") as caught:
        get_exporter("parquet").export(frame, tmp_path / "t.parquet")
    assert "SECRET-VALUE-77" not in str(caught.value) and list(tmp_path.iterdir()) == []


def test_a_cohort_given_to_a_table_format_is_its_patients_table(tmp_path, cohort):
    path = get_exporter("csv").export(cohort, tmp_path / "p.csv")
    back = pd.read_csv(path)
    assert list(back.columns) == list(cohort.wide.columns)
    assert back["birth_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()  # dates as text


# -- one FHIR mapping --------------------------------------------------------------------------
def test_a_table_maps_known_columns_to_loinc_and_names_every_other(table):
    mapping = map_table(table.frame, table.schema)
    coded = {c.column: c.loinc for c in mapping.observations}
    assert coded == {"bmi": "39156-5", "hba1c": "4548-4", "ldl": "13457-7"}
    assert (mapping.patient_id, mapping.gender) == ("patient_id", "sex")
    left_out = {column for column, _ in mapping.unmapped}
    roles = {mapping.patient_id, mapping.gender}
    assert left_out | set(coded) | roles == set(table.frame.columns)  # none silently dropped
    notice = mapping.notice()
    assert all(column in notice for column in left_out) and str(SECRET) not in notice


def test_a_column_is_coded_by_its_name_or_code_not_by_a_loose_synonym():
    frame = pd.DataFrame(
        {
            "blood_pressure": [93.0, 101.0],
            "gender": [1, 2],
            "chol": [180.0, 210.0],
            "weight": [70.0, 80.0],
            "Hemoglobin A1c": [6.1, 7.2],
        }
    )
    schema = Schema(
        columns=(
            ColumnSpec(name="blood_pressure", kind="numeric"),
            ColumnSpec(name="gender", kind="integer"),
            ColumnSpec(name="chol", kind="numeric", code="2093-3"),
            ColumnSpec(name="weight", kind="numeric", unit="lb"),
            ColumnSpec(name="Hemoglobin A1c", kind="numeric", unit="%"),
        )
    )
    mapping = map_table(frame, schema)
    assert {c.column: c.loinc for c in mapping.observations} == {
        "chol": "2093-3",
        "Hemoglobin A1c": "4548-4",
    }
    reasons = dict(mapping.unmapped)
    assert reasons["blood_pressure"].startswith("no LOINC code")  # not "systolic" by synonym
    assert "female" in reasons["gender"]  # 1/2 codes do not say which is which
    assert reasons["weight"] == "unit lb, not the knowledge base's kg"
    assert dict(mapping.assumed_units) == {"chol": "mg/dL"}


def test_table_ndjson_is_valid_coded_and_its_references_resolve(tmp_path, table):
    from fhir.resources.R4B import get_fhir_model_class

    folder = get_exporter("fhir_ndjson").export(table, tmp_path / "fhir")
    assert sorted(p.name for p in folder.iterdir()) == ["Observation.ndjson", "Patient.ndjson"]
    patients = [json.loads(x) for x in (folder / "Patient.ndjson").read_text().splitlines()]
    observations = [json.loads(x) for x in (folder / "Observation.ndjson").read_text().splitlines()]
    assert len(patients) == 60 and {p["gender"] for p in patients} == {"female", "male"}
    assert len(observations) == 3 * 60 - int(table.frame["ldl"].isna().sum())
    known = {f"Patient/{p['id']}" for p in patients}
    for resource in patients + observations:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    assert {o["subject"]["reference"] for o in observations} <= known
    assert {c["system"] for o in observations for c in o["code"]["coding"]} == {LOINC}
    assert SECRET in {o["valueQuantity"]["value"] for o in observations}


def test_a_cohort_goes_through_the_same_mapping_and_writers(tmp_path, cohort):
    from synthpatient.knowledge.fhir import ndjson_resources

    folder = get_exporter("fhir_ndjson").export(cohort, tmp_path / "ndjson")
    grouped = ndjson_resources(cohort)
    for kind, items in grouped.items():
        lines = (folder / f"{kind}.ndjson").read_text().splitlines()
        assert [json.loads(x) for x in lines] == items
    bundles = get_exporter("fhir_bundles").export(cohort, tmp_path / "bundles")
    names = sorted(p.name for p in bundles.iterdir())
    assert names == sorted(f"{pid}.json" for pid in cohort.wide["patient_id"])
    archive = zipfile.ZipFile(io.BytesIO(get_exporter("fhir_ndjson").to_bytes(cohort)))
    assert sorted(archive.namelist()) == sorted(p.name for p in folder.iterdir())
    assert archive.read("Patient.ndjson") == (folder / "Patient.ndjson").read_bytes()


def test_a_folder_export_into_a_missing_folder_is_one_line(tmp_path, cohort):
    with pytest.raises(FileIOError, match="does not exist") as caught:
        get_exporter("fhir_bundles").export(cohort, tmp_path / "no" / "fhir")
    assert "\n" not in str(caught.value) and list(tmp_path.iterdir()) == []


# -- report and data card --------------------------------------------------------------------
def test_html_report_exporter_writes_the_reports_page(tmp_path, evaluation):
    _, report = evaluation
    path = get_exporter("html_report").export(report, tmp_path / "report.html")
    assert path.read_text().startswith("<!doctype html>")


def test_the_data_card_describes_without_any_value(tmp_path, table, evaluation):
    synthetic, report = evaluation
    synthetic.loc[0, "bmi"] = SECRET - 1  # a synthetic value must not show either
    data = get_exporter("csv").export(Table(synthetic, table.schema), tmp_path / "s.csv")
    options = {
        "synthesizer": "copula",
        "seed": 1,
        "parameters": {"seed": 0},
        "training_rows": 60,
        "evaluation": report,
        "files": {"s.csv": data},
    }
    markdown = (
        get_exporter("datacard")
        .export(Table(synthetic, table.schema), tmp_path / "card.md", **options)
        .read_text()
    )
    card = json.loads(
        get_exporter("datacard_json").to_text(Table(synthetic, table.schema), **options)
    )
    assert card["files"] == checksums({"s.csv": data})
    assert card["files"]["s.csv"]["sha256"] in markdown
    assert {c["name"] for c in card["schema"]} == set(table.frame.columns)
    assert "quality" in {r["metric"] for r in card["evaluation"]["scores"]}
    assert card["generation"]["seed"] == 1 and card["limits"] and card["intended_use"]
    for text in (markdown, json.dumps(card)):
        for value in (SECRET, SECRET - 1, "Person 3 Realname", "unknown-rare", "cardiac"):
            assert str(value) not in text  # no value, no category list
    assert "## Evaluation" in markdown and "| quality |" in markdown


def test_a_cohorts_data_card_cites_its_sources(cohort):
    card = json.loads(get_exporter("datacard_json").to_text(cohort))
    assert card["dataset"]["kind"] == "knowledge-driven cohort"
    assert {s["id"] for s in card["sources"]} == set(cohort.sources_used)
    hba1c = next(c for c in card["schema"] if c["name"] == "hba1c")
    assert hba1c["code"] == "LOINC 4548-4" and hba1c["unit"] == "%"
    assert card["generation"]["seed"] == 5


def test_the_cohort_folder_records_every_files_checksum(tmp_path, cohort):
    from synthpatient.knowledge.outputs import write_cohort

    files = write_cohort(
        cohort, tmp_path / "c", kb=load_knowledge_base(), formats=["csv", "fhir", "fhir-ndjson"]
    )
    folder = files["provenance"].parent
    provenance = json.loads((folder / "provenance.json").read_text())
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert set(provenance["sha256"]) == on_disk - {"provenance.json"}
    assert "fhir/" + next(iter(sorted(p.name for p in files["fhir"].iterdir()))) in on_disk
    assert "race_ethnicity" not in provenance["fhir_left_out"]  # US Core extensions now


# -- a format added in two files: JSON Lines -----------------------------------------------------
def test_json_lines_round_trips_a_table(tmp_path, table):
    path = exporter_for_path("s.jsonl").export(table, tmp_path / "s.jsonl")
    back = pd.read_json(path, lines=True)
    assert list(back.columns) == list(table.frame.columns) and len(back) == len(table.frame)
    assert back["bmi"].iloc[5] == SECRET and back["ldl"].isna().sum() > 0
    first = json.loads(Path(path).read_text().splitlines()[0])
    assert first["admitted"].startswith("20") and first["cause_of_death"] in (
        None,
        "cardiac",
        "cancer",
        "infection",
    )
