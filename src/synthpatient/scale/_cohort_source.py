"""A knowledge-driven cohort drawn partition by partition: its tables, and FHIR when asked.

Partition ``i`` draws its patients from the request with the seed ``SeedSequence([seed, i])``
and numbers them from the partition's first patient (``P0000001`` is the first of the whole
dataset), in every table and in the encounter ids of a history, so that no two partitions
share an id and the dataset is the same whatever the number of workers. Each table is a
Parquet dataset of its own, one file per partition: ``patients/part-NNNNN.parquet`` (the wide
table), ``observations/`` (one row per patient and observation, or per measured value of a
history) and, with a follow-up, ``encounters/``, ``medications/`` and ``conditions/``. FHIR
(when asked) goes to ``fhir/part-NNNNN/<ResourceType>.ndjson`` (:mod:`._fhir_partitions`).

The long observations table of a one-visit cohort is written one observation at a time (a
Parquet row group each): a partition never holds it whole, which is what let a 1,000,000-patient
cohort in one process reach 4.7 GB.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synthpatient._atomic import remove_stale_temporaries, temporary_sibling
from synthpatient.errors import DataError, InvalidParameterError
from synthpatient.scale._fhir_partitions import write_fhir_partition
from synthpatient.scale._manifest import PartitionRecord, sha256_of

if TYPE_CHECKING:
    from synthpatient.knowledge.sampler import Cohort

#: the tables of a one-visit cohort and of one with a history, in the order written
SNAPSHOT_TABLES = ("patients", "observations")
HISTORY_TABLES = ("patients", "encounters", "observations", "medications", "conditions")


@dataclass(frozen=True)
class CohortSource:
    """A cohort request (its JSON, without size and seed), the tables to write and whether to
    write FHIR; ``fhir_sample``: patients per partition whose resources are validated."""

    spec: str
    tables: tuple[str, ...]
    fhir: bool = False
    fhir_sample: int = 100

    @classmethod
    def of(cls, spec: Any, tables: tuple[str, ...] | list[str] | None, fhir: bool) -> CohortSource:
        """The source of a CohortSpec; ``tables`` None: every table the cohort has."""
        history = spec.follow_up_years is not None
        known = HISTORY_TABLES if history else SNAPSHOT_TABLES
        chosen = tuple(known if tables is None else tables)
        unknown = [t for t in chosen if t not in known]
        if unknown or "patients" not in chosen or len(set(chosen)) != len(chosen):
            raise InvalidParameterError(
                f"tables must name each of {', '.join(known)} at most once, 'patients' "
                f"among them; got {', '.join(chosen) or 'none'}."
            )
        data = spec.model_dump(mode="json", exclude={"n", "seed"})
        return cls(json.dumps({**data, "n": 1}, sort_keys=True), chosen, bool(fhir))

    def describe(self) -> dict[str, Any]:
        return {
            "source": "cohort",
            "spec": json.loads(self.spec),
            "tables": list(self.tables),
            "fhir": self.fhir,
        }

    def draw(self, rows: int, index: int, seed: int, total: int, start: int = 0) -> pd.DataFrame:
        """The partition's patients table (its wide table)."""
        return self.cohort(rows, index, seed, total, start).wide

    def cohort(self, rows: int, index: int, seed: int, total: int, start: int = 0) -> Cohort:
        from synthpatient.knowledge import CohortSpec

        partition_seed = int(np.random.SeedSequence([seed, index]).generate_state(1)[0])
        spec = CohortSpec.model_validate_json(self.spec).model_copy(
            update={"n": rows, "seed": partition_seed}
        )
        return renumbered(_cohort_sampler().sample(spec), start, total)

    def write(
        self, index: int, start: int, rows: int, seed: int, total: int, folder: Path
    ) -> PartitionRecord:
        """Draw partition ``index`` and write its files; the record lists each with its
        checksum and rows (resources, for FHIR: keys ``fhir:<Type>``)."""
        cohort = self.cohort(rows, index, seed, total, start)
        name = f"part-{index:05d}"
        files: dict[str, str] = {}
        counts: dict[str, int] = {}
        for table in self.tables:
            rel = f"{table}/{name}.parquet"
            counts[table] = _write_table(cohort, table, folder / rel)
            files[rel] = sha256_of(folder / rel)
        if self.fhir:
            rng = np.random.default_rng([seed, index, 1])  # which patients are validated
            written = write_fhir_partition(
                cohort, folder / "fhir" / name, sample=self.fhir_sample, rng=rng
            )
            for kind, count in written.items():
                rel = f"fhir/{name}/{kind}.ndjson"
                files[rel] = sha256_of(folder / rel)
                counts[f"fhir:{kind}"] = count
        main = f"patients/{name}.parquet"
        return PartitionRecord(index, main, counts["patients"], files.pop(main), files, counts)


@functools.lru_cache(maxsize=1)
def _cohort_sampler() -> Any:
    """The knowledge base and sampler, loaded once per process (a worker draws many
    partitions)."""
    from synthpatient.knowledge import load_knowledge_base
    from synthpatient.knowledge.sampler import CohortSampler

    return CohortSampler(load_knowledge_base())


