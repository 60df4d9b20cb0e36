"""The JSON API in process (FastAPI's TestClient): both flows, limits, bad input, isolation."""

from __future__ import annotations

import io
import json
import zipfile

import pandas as pd
import pytest

from synthpatient import datasets
from tests.conftest import make_clinical_table
from tests.web.conftest import wait_job


def csv_bytes(frame: pd.DataFrame) -> io.BytesIO:
    return io.BytesIO(frame.to_csv(index=False).encode())


def upload(client, frame: pd.DataFrame, name: str = "table.csv"):  # type: ignore[no-untyped-def]
    return client.post("/api/uploads", files={"file": (name, csv_bytes(frame), "text/csv")})


def one_line_error(response, status: int) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"], body
    assert "\n" not in body["error"] and "Traceback" not in body["error"]
    return body["error"]


def test_pages_and_limits(client):
    for path in ("/", "/data", "/results", "/api-docs"):
        page = client.get(path)
        assert page.status_code == 200 and '<main id="main">' in page.text
        assert "http://" not in page.text.replace("http://127.0.0.1:8000", "")  # no CDN
        assert "Content-Security-Policy" in page.headers
    assert "Size limit: 50 MB" in client.get("/data").text
    assert client.get("/api/limits").json()["max_rows"] == 200_000
    assert client.get("/static/app.css").status_code == 200
    schema = client.get("/openapi.json").json()
    assert {
        "/api/chat",
        "/api/chat/confirm",
        "/api/uploads",
        "/api/generate",
        "/api/jobs/{job_id}",
        "/api/results/{result_id}",
        "/api/results/{result_id}/downloads/{fmt}",
    } <= set(schema["paths"])
    assert client.get("/docs").status_code == 404  # Swagger UI would load from a CDN


def test_chat_confirm_generate_and_follow_ups(client):
    job = client.post(
        "/api/chat",
        json={"text": "generate 120 type 2 diabetes patients with 6 observations, seed 3"},
    ).json()
    assert job["status"] == "done" and job["message"]["kind"] == "confirm"
    assert job["message"]["request"]["count"] == 120
    assert "120 adults" in job["message"]["request"]["description"]
    done = wait_job(client, client.post("/api/chat", json={"text": "yes"}).json())
    message = done["message"]
    assert message["kind"] == "generated" and done["result_id"]
    assert "/tmp" not in message["text"] and "results below" in message["text"]
    result = client.get(f"/api/results/{done['result_id']}").json()
    assert result["kind"] == "cohort" and result["n_rows"] == 120 and len(result["preview"]) == 20
    assert result["targets"] and result["rules"] and result["provenance"]["seed"] == 3
    assert {p["title"] for p in result["plots"]} >= {"Distributions of the observations"}
    assert client.get(result["plots"][0]["url"]).headers["content-type"] == "image/png"
    assert {d["format"] for d in result["downloads"]} >= {
        "csv",
        "parquet",
        "fhir",
        "report",
        "provenance",
    }
    parquet = client.get(f"/api/results/{result['id']}/downloads/parquet")
    assert len(pd.read_parquet(io.BytesIO(parquet.content))) == 120
    report = client.get(f"/api/results/{result['id']}/downloads/report").text
    assert report.startswith("<!doctype html>") and "Sourced targets" in report

    answer = client.post("/api/chat", json={"text": "which sources did you use?"}).json()["message"]
    assert answer["kind"] == "answer" and "[" in answer["text"]
    women = client.post("/api/chat", json={"text": "now only women"}).json()["message"]
    assert women["kind"] == "confirm" and women["request"]["sex"] == "female"
    egfr = client.post("/api/chat", json={"text": "add eGFR"}).json()["message"]
    assert "egfr" in egfr["request"]["observations"] and egfr["request"]["sex"] == "female"
    history = client.get("/api/chat").json()
    assert [m["role"] for m in history[:2]] == ["user", "assistant"] and len(history) == 10


