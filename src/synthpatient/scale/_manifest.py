"""The manifest of a partitioned dataset: what was asked for and which partitions are done.

``_manifest.json`` records the request (model or cohort, rows, partition size, seed, tables)
and, for every partition written, its main file, rows and SHA-256, and the SHA-256 of each
other file of that partition (a cohort's other tables, its FHIR NDJSON files) with the rows
or resources of each. A run that finds a manifest for the same request keeps the partitions
whose files are all still there with the recorded checksums and redoes the rest; a manifest
for another request is refused (the folder holds something else).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from synthpatient._io import write_text_atomic
from synthpatient.errors import DataError

MANIFEST = "_manifest.json"
FORMAT = "synthpatient.partitions/1"


@dataclass(frozen=True)
class PartitionRecord:
    """One written partition: its index, main file (path in the dataset folder), rows and
    SHA-256; ``files``: every other file of the partition -> SHA-256; ``counts``: rows per
    table and resources per FHIR type (empty for a single-file partition)."""

    index: int
    file: str
    rows: int
    sha256: str
    files: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def intact(self, folder: Path) -> bool:
        """Whether every file of the partition is there with its recorded checksum."""
        wanted = {self.file: self.sha256, **self.files}
        return all(
            (folder / name).is_file() and sha256_of(folder / name) == digest
            for name, digest in wanted.items()
        )


@dataclass
class Manifest:
    """What a partitioned dataset holds (see the module docstring)."""

    request: dict[str, Any]
    n_partitions: int
    partitions: dict[int, PartitionRecord] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return len(self.partitions) == self.n_partitions

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.partitions.values())

    @property
    def totals(self) -> dict[str, int]:
        """Rows per table and resources per FHIR type over the partitions written."""
        out: dict[str, int] = {}
        for record in self.partitions.values():
            for name, count in record.counts.items():
                out[name] = out.get(name, 0) + count
        return out

    def write(self, folder: Path) -> None:
        data = {
            "format": FORMAT,
            "request": self.request,
            "n_partitions": self.n_partitions,
            "complete": self.complete,
            "partitions": [asdict(self.partitions[i]) for i in sorted(self.partitions)],
        }
        write_text_atomic(folder / MANIFEST, json.dumps(data, indent=1) + "\n", overwrite=True)

    @classmethod
    def resume(cls, folder: Path, request: dict[str, Any], n_partitions: int) -> Manifest:
        """The manifest to continue: the partitions on disk that match their record; a new one
        when the folder has none. Raises DataError for another request's folder."""
        path = folder / MANIFEST
        fresh = cls(request=request, n_partitions=n_partitions)
        if not path.exists():
            return fresh
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            same = data["format"] == FORMAT and data["request"] == request
            records = [PartitionRecord(**p) for p in data["partitions"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(
                f"The folder {folder} has a damaged {MANIFEST}; remove the folder or choose "
                "another --out."
            ) from exc
        if not same:
            raise DataError(
                f"The folder {folder} holds another partitioned sample (a different model, size "
                "or seed); choose another --out, or pass --overwrite to replace it."
            )
        for record in records:
            if record.intact(folder):
                fresh.partitions[record.index] = record
        return fresh


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
