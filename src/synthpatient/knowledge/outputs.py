"""Writing a cohort: tables, FHIR, realism report and provenance, into one folder, atomically.

The folder is filled in a temporary sibling and renamed into place only when every file was
written, so an interrupted or failed run leaves what was there before untouched; a write that
fails (full disk, read-only folder) is one :class:`~synthpatient.errors.FileIOError` naming the
folder.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

from synthpatient._atomic import atomic_folder, write_table, write_text_atomic
from synthpatient.knowledge._kb import KnowledgeBase
from synthpatient.knowledge.answers import cite
from synthpatient.knowledge.realism import check_cohort
from synthpatient.knowledge.request import CohortRequest
from synthpatient.knowledge.sampler import Cohort

PROVENANCE_FILE = "provenance.json"


def write_cohort(cohort: Cohort, folder: str | Path, *, kb: KnowledgeBase,
                 request: CohortRequest | None = None, request_text: str | None = None,
                 formats: list[str] | tuple[str, ...] = ("csv", "fhir"),
                 overwrite: bool = False) -> dict[str, Path]:
    """Write the cohort's files into ``folder``; returns what was written, by name."""
    folder = Path(folder)
    written: dict[str, str] = {}
    with atomic_folder(folder, overwrite=overwrite) as tmp:
        table_ext = "parquet" if "parquet" in formats else "csv"
        wide, long = cohort.wide.copy(), cohort.long()
        for frame in (wide, long):
            for column in frame.columns:
                if str(frame[column].dtype).startswith("datetime64"):
                    frame[column] = frame[column].dt.strftime("%Y-%m-%d")
        write_table(wide, tmp / f"patients.{table_ext}")
        write_table(long, tmp / f"observations.{table_ext}")
        written["patients"] = f"patients.{table_ext}"
        written["observations"] = f"observations.{table_ext}"
        if "fhir" in formats:
            from synthpatient.knowledge.fhir import write_bundles

            write_bundles(cohort, tmp / "fhir")
            written["fhir"] = "fhir"
        if "fhir-ndjson" in formats:
            from synthpatient.knowledge.fhir import write_ndjson

            write_ndjson(cohort, tmp / "fhir-ndjson")
            written["fhir-ndjson"] = "fhir-ndjson"
        report = check_cohort(cohort)
        write_text_atomic(tmp / "realism.md", report.to_markdown())
        write_text_atomic(tmp / "realism.json", report.to_json())
        written["realism"] = "realism.md"
        provenance = build_provenance(cohort, kb=kb, request=request, request_text=request_text,
                                      files={k: v for k, v in written.items()}, folder=tmp)
        write_text_atomic(tmp / PROVENANCE_FILE, json.dumps(provenance, indent=2, default=str))
        written["provenance"] = PROVENANCE_FILE
    return {name: folder / rel for name, rel in written.items()}


def build_provenance(cohort: Cohort, *, kb: KnowledgeBase, request: CohortRequest | None,
                     request_text: str | None, files: dict[str, str], folder: Path) -> dict:
    """What produced the files: request, parsed spec, knowledge base version, sources, seed."""
    from synthpatient import __version__

    checksums = {}
    for rel in files.values():
        path = folder / rel
        if path.is_file():
            checksums[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "generator": f"synthpatient {__version__} (CohortSampler, knowledge-driven)",
        "request_text": request_text,
        "request": request.model_dump(mode="json") if request else None,
        "spec": cohort.spec.model_dump(mode="json"),
        "seed": cohort.spec.seed,
        "knowledge_base": {"version": kb.version, "condition": cohort.condition.key},
        "reference_date": "2025-12-31",
        "sources": [{"id": sid, "citation": c, "verified": kb.sources[sid].verified,
                     "supports": kb.sources[sid].supports}
                    for sid, c in zip(cohort.sources_used, cite(kb, cohort.sources_used),
                                      strict=False)],
        "files": files,
        "sha256": checksums,
        "synthetic": "Every patient in these files is synthetic; none is a real person.",
    }