def renumbered(cohort: Cohort, start: int, total: int) -> Cohort:
    """The cohort with its patients numbered ``start + 1 ...`` (ids ``P`` + at least 7
    digits, as wide as ``total`` needs) in every table, encounter ids following them."""
    import dataclasses

    width = max(7, len(str(total)))
    old = pd.Index(cohort.wide["patient_id"].astype(str))
    numbers = np.arange(start + 1, start + len(old) + 1).astype(str)
    new = np.char.add("P", np.char.zfill(numbers, width)).astype(object)
    if np.array_equal(old.to_numpy(dtype=object), new):
        return cohort  # the first partition of a dataset under 10 million patients
    wide = cohort.wide.assign(patient_id=new)
    baseline = cohort.baseline
    if baseline is not None:
        baseline = baseline.assign(patient_id=_mapped(baseline["patient_id"], old, new))
    timeline = cohort.timeline
    if timeline is not None:
        timeline = dataclasses.replace(timeline, **_renumbered_history(timeline, old, new))
    return dataclasses.replace(cohort, wide=wide, baseline=baseline, timeline=timeline)


def _renumbered_history(timeline: Any, old: pd.Index, new: np.ndarray) -> dict[str, Any]:
    """The history's four tables with the new patient ids; an encounter id is its patient's
    id followed by ``-E`` and the visit's number, so it follows the patient's."""
    out = {
        name: getattr(timeline, name).assign(
            patient_id=_mapped(getattr(timeline, name)["patient_id"], old, new)
        )
        for name in ("encounters", "observations", "medications", "conditions")
    }
    encounters = out["encounters"]
    old_visits = pd.Index(encounters["encounter_id"].astype(str))
    visit_part = old_visits.str.rpartition("-E")
    new_visits = (
        encounters["patient_id"].astype(str).to_numpy(dtype=object)
        + "-E"
        + np.asarray(visit_part.get_level_values(2), dtype=object)
    )
    out["encounters"] = encounters.assign(
        encounter_id=pd.Series(
            new_visits, index=encounters.index, dtype=encounters.encounter_id.dtype
        )
    )
    observations = out["observations"]
    out["observations"] = observations.assign(
        encounter_id=_mapped(observations["encounter_id"], old_visits, new_visits)
    )
    return out


def _mapped(column: pd.Series, old: pd.Index, new: np.ndarray) -> pd.Series:
    """``column``'s values (each one of ``old``) replaced by the matching ``new``, keeping its
    dtype (a categorical's categories are renamed, not its rows)."""
    categorical = isinstance(column.dtype, pd.CategoricalDtype)
    values = column.cat.categories if categorical else column
    where = old.get_indexer(values.astype(str))
    if (where < 0).any():  # new[-1] would give another id without a word
        raise DataError(
            f"{int((where < 0).sum()):,} ids of the drawn cohort's history are not in its "
            "patients table; the partition was not written."
        )
    if categorical:
        return column.cat.rename_categories(new[where].tolist())
    return pd.Series(new[where], index=column.index, dtype=column.dtype)


def _write_table(cohort: Cohort, table: str, path: Path) -> int:
    """Write one table of the partition whole (a temporary file renamed); returns its rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)  # left by a worker killed in an earlier run
    with temporary_sibling(path) as tmp:
        if table == "observations" and cohort.timeline is None:
            rows = _write_long(cohort, tmp)
        else:
            frame = cohort.wide if table == "patients" else getattr(cohort.timeline, table)
            write_frame(frame, tmp)
            rows = len(frame)
        os.replace(tmp, path)
    return rows


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    """``frame`` as Parquet with one schema whatever its size: pandas would store a
    categorical's codes in the narrowest integer its categories fit (int8 for a partition of
    100 patients, int16 for 1,000), so partitions of one table would disagree; 32 bits here."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    fields = [
        pa.field(f.name, pa.dictionary(pa.int32(), f.type.value_type), f.nullable, f.metadata)
        if pa.types.is_dictionary(f.type)
        else f
        for f in table.schema
    ]
    pq.write_table(table.cast(pa.schema(fields, metadata=table.schema.metadata)), path)


def _write_long(cohort: Cohort, path: Path) -> int:
    """The long observations table (the columns of ``Cohort.long``), one row group per
    observation, so that only one observation's rows are built at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    text = pa.string()
    schema = pa.schema(
        [
            ("patient_id", text),
            ("observation", text),
            ("name", text),
            ("loinc", text),
            ("value", pa.float64()),
            ("unit", text),
            ("effective_date", pa.timestamp("ns")),
        ]
    )
    wide = cohort.wide
    n = len(wide)
    ids = pa.array(wide["patient_id"].astype(str).to_numpy(dtype=object), text)
    dates = pa.array(wide["last_visit_date"].to_numpy(dtype="datetime64[ns]"), pa.timestamp("ns"))
    with pq.ParquetWriter(path, schema) as writer:
        for obs in cohort.observations:
            values = wide[obs.key].to_numpy(dtype=float, na_value=np.nan)
            columns = [
                ids,
                pa.repeat(pa.scalar(obs.key, text), n),
                pa.repeat(pa.scalar(obs.name, text), n),
                pa.repeat(pa.scalar(obs.loinc, text), n),
                pa.array(values, pa.float64(), from_pandas=True),
                pa.repeat(pa.scalar(obs.unit, text), n),
                dates,
            ]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
    return n * len(cohort.observations)
