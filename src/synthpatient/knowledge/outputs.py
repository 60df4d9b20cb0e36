"""Writing a cohort: tables, FHIR, realism report, data card and provenance, into one folder.

The tables are those of ``exporters.cohort_tables``: patients and observations, or, for a cohort
with a history (``cohort.timeline``), patients, encounters, observations (over time),
medications and conditions; the sources cited are the cohort's and its history's.

Every file is written by an exporter of :mod:`synthpatient.exporters` (the same ones the CLI
and the web app use). The folder is filled in a temporary sibling and renamed into place only
when every file was written, so an interrupted or failed run leaves what was there before
untouched; a write that fails (full disk, read-only folder) is one
:class:`~synthpatient.errors.FileIOError` naming the folder. The provenance records the
SHA-256 of every file written, those inside the FHIR folders included.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synthpatient._atomic import atomic_folder, write_text_atomic
from synthpatient._steps import step
from synthpatient.errors import FileIOError
from synthpatient.exporters import checksums, cohort_tables, get_exporter
from synthpatient.knowledge._kb import KnowledgeBase
from synthpatient.knowledge.answers import cite
from synthpatient.knowledge.realism import check_cohort
from synthpatient.knowledge.request import CohortRequest
from synthpatient.knowledge.sampler import Cohort

PROVENANCE_FILE = "provenance.json"
#: a request's FHIR format -> (exporter, folder name in the cohort folder)
FHIR_FORMATS = {"fhir": "fhir_bundles", "fhir-ndjson": "fhir_ndjson"}


def write_cohort(
    cohort: Cohort,
    folder: str | Path,
    *,
    kb: KnowledgeBase,
    request: CohortRequest | None = None,
    request_text: str | None = None,
    formats: Sequence[str] = ("csv", "fhir"),
    overwrite: bool = False,
) -> dict[str, Path]:
    """Write the cohort's files into ``folder``; returns what was written, by name."""
    folder = Path(folder)
    with atomic_folder(folder, overwrite=overwrite) as tmp:
        step("files", 0, 1)
        written = _write_formats(cohort, tmp, formats, {})
        _write_records(cohort, tmp, written, kb=kb, request=request, request_text=request_text)
    return {name: folder / rel for name, rel in written.items()}


