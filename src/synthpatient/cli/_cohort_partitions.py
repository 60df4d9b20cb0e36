"""``ask --engine local|dask``: a confirmed request written as a partitioned dataset.

The cohort (and its history, with a follow-up) is drawn partition by partition by
:func:`synthpatient.scale.sample_partitioned`: one Parquet file per table per partition, FHIR
bulk-data NDJSON per partition when the request names FHIR, a ``_manifest.json`` with
checksums; a stopped run resumes. Once every partition is there (a resumed run included), the
realism report, data card and provenance are written beside them
(:func:`synthpatient.scale.write_cohort_records`), the realism report judged on a bounded
sample that the user is told of. What the in-memory ``ask`` also writes (CSV, transaction
Bundles) is not written here, and the user is told so.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from synthpatient.cli._errors import err
from synthpatient.cli.app import out
from synthpatient.errors import InvalidParameterError

if TYPE_CHECKING:
    from synthpatient.knowledge.conversation import Conversation

ENGINES = ("local", "dask")
EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine",
        metavar="ENGINE",
        help="local or dask: write --out as a partitioned dataset (a folder per table, one "
        "Parquet file per --partition-size patients, FHIR NDJSON per partition when the "
        "request names FHIR, a _manifest.json with checksums; a stopped run resumes), in "
        "this process or on Dask, then a realism report (judged on the first partition), a "
        "data card and provenance.",
    ),
]
PartitionSize = Annotated[
    int | None,
    typer.Option(
        "--partition-size",
        metavar="N",
        help="Patients per partition with --engine (default 100,000; 20,000 with a follow-up, "
        "whose history takes far more memory per patient while drawn).",
    ),
]
#: patients per partition by default: a worker holding one stays near 1 GB
#: (``benchmarks/bench_scale.py`` prints the workers' peaks for both kinds)
SNAPSHOT_PARTITION, HISTORY_PARTITION = 100_000, 20_000


def check_engine(engine: str | None, partition_size: int | None, scheduler: str | None) -> None:
    """Bad engine options: one line before the request is read."""
    if engine is None:
        if scheduler is not None:
            raise InvalidParameterError("--scheduler needs --engine dask.")
        return
    if engine not in ENGINES:
        raise InvalidParameterError(f"--engine must be local or dask; got '{engine}'.")
    if scheduler is not None and engine != "dask":
        raise InvalidParameterError("--scheduler needs --engine dask.")
    if partition_size is not None and partition_size < 1:
        raise InvalidParameterError(f"--partition-size must be at least 1; got {partition_size}.")


def generate_partitioned(
    chat: Conversation,
    out_dir: Path,
    *,
    engine: str,
    partition_size: int | None,
    scheduler: str | None,
    overwrite: bool,
) -> None:
    """Write the conversation's pending request into ``out_dir`` as partitions."""
    from synthpatient.scale import sample_partitioned, write_cohort_records

    request = chat.pending
    assert request is not None  # called after a request was confirmed
    seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
    spec = request.to_spec(chat.kb, partitioned=True)
    if partition_size is None:
        history = spec.follow_up_years is not None
        partition_size = HISTORY_PARTITION if history else SNAPSHOT_PARTITION
    named = "formats" in request.model_fields_set  # the defaults (CSV, FHIR) were not asked
    fhir = named and bool({"fhir", "fhir-ndjson"} & set(request.formats))
    for line in _not_written(request.formats if named else [], fhir):
        err.print(line)

    def progress(done: int, total: int) -> None:
        err.print(f"partition {done}/{total} written")

    manifest = sample_partitioned(
        spec,
        request.count,
        out_dir,
        partition_size=partition_size,
        seed=seed,
        engine=engine,  # type: ignore[arg-type]  # checked by check_engine
        scheduler=scheduler,
        overwrite=overwrite,
        progress=progress,
        fhir=fhir,
    )
    with err.status("Judging the realism on a sample; writing the data card and provenance..."):
        records = write_cohort_records(
            out_dir,
            manifest,
            kb=chat.kb,
            engine=engine,
            request=request,
            request_text=chat.pending_text,
        )
    judged = json.loads(records["realism_json"].read_text(encoding="utf-8"))["judged_on"]
    tables = ", ".join(name for name in manifest.request["tables"])
    out.print(
        f"Wrote {manifest.rows:,} patients in {manifest.n_partitions} partition(s) to {out_dir} "
        f"(seed {seed}): Parquet tables {tables}, one folder each"
        + (", and FHIR NDJSON per partition in fhir/" if fhir else "")
        + f"; {out_dir / '_manifest.json'} lists every file with its checksum."
    )
    out.print(
        f"Realism report, data card and provenance: {records['realism']}, "
        f"{records['datacard']}, {records['provenance']}."
    )
    err.print(
        f"Note: the realism report (and the data card's evaluation) was judged on {judged}, "
        "not on every patient of the dataset."
    )


def _not_written(formats: Sequence[str], fhir: bool) -> list[str]:
    """What the request or the in-memory ask would give that partitions do not (named)."""
    lines = []
    if "csv" in formats:
        lines.append("Note: with --engine the tables are Parquet partitions, not CSV.")
    if "fhir" in formats:
        lines.append(
            "Note: with --engine FHIR is bulk-data NDJSON per partition "
            "(fhir/part-NNNNN/<Type>.ndjson), not one transaction Bundle per patient."
        )
    if not fhir:
        lines.append(
            "Note: with --engine FHIR is written only when the request names it ('... as FHIR')."
        )
    return lines