@pytest.mark.parametrize(
    "text",
    [
        "generate 100 lupus patients",
        "<script>alert('x')</script> {{7*7}} '; DROP TABLE patients; --",
        "generate 99999999 type 2 diabetes patients",
        "\u202e\u0000 ../../etc/passwd",
    ],
)
def test_hostile_or_impossible_requests_get_clear_replies(client, text):
    job = client.post("/api/chat", json={"text": text}).json()
    assert job["status"] == "done", job
    assert job["message"]["kind"] in ("clarify", "answer")
    assert "Traceback" not in job["message"]["text"]
    assert client.post("/api/chat/confirm").json()["message"]["kind"] == "clarify"


def test_chat_rejects_empty_and_too_long_text(client):
    one_line_error(client.post("/api/chat", json={"text": ""}), 422)
    assert "2000" in one_line_error(client.post("/api/chat", json={"text": "x" * 2001}), 422)
    one_line_error(
        client.post(
            "/api/chat", content=b"{not json", headers={"content-type": "application/json"}
        ),
        422,
    )


def test_web_row_limit_applies_to_cohorts(make_client):
    client = make_client(max_rows=500)
    message = client.post(
        "/api/chat", json={"text": "generate 600 type 2 diabetes patients"}
    ).json()["message"]
    assert message["kind"] == "clarify" and "500" in message["text"]


def test_upload_generate_evaluate_download(client):
    real = datasets.load("diabetes")
    info = upload(client, real, "diabetes.csv").json()
    assert info["n_rows"] == 442 and info["n_columns"] == 11 and info["flagged"] == []
    job = client.post(
        "/api/generate",
        json={
            "upload_id": info["id"],
            "n_rows": 150,
            "seed": 1,
            "conditions": ["sex=2", "age=40..65"],
        },
    ).json()
    job = wait_job(client, job)
    assert job["status"] == "done", job
    result = client.get(f"/api/results/{job['result_id']}").json()
    assert result["kind"] == "table" and result["n_rows"] == 150
    titles = [p["title"] for p in result["plots"]]
    assert any("Distributions" in t for t in titles) and any("Correlations" in t for t in titles)
    assert any("Privacy" in t for t in titles)
    assert result["rules"] and result["scores"]
    assert (
        result["provenance"]["source"]["file"] == "diabetes.csv"
        and result["provenance"]["seed"] == 1
    )
    synthetic = pd.read_csv(
        io.BytesIO(client.get(f"/api/results/{result['id']}/downloads/csv").content)
    )
    assert (
        len(synthetic) == 150
        and (synthetic["sex"] == 2).all()
        and synthetic["age"].between(40, 65).all()
    )
    archive = zipfile.ZipFile(
        io.BytesIO(client.get(f"/api/results/{result['id']}/downloads/fhir").content)
    )
    assert sorted(archive.namelist()) == ["Observation.ndjson", "Patient.ndjson"]
    patients = [json.loads(line) for line in archive.read("Patient.ndjson").splitlines()]
    assert len(patients) == 150 and patients[0]["resourceType"] == "Patient"


def test_identifiers_are_flagged_before_learning_and_never_copied(client):
    real = make_clinical_table(200)
    info = upload(client, real).json()
    assert {"patient_id", "name", "email"} <= set(info["flagged"])
    job = wait_job(
        client, client.post("/api/generate", json={"upload_id": info["id"], "n_rows": 50}).json()
    )
    result = client.get(f"/api/results/{job['result_id']}").json()
    assert set(result["provenance"]["not_learned"]) >= {"patient_id", "name", "email"}
    synthetic = pd.read_csv(
        io.BytesIO(client.get(f"/api/results/{result['id']}/downloads/csv").content)
    )
    assert not set(synthetic["email"]) & set(real["email"])
    assert not set(synthetic["name"]) & set(real["name"])


def test_bundled_table_needs_no_upload(client):
    info = client.post("/api/uploads/bundled", json={"dataset": "diabetes"}).json()
    assert info["n_rows"] == 442 and "bundled" in info["filename"]
    assert client.get(f"/api/uploads/{info['id']}").json()["id"] == info["id"]
    assert client.delete(f"/api/uploads/{info['id']}").status_code == 204
    one_line_error(client.get(f"/api/uploads/{info['id']}"), 404)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("bad.csv", b"\xff\xfe\x00garbage\x00", "UTF-8"),
        ("bad.parquet", b"not a parquet file", "PARQUET"),
        ("empty.csv", b"", "empty"),
        ("header.csv", b"a,b,c\n", "no rows"),
        ("dupes.csv", b"a,a\n1,2\n", "duplicate"),
        ("table.xlsx", b"PK\x03\x04", ".csv"),
        ("../../../etc/passwd", b"a,b\n1,2\n", ".csv"),
    ],
)
def test_malformed_uploads_get_one_line_errors(client, name, content, expected):
    response = client.post("/api/uploads", files={"file": (name, io.BytesIO(content), "text/csv")})
    message = one_line_error(response, 400)
    assert expected in message and "/tmp" not in message