def add_formats(
    cohort: Cohort,
    folder: str | Path,
    *,
    kb: KnowledgeBase,
    request: CohortRequest | None,
    request_text: str | None,
    formats: Sequence[str],
) -> dict[str, Path]:
    """Write more formats of a cohort already written into ``folder``, beside its files.

    What is there is not written again (exporting the last cohort as FHIR adds its FHIR, never
    a second copy of its tables); the data card and provenance are rewritten to list, and
    checksum, every file. The folder is rebuilt in a temporary sibling and swapped in, so a
    failure leaves it as it was. Returns every file of the folder, by name.
    """
    folder = Path(folder)
    try:
        before = json.loads((folder / PROVENANCE_FILE).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FileIOError(
            f"{folder} does not hold a cohort written by synthpatient (its {PROVENANCE_FILE} "
            "cannot be read); generate the cohort again."
        ) from exc
    kept = {name: rel for name, rel in before.items() if name not in _RECORDS}
    with atomic_folder(folder, overwrite=True) as tmp:
        # everything but the records, which are written anew for the whole folder
        shutil.copytree(
            folder,
            tmp,
            dirs_exist_ok=True,
            ignore=_records_at_top(folder),
            copy_function=_link_or_copy,
        )
        step("files", 0, 1)
        written = _write_formats(cohort, tmp, formats, kept)
        _write_records(cohort, tmp, written, kb=kb, request=request, request_text=request_text)
    return {name: folder / rel for name, rel in written.items()}


#: the files that describe the others (rewritten whenever a file is added)
_RECORDS = ("realism", "datacard", "provenance")
_RECORD_FILES = {"realism.md", "realism.json", "datacard.md", "datacard.json", PROVENANCE_FILE}


def _link_or_copy(source: str, target: str) -> None:
    """Hard-link a kept file into the rebuilt folder (no copy of a large FHIR export; the files
    kept are never written to again), or copy it where links are not allowed."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _records_at_top(folder: Path) -> Callable[[str, list[str]], set[str]]:
    def ignore(where: str, names: list[str]) -> set[str]:
        return _RECORD_FILES & set(names) if Path(where) == folder else set()

    return ignore


def _write_formats(
    cohort: Cohort, tmp: Path, formats: Sequence[str], written: dict[str, str]
) -> dict[str, str]:
    """Write the tables and FHIR of ``formats`` not in ``written`` yet; returns all, by name."""
    written = dict(written)
    # the share of the writing each part takes (FHIR, when asked for, is most of it); a
    # caller's callback may stop here (synthpatient._steps): the folder is then removed
    fhir = [f for f in FHIR_FORMATS if f in formats and f not in written]
    tables_done, fhir_done = (0.05, 0.9) if fhir else (0.5, 0.5)
    table = get_exporter("parquet" if "parquet" in formats else "csv")
    for name, data in cohort_tables(cohort).items():
        rel = f"{name}{table.suffix}"
        if rel in written.values():
            continue
        # a second table format (parquet beside csv) is named by its file
        written[name if name not in written else rel] = rel
        table.export(data, tmp / rel)
    step("files", tables_done, 1)
    for i, fmt in enumerate(fhir):
        get_exporter(FHIR_FORMATS[fmt]).export(cohort, tmp / fmt)
        written[fmt] = fmt
        step("files", tables_done + (fhir_done - tables_done) * (i + 1) / len(fhir), 1)
    return written


def _write_records(
    cohort: Cohort,
    tmp: Path,
    written: dict[str, str],
    *,
    kb: KnowledgeBase,
    request: CohortRequest | None,
    request_text: str | None,
) -> None:
    """The realism report, data card and provenance of the files in ``written`` (added to it)."""
    report = check_cohort(cohort)
    step("files", 0.95, 1)
    write_text_atomic(tmp / "realism.md", report.to_markdown())
    write_text_atomic(tmp / "realism.json", report.to_json())
    written["realism"] = "realism.md"
    card: dict[str, Any] = {
        "evaluation": report,
        "files": {rel: tmp / rel for rel in (*written.values(), "realism.json")},
    }
    get_exporter("datacard").export(cohort, tmp / "datacard.md", **card)
    get_exporter("datacard_json").export(cohort, tmp / "datacard.json", **card)
    written["datacard"] = "datacard.md"
    provenance = build_provenance(
        cohort,
        kb=kb,
        request=request,
        request_text=request_text,
        files=dict(written),
        folder=tmp,
    )
    write_text_atomic(tmp / PROVENANCE_FILE, json.dumps(provenance, indent=2, default=str))
    written["provenance"] = PROVENANCE_FILE
    step("files", 1, 1)


def build_provenance(
    cohort: Cohort,
    *,
    kb: KnowledgeBase,
    request: CohortRequest | None,
    request_text: str | None,
    files: dict[str, str],
    folder: Path,
    checksummed: dict[str, Path] | None = None,
) -> dict[str, Any]:
    """What produced the files: request, parsed spec, knowledge base version, sources, seed,
    the columns FHIR has no place for, and the SHA-256 of every file in ``folder`` (or of
    ``checksummed`` alone: a partitioned dataset's manifest already holds its partitions')."""
    from synthpatient import __version__

    timeline = getattr(cohort, "timeline", None)
    used = list(dict.fromkeys([*cohort.sources_used, *(timeline.sources_used if timeline else [])]))
    provenance = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "generator": f"synthpatient {__version__} (CohortSampler, knowledge-driven)",
        "request_text": request_text,
        "request": request.model_dump(mode="json") if request else None,
        "spec": cohort.spec.model_dump(mode="json"),
        "seed": cohort.spec.seed,
        "knowledge_base": {"version": kb.version, "condition": cohort.condition.key},
        "reference_date": "2025-12-31",
        "sources": [
            {
                "id": sid,
                "citation": c,
                "verified": kb.sources[sid].verified,
                "supports": kb.sources[sid].supports,
            }
            for sid, c in zip(used, cite(kb, used), strict=False)
        ],
        "files": files,
        "sha256": _checksums(folder) if checksummed is None else _checksums_of(checksummed),
        "synthetic": "Every patient in these files is synthetic; none is a real person.",
    }
    if any(fmt in files for fmt in FHIR_FORMATS):
        from synthpatient.knowledge.fhir import left_out

        provenance["fhir_left_out"] = dict(left_out(cohort))
    return provenance


def _checksums(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by path relative to it (FHIR files included)."""
    return _checksums_of({item.name: item for item in sorted(folder.iterdir())})


def _checksums_of(named: dict[str, Path]) -> dict[str, str]:
    return {rel: entry["sha256"] for rel, entry in checksums(named).items()}
