"""Identifiers and free text found at the patient level and by content, every decision with a
reason, uncertain columns flagged, names that agree with sex (issue 16, item 1)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from faker import Faker
from faker.providers.person.en_US import Provider as PersonProvider
from typer.testing import CliRunner

from synthpatient import datasets
from synthpatient.errors import SynthPatientWarning
from synthpatient.schema import ColumnDecision, ColumnSpec, Schema, explain_schema, infer_schema
from synthpatient.schema._sensitive import detect_content, profile_text
from synthpatient.synthesizers._identifiers import sex_labels
from synthpatient.synthesizers.copula import GaussianCopulaSynthesizer
from tests.conftest import make_clinical_table

IDENTIFYING = ("mrn", "full_name", "phone", "email", "remark")


def make_visits(n_patients: int = 120, seed: int = 0, *, with_sex: bool = True) -> pd.DataFrame:
    """Several visits per patient; the MRN, name, phone, email and a remark repeat on each."""
    rng = np.random.default_rng(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rows = []
    for _ in range(n_patients):
        sex = str(rng.choice(["F", "M"]))
        patient = {
            "mrn": f"MRN{rng.integers(10**6, 10**7)}",
            "full_name": fake.name_female() if sex == "F" else fake.name_male(),
            "phone": fake.phone_number(),
            "email": fake.email(),
            "sex": sex,
            "birth_year": int(rng.integers(1940, 2000)),
            "remark": fake.sentence(nb_words=8),
        }
        for _ in range(int(rng.integers(1, 6))):
            visit = pd.Timestamp("2020-01-01") + pd.Timedelta(days=int(rng.integers(900)))
            rows.append(
                {
                    **patient,
                    "visit_date": str(visit)[:10],
                    "hba1c": round(float(rng.normal(7, 1)), 1),
                }
            )
    frame = pd.DataFrame(rows)
    return frame if with_sex else frame.drop(columns=["sex", "birth_year"])


@pytest.fixture(scope="module")
def visits() -> pd.DataFrame:
    return make_visits()


def _kinds(schema: Schema) -> dict[str, str]:
    return {c.name: c.kind for c in schema}


@pytest.mark.parametrize(
    "names",
    [
        {},
        {"mrn": "ref", "full_name": "patient", "phone": "contact_no", "remark": "notes"},
        {"mrn": "x1", "full_name": "contact", "phone": "x3", "email": "x4", "remark": "x5"},
    ],
)
def test_repeated_identifiers_of_a_visit_table_are_never_learned(visits, names):
    frame = visits.rename(columns=names)
    schema, decisions = explain_schema(frame)
    kinds = _kinds(schema)
    for column in IDENTIFYING[:4]:
        assert kinds[names.get(column, column)] == "identifier", column
    assert kinds[names.get("remark", "remark")] == "text"
    assert schema[names.get("full_name", "full_name")].identifier_type == "name"
    assert schema[names.get("phone", "phone")].identifier_type == "phone"
    # what is constant within patients but shared between them stays what it is
    assert kinds["sex"] == "categorical" and kinds["birth_year"] == "integer"
    assert kinds["hba1c"] == "numeric" and kinds["visit_date"] == "datetime"
    keys = [d.name for d in decisions if d.patient_key]
    assert len(keys) == 1 and kinds[keys[0]] == "identifier"
    assert "patients" in schema_reason(decisions, "sex")  # shares counted over patients


def schema_reason(decisions: list[ColumnDecision], name: str) -> str:
    return next(d.reason for d in decisions if d.name == name)


def test_without_a_shared_attribute_content_still_flags_repeated_identifiers():
    frame = make_visits(with_sex=False).rename(
        columns={"mrn": "a", "full_name": "b", "phone": "c", "email": "d"}
    )
    schema, decisions = explain_schema(frame)
    assert not any(d.patient_key for d in decisions)  # no name, no evidence: no key claimed
    assert [schema[c].kind for c in "abcd"] == ["identifier"] * 4
    assert schema["remark"].kind == "text"


def test_reasons_never_quote_a_value(visits):
    _, decisions = explain_schema(visits)
    text = " ".join(d.reason for d in decisions)
    for column in ("mrn", "full_name", "phone", "email", "remark", "sex"):
        for value in visits[column].astype(str).unique()[:50]:
            assert value not in text, column
    assert all(d.reason for d in decisions)


def test_a_table_without_patients_keeps_its_clinical_columns():
    rng = np.random.default_rng(1)
    fake = Faker("en_US")
    fake.seed_instance(1)
    n = 600
    frame = pd.DataFrame(
        {
            "diagnosis_code": rng.choice(["E11.9", "I10", "J45.909", "N18.3", "E78.5"], n),
            "diagnosis_id": rng.integers(1, 40, n),
            "ward": rng.choice(["North Ward", "South Ward", "ICU"], n),
            "race": rng.choice(["White", "Black", "Asian", "Other"], n),
            "city": rng.choice([fake.city() for _ in range(40)], n),
            "drug": rng.choice(["Metformin 500 mg twice daily", "Atorvastatin 20 mg at night"], n),
            "doctor": rng.choice([fake.name() for _ in range(6)], n),
            "age": rng.integers(20, 90, n),
        }
    )
    schema, decisions = explain_schema(frame)
    assert not any(c.kind in ("identifier", "text") for c in schema)
    assert not any(d.patient_key for d in decisions)
    flagged = {d.name for d in decisions if d.uncertain}
    assert flagged == {"doctor"}  # person names shared between patients: kept, but flagged
    assert "person names" in schema_reason(decisions, "doctor")


def test_free_text_is_never_a_category_even_in_a_small_table():
    notes = [
        "reports mild chest pain after climbing stairs",
        "no complaints, sleeping well",
        "wound healing as expected, dressing changed",
        "dizzy on standing, fluids advised",
        "cough for three weeks, chest x-ray ordered",
        "blood sugar diary reviewed today",
    ]
    frame = pd.DataFrame({"comment": notes, "age": [40, 51, 62, 33, 70, 58]})
    assert Schema.infer(frame)["comment"].kind == "text"


def test_names_found_by_content_in_a_small_row_level_table():
    fake = Faker("en_US")
    fake.seed_instance(3)
    frame = pd.DataFrame({"who": [fake.name() for _ in range(8)], "age": range(30, 38)})
    schema = infer_schema(frame)
    assert schema["who"].kind == "identifier" and schema["who"].identifier_type == "name"


@pytest.mark.parametrize(
    "values, expected",
    [
        (
            [
                "Mary Smith",
                "John Brown",
                "Dr. Linda Davis",
                "James Wilson Jr.",
                "Smith, Anna",
                "ROBERT JONES",
            ],
            "name",
        ),
        (["Mary", "John", "Linda", "James", "Anna", "Robert"], "first_name"),
        (
            [
                "(555) 201-3344",
                "+1-292-918-4011",
                "565.270.7049x996",
                "020 7946 0018",
                "3434419254x12",
            ],
            "phone",
        ),
        (["a.b@example.org", "x_y@mail.co.uk", "n1@h.org"], "email"),
        (["206-42-9230", "123-45-6789", "078-05-1120"], "national_id"),
        (
            [
                "1777 Kramer Court",
                "743 Rachel Burgs, Apt. 3",
                "12 High St",
                "4B Mill Lane",
                "99 Elm Road",
            ],
            "address",
        ),
        (["MRN0012345", "MRN0099812", "MRN0051234", "MRN0012399", "MRN0077120"], "code"),
        (["North Ward", "South Ward", "East Ward", "West Ward", "Day Unit"], None),
        (["White", "Black", "Asian", "Other", "Mixed"], None),
        (["E11.9", "I10", "J45.909", "N18.3", "E78.5", "Z79.4"], None),
        (
            [
                "Metformin 500 mg",
                "Insulin glargine",
                "Atorvastatin 20 mg",
                "Ramipril 5 mg",
                "Aspirin 75 mg",
            ],
            None,
        ),
    ],
)
def test_content_detectors(values, expected):
    assert detect_content(values)[0] == expected


def test_free_text_shape():
    assert profile_text(
        [
            "patient reports mild chest pain",
            "no change since last visit",
            "seen with daughter, reviewed meds",
        ]
    ).free_text
    assert not profile_text(["female", "male"]).free_text


def test_uniqueness_is_judged_per_patient(visits):
    # 120 distinct codes over ~360 rows is a third of rows but one per patient
    patient = visits.groupby("mrn", sort=False).ngroup()
    words = np.array(
        [
            "amber",
            "brook",
            "cedar",
            "delta",
            "ember",
            "fjord",
            "grove",
            "heath",
            "inlet",
            "junco",
            "knoll",
        ]
    )
    frame = visits.assign(
        study_code=visits["mrn"].str.replace("MRN", "S-"),
        account=4_000 + patient,  # whole numbers, one run of numbers per patient
        motto=words[patient % 11] + " " + words[(patient // 11) % 11],  # nothing telling
    )
    schema, decisions = explain_schema(frame)
    assert schema["study_code"].kind == "identifier"
    assert schema["account"].identifier_type == "integer_id"
    motto = next(d for d in decisions if d.name == "motto")
    assert motto.kind == "identifier" and motto.uncertain  # identified by structure alone
    assert not next(d for d in decisions if d.name == "study_code").uncertain


def test_bundled_and_fixture_tables_infer_as_before():
    schema, decisions = explain_schema(make_clinical_table())
    ids = {c.name for c in schema if c.kind == "identifier"}
    assert ids == {"patient_id", "name", "email"}
    assert not any(d.uncertain for d in decisions)
    for key in ("diabetes", "breast_cancer"):
        schema, decisions = explain_schema(datasets.load(key))
        assert all(c.is_learned for c in schema), key
        assert not any(d.uncertain or d.patient_key for d in decisions), key


def test_a_large_visit_table_is_read_at_the_patient_level():
    rng = np.random.default_rng(2)
    n_patients = 12_000
    rows = rng.integers(1, 9, n_patients)
    who = np.repeat(np.arange(n_patients), rows)
    frame = pd.DataFrame(
        {
            "hospital_ref": np.array([f"H{i:07d}" for i in range(n_patients)])[who],
            "sex": rng.choice(["F", "M"], n_patients)[who],
            "phone_home": np.array([f"(555) 01{i % 100:02d}-{i:05d}" for i in range(n_patients)])[
                who
            ],
            "glucose": rng.normal(6, 1, len(who)).round(1),
        }
    )
    schema, decisions = explain_schema(frame)
    assert len(frame) > 50_000
    assert schema["hospital_ref"].kind == "identifier"
    assert schema["phone_home"].identifier_type == "phone"
    assert next(d for d in decisions if d.patient_key).name in ("hospital_ref", "phone_home")


def test_fit_warns_once_about_uncertain_columns_without_values():
    rng = np.random.default_rng(4)
    fake = Faker("en_US")
    fake.seed_instance(4)
    doctors = [fake.name() for _ in range(5)]
    frame = pd.DataFrame(
        {
            "doctor": rng.choice(doctors, 200),
            "age": rng.integers(20, 80, 200),
            "bmi": rng.normal(27, 4, 200).round(1),
        }
    )
    with pytest.warns(SynthPatientWarning) as caught:
        GaussianCopulaSynthesizer(seed=0).fit(frame)
    messages = [str(w.message) for w in caught if "unsure" in str(w.message)]
    assert len(messages) == 1 and "'doctor'" in messages[0]
    assert not any(name in messages[0] for name in doctors)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a given schema: nothing to be unsure about
        GaussianCopulaSynthesizer(seed=0).fit(frame, schema=Schema.infer(frame))


@pytest.mark.parametrize(
    "spec, sexes",
    [
        (ColumnSpec(name="sex", kind="categorical", categories=("F", "M")), {"female", "male"}),
        (
            ColumnSpec(name="Gender", kind="categorical", categories=("woman", "man", "unknown")),
            {"female", "male"},
        ),
        (
            ColumnSpec(name="sex (1=male, 2=female)", kind="categorical", categories=(1, 2)),
            {"female", "male"},
        ),
        (
            ColumnSpec(name="sex", kind="categorical", categories=(1, 2), description="1: F, 2: M"),
            {"female", "male"},
        ),
        (ColumnSpec(name="is_female", kind="boolean"), {"female", "male"}),
        (ColumnSpec(name="sex", kind="categorical", categories=(1, 2)), None),  # unlabelled codes
        (ColumnSpec(name="sex", kind="categorical", categories=("F", "M", "Q")), None),
        (ColumnSpec(name="smoker", kind="categorical", categories=("F", "M")), None),
    ],
)
def test_sex_columns_are_recognised_conservatively(spec, sexes):
    labels = sex_labels(spec)
    assert (labels if labels is None else set(labels.values())) == sexes


@pytest.mark.filterwarnings("ignore:Column 'remark' is free text")
def test_regenerated_names_agree_with_sex(visits):
    frame = visits.assign(first_name=visits["full_name"].str.split().str[0])
    synthetic = GaussianCopulaSynthesizer(seed=0).fit(frame).sample(300, seed=1)
    female = set(PersonProvider.first_names_female)
    male = set(PersonProvider.first_names_male)
    for first, full, sex in zip(
        synthetic["first_name"], synthetic["full_name"], synthetic["sex"], strict=True
    ):
        names = female if sex == "F" else male
        assert first in names
        given = [t for t in full.split() if t.rstrip(".") not in ("Mr", "Mrs", "Ms", "Miss", "Dr")]
        assert given[0] in names
    assert not set(synthetic["full_name"]) & set(visits["full_name"])


def test_cli_schema_prints_every_decision_and_categories_only_on_request(visits, tmp_path):
    from synthpatient.cli.app import app

    path = tmp_path / "visits.csv"
    visits.to_csv(path, index=False)
    runner = CliRunner()
    result = runner.invoke(
        app, ["schema", str(path), "--out", str(tmp_path / "s.json")], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    for column in visits.columns:
        assert column in result.output
    assert "patient key" in result.output and "Patient key: mrn" in result.output
    for column in ("mrn", "full_name", "phone", "email", "remark", "sex"):
        assert not any(str(v) in result.output for v in visits[column].unique()[:30]), column
    shown = runner.invoke(
        app,
        [
            "schema",
            str(path),
            "--out",
            str(tmp_path / "s.json"),
            "--overwrite",
            "--show-categories",
        ],
        env={"COLUMNS": "250"},
    )
    assert shown.exit_code == 0, shown.output
    assert "F, M" in shown.output  # the learned categories, on request
    for column in ("mrn", "full_name", "remark"):  # never identifier or text values
        assert not any(str(v) in shown.output for v in visits[column].unique()[:30]), column


def test_names_from_anywhere_one_per_patient_are_regenerated_as_names():
    """'Aisha K. Okafor' is in no en_US list; one-to-one with the patient key, it is a name
    (regenerated as names, not codes), while place-like categories stay categories."""
    rng = np.random.default_rng(3)
    firsts = ["Aisha", "Kwame", "Keiko", "Tomasz", "Ines", "Yusuf", "Olga", "Arjun"]
    lasts = ["Okafor", "Mahlangu", "Nakamura", "Kowalski", "Haddad", "Lindqvist", "Petrovic"]
    names = sorted(
        {
            f"{f} {chr(65 + i % 26)}. {last}"
            for i, (f, last) in enumerate((f, last) for f in firsts for last in lasts)
        }
    )[:50]
    rows = [
        {
            "patient_id": f"P{p:04d}",
            "patient": name,
            "ward": rng.choice(["North Ward", "South Ward", "Day Unit"]),
            "hba1c": round(float(rng.normal(7, 1)), 1),
        }
        for p, name in enumerate(names)
        for _ in range(int(rng.integers(1, 4)))
    ]
    _, decisions = explain_schema(pd.DataFrame(rows))
    by_name = {d.name: d for d in decisions}
    assert by_name["patient"].kind == "identifier"
    assert by_name["patient"].identifier_type == "name" and not by_name["patient"].uncertain
    assert by_name["ward"].kind == "categorical"


# -- issue 16 fuzz findings L1-L3 ------------------------------------------------------------
@pytest.mark.parametrize("key", ["MRN", "medical_record_number", "pid", "PatientID"])
def test_a_named_patient_key_is_an_identifier_however_few_patients(key):
    """L1: four patients are below MIN_PATIENTS, yet the key must never be learned."""
    frame = pd.DataFrame({key: [f"P{p}" for p in np.repeat(range(4), 4)], "sbp": range(16)})
    assert Schema.infer(frame)[key].kind == "identifier"
    numbered = frame.assign(**{key: np.repeat([101, 102, 103, 104], 4)})
    assert Schema.infer(numbered)[key].kind == "identifier"  # not 4 integer 'codes' either


def test_bare_words_that_may_be_measurements_are_not_taken_for_keys():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "pt": rng.normal(12, 1, 40),  # prothrombin time, all distinct
            "patient_visit_number": np.tile([1, 2, 3, 4], 10),
        }
    )
    kinds = _kinds(Schema.infer(frame))
    assert kinds == {"pt": "numeric", "patient_visit_number": "categorical"}


@pytest.mark.parametrize("with_sex", [True, False])
def test_declared_identifiers_add_to_the_detected_patient_key(with_sex):
    """L2: declaring hba1c an identifier (more distinct values than the MRN, no evidence for
    either key) must not make it the patient key and the MRN a category."""
    visits = make_visits(16, seed=4, with_sex=with_sex)
    schema, decisions = explain_schema(visits, identifiers=["hba1c"])
    kinds = _kinds(schema)
    assert kinds["mrn"] == kinds["hba1c"] == "identifier"
    assert [d.name for d in decisions if d.patient_key] == ["mrn"]
    assert all(kinds[c] == "identifier" for c in IDENTIFYING[:4])


def _family_emails(n_patients: int, per_patient: int, shared: int = 1) -> pd.DataFrame:
    fake = Faker("en_US")
    fake.seed_instance(5)
    emails = [fake.email() for _ in range(n_patients)]
    rows = [
        {
            "contact": emails[p // shared],
            "sbp": 100 + (7 * p + v) % 60,
            "smoker": ["never", "former", "current"][(p + v) % 3],
        }
        for p in range(n_patients)
        for v in range(per_patient)
    ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("n_patients", "per_patient", "shared"), [(15, 8, 1), (11, 6, 1), (4, 4, 1), (30, 3, 3)]
)
def test_emails_repeated_per_patient_or_family_are_identifiers(n_patients, per_patient, shared):
    """L3: no patient key (the email is not named as one), few rows per value, or a family
    email on three patients: still people's, so regenerated, not learned."""
    schema, decisions = explain_schema(_family_emails(n_patients, per_patient, shared))
    assert schema["contact"].kind == "identifier"
    assert schema["contact"].identifier_type == "email"


def test_a_clinic_email_on_most_rows_stays_a_flagged_category():
    frame = _family_emails(30, 3)
    frame.loc[frame.index[: int(0.7 * len(frame))], "contact"] = "clinic@example.org"
    schema, decisions = explain_schema(frame)
    assert schema["contact"].kind == "categorical"
    assert next(d for d in decisions if d.name == "contact").uncertain


def test_in_a_tiny_table_people_and_notes_are_never_learned():
    """Two patients, 16 rows: too few to see the patients, so names decide (fuzz findings)."""
    rows = [
        {"subject": code, "contact": email, "notes": note, "sbp": 120 + i}
        for i, (code, email, note) in enumerate(
            [("ZQXJ0a1b2c3d", "ann@example.net", "declined statin")] * 8
            + [("ZQXJ9f8e7d6c", "bob@example.net", "seen in clinic")] * 8
        )
    ]
    _, decisions = explain_schema(pd.DataFrame(rows))
    kinds = {d.name: d.kind for d in decisions}
    assert kinds == {
        "subject": "identifier",
        "contact": "identifier",
        "notes": "text",
        "sbp": "integer",
    }
