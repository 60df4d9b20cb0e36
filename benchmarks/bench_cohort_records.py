"""What the records of a partitioned cohort cost: realism report, data card and provenance.

``ask --engine`` writes them once every partition is there (``synthpatient.scale.
write_cohort_records``): the first partition is drawn again in memory (at most 100,000
patients) and judged, and the card and provenance are written. This prints, for a one-visit
cohort in the default partition of 100,000 patients and a 5-year history in the default
partition of 20,000, the seconds the partitions took, the seconds the records took, the
peak memory this process reached while writing them, and whether the judged sample equals
``patients/part-00000.parquet`` (it must: it is that partition drawn again).

    python benchmarks/bench_cohort_records.py [--patients 200000] [--history-patients 40000]
        [--skip-history]

Timings depend on the machine and its load: rerun on a quiet one before quoting them.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd

from synthpatient.knowledge import CohortSpec, load_knowledge_base
from synthpatient.scale import sample_partitioned, write_cohort_records
from synthpatient.scale._cohort_records import judged_sample


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(label: str, spec: CohortSpec, patients: int, partition: int, folder: Path) -> bool:
    """Partitions then records for one cohort; prints the figures; True when the sample is
    the first partition."""
    start = time.perf_counter()
    manifest = sample_partitioned(spec, patients, folder, partition_size=partition, seed=7)
    drawn = time.perf_counter() - start
    before = _peak_mb()
    start = time.perf_counter()
    records = write_cohort_records(folder, manifest, kb=load_knowledge_base(), engine="local")
    took = time.perf_counter() - start
    realism = json.loads(records["realism_json"].read_text())
    sample = judged_sample(manifest).cohort.wide
    written = pd.read_parquet(folder / "patients" / "part-00000.parquet")
    same = written.astype(str).equals(sample.astype(str))
    print(
        f"{label}: {patients:,} patients in {manifest.n_partitions} partitions of {partition:,}: "
        f"partitions {drawn:.1f} s; records {took:.1f} s (realism judged on {realism['n']:,} "
        f"patients); peak memory {before:,.0f} MB before, {_peak_mb():,.0f} MB after; "
        f"sample == part-00000: {same}"
    )
    return same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=200_000)
    parser.add_argument("--history-patients", type=int, default=40_000)
    parser.add_argument("--skip-history", action="store_true")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        snapshot = CohortSpec(condition="type2_diabetes", n=1, n_observations=20)
        ok &= run("one visit", snapshot, args.patients, 100_000, Path(tmp) / "snapshot")
        if not args.skip_history:
            history = CohortSpec(condition="type2_diabetes", n=1, follow_up_years=5)
            ok &= run("5-year history", history, args.history_patients, 20_000, Path(tmp) / "h")
    print(f"every judged sample is the first partition: {ok}")


if __name__ == "__main__":
    main()
