"""A partitioned cohort's realism report, data card and provenance (``ask --engine``)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from synthpatient.errors import DataError
from synthpatient.knowledge import load_knowledge_base
from synthpatient.scale import Manifest, write_cohort_records
from synthpatient.scale._cohort_records import judged_sample
from synthpatient.scale._manifest import MANIFEST

RECORDS = ("realism.md", "realism.json", "datacard.md", "datacard.json", "provenance.json")
REQUEST = "generate 250 type 2 diabetes patients with 3 observations"


def _manifest(folder: Path) -> Manifest:
    data = json.loads((folder / MANIFEST).read_text())
    return Manifest.resume(folder, data["request"], data["n_partitions"])


def _check_records(out: Path) -> None:
    """The three records name the dataset's counts and the sample they were judged on."""
    card = json.loads((out / "datacard.json").read_text())
    assert card["dataset"]["rows"] == 250 and card["title"].startswith("250 synthetic patients")
    parts = card["partitions"]
    assert (parts["n_partitions"], parts["partition_size"], parts["rows"]) == (3, 100, 250)
    assert {t["name"]: t["rows"] for t in parts["tables"]} == {
        "patients": 250,
        "observations": 750,
    }
    assert "first partition's 100 patients" in card["evaluation"]["judged_on"]
    assert (
        "| observations | observations/ | patient and observation | 750 |"
        in (out / "datacard.md").read_text()
    )
    realism = json.loads((out / "realism.json").read_text())
    assert realism["n"] == 100 and realism["dataset_patients"] == 250
    assert "Judged on the first partition's 100 patients" in (out / "realism.md").read_text()
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["request_text"] == REQUEST
    assert (provenance["spec"]["n"], provenance["seed"]) == (250, 4)
    assert provenance["partitions"]["tables"] == {"patients": 250, "observations": 750}
    assert provenance["sources"] and "partitioned" in provenance["generator"]
    # the manifest's checksum, not every partition's: it already holds theirs
    assert set(provenance["sha256"]) == {MANIFEST, *RECORDS[:4]}
    assert set(card["files"]) == {MANIFEST, "realism.md", "realism.json"}


def test_ask_with_an_engine_writes_realism_card_and_provenance_and_a_resumed_run_too(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from synthpatient.cli import app

    runner = CliRunner()
    out = tmp_path / "asked"
    args = ["ask", REQUEST, "--yes", "--out", str(out), "--seed", "4", "--engine", "local"]
    result = runner.invoke(app, [*args, "--partition-size", "100"])
    assert result.exit_code == 0, result.output
    assert "no realism report" not in result.output
    assert "judged on the first partition's 100 patients" in " ".join(result.output.split())
    _check_records(out)
    # the sample is the first partition itself: the same patients as its Parquet file
    sample = judged_sample(_manifest(out)).cohort.wide
    written = pd.read_parquet(out / "patients" / "part-00000.parquet")
    pd.testing.assert_frame_equal(written, sample, check_dtype=False, check_categorical=False)
    # a run stopped before its last partition (and its records), then started again
    (out / "patients" / "part-00002.parquet").unlink()
    (out / "datacard.json").write_text("{}")
    (out / "provenance.json").unlink()
    result = runner.invoke(app, [*args, "--partition-size", "100"])
    assert result.exit_code == 0, result.output
    assert "partition 3/3 written" in result.output and "partition 1/3" not in result.output
    _check_records(out)


def test_a_large_first_partition_is_judged_on_a_bounded_sample_said_to_be_no_rows_of_it(
    tmp_path: Path,
) -> None:
    from synthpatient.knowledge import CohortSpec
    from synthpatient.scale import sample_partitioned

    spec = CohortSpec(condition="type2_diabetes", n=1, n_observations=2)
    manifest = sample_partitioned(spec, 40, tmp_path / "d", partition_size=40, seed=1)
    records = write_cohort_records(
        tmp_path / "d", manifest, kb=load_knowledge_base(), engine="local", limit=15
    )
    realism = json.loads(records["realism_json"].read_text())
    assert realism["n"] == 15 and "not rows of the dataset" in realism["judged_on"]
    card = json.loads(records["datacard_json"].read_text())
    assert card["dataset"]["rows"] == 40 and card["partitions"]["n_partitions"] == 1
    provenance = json.loads(records["provenance"].read_text())
    assert provenance["request_text"] is None and provenance["spec"]["n"] == 40
    manifest.partitions.pop(0)  # an unfinished dataset gets no records
    with pytest.raises(DataError, match="not complete"):
        write_cohort_records(tmp_path / "d", manifest, kb=load_knowledge_base(), engine="local")


def test_a_models_partitioned_sample_gets_a_card_and_provenance(tmp_path: Path) -> None:
    import warnings

    import numpy as np

    from synthpatient.scale import sample_partitioned, write_model_records
    from synthpatient.synthesizers import make_synthesizer

    rng = np.random.default_rng(0)
    real = pd.DataFrame({"age": rng.integers(20, 90, 200), "sex": rng.choice(["f", "m"], 200)})
    model = tmp_path / "model"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        make_synthesizer("copula", seed=0).fit(real).save(model)
    manifest = sample_partitioned(model, 250, tmp_path / "s", partition_size=100, seed=5)
    records = write_model_records(tmp_path / "s", manifest, model, engine="local", limit=60)
    card = json.loads(records["datacard_json"].read_text())
    assert card["dataset"]["rows"] == 250 and card["generation"]["training_rows"] == 200
    assert card["partitions"]["n_partitions"] == 3 and card["evaluation"] is None
    assert "first 60 rows (part-00000.parquet)" in card["partitions"]["judged_on"]
    assert "3 partition(s) of up to 100 rows" in records["datacard"].read_text()
    provenance = json.loads(records["provenance"].read_text())
    assert (
        provenance["seed"] == 5
        and provenance["model"]["fingerprint"] == (manifest.request["model"])
    )
    assert set(provenance["sha256"]) == {MANIFEST, "datacard.md", "datacard.json"}
    with pytest.raises(DataError, match="Only a partitioned cohort"):
        write_cohort_records(tmp_path / "s", manifest, kb=load_knowledge_base(), engine="local")
    manifest.partitions.pop(2)
    with pytest.raises(DataError, match="complete partitioned sample of a model"):
        write_model_records(tmp_path / "s", manifest, model, engine="local")
