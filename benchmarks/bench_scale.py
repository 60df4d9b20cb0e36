"""Partitioned sampling (``synthpatient.scale``): speed, workers, identity, resume, memory.

Fits the copula on the bundled diabetes table, saves it, and samples ``--rows`` rows in
partitions of ``--partition-size``: in this process, then on a Dask LocalCluster with 1 and
with 2 workers. Prints, for each, seconds and rows/s, the scaling ratio (2 workers / 1), whether
the partitions are byte-identical across runs (same seed), the peak memory of this process
during the local run, and a resumed run: stopped after half the partitions, restarted, counting
the partitions drawn again (target 0 of those finished).

    python benchmarks/bench_scale.py [--rows 2000000] [--partition-size 250000]

Not measured here yet (issue 22): 100 million patients, cohorts and timelines on Dask, fitting
from a larger-than-memory Parquet dataset, evaluation from mergeable summaries.
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
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from synthpatient import datasets
    from synthpatient.scale import sample_partitioned
    from synthpatient.synthesizers import make_synthesizer

    base = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
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
        ok = identical and same and len(drawn) == total - total // 2
        return 0 if ok else 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
