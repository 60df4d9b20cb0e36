"""Partitioned sampling from a saved model, in this process or on Dask (see the package)."""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from synthpatient._atomic import remove_stale_temporaries, temporary_sibling
from synthpatient._optional import import_optional
from synthpatient.errors import DataError, InvalidParameterError
from synthpatient.scale._cluster import dask_client
from synthpatient.scale._cohort_source import CohortSource
from synthpatient.scale._manifest import MANIFEST, Manifest, PartitionRecord, sha256_of

if TYPE_CHECKING:
    from synthpatient.knowledge import CohortSpec

MAX_PATIENTS = 10_000_000  # a partition of a cohort: the sampler's limit per draw
Engine = Literal["local", "dask"]
_SYN_ID = re.compile(r"^SYN-(\d+)$")


def sample_partitioned(
    source: str | Path | CohortSpec,
    n: int,
    out: str | Path,
    *,
    partition_size: int = 100_000,
    seed: int = 0,
    engine: Engine = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    tables: Sequence[str] | None = None,
    fhir: bool = False,
) -> Manifest:
    """Sample ``n`` rows (patients, for a longitudinal model or a cohort) into a partitioned
    dataset: ``out/part-NNNNN.parquet`` for a model; for a cohort one folder per table
    (``out/patients/part-NNNNN.parquet``, ``out/observations/...``) and, with ``fhir``,
    ``out/fhir/part-NNNNN/<ResourceType>.ndjson``; and ``out/_manifest.json``.

    Args:
        source: a saved model folder (``Synthesizer.save``; each worker loads it itself), or a
            knowledge-driven :class:`~synthpatient.knowledge.CohortSpec` (its ``n`` and
            ``seed`` are replaced by the partitions'; with ``follow_up_years`` each patient's
            history is drawn too).
        n: rows (or patients) in all; partitions hold ``partition_size`` each (the last less).
        tables: a cohort's tables to write: None for all (patients and observations; with a
            history patients, encounters, observations, medications and conditions), or
            ``["patients"]`` for the wide table alone.
        fhir: a cohort's FHIR R4 bulk data per partition (the ``fhir`` extra), the resources
            of a sample of each partition's patients validated before it is written.
        out: the dataset folder; created. An existing one is resumed when it holds this same
            request (its finished partitions are kept), refused otherwise unless ``overwrite``.
        seed: partition ``i`` is drawn with the seed (seed, i): the same dataset whatever the
            engine, the number of workers or how often the run was interrupted.
        engine: ``"local"`` (this process, one partition at a time) or ``"dask"``.
        scheduler: address of a running Dask scheduler (``tcp://host:8786``); None starts a
            LocalCluster with ``workers`` processes (default: one per available core).
        progress: called with (partitions done, partitions in all) after each one.

    Returns:
        The manifest, complete.

    Raises:
        InvalidParameterError: a size, seed or engine out of range.
        DataError: ``out`` holds something else; the model folder cannot be loaded.
    """
    _check(n, "n", 1)
    _check(partition_size, "partition_size", 1)
    _check(seed, "seed", 0)
    if engine not in ("local", "dask"):
        raise InvalidParameterError(f"engine must be 'local' or 'dask'; got {engine!r}.")
    folder = Path(out)
    origin = _source(source, tables, fhir)
    if isinstance(origin, CohortSource) and partition_size > MAX_PATIENTS:
        raise InvalidParameterError(
            f"partition_size must be at most {MAX_PATIENTS:,} patients for a cohort; got "
            f"{partition_size:,}."
        )
    origin.draw(1, 0, seed, 1)  # a bad source fails here, in one line, before any work
    request = {
        **origin.describe(),
        "rows": int(n),
        "partition_size": int(partition_size),
        "seed": int(seed),
    }
    plan = [(i, start, min(partition_size, n - start)) for i, start in _starts(n, partition_size)]
    _prepare_folder(folder, overwrite)
    manifest = Manifest.resume(folder, request, len(plan))
    manifest.write(folder)  # at once: a run killed before its first partition resumes too
    todo = [p for p in plan if p[0] not in manifest.partitions]
    args = [(origin, i, start, rows, seed, n, str(folder)) for i, start, rows in todo]

    def done(record: PartitionRecord) -> None:
        manifest.partitions[record.index] = record
        manifest.write(folder)
        if progress is not None:
            progress(len(manifest.partitions), manifest.n_partitions)

    if engine == "local":
        for task in args:
            done(sample_partition(*task))
    else:
        _on_dask(args, done, scheduler=scheduler, workers=workers)
    manifest.write(folder)
    return manifest


def sample_partition(
    source: ModelSource | CohortSource,
    index: int,
    start: int,
    rows: int,
    seed: int,
    total: int,
    folder: str,
) -> PartitionRecord:
    """One partition, written whole: rows (or patients) ``start .. start + rows - 1``, ids
    numbered from there so that no two partitions share one (runs on a worker)."""
    return source.write(index, start, rows, seed, total, Path(folder))


