"""An uploaded visit table (several rows per patient) in the web app: identifiers flagged per
patient and never copied, row-level generators warned, patient counts checked."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from synthpatient import datasets
from tests.web.conftest import wait_job
from tests.web.test_api import one_line_error, upload


def visit_table(n_patients: int = 40, seed: int = 0) -> pd.DataFrame:
    """Visits with a repeated MRN, name and phone per patient and a free-text remark."""
    rng = np.random.default_rng(seed)
    first = ["Anna", "Ben", "Carla", "David", "Eva", "Frank", "Greta", "Hugo", "Ines", "Jonas"]
    rows = []
    for p in range(n_patients):
        mrn, name = f"MRN{100000 + 7 * p}", f"{first[p % 10]} Testperson{p}"
        phone = f"+41 79 {100 + p} {rng.integers(10, 99)} {rng.integers(10, 99)}"
        sex, age, hba1c = rng.choice(["f", "m"]), int(rng.integers(30, 80)), rng.normal(7.5, 1)
        for v in range(int(rng.integers(2, 6))):
            hba1c += rng.normal(0, 0.3)
            day = pd.Timestamp("2020-01-01") + pd.Timedelta(days=90 * v + int(rng.integers(20)))
            rows.append(
                {
                    "mrn": mrn,
                    "name": name,
                    "phone": phone,
                    "sex": sex,
                    "age": age,
                    "visit_date": day.date().isoformat(),
                    "hba1c": round(float(hba1c), 1),
                    "remark": f"Seen {name}, plan number {rng.integers(1000)} agreed with her",
                }
            )
    return pd.DataFrame(rows)


def test_an_uploaded_visit_table_flags_identifiers_per_patient_and_never_copies_them(client):
    real = visit_table()
    info = upload(client, real, "visits.csv").json()
    assert {"mrn", "name", "phone", "remark"} <= set(info["flagged"])
    timeline = info["timeline"]
    assert timeline["patient_key"] == "mrn" and timeline["time_column"] == "visit_date"
    assert timeline["summary"].startswith(f"40 patients with {len(real)} visits")
    columns = {c["name"]: c for c in info["columns"]}
    assert columns["name"]["role"] == columns["phone"]["role"] == "per patient"
    assert "one per synthetic patient" in columns["name"]["note"]
    assert columns["remark"]["role"] == "per visit" and columns["hba1c"]["role"] == "per visit"
    secrets = {*real["mrn"], *real["name"], *real["phone"], *real["remark"]}
    assert not any(s in str(info) for s in secrets)

    job = wait_job(
        client,
        client.post(
            "/api/generate",
            json={"upload_id": info["id"], "synthesizer": "sequential", "n_rows": 15, "seed": 2},
        ).json(),
    )
    assert job["status"] == "done", job
    result = client.get(f"/api/results/{job['result_id']}").json()
    assert result["n_patients"] == 15
    assert set(result["provenance"]["not_learned"]) >= {"mrn", "name", "phone", "remark"}
    assert any("left empty in the synthetic rows: remark" in n for n in result["notices"])
    synthetic = pd.read_csv(
        io.BytesIO(client.get(f"/api/results/{result['id']}/downloads/csv").content)
    )
    assert synthetic["mrn"].nunique() == 15
    assert (synthetic.groupby("mrn")["name"].nunique() == 1).all()  # one name per patient
    written = synthetic.to_csv(index=False) + str(result)
    written += client.get(f"/api/results/{result['id']}/downloads/report").text
    assert not [s for s in secrets if s in written]


def test_row_level_generators_on_visits_are_warned_and_patients_are_checked(make_client):
    client = make_client(max_rows=300)
    info = upload(client, visit_table(), "visits.csv").json()
    job = wait_job(
        client,
        client.post(
            "/api/generate",
            json={"upload_id": info["id"], "synthesizer": "copula", "n_rows": 30, "seed": 1},
        ).json(),
    )
    assert job["status"] == "done", job
    result = client.get(f"/api/results/{job['result_id']}").json()
    assert "treats each visit as a separate patient" in result["notices"][0]
    assert "separate synthetic patient" in result["summary"]
    # at 3.5 visits per patient, 100 patients would need more than the 300 rows allowed
    too_many = {"upload_id": info["id"], "synthesizer": "sequential", "n_rows": 100}
    assert "Ask for at most" in one_line_error(client.post("/api/generate", json=too_many), 400)
    flat = upload(client, datasets.load("diabetes")).json()
    assert flat["timeline"] is None
    body = {"upload_id": flat["id"], "synthesizer": "sequential", "n_rows": 10}
    assert "several rows per patient" in one_line_error(
        client.post("/api/generate", json=body), 400
    )


def test_a_table_whose_ids_never_repeat_has_no_timeline(client):
    one_each = visit_table(30).drop_duplicates("mrn")
    info = upload(client, one_each).json()
    assert info["timeline"] is None and {c["role"] for c in info["columns"]} == {None}
