"""Partitioned sampling (``synthpatient.scale``): speed, workers, identity, resume, memory.

Part 1, a fitted model. Fits the copula on the bundled diabetes table, saves it, and samples
``--rows`` rows in partitions of ``--partition-size``: in this process, then on a Dask
LocalCluster with 1 and with 2 workers. Prints, for each, seconds and rows/s, the scaling ratio
(2 workers / 1), whether the partitions are byte-identical across runs (same seed), the peak
memory of this process during the local run, and a resumed run: stopped after half the
partitions, restarted, counting the partitions drawn again (target 0 of those finished).

Part 2, a knowledge-driven cohort (type 2 diabetes, 20 observations, wide): ``--cohort-rate``
patients with 1 and with 2 Dask workers (rows/s, scaling ratio, byte-identical partitions),
then ``--cohort-patients`` (default 100,000,000) with 2 workers, with the peak memory of every
worker process and of this one.

    python benchmarks/bench_scale.py [--rows 2000000] [--partition-size 250000]
        [--cohort-rate 4000000] [--cohort-patients 100000000] [--cohort-partition 500000]
        [--out FOLDER]   # keep the cohort dataset there (default: a temporary folder, removed)

Not measured here yet (issue 22): timelines on Dask, fitting from a larger-than-memory Parquet
dataset, evaluation from mergeable summaries, FHIR per partition.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--partition-size", type=int, default=250_000)
    parser.add_argument("--cohort-rate", type=int, default=4_000_000)
    parser.add_argument("--cohort-patients", type=int, default=100_000_000)
    parser.add_argument("--cohort-partition", type=int, default=500_000)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--skip-model", action="store_true", help="run part 2 only")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    base = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        ok = True if args.skip_model else model_part(args, base)
        return 0 if cohort_part(args, base) and ok else 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


def model_part(args: argparse.Namespace, base: Path) -> bool:
    from synthpatient import datasets
    from synthpatient.scale import sample_partitioned
    from synthpatient.synthesizers import make_synthesizer

    model = base / "model"
    make_synthesizer("copula", seed=0).fit(datasets.load("diabetes")).save(model)
    runs = {}
    for name, engine, workers in (
        ("local", "local", None),
        ("dask, 1 worker", "dask", 1),
        ("dask, 2 workers", "dask", 2),
    ):
        started = time.perf_counter()
        manifest = sample_partitioned(
            model,
            args.rows,
            base / name.replace(" ", "").replace(",", "-"),
            partition_size=args.partition_size,
            seed=1,
            engine=engine,  # type: ignore[arg-type]
            workers=workers,
        )
        seconds = time.perf_counter() - started
        runs[name] = (seconds, {i: p.sha256 for i, p in manifest.partitions.items()})
        print(f"{name:16s} {seconds:7.1f} s  {args.rows / seconds:12,.0f} rows/s")
        if engine == "local":
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{'':16s} peak memory of this process: {peak:,.0f} MB")
    one, two = runs["dask, 1 worker"][0], runs["dask, 2 workers"][0]
    print(f"scaling ratio (1 worker time / 2 workers time): {one / two:.2f}")
    hashes = [h for _, h in runs.values()]
    identical = all(h == hashes[0] for h in hashes)
    print(f"partitions byte-identical across local, 1 and 2 workers: {identical}")

    class Stop(Exception):
        pass

    total = -(-args.rows // args.partition_size)

    def stop_halfway(done: int, _: int) -> None:
        if done == total // 2:
            raise Stop

    folder = base / "resumed"
    with contextlib.suppress(Stop):
        sample_partitioned(
            model,
            args.rows,
            folder,
            partition_size=args.partition_size,
            seed=1,
            progress=stop_halfway,
        )
    drawn: list[int] = []
    manifest = sample_partitioned(
        model,
        args.rows,
        folder,
        partition_size=args.partition_size,
        seed=1,
        progress=lambda done, _: drawn.append(done),
    )
    same = {i: p.sha256 for i, p in manifest.partitions.items()} == hashes[0]
    print(
        f"resumed after {total // 2} of {total} partitions: {len(drawn)} drawn again "
        f"(expected {total - total // 2}), result identical to an uninterrupted run: {same}"
    )
    return identical and same and len(drawn) == total - total // 2


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cohort_part(args: argparse.Namespace, base: Path) -> bool:
    """The cohort at scale on a LocalCluster this script starts (to read its workers' peaks)."""
    from distributed import Client, LocalCluster

    from synthpatient.knowledge import CohortSpec
    from synthpatient.scale import sample_partitioned

    spec = CohortSpec(condition="type2_diabetes", n=1, n_observations=20)
    times, hashes = {}, {}
    for workers in (1, 2):
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            started = time.perf_counter()
            manifest = sample_partitioned(
                spec,
                args.cohort_rate,
                base / f"cohort-{workers}",
                partition_size=args.cohort_partition,
                seed=5,
                engine="dask",
                scheduler=cluster.scheduler_address,
            )
            times[workers] = time.perf_counter() - started
            hashes[workers] = {i: p.sha256 for i, p in manifest.partitions.items()}
            client.close()
        rate = args.cohort_rate / times[workers]
        print(
            f"cohort, {workers} worker(s): {args.cohort_rate:,} patients in "
            f"{times[workers]:.1f} s, {rate:,.0f} patients/s"
        )
    print(f"cohort scaling ratio (1 worker time / 2 workers time): {times[1] / times[2]:.2f}")
    identical = hashes[1] == hashes[2]
    print(f"cohort partitions byte-identical with 1 and 2 workers: {identical}")
    folder = args.out or base / "cohort-full"
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        started = time.perf_counter()
        manifest = sample_partitioned(
            spec,
            args.cohort_patients,
            folder,
            partition_size=args.cohort_partition,
            seed=5,
            engine="dask",
            scheduler=cluster.scheduler_address,
        )
        seconds = time.perf_counter() - started
        peaks = client.run(peak_mb)
    size = sum((folder / p.file).stat().st_size for p in manifest.partitions.values()) / 1e9
    worst = max([*peaks.values(), peak_mb()])
    print(
        f"cohort: {manifest.rows:,} patients x 20 observations in {len(manifest.partitions)} "
        f"partitions, {size:.1f} GB of Parquet, {seconds:.0f} s ({manifest.rows / seconds:,.0f} "
        f"patients/s); peak memory per worker "
        + ", ".join(f"{v:,.0f} MB" for v in peaks.values())
        + f", this process {peak_mb():,.0f} MB"
    )
    print(f"peak memory of any process <= 2 GB: {worst <= 2048}")
    return identical and worst <= 2048


if __name__ == "__main__":
    sys.exit(main())