def test_upload_limits(make_client):
    client = make_client(max_upload_mb=0.01, max_upload_rows=100)
    big = pd.DataFrame({"x": range(5000), "y": range(5000)})
    assert "0.01 MB" in one_line_error(upload(client, big), 413)
    many = pd.DataFrame({"x": range(150)})
    assert "100" in one_line_error(upload(client, many), 400)
    huge = client.post(
        "/api/uploads",
        content=b"x" * 10,
        headers={"content-length": str(10**9), "content-type": "multipart/form-data; boundary=x"},
    )
    one_line_error(huge, 413)


def test_bad_generation_requests(client):
    info = upload(client, datasets.load("diabetes")).json()
    uid = info["id"]
    for body, status, words in [
        ({"upload_id": uid, "n_rows": 0}, 400, "between 1 and 200,000"),
        ({"upload_id": uid, "n_rows": 10**9}, 400, "between 1 and 200,000"),
        ({"upload_id": uid, "n_rows": "many"}, 422, "n_rows"),
        ({"upload_id": uid, "n_rows": 10, "conditions": ["nonsense"]}, 400, "COLUMN=VALUE"),
        ({"upload_id": uid, "n_rows": 10, "conditions": ["weight=3"]}, 400, "does not have"),
        ({"upload_id": uid, "n_rows": 10, "target": "nope"}, 400, "no column"),
        ({"upload_id": uid, "n_rows": 10, "synthesizer": "magic"}, 400, "Unknown synthesizer"),
        ({"upload_id": uid, "n_rows": 10, "rules": "cardio"}, 400, "rule pack"),
        ({"upload_id": uid, "n_rows": 10, "epsilon": 1.0}, 400, "epsilon"),
        ({"upload_id": "someone-elses", "n_rows": 10}, 404, "upload"),
        ({"upload_id": uid, "n_rows": 10, "extra": 1}, 422, "extra"),
    ]:
        response = client.post("/api/generate", json=body)
        if response.status_code == 200:  # checks that need the job (epsilon) fail in the job
            job = wait_job(client, response.json())
            assert job["status"] == "failed" and words in job["error"], (body, job)
            continue
        assert words in one_line_error(response, status), body
    impossible = wait_job(
        client,
        client.post(
            "/api/generate", json={"upload_id": uid, "n_rows": 10, "conditions": ["age=500..600"]}
        ).json(),
    )
    assert impossible["status"] == "failed" and "age" in impossible["error"]


def test_sessions_are_isolated(make_client):
    alice = make_client()
    bob = alice.__class__(alice.app, base_url=str(alice.base_url), raise_server_exceptions=False)
    info = upload(alice, datasets.load("diabetes")).json()
    job = wait_job(
        alice, alice.post("/api/generate", json={"upload_id": info["id"], "n_rows": 20}).json()
    )
    assert alice.cookies.get("synthpatient_session") != bob.get("/api/limits").cookies.get(
        "synthpatient_session"
    )
    bob.get("/")  # bob gets his own session
    assert bob.cookies.get("synthpatient_session") != alice.cookies.get("synthpatient_session")
    one_line_error(bob.get(f"/api/jobs/{job['id']}"), 404)
    one_line_error(bob.get(f"/api/results/{job['result_id']}"), 404)
    one_line_error(bob.get(f"/api/results/{job['result_id']}/downloads/csv"), 404)
    one_line_error(bob.get(f"/api/uploads/{info['id']}"), 404)
    assert bob.get("/api/results").json() == [] and len(alice.get("/api/results").json()) == 1
    one_line_error(bob.post("/api/generate", json={"upload_id": info["id"], "n_rows": 5}), 404)
    mallory = alice.__class__(
        alice.app,
        base_url=str(alice.base_url),
        cookies={"synthpatient_session": "guessed-session-id"},
    )
    # a guessed cookie is no session at all: refused before any id is looked up
    assert "No session" in one_line_error(mallory.get(f"/api/results/{job['result_id']}"), 401)


