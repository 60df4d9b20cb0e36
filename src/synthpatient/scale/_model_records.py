"""The records of a model's partitioned sample (``sample MODEL --engine``): data card and
provenance.

A model's sample has no sourced targets to be judged against (it is scored against real data
by ``synthpatient evaluate REAL FOLDER``), so the card says that no evaluation was run; its
representation shares are measured on the first partition's first rows, read back from
``part-00000.parquet`` (at most ``SAMPLE_LIMIT``), which the card says. As for a cohort
(:mod:`._cohort_records`), nothing re-hashes the partitions: the card and provenance record
the SHA-256 of ``_manifest.json``, which holds theirs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from synthpatient._atomic import write_text_atomic
from synthpatient.errors import DataError
from synthpatient.scale._cohort_records import SAMPLE_LIMIT, describe_partitions
from synthpatient.scale._manifest import MANIFEST, Manifest
from synthpatient.scale._sample import _load

#: the files written here, by name
MODEL_RECORDS = {
    "datacard": "datacard.md",
    "datacard_json": "datacard.json",
    "provenance": "provenance.json",
}


def write_model_records(
    folder: str | Path,
    manifest: Manifest,
    model: str | Path,
    *,
    engine: str,
    limit: int = SAMPLE_LIMIT,
) -> dict[str, Path]:
    """Write datacard.md/.json and provenance.json into ``folder`` (each atomically,
    replacing those of an earlier run) for the complete sample of ``model``; returns them."""
    from synthpatient import __version__
    from synthpatient.exporters import Table, checksums, get_exporter

    folder = Path(folder)
    request = manifest.request
    if request.get("source") != "model" or not manifest.complete:
        raise DataError(
            f"{folder} does not hold a complete partitioned sample of a model; run "
            "`synthpatient sample MODEL --engine` again to finish it."
        )
    synth = _load(str(model), request["model"])  # the fingerprint the partitions were drawn by
    frame = first_rows(folder / manifest.partitions[0].file, limit)
    judged_on = f"the first partition's first {len(frame):,} rows (part-00000.parquet)"
    generator = f"synthpatient {__version__} ({synth.key}, data-driven)"
    partitions = describe_partitions(manifest, engine, judged_on)
    card = {
        "title": f"{manifest.rows:,} synthetic rows from a {synth.key} model",
        "generator": generator,
        "synthesizer": synth.key,
        "description": "Score it against the real data with `synthpatient evaluate REAL "
        "FOLDER` (the quality report over every row, the other metrics on a sample).",
        "parameters": synth.get_params(),
        "seed": request["seed"],
        "training_rows": getattr(synth, "n_training_rows_", None),
        "privacy_spent": getattr(synth, "privacy_spent_", None),
        "files": {MANIFEST: folder / MANIFEST},
        "partitions": partitions,
    }
    table = Table(frame, synth.schema_)
    for key, name in (("datacard", "datacard.md"), ("datacard_json", "datacard.json")):
        get_exporter(key).export(table, folder / name, overwrite=True, **card)
    described = {k: v for k, v in MODEL_RECORDS.items() if k != "provenance"}
    hashed = {name: folder / name for name in (MANIFEST, *described.values())}
    provenance: dict[str, Any] = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "generator": f"{generator}, partitioned (sample_partitioned, {engine})",
        "model": {"folder": str(model), "fingerprint": request["model"]},
        "parameters": synth.get_params(),
        "seed": request["seed"],
        "partitions": partitions,
        "files": {
            "manifest": MANIFEST,
            "datacard": "datacard.md",
            "datacard_json": "datacard.json",
        },
        "sha256": {rel: entry["sha256"] for rel, entry in checksums(hashed).items()},
        "synthetic": "Every row in these files is synthetic; none is a real person.",
    }
    text = json.dumps(provenance, indent=2, default=str)
    write_text_atomic(folder / "provenance.json", text)
    return {name: folder / rel for name, rel in MODEL_RECORDS.items()}


def first_rows(path: Path, limit: int) -> pd.DataFrame:
    """At most ``limit`` rows from the start of one Parquet file, read a batch at a time."""
    import pyarrow.parquet as pq

    batches = pq.ParquetFile(path).iter_batches(batch_size=limit)
    first = next(batches, None)
    if first is None:
        raise DataError(f"{path.name} holds no row; run the sample again with --overwrite.")
    return first.to_pandas()
