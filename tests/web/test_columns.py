"""The data page's choices checked as early as possible: a table too small for a generator is
told at upload (and too small for all of them refused there), and an automatically flagged
column can be unflagged to be learned, with a warning."""

from __future__ import annotations

from synthpatient.web._uploads import _schema
from tests.conftest import make_clinical_table

from .test_api import one_line_error, upload


def test_a_small_table_names_the_generators_it_is_too_small_for_at_upload(client):
    info = upload(client, make_clinical_table(16, seed=1)).json()
    small = info["too_small"]
    assert "copula" not in small
    assert small["tabular_lm"] == "needs at least 20 rows to learn from"
    assert small["ctgan"] == "needs at least 50 rows to learn from"  # the networks' floor
    message = one_line_error(
        client.post("/api/generate", json={"upload_id": info["id"], "synthesizer": "ctgan"}),
        400,
    )
    assert "ctgan generator needs at least 50 rows" in message and "has 16" in message
    choices = {c["key"]: c for c in client.get("/api/synthesizers").json()}
    assert choices["copula"]["min_rows"] == 10 and choices["copula"]["label"] == "Gaussian copula"


def test_a_table_too_small_for_every_generator_is_refused_at_upload(client):
    message = one_line_error(upload(client, make_clinical_table(6, seed=1), "tiny.csv"), 400)
    assert "'tiny.csv' has 6 rows: too few to learn from" in message


def test_a_flagged_column_can_be_learned_anyway_with_a_warning(client):
    real = make_clinical_table(60, seed=4)
    info = upload(client, real).json()
    assert "smoker" not in info["flagged"] and "name" in info["flagged"]
    refused = client.post(
        "/api/generate", json={"upload_id": info["id"], "n_rows": 30, "learn": ["smoker"]}
    )
    assert "not flagged: smoker" in one_line_error(refused, 400)
    # what the job learns from (its schema): the unticked column is learned, as categories
    schema = _schema(real, (), ("name",))
    assert schema["name"].is_learned and schema["name"].kind == "categorical"
    assert not _schema(real)["name"].is_learned