def test_downloads_only_by_id_and_format(client):
    info = upload(client, datasets.load("diabetes")).json()
    job = wait_job(
        client, client.post("/api/generate", json={"upload_id": info["id"], "n_rows": 20}).json()
    )
    base = f"/api/results/{job['result_id']}/downloads"
    for fmt in ("../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "csv.exe", "%2Fetc%2Fpasswd"):
        assert client.get(f"{base}/{fmt}").status_code == 404
    one_line_error(client.get(f"/api/results/{job['result_id']}/plots/99"), 404)


def test_idle_sessions_and_shutdown_delete_temp_folders(make_client):
    client = make_client(idle_timeout_s=0.01)
    store = client.app.state.store
    upload(client, datasets.load("diabetes"))
    session = store.sessions()[0]
    assert any(session.folder.rglob("*.csv"))
    import time

    time.sleep(0.05)
    assert store.sweep(force=True) == 1 and not session.folder.exists()
    client.app.state.close()
    assert not store.root.exists()


def test_busy_session_gets_409_not_a_second_job(client):
    info = upload(client, datasets.load("diabetes")).json()
    session = client.app.state.store.sessions()[0]
    session.busy = True
    try:
        assert "still running" in one_line_error(
            client.post("/api/generate", json={"upload_id": info["id"], "n_rows": 5}), 409
        )
    finally:
        session.busy = False


def test_unexpected_errors_are_one_line_500s(client, monkeypatch):
    from synthpatient.web import tables

    def broken() -> list:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(tables, "_choices", broken)
    message = one_line_error(client.get("/api/synthesizers"), 500)
    assert "secret" not in message and "log" in message


@pytest.mark.parametrize("fmt", ["parquet", "tsv"])
def test_mixed_clinical_table_as_parquet_or_tsv_with_an_outcome(client, fmt):
    real = make_clinical_table(300).drop(columns=["name", "email"])
    buffer = io.BytesIO()
    if fmt == "parquet":
        real.to_parquet(buffer, index=False)
    else:
        buffer.write(real.to_csv(sep="\t", index=False).encode())
    buffer.seek(0)
    info = client.post(
        "/api/uploads", files={"file": (f"ward.{fmt}", buffer, "application/octet-stream")}
    ).json()
    assert info["n_rows"] == 300 and info["flagged"] == ["patient_id"], info
    job = wait_job(
        client,
        client.post(
            "/api/generate",
            json={
                "upload_id": info["id"],
                "n_rows": 200,
                "seed": 4,
                "target": "died",
                "conditions": ["smoker=current"],
            },
        ).json(),
    )
    assert job["status"] == "done", job
    result = client.get(f"/api/results/{job['result_id']}").json()
    assert any(s["family"] == "utility" for s in result["scores"]), result["scores"]
    synthetic = pd.read_parquet(
        io.BytesIO(client.get(f"/api/results/{result['id']}/downloads/parquet").content)
    )
    assert len(synthetic) == 200 and (synthetic["smoker"] == "current").all()
    assert synthetic["ldl"].isna().any() and not synthetic["ldl"].isna().all()  # missing kept
    assert not set(synthetic["patient_id"]) & set(real["patient_id"])  # ids made up fresh
    assert str(synthetic["admitted"].dtype).startswith("datetime64")


def test_fhir_of_a_large_table_is_not_offered(make_client):
    client = make_client(max_fhir_patients=100)
    info = upload(client, datasets.load("diabetes")).json()
    job = wait_job(
        client, client.post("/api/generate", json={"upload_id": info["id"], "n_rows": 101}).json()
    )
    result = client.get(f"/api/results/{job['result_id']}").json()
    assert "fhir" not in {d["format"] for d in result["downloads"]}
    assert any("up to 100 rows" in n for n in result["notices"])
    one_line_error(client.get(f"/api/results/{result['id']}/downloads/fhir"), 404)
