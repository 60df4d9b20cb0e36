"""A knowledge-driven cohort's history written out (issue 15, item 4): tables (patients,
encounters, observations over time, medications with start and stop, conditions with onset) as
CSV/Parquet with a data card that lists them, and FHIR R4 with an Encounter per visit, checked
against the official R4 JSON schema and for references that resolve inside each bundle.

The history is built here by hand (three patients), in the agreed ``CohortTimeline`` shape, so
these tests check the writers, not the simulation."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from synthpatient.errors import DataError
from synthpatient.exporters import cohort_tables, get_exporter
from synthpatient.knowledge import load_knowledge_base
from synthpatient.knowledge.sampler import CohortSampler, CohortSpec
from synthpatient.knowledge.timeline import CohortTimeline

KB = load_knowledge_base()
SCHEMA = Path(__file__).resolve().parents[1] / "data" / "fhir.schema.json.gz"
SECRET = 987654.125  # a "patient's" value: no data card or message may show it
TABLES = ["patients", "encounters", "observations", "medications", "conditions"]
_KINDS = {
    "Encounter": "encounters",
    "Observation": "observations",
    "MedicationRequest": "medications",
    "Condition": "conditions",
}

# (patient, encounter, date, kind, reason): three patients, nine visits
VISITS = [
    (0, "E1", "2021-01-10", "diagnosis", "new diagnosis"),
    (0, "E2", "2021-04-12", "follow-up", "HbA1c above target"),
    (0, "E3", "2021-10-15", "follow-up", ""),
    (0, "E4", "2022-01-20", "annual review", "annual review"),
    (1, "E5", "2020-06-01", "diagnosis", "new diagnosis"),
    (1, "E6", "2020-12-02", "follow-up", ""),
    (1, "E7", "2021-06-03", "annual review", "annual review"),
    (2, "E8", "2022-03-04", "diagnosis", "new diagnosis"),
    (2, "E9", "2022-09-05", "event", "chest pain"),
]
# (patient, medication, start, stop or None, reason)
PRESCRIPTIONS = [
    (0, "metformin", "2021-01-10", "2021-10-15", "HbA1c above target: step 1"),
    (0, "sglt2i", "2021-10-15", None, "HbA1c above target at two visits: step 2"),
    (1, "metformin", "2020-06-01", None, "HbA1c above target: step 1"),
]


def _history(cohort):  # type: ignore[no-untyped-def]
    """A small history in the interface's shape, coded from the cohort's knowledge base."""
    condition, wide = cohort.condition, cohort.wide
    pid = list(wide["patient_id"])
    day = pd.Timestamp
    encounters = pd.DataFrame(
        {
            "patient_id": [pid[p] for p, *_ in VISITS],
            "encounter_id": [e for _, e, *_ in VISITS],
            "date": [day(d) for _, _, d, *_ in VISITS],
            "kind": [k for *_, k, _ in VISITS],
            "reason": [r for *_, r in VISITS],
        }
    )
    observed = {o.key: o for o in condition.observations}
    rows = []
    for p, eid, date, *_ in VISITS:
        for n, key in enumerate(("hba1c", "bmi")):
            o = observed[key]
            value = 7.0 + 0.1 * len(rows) if key == "hba1c" else 30.0 - n
            rows.append((pid[p], eid, key, o.name, o.loinc, value, o.unit, day(date)))
    observations = pd.DataFrame(
        rows,
        columns=[
            "patient_id",
            "encounter_id",
            "observation",
            "name",
            "loinc",
            "value",
            "unit",
            "effective_date",
        ],
    )
    drugs = {m.key: m for m in condition.medications}
    medications = pd.DataFrame(
        {
            "patient_id": [pid[p] for p, *_ in PRESCRIPTIONS],
            "medication": [m for _, m, *_ in PRESCRIPTIONS],
            "name": [drugs[m].name for _, m, *_ in PRESCRIPTIONS],
            "rxnorm": [drugs[m].rxnorm for _, m, *_ in PRESCRIPTIONS],
            "start_date": [day(s) for *_, s, _, _ in PRESCRIPTIONS],
            "stop_date": pd.to_datetime([e for *_, e, _ in PRESCRIPTIONS]),
            "reason": [r for *_, r in PRESCRIPTIONS],
        }
    )
    ckd = next(c for c in condition.comorbidities if c.key == "chronic_kidney_disease")
    firsts = encounters.groupby("patient_id")["date"].min()
    conditions = pd.DataFrame(
        {
            "patient_id": [*pid, pid[0]],
            "condition": [condition.key] * 3 + [ckd.key],
            "name": [condition.name] * 3 + [ckd.name],
            "snomed": [condition.snomed] * 3 + [ckd.snomed],
            "icd10": [condition.icd10] * 3 + [""],
            "onset_date": [*(firsts[p] for p in pid), day("2022-01-20")],
        }
    )
    return CohortTimeline(
        encounters=encounters,
        observations=observations,
        medications=medications,
        conditions=conditions,
        sources_used=["ada_soc_2025"],
    )


@pytest.fixture(scope="module")
def plain():
    return CohortSampler(KB).sample(
        CohortSpec(condition="type2_diabetes", n=3, seed=7, n_observations=4)
    )


@pytest.fixture(scope="module")
def cohort(plain):
    history = _history(plain)
    wide = plain.wide.copy()  # the patients table agrees with the history's dates
    dates = history.encounters.groupby("patient_id")["date"]
    wide["diagnosis_date"] = wide["patient_id"].map(dates.min())
    wide["last_visit_date"] = wide["patient_id"].map(dates.max())
    return replace(plain, wide=wide, timeline=history)


@pytest.fixture(scope="module")
def validators():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(gzip.decompress(SCHEMA.read_bytes()))
    cache: dict = {}

    def get(kind: str):  # type: ignore[no-untyped-def]
        if kind not in cache:
            cache[kind] = jsonschema.Draft6Validator(
                {"$ref": f"#/definitions/{kind}", "definitions": schema["definitions"]}
            )
        return cache[kind]

    return get


def _references(node) -> list[str]:  # type: ignore[no-untyped-def]
    if isinstance(node, dict):
        own = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return own + [r for v in node.values() for r in _references(v)]
    if isinstance(node, list):
        return [r for v in node for r in _references(v)]
    return []


def _of(frame: pd.DataFrame, pid: str) -> pd.DataFrame:
    return frame[frame["patient_id"] == pid]


def _bundles(cohort) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    from synthpatient.knowledge.fhir import patient_bundles

    return dict(patient_bundles(cohort))


# -- tables --------------------------------------------------------------------------------------
def test_without_a_history_the_tables_are_as_before(plain):
    tables = cohort_tables(plain)
    assert list(tables) == ["patients", "observations"]
    assert list(tables["observations"].frame.columns) == list(plain.long().columns)


def test_a_history_gives_five_tables_with_dates_as_text(cohort):
    tables = cohort_tables(cohort)
    assert list(tables) == TABLES
    history = cohort.timeline
    for name in TABLES[1:]:
        assert len(tables[name].frame) == len(getattr(history, name))
    observations = tables["observations"].frame
    assert {"encounter_id", "effective_date", "loinc", "unit"} <= set(observations.columns)
    assert observations["effective_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    medications = tables["medications"].frame
    assert medications["stop_date"].isna().sum() == 2  # ongoing: no stop date
    assert medications["start_date"].tolist()[:2] == ["2021-01-10", "2021-10-15"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_cohort_folder_writes_every_table_and_the_card_lists_them(tmp_path, cohort, fmt):
    from synthpatient.knowledge.outputs import write_cohort

    history = cohort.timeline
    secret = _broken(cohort, "observations", lambda f: f.loc.__setitem__((0, "value"), SECRET))
    files = write_cohort(secret, tmp_path / "c", kb=KB, formats=[fmt])
    folder = files["provenance"].parent
    suffix = ".csv" if fmt == "csv" else ".parquet"
    for name in TABLES:
        path = folder / f"{name}{suffix}"
        back = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
        expected = cohort.wide if name == "patients" else getattr(history, name)
        assert len(back) == len(expected) and list(back.columns) == list(expected.columns)
    provenance = json.loads((folder / "provenance.json").read_text())
    assert {f"{name}{suffix}" for name in TABLES} <= set(provenance["sha256"])
    assert "ada_soc_2025" in {s["id"] for s in provenance["sources"]}
    card = json.loads((folder / "datacard.json").read_text())
    listed = {t["name"]: t for t in card["tables"]}
    assert list(listed) == TABLES
    for name in TABLES:
        frame = cohort.wide if name == "patients" else getattr(history, name)
        entry = listed[name]
        assert entry["file"] == f"{name}{suffix}" and entry["rows"] == len(frame)
        assert [c["name"] for c in entry["columns"]] == list(frame.columns)
        assert entry["patients"] == frame["patient_id"].nunique() and entry["one_row_per"]
    assert {"name": "stop_date", "kind": "datetime"} in listed["medications"]["columns"]
    markdown = (folder / "datacard.md").read_text()
    assert "## Tables" in markdown
    assert all(f"| {name} | {name}{suffix} |" in markdown for name in TABLES)
    for text in (markdown, json.dumps(card)):
        assert str(SECRET) not in text


def test_a_card_without_a_history_has_no_tables_section(plain):
    card = json.loads(get_exporter("datacard_json").to_text(plain))
    assert "tables" not in card
    assert "## Tables" not in get_exporter("datacard").to_text(plain)


# -- FHIR --------------------------------------------------------------------------------------
def test_each_visit_is_an_encounter_and_each_value_is_dated_at_its_visit(cohort):
    bundles = _bundles(cohort)
    history = cohort.timeline
    assert set(bundles) == set(cohort.wide["patient_id"])
    for pid, bundle in bundles.items():
        resources = [e["resource"] for e in bundle["entry"]]
        kinds = Counter(r["resourceType"] for r in resources)
        mine = {name: _of(getattr(history, name), pid) for name in TABLES[1:]}
        assert kinds["Patient"] == 1
        assert kinds["Encounter"] == len(mine["encounters"])
        assert kinds["Observation"] == len(mine["observations"])
        assert kinds["MedicationRequest"] == len(mine["medications"])
        assert kinds["Condition"] == len(mine["conditions"])
        visits = {f"urn:uuid:{r['id']}": r for r in resources if r["resourceType"] == "Encounter"}
        days = sorted(v["period"]["start"] for v in visits.values())
        assert days == [d.strftime("%Y-%m-%d") for d in mine["encounters"]["date"]]
        for visit in visits.values():
            assert visit["status"] == "finished" and visit["class"]["code"] == "AMB"
            assert visit["period"]["start"] == visit["period"]["end"]
            assert visit["subject"]["reference"] == f"urn:uuid:{resources[0]['id']}"
        for obs in (r for r in resources if r["resourceType"] == "Observation"):
            visit = visits[obs["encounter"]["reference"]]
            assert obs["effectiveDateTime"] == visit["period"]["start"]
            assert obs["valueQuantity"]["system"] == "http://unitsofmeasure.org"
    first = [e["resource"] for e in bundles[cohort.wide["patient_id"][0]]["entry"]]
    reasons = [r.get("reasonCode") for r in first if r["resourceType"] == "Encounter"]
    assert reasons[1] == [{"text": "HbA1c above target"}] and reasons[2] is None


def test_prescriptions_have_their_period_and_conditions_their_onset(cohort):
    pid = cohort.wide["patient_id"][0]
    resources = [e["resource"] for e in _bundles(cohort)[pid]["entry"]]
    visit_on = {
        r["period"]["start"]: f"urn:uuid:{r['id']}"
        for r in resources
        if r["resourceType"] == "Encounter"
    }
    stopped, ongoing = (r for r in resources if r["resourceType"] == "MedicationRequest")
    assert stopped["status"] == "stopped" and ongoing["status"] == "active"
    assert stopped["authoredOn"] == "2021-01-10"
    bounds = stopped["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"]
    assert bounds == {"start": "2021-01-10", "end": "2021-10-15"}
    assert ongoing["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"] == {
        "start": "2021-10-15"
    }
    assert ongoing["encounter"]["reference"] == visit_on["2021-10-15"]
    assert ongoing["reasonCode"][0]["text"].endswith("step 2")
    coding = ongoing["medicationCodeableConcept"]["coding"][0]
    assert coding["system"].endswith("rxnorm") and coding["code"]
    diabetes, ckd = (r for r in resources if r["resourceType"] == "Condition")
    assert diabetes["onsetDateTime"] == "2021-01-10" == diabetes["recordedDate"]
    assert {c["code"] for c in diabetes["code"]["coding"]} == {"44054006", "E11.9"}
    assert ckd["onsetDateTime"] == "2022-01-20"
    assert ckd["encounter"]["reference"] == visit_on["2022-01-20"]


def test_history_bundles_meet_the_r4_schema_and_every_reference_resolves(cohort, validators):
    bundles = _bundles(cohort)
    checked = 0
    for i, bundle in enumerate(bundles.values()):
        urls = [e["fullUrl"] for e in bundle["entry"]]
        assert len(set(urls)) == len(urls)  # ids unique within the bundle
        for entry in bundle["entry"]:
            resource = entry["resource"]
            errors = [e.message for e in validators(resource["resourceType"]).iter_errors(resource)]
            assert not errors, errors[:3]
            assert set(_references(resource)) <= set(urls)
            checked += 1
        if i == 0:  # one whole bundle too (slow: the schema tries every resource type)
            assert not list(validators("Bundle").iter_errors(bundle))
    assert checked == 3 + sum(len(getattr(cohort.timeline, t)) for t in TABLES[1:])
    assert _bundles(cohort) == bundles  # the same history gives the same ids


def test_the_schema_check_is_live(cohort, validators):
    resource = next(
        e["resource"]
        for e in next(iter(_bundles(cohort).values()))["entry"]
        if e["resource"]["resourceType"] == "MedicationRequest"
    )
    resource["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"]["end"] = "2021-13-45"
    assert list(validators("MedicationRequest").iter_errors(resource))


def test_history_ndjson_references_resolve_across_files(tmp_path, cohort, validators):
    folder = get_exporter("fhir_ndjson").export(cohort, tmp_path / "ndjson")
    found = {
        p.stem: [json.loads(line) for line in p.read_text().splitlines()] for p in folder.iterdir()
    }
    assert set(found) == {"Patient", "Encounter", "Condition", "Observation", "MedicationRequest"}
    known = {f"{kind}/{r['id']}" for kind, items in found.items() for r in items}
    assert len(known) == sum(len(items) for items in found.values())  # ids unique
    for items in found.values():
        for resource in items:
            assert not list(validators(resource["resourceType"]).iter_errors(resource))
            assert set(_references(resource)) <= known
    assert len(found["Observation"]) == len(cohort.timeline.observations)
    assert all(o["encounter"]["reference"].startswith("Encounter/") for o in found["Observation"])


def test_a_missing_value_is_written_as_absent_not_dropped(cohort, validators):
    history = cohort.timeline
    observations = history.observations.copy()
    observations.loc[3, "value"] = float("nan")
    broken = replace(cohort, timeline=replace(history, observations=observations))
    pid = observations.loc[3, "patient_id"]
    resources = [e["resource"] for e in _bundles(broken)[pid]["entry"]]
    absent = [r for r in resources if "dataAbsentReason" in r]
    assert len(absent) == 1 and "valueQuantity" not in absent[0]
    assert not list(validators("Observation").iter_errors(absent[0]))
    observed = sum(r["resourceType"] == "Observation" for r in resources)
    assert observed == len(_of(observations, pid))


def _broken(cohort, name: str, change):  # type: ignore[no-untyped-def]
    frame = getattr(cohort.timeline, name).copy()
    change(frame)
    return replace(cohort, timeline=replace(cohort.timeline, **{name: frame}))


@pytest.mark.parametrize(
    "name,change,expected",
    [
        ("observations", lambda f: f.__setitem__("encounter_id", "E404"), "name no visit"),
        ("encounters", lambda f: f.__setitem__("encounter_id", "E1"), "more than one visit"),
        ("conditions", lambda f: f.__setitem__("patient_id", "P9999999"), "not in the cohort"),
        ("medications", lambda f: f.__setitem__("start_date", "2021-01-10"), "does not hold dates"),
        ("encounters", lambda f: f.__delitem__("date"), "no 'date' column"),
    ],
)
def test_a_broken_history_is_one_line_and_writes_nothing(tmp_path, cohort, name, change, expected):
    broken = _broken(cohort, name, change)
    for key in ("fhir_bundles", "fhir_ndjson"):
        with pytest.raises(DataError) as caught:
            get_exporter(key).export(broken, tmp_path / key)
        message = str(caught.value)
        assert expected in message and "\n" not in message
        assert "P0000001" not in message and "P9999999" not in message  # no patient value
    assert list(tmp_path.iterdir()) == []


def test_a_simulated_history_is_written_whole_and_valid(tmp_path, validators):
    """The real simulation (``knowledge.timeline``) through the same writers: every row of the
    history is a resource, every resource meets the R4 schema, every reference resolves."""
    from synthpatient.knowledge.outputs import write_cohort
    from synthpatient.knowledge.timeline import FollowUp, simulate_timeline

    drawn = CohortSampler(KB).sample(
        CohortSpec(condition="type2_diabetes", n=12, seed=11, n_observations=5)
    )
    cohort = simulate_timeline(drawn, FollowUp(2.0, "2 years of follow-up"))
    history = cohort.timeline
    files = write_cohort(cohort, tmp_path / "c", kb=KB, formats=["csv", "fhir"])
    for name in TABLES[1:]:
        assert len(pd.read_csv(files[name])) == len(getattr(history, name))
    kinds: Counter[str] = Counter()
    for path in sorted(files["fhir"].iterdir()):
        bundle = json.loads(path.read_text())
        urls = {e["fullUrl"] for e in bundle["entry"]}
        for entry in bundle["entry"]:
            resource = entry["resource"]
            kinds[resource["resourceType"]] += 1
            assert not list(validators(resource["resourceType"]).iter_errors(resource))
            assert set(_references(resource)) <= urls
    expected = {"Patient": len(cohort.wide)}
    expected.update({kind: len(getattr(history, t)) for kind, t in _KINDS.items()})
    assert kinds == expected