@dataclass(frozen=True)
class ModelSource:
    """A saved model folder and the fingerprint of its files (a resumed run must use the
    same model)."""

    path: str
    fingerprint: str

    def describe(self) -> dict[str, Any]:
        return {"source": "model", "model": self.fingerprint}

    def draw(self, rows: int, index: int, seed: int, total: int, start: int = 0) -> pd.DataFrame:
        synth = _load(self.path, self.fingerprint)
        frame = synth.sample(rows, seed=np.random.default_rng([seed, index]))
        return renumbered(frame, synth.schema_, start)

    def write(
        self, index: int, start: int, rows: int, seed: int, total: int, folder: Path
    ) -> PartitionRecord:
        frame = self.draw(rows, index, seed, total, start=start)
        path = folder / f"part-{index:05d}.parquet"
        remove_stale_temporaries(path)  # left by a worker killed in an earlier run
        with temporary_sibling(path) as tmp:
            frame.to_parquet(tmp, index=False)
            os.replace(tmp, path)
        return PartitionRecord(index=index, file=path.name, rows=len(frame), sha256=sha256_of(path))


def _source(
    source: str | Path | CohortSpec, tables: Sequence[str] | None, fhir: bool
) -> ModelSource | CohortSource:
    from synthpatient.knowledge import CohortSpec

    if isinstance(source, CohortSpec):
        if fhir:  # a missing extra named before any work
            import_optional("fhir.resources.R4B", extra="fhir", purpose="FHIR output")
        return CohortSource.of(source, None if tables is None else tuple(tables), fhir)
    if tables is not None or fhir:  # never ignored unsaid
        raise InvalidParameterError(
            "tables and fhir are options of a cohort (a CohortSpec source); a model folder "
            "writes its one table."
        )
    path = Path(source)
    return ModelSource(path=str(path), fingerprint=model_fingerprint(path))


def renumbered(frame: pd.DataFrame, schema: Any, start: int) -> pd.DataFrame:
    """Fresh ids shifted by ``start``: each sample numbers its ids from the schema's floor, so
    partition ``i`` adds its first row's (or patient's) number to keep every id unique."""
    if not start:
        return frame
    for spec in schema:
        if spec.kind != "identifier" or spec.name not in frame:
            continue
        if spec.identifier_type == "integer_id":
            frame[spec.name] = frame[spec.name].astype("int64") + start
        elif spec.identifier_type in ("string_id", None):
            frame[spec.name] = [_shifted(v, start) for v in frame[spec.name]]
    return frame


def _shifted(value: object, start: int) -> object:
    match = _SYN_ID.match(str(value))
    if match is None:
        return value
    digits = match.group(1)
    return f"SYN-{int(digits) + start:0{len(digits)}d}"


def model_fingerprint(path: Path) -> str:
    """SHA-256 over the model folder's files: a resumed run must use the same model."""
    if not (path / "manifest.json").is_file():
        raise DataError(
            f"'{path}' is not a saved model folder (no manifest.json); save one with "
            "`synthpatient fit` or Synthesizer.save."
        )
    digest = hashlib.sha256()
    for file in sorted(p for p in path.iterdir() if p.is_file()):
        digest.update(file.name.encode())
        digest.update(sha256_of(file).encode())
    return digest.hexdigest()


@functools.lru_cache(maxsize=2)
def _load(model: str, fingerprint: str) -> Any:
    """The model, loaded once per process (a worker samples many partitions of it)."""
    from synthpatient.synthesizers import Synthesizer

    return Synthesizer.load(model)


def _starts(n: int, size: int) -> list[tuple[int, int]]:
    return [(i, start) for i, start in enumerate(range(0, n, size))]


def _prepare_folder(folder: Path, overwrite: bool) -> None:
    if folder.exists() and not folder.is_dir():
        raise DataError(f"'{folder}' exists and is not a folder; choose another --out.")
    if folder.exists() and overwrite:
        shutil.rmtree(folder)
    if folder.exists() and any(folder.iterdir()) and not (folder / MANIFEST).exists():
        raise DataError(
            f"The folder {folder} is not empty and holds no partitioned sample; choose another "
            "--out (nothing in it was touched)."
        )
    folder.mkdir(parents=True, exist_ok=True)


def _check(value: object, name: str, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise InvalidParameterError(f"{name} must be a whole number >= {low}; got {value!r}.")


def _on_dask(
    args: list[tuple[Any, ...]],
    done: Callable[[PartitionRecord], None],
    *,
    scheduler: str | None,
    workers: int | None,
) -> None:
    """Run the partitions on Dask; the manifest is written here, by the one client."""
    distributed = import_optional("distributed", extra="scale", purpose="engine='dask'")
    with dask_client(scheduler, workers) as client:
        futures = [client.submit(sample_partition, *a, pure=False) for a in args]
        for future in distributed.as_completed(futures):
            done(future.result())
