"""FHIR R4 bulk data per partition: ``fhir/part-NNNNN/<ResourceType>.ndjson``.

Each partition of a cohort is a bulk-data folder of its own (the layout of the
``fhir_ndjson`` exporter): every reference a resource makes (``Patient/<id>``,
``Encounter/<id>``) points at a resource of the same folder, so a partition can be loaded,
moved or checked alone. The resources come from the one FHIR mapping of the cohort
(:func:`synthpatient.knowledge.fhir.map_cohort`), built and written a chunk of patients at a
time so a partition never holds all its resources as Python objects. Validating every
resource with ``fhir.resources`` costs more than building it, so the resources of a random
sample of each partition's patients are validated (``sample``; all of them when the partition
is smaller), before anything of the partition is written.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synthpatient._atomic import atomic_folder, remove_stale_temporaries
from synthpatient._optional import import_optional
from synthpatient.errors import DataError

#: patients whose resources are built (and held) at once
CHUNK = 1_000


def write_fhir_partition(
    cohort: Any, folder: Path, *, sample: int, rng: np.random.Generator
) -> dict[str, int]:
    """Write the cohort's resources into ``folder`` (replaced whole); returns the resources
    written per type. Raises DataError when a sampled resource breaks FHIR R4."""
    from synthpatient.exporters.fhir_mapping import resources_by_type
    from synthpatient.knowledge.fhir import fhir_frame, map_cohort

    frame = fhir_frame(cohort)
    mapping = map_cohort(cohort)
    chosen = np.sort(rng.choice(len(frame), size=min(sample, len(frame)), replace=False))
    if len(chosen):
        _validate(resources_by_type(frame.iloc[chosen], mapping, validate=False), folder.name)
    remove_stale_temporaries(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    counts: Counter[str] = Counter()
    with atomic_folder(folder, overwrite=True) as tmp:
        handles = {
            kind: (tmp / f"{kind}.ndjson").open("w", encoding="utf-8", newline="\n")
            for kind in mapping.resource_types
        }
        try:
            for begin in range(0, len(frame), CHUNK):
                chunk = frame.iloc[begin : begin + CHUNK]
                for kind, items in resources_by_type(chunk, mapping, validate=False).items():
                    handles[kind].writelines(json.dumps(item) + "\n" for item in items)
                    counts[kind] += len(items)
        finally:
            for handle in handles.values():
                handle.close()
    return {kind: counts[kind] for kind in mapping.resource_types}


def _validate(grouped: dict[str, list[dict[str, Any]]], partition: str) -> None:
    """Each sampled resource through its ``fhir.resources`` model; a failure names the type
    and the field, never a value (the values are patients')."""
    fhir = import_optional("fhir.resources.R4B", extra="fhir", purpose="FHIR output")
    from pydantic import ValidationError

    for kind, items in grouped.items():
        model = fhir.get_fhir_model_class(kind)
        for item in items:
            try:
                model.model_validate(item)
            except ValidationError as exc:
                where = ".".join(str(part) for part in exc.errors()[0]["loc"])
                raise DataError(
                    f"A {kind} resource of {partition} breaks FHIR R4 at '{where}' "
                    f"({exc.error_count()} error(s)); nothing of that partition was written."
                ) from None


@dataclass(frozen=True)
class FhirPartitionCheck:
    """What :func:`check_fhir_partition` found in one partition's folder."""

    resources: dict[str, int]
    unresolved: int  # references to no resource of the same folder
    duplicate_ids: int  # resources of one type sharing an id


def check_fhir_partition(folder: str | Path) -> FhirPartitionCheck:
    """Count a partition's resources and the references that do not resolve inside it."""
    folder = Path(folder)
    seen: Counter[str] = Counter()
    resources: dict[str, int] = {}
    refs: list[str] = []
    for path in sorted(folder.glob("*.ndjson")):
        count = 0
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                item = json.loads(line)
                seen[f"{item['resourceType']}/{item['id']}"] += 1
                refs.extend(_references(item))
                count += 1
        resources[path.stem] = count
    unresolved = sum(1 for ref in refs if ref not in seen)
    duplicates = sum(n - 1 for n in seen.values() if n > 1)
    return FhirPartitionCheck(resources, unresolved, duplicates)


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return own + [r for value in node.values() for r in _references(value)]
    if isinstance(node, list):
        return [r for value in node for r in _references(value)]
    return []
