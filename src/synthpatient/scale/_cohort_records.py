"""The records of a partitioned cohort: realism report, data card and provenance.

The in-memory ``ask`` writes them beside its tables (:mod:`synthpatient.knowledge.outputs`);
a partitioned dataset gets the same files, made by the same functions, once every partition
is written. Nothing here reads or re-hashes the partitions: the realism report is judged on a
bounded sample, and the data card and provenance point to ``_manifest.json``, which already
holds the SHA-256 of every partition file (its own SHA-256 is recorded instead).

The sample is the first partition itself, drawn again in memory with its seed (partition
``i`` is drawn from (seed, ``i``) and nothing else, so these are exactly the patients of
``patients/part-00000.parquet``) when it holds at most ``SAMPLE_LIMIT`` patients; a larger
first partition is not held in memory a second time: ``SAMPLE_LIMIT`` patients are drawn
with the same request and a seed derived from the dataset's, which are not rows of the
dataset. The report, card and provenance say which of the two they were judged on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from synthpatient._atomic import write_text_atomic
from synthpatient.errors import DataError
from synthpatient.scale._cohort_source import CohortSource, _cohort_sampler
from synthpatient.scale._manifest import MANIFEST, Manifest

if TYPE_CHECKING:
    from synthpatient.knowledge import KnowledgeBase
    from synthpatient.knowledge.request import CohortRequest
    from synthpatient.knowledge.sampler import Cohort

#: the most patients the realism report is judged on (one default snapshot partition)
SAMPLE_LIMIT = 100_000
#: the files written here, by name (the names the in-memory ``ask`` gives them)
RECORDS = {
    "realism": "realism.md",
    "realism_json": "realism.json",
    "datacard": "datacard.md",
    "datacard_json": "datacard.json",
    "provenance": "provenance.json",
}
_SAMPLE_SEED_TAG = 0x5EA1  # mixed into the dataset's seed for a sample that is not partition 0


@dataclass(frozen=True)
class JudgedSample:
    """The cohort the realism report is measured on, and a sentence saying which it is."""

    cohort: Cohort
    judged_on: str
    first_partition: bool


def judged_sample(manifest: Manifest, limit: int = SAMPLE_LIMIT) -> JudgedSample:
    """The first partition drawn again (at most ``limit`` patients), else ``limit`` patients
    drawn with the same request and a derived seed (see the module docstring)."""
    request = manifest.request
    if request.get("source") != "cohort":
        raise DataError("Only a partitioned cohort has a realism report; this is a model's.")
    source = _source(request)
    seed, total = request["seed"], request["rows"]
    rows = min(request["partition_size"], total)
    if rows <= limit:
        cohort = source.cohort(rows, 0, seed, total, 0)
        width = max(7, len(str(total)))  # the ids' width (CohortSource numbers them so)
        return JudgedSample(
            cohort,
            f"the first partition's {rows:,} patients (P{1:0{width}d} to P{rows:0{width}d}, "
            "patients/part-00000.parquet), drawn again in memory with that partition's seed",
            True,
        )
    sample_seed = int(np.random.SeedSequence([seed, _SAMPLE_SEED_TAG]).generate_state(1)[0])
    spec = _spec(request, limit, sample_seed)
    cohort = _cohort_sampler().sample(spec)
    return JudgedSample(
        cohort,
        f"{limit:,} patients drawn in memory with the same request and the seed {sample_seed} "
        f"(derived from the dataset's seed {seed}); they are not rows of the dataset, whose "
        f"first partition ({rows:,} patients) is larger than {limit:,}",
        False,
    )


def write_cohort_records(
    folder: str | Path,
    manifest: Manifest,
    *,
    kb: KnowledgeBase,
    engine: str,
    request: CohortRequest | None = None,
    request_text: str | None = None,
    limit: int = SAMPLE_LIMIT,
) -> dict[str, Path]:
    """Write realism.md/.json, datacard.md/.json and provenance.json into ``folder`` (each
    atomically, replacing those of an earlier run); returns them by name."""
    from synthpatient.exporters import get_exporter
    from synthpatient.knowledge.outputs import PROVENANCE_FILE, build_provenance
    from synthpatient.knowledge.realism import check_cohort

    folder = Path(folder)
    if not manifest.complete:
        raise DataError(
            f"The partitioned dataset in {folder} is not complete ({len(manifest.partitions)} "
            f"of {manifest.n_partitions} partitions); run it again to finish it."
        )
    sample = judged_sample(manifest, limit)
    report = check_cohort(sample.cohort)
    _write_realism(folder, report, sample.judged_on, manifest.rows)
    card_files = {name: folder / name for name in (MANIFEST, "realism.md", "realism.json")}
    card = {
        "title": f"{manifest.rows:,} synthetic patients with {sample.cohort.condition.name}",
        "parameters": full_spec(manifest.request),
        "seed": manifest.request["seed"],
        "evaluation": report,
        "files": card_files,
        "partitions": describe_partitions(manifest, engine, sample.judged_on),
    }
    for key, name in (("datacard", "datacard.md"), ("datacard_json", "datacard.json")):
        get_exporter(key).export(sample.cohort, folder / name, overwrite=True, **card)
    described = {k: v for k, v in RECORDS.items() if k != "provenance"}
    provenance = build_provenance(
        sample.cohort,
        kb=kb,
        request=request,
        request_text=request_text,
        files={"manifest": MANIFEST, **described, **_fhir_entry(manifest)},
        folder=folder,
        checksummed={name: folder / name for name in (MANIFEST, *described.values())},
    )
    provenance.update(
        generator=f"{provenance['generator']}, partitioned (sample_partitioned, {engine})",
        spec=full_spec(manifest.request),
        seed=manifest.request["seed"],
        partitions=describe_partitions(manifest, engine, sample.judged_on),
    )
    write_text_atomic(folder / PROVENANCE_FILE, json.dumps(provenance, indent=2, default=str))
    return {name: folder / rel for name, rel in RECORDS.items()}


def describe_partitions(manifest: Manifest, engine: str, judged_on: str) -> dict[str, Any]:
    """The dataset as partitions (a cohort's or a model's): rows (patients, for a cohort), counts,
    sizes, tables and their rows, formats, manifest, and what the sample was."""
    request, totals = manifest.request, manifest.totals
    fhir = {k.removeprefix("fhir:"): v for k, v in totals.items() if k.startswith("fhir:")}
    cohort = request.get("source") == "cohort"
    return {
        "rows": manifest.rows,
        "unit": "patients" if cohort else "rows",
        "n_partitions": manifest.n_partitions,
        "partition_size": request["partition_size"],
        "engine": engine,
        # a model's partitions are one table (part-NNNNN.parquet at the top)
        "tables": {name: totals.get(name, 0) for name in request.get("tables", [])},
        "formats": ["parquet", *(["fhir-ndjson"] if request.get("fhir") else [])],
        "fhir_resources": fhir or None,
        "manifest": MANIFEST,
        "judged_on": judged_on,
    }


def full_spec(request: dict[str, Any]) -> dict[str, Any]:
    """The cohort request of the whole dataset (the manifest keeps it without size and seed)."""
    return {**request["spec"], "n": request["rows"], "seed": request["seed"]}


def _write_realism(folder: Path, report: Any, judged_on: str, patients: int) -> None:
    """The realism report as the in-memory ``ask`` writes it, saying what it was judged on."""
    title, _, rest = report.to_markdown().partition("\n")
    judged = f"Judged on {judged_on}, not on every patient of the dataset ({patients:,})."
    write_text_atomic(folder / "realism.md", f"{title}\n\n{judged}\n{rest}")
    data = {"judged_on": judged_on, "dataset_patients": patients, **report.to_dict()}
    write_text_atomic(folder / "realism.json", json.dumps(data, indent=2))


def _fhir_entry(manifest: Manifest) -> dict[str, str]:
    # the FHIR folder named so that the provenance lists the columns FHIR has no place for
    return {"fhir-ndjson": "fhir"} if manifest.request.get("fhir") else {}


def _source(request: dict[str, Any]) -> CohortSource:
    """The source the partitions were drawn from, rebuilt from the manifest's request."""
    return CohortSource(
        json.dumps(request["spec"], sort_keys=True), tuple(request["tables"]), request["fhir"]
    )


def _spec(request: dict[str, Any], n: int, seed: int) -> Any:
    from synthpatient.knowledge import CohortSpec

    return CohortSpec.model_validate({**request["spec"], "n": n, "seed": seed})
