"""A cohort with a follow-up in the web app: counted in patients and visits, its history
tables listed and downloadable (CSV, Parquet), FHIR with one Encounter per visit."""

from __future__ import annotations

import io
import zipfile

import pandas as pd

from tests.web.conftest import wait_job


def test_a_follow_up_cohort_offers_its_history_tables(client):
    job = client.post(
        "/api/chat",
        json={"text": "20 type 2 diabetes patients with 2 years of follow-up, seed 4"},
    ).json()
    message = job["message"]
    assert message["kind"] == "confirm" and message["request"]["follow_up_years"] == 2
    done = wait_job(client, client.post("/api/chat/confirm").json())
    assert done["status"] == "done", done
    result = client.get(f"/api/results/{done['result_id']}").json()
    tables = {t["name"]: t for t in result["tables"]}
    assert list(tables) == ["encounters", "observations", "medications", "conditions"]
    visits = tables["encounters"]["n_rows"]
    assert result["n_patients"] == 20 and result["summary"].startswith(f"20 patients, {visits:,}")
    assert visits > 20 and "over 2 years of follow-up" in result["summary"]
    assert result["plots"][0]["title"] == "A few patients' histories"
    patients = set(
        pd.read_csv(io.BytesIO(client.get(urls_of(result, "csv")).content))["patient_id"]
    )
    assert len(patients) == 20
    for name, table in tables.items():
        assert {d["format"] for d in table["downloads"]} == {f"{name}_csv", f"{name}_parquet"}
        urls = {d["format"]: d["url"] for d in table["downloads"]}
        csv = pd.read_csv(io.BytesIO(client.get(urls[f"{name}_csv"]).content))
        parquet = pd.read_parquet(io.BytesIO(client.get(urls[f"{name}_parquet"]).content))
        assert len(csv) == len(parquet) == table["n_rows"], name
        assert set(csv["patient_id"]) <= patients, name  # every row is of a listed patient
    encounters = pd.read_csv(io.BytesIO(client.get(urls_of(result, "encounters_csv")).content))
    assert (
        encounters.groupby("patient_id")["date"].apply(lambda d: d.is_monotonic_increasing)
    ).all()
    report = client.get(f"/api/results/{result['id']}/downloads/report").text
    assert "Patient histories" in report and f"{visits:,} visits" in report
    fhir = zipfile.ZipFile(io.BytesIO(client.get(urls_of(result, "fhir")).content))
    assert "Encounter.ndjson" in fhir.namelist()
    assert len(fhir.read("Encounter.ndjson").splitlines()) == visits


def urls_of(result: dict, fmt: str) -> str:
    return next(d["url"] for d in result["downloads"] if d["format"] == fmt)
