"""Partitioned sampling (``synthpatient.scale``): speed, workers, identity, resume, memory.

Issue 22's must-show, printed line by line (the last line says whether every check was met):

Part 1, a fitted model. Fits the copula on the bundled diabetes table, saves it, and samples
``--rows`` rows in partitions of ``--partition-size``: in this process, then on a Dask
LocalCluster with 1 and with 2 workers. Prints, for each, seconds and rows/s, the scaling ratio
(2 workers / 1), whether the partitions are byte-identical across runs (same seed), the peak
memory of this process during the local run, and a resumed run: stopped after half the
partitions, restarted, counting the partitions drawn again (target 0 of those finished).

Part 2, a knowledge-driven cohort (type 2 diabetes, 20 observations, the wide table):
``--cohort-rate`` patients with 1 and with 2 Dask workers (patients/s, scaling ratio,
byte-identical partitions), then ``--cohort-patients`` (default 100,000,000) with 2 workers:
patients/s, the time 100,000,000 patients take at that rate, and the peak memory of EVERY
process (this one, which holds the client and the scheduler; each nanny; each worker; any
other process they started), with whether the largest is <= 2 GB.

Part 3, a real kill: ``synthpatient ask ... --engine dask`` (patients and long observations
tables) run in a subprocess and killed with SIGKILL, with its scheduler and workers, once half
of ``--kill-patients`` / ``--kill-partition`` partitions are in the manifest; the same command
run again; prints the partitions drawn again, the finished partitions redone (target 0), and
whether the dataset is complete without temporary files left.

Part 4, histories and FHIR: ``--history-patients`` type 2 diabetes patients with 5 years of
history, in partitions of ``--history-partition``, with FHIR NDJSON per partition, on 2 Dask
workers: patients/s, FHIR resources/s, rows per table, the workers' peak memory, references
that do not resolve inside their partition and duplicate ids (each 0), and R4 JSON schema
errors in ``--fhir-check`` random resources of every NDJSON file (0; the validator of
``check_fhir_timelines.py``).

    python benchmarks/bench_scale.py [--rows 2000000] [--partition-size 250000]
        [--cohort-rate 4000000] [--cohort-patients 100000000] [--cohort-partition 500000]
        [--kill-patients 2000000] [--kill-partition 200000] [--history-patients 2000]
        [--history-partition 500] [--fhir-check 50] [--skip-model] [--skip-kill] [--skip-history]
        [--out FOLDER]   # keep the cohort dataset there (default: a temporary folder, removed)

A quick run on a busy machine: ``--skip-model --cohort-rate 1000000 --cohort-patients 5000000``.
Measured elsewhere: fitting from a larger-than-memory Parquet dataset and evaluation from
mergeable summaries (issue 22, items 2 and 3).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import shutil
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--partition-size", type=int, default=250_000)
    parser.add_argument("--cohort-rate", type=int, default=4_000_000)
    parser.add_argument("--cohort-patients", type=int, default=100_000_000)
    parser.add_argument("--cohort-partition", type=int, default=500_000)
    parser.add_argument("--kill-patients", type=int, default=2_000_000)
    parser.add_argument("--kill-partition", type=int, default=200_000)
    parser.add_argument("--history-patients", type=int, default=2_000)
    parser.add_argument("--history-partition", type=int, default=500)
    parser.add_argument("--fhir-check", type=int, default=50, help="resources per file")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--skip-model", action="store_true", help="skip part 1")
    parser.add_argument("--skip-kill", action="store_true", help="skip part 3")
    parser.add_argument("--skip-history", action="store_true", help="skip part 4")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    base = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        ok = True if args.skip_model else model_part(args, base)
        ok = cohort_part(args, base) and ok
        ok = (True if args.skip_kill else kill_part(args, base)) and ok
        ok = (True if args.skip_history else history_part(args, base)) and ok
        print(f"all checks met: {ok}")
        return 0 if ok else 1
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
        ("local", "local", 0),
        ("dask, 1 worker", "dask", 1),
        ("dask, 2 workers", "dask", 2),
    ):
        with contextlib.ExitStack() as stack:
            scheduler = None
            if workers:  # the cluster started (and the model loaded) before the clock starts
                from distributed import Client, LocalCluster

                cluster = stack.enter_context(
                    LocalCluster(
                        n_workers=workers,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                    )
                )
                client = stack.enter_context(Client(cluster))
                client.run(_load_model, str(model))
                scheduler = cluster.scheduler_address
            started = time.perf_counter()
            manifest = sample_partitioned(
                model,
                args.rows,
                base / name.replace(" ", "").replace(",", "-"),
                partition_size=args.partition_size,
                seed=1,
                engine=engine,  # type: ignore[arg-type]
                scheduler=scheduler,
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


def _load_model(path: str) -> None:
    """The model loaded into a worker's cache, as the first partition would."""
    from synthpatient.scale._sample import _load, model_fingerprint

    _load(path, model_fingerprint(Path(path)))


def peak_mb() -> float:
    """This process's peak resident memory (MB) since it started."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ProcessPeaks:
    """Peak resident memory of every process this one started (Dask's nannies and workers,
    anything they start), sampled every ``interval`` seconds by a thread: a process the exact
    peaks (``ru_maxrss`` read inside it) do not reach is still measured."""

    def __init__(self, interval: float = 0.1) -> None:
        import psutil

        self.me = psutil.Process()
        self.interval = interval
        self.peaks: dict[int, float] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ProcessPeaks:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join()

    def _run(self) -> None:
        import psutil

        while not self.stopping.wait(self.interval):
            for proc in self.me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    rss = proc.memory_info().rss / 2**20
                    self.peaks[proc.pid] = max(self.peaks.get(proc.pid, 0.0), rss)


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
            client.run(_warm)  # the knowledge base loaded before the clock starts, as at scale
            started = time.perf_counter()
            manifest = sample_partitioned(
                spec,
                args.cohort_rate,
                base / f"cohort-{workers}",
                partition_size=args.cohort_partition,
                seed=5,
                engine="dask",
                scheduler=cluster.scheduler_address,
                tables=["patients"],
            )
            times[workers] = time.perf_counter() - started
            hashes[workers] = {i: p.sha256 for i, p in manifest.partitions.items()}
        rate = args.cohort_rate / times[workers]
        print(
            f"cohort (wide, 20 observations), {workers} worker(s): {args.cohort_rate:,} "
            f"patients in {times[workers]:.1f} s, {rate:,.0f} patients/s"
        )
    print(f"cohort scaling ratio (1 worker time / 2 workers time): {times[1] / times[2]:.2f}")
    identical = hashes[1] == hashes[2] and len(hashes[1]) > 0
    print(
        f"cohort partitions byte-identical with 1 and 2 workers ({len(hashes[1])} partitions, "
        f"same seed): {identical}"
    )
    return full_cohort_run(args, base, spec) and identical


def _warm() -> None:
    from synthpatient.scale._cohort_source import _cohort_sampler

    _cohort_sampler()


def full_cohort_run(args: argparse.Namespace, base: Path, spec: object) -> bool:
    """``--cohort-patients`` (wide) with 2 workers: rate, size, the peak memory of every
    process, and the time 100,000,000 patients take at the measured rate."""
    import os

    from distributed import Client, LocalCluster

    from synthpatient.scale import sample_partitioned

    folder = args.out or base / "cohort-full"
    with (
        ProcessPeaks() as sampled,
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        started = time.perf_counter()
        manifest = sample_partitioned(
            spec,  # type: ignore[arg-type]
            args.cohort_patients,
            folder,
            partition_size=args.cohort_partition,
            seed=5,
            engine="dask",
            scheduler=cluster.scheduler_address,
            tables=["patients"],
        )
        seconds = time.perf_counter() - started
        workers = client.run(lambda: (os.getpid(), peak_mb()))
        nannies = client.run(lambda: (os.getpid(), peak_mb()), nanny=True)
    size = sum((folder / p.file).stat().st_size for p in manifest.partitions.values()) / 1e9
    rate = manifest.rows / seconds
    print(
        f"cohort: {manifest.rows:,} patients x 20 observations (wide) in "
        f"{len(manifest.partitions)} partitions of {args.cohort_partition:,}, {size:.2f} GB of "
        f"Parquet, {seconds:.0f} s with 2 workers ({rate:,.0f} patients/s); at this rate "
        f"100,000,000 patients take {1e8 / rate / 60:.0f} min"
    )
    exact = {"this process (client, scheduler)": peak_mb()}
    exact.update({f"worker pid {pid}": mb for pid, mb in workers.values()})
    # a LocalCluster's nannies are servers inside this process (each starts its worker)
    exact.update({f"nanny pid {p}": mb for p, mb in nannies.values() if p != os.getpid()})
    known = {pid for pid, _ in [*workers.values(), *nannies.values()]}
    others = {f"other child pid {pid} (sampled)": mb for pid, mb in sampled.peaks.items()}
    others = {k: v for k, v in others.items() if int(k.split()[3]) not in known}
    print(
        "peak memory of every process (ru_maxrss read inside each; sampled every 0.1 s for "
        f"the others; {len(nannies)} nannies run inside this process):"
    )
    for name, mb in {**exact, **others}.items():
        print(f"  {name:40s} {mb:8,.0f} MB")
    worst = max([*exact.values(), *others.values()])
    print(f"peak memory of any process <= 2 GB: {worst <= 2048} (largest {worst:,.0f} MB)")
    return worst <= 2048 and manifest.complete


def kill_part(args: argparse.Namespace, base: Path) -> bool:
    """``synthpatient ask --engine dask`` in a subprocess, killed with SIGKILL (its whole
    process group: the CLI, its scheduler, nannies and workers) once half the partitions are
    in the manifest, then run again: finished partitions redone (target 0)."""
    import os
    import signal
    import subprocess

    folder = base / "killed"
    total = -(-args.kill_patients // args.kill_partition)
    command = [
        sys.executable,
        "-m",
        "synthpatient",
        "ask",
        f"generate {args.kill_patients} type 2 diabetes patients with 20 observations",
        "--yes",
        "--engine",
        "dask",
        "--partition-size",
        str(args.kill_partition),
        "--seed",
        "5",
        "--out",
        str(folder),
    ]

    def finished() -> dict[str, dict[str, object]]:
        with contextlib.suppress(OSError, ValueError):
            data = json.loads((folder / "_manifest.json").read_text())
            return {p["file"]: p for p in data["partitions"]}
        return {}

    started = time.perf_counter()
    first = subprocess.Popen(
        command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    while first.poll() is None and len(finished()) < total // 2:
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):  # it may have finished first
        os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    done = finished()
    before = {
        name: (folder / name).stat().st_mtime_ns
        for record in done.values()
        for name in [record["file"], *record["files"]]  # type: ignore[list-item]
    }
    second = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    drawn = sum(line.startswith("partition ") for line in second.stderr.splitlines())
    redone = {name.split("/")[-1] for name, ns in before.items() if not _same(folder / name, ns)}
    after = finished()
    leftovers = [p.name for p in folder.rglob("*") if p.name.endswith(".tmp")]
    print(
        f"killed (SIGKILL) after {len(done)} of {total} partitions; restarted: exit "
        f"{second.returncode}, {drawn} partitions drawn (expected {total - len(done)}), "
        f"{len(redone)} finished partitions redone (target 0), complete: "
        f"{len(after) == total}, temporaries left: {len(leftovers)}; {seconds:.0f} s in all"
    )
    return (
        second.returncode == 0
        and not redone
        and drawn == total - len(done)
        and len(after) == total
        and not leftovers
    )


def history_part(args: argparse.Namespace, base: Path) -> bool:
    """A cohort with 5 years of history and FHIR per partition on 2 Dask workers: patients
    and resources per second, the workers' peak memory, every partition's references
    resolved inside it, and a random sample of resources checked against the official R4
    JSON schema (the validator of ``check_fhir_timelines.py``)."""
    from distributed import Client, LocalCluster

    from synthpatient.knowledge import CohortSpec
    from synthpatient.scale import check_fhir_partition, sample_partitioned

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from check_fhir_timelines import Validators

    spec = CohortSpec(condition="type2_diabetes", n=1, n_observations=20, follow_up_years=5)
    folder = base / "history"
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(_warm)
        started = time.perf_counter()
        manifest = sample_partitioned(
            spec,
            args.history_patients,
            folder,
            partition_size=args.history_partition,
            seed=9,
            engine="dask",
            scheduler=cluster.scheduler_address,
            fhir=True,
        )
        seconds = time.perf_counter() - started
        peaks = client.run(peak_mb)
    totals = manifest.totals
    resources = sum(v for k, v in totals.items() if k.startswith("fhir:"))
    print(
        f"history: {manifest.rows:,} patients x 5 years in {manifest.n_partitions} partitions, "
        f"{seconds:.0f} s with 2 workers ({manifest.rows / seconds:,.0f} patients/s, "
        f"{resources / seconds:,.0f} FHIR resources/s); rows: "
        + ", ".join(f"{k} {v:,}" for k, v in totals.items() if not k.startswith("fhir:"))
        + "; worker peaks "
        + ", ".join(f"{mb:,.0f} MB" for mb in peaks.values())
    )
    checks = [check_fhir_partition(folder / "fhir" / f"part-{i:05d}") for i in manifest.partitions]
    unresolved = sum(c.unresolved for c in checks)
    duplicates = sum(c.duplicate_ids for c in checks)
    validators, rng = Validators(), np.random.default_rng(0)
    errors = checked = 0
    for path in sorted((folder / "fhir").glob("part-*/*.ndjson")):
        lines = path.read_text().splitlines()
        for k in rng.choice(len(lines), size=min(args.fhir_check, len(lines)), replace=False):
            errors += validators.errors(json.loads(lines[k]))
            checked += 1
    print(
        f"history FHIR: {resources:,} resources in {len(checks)} partition folders; "
        f"unresolved references inside a partition: {unresolved}; duplicate ids: {duplicates}; "
        f"R4 JSON schema errors in {checked:,} sampled resources: {errors}"
    )
    return manifest.complete and unresolved == duplicates == errors == 0


def _same(path: Path, mtime_ns: int) -> bool:
    return path.exists() and path.stat().st_mtime_ns == mtime_ns


if __name__ == "__main__":
    sys.exit(main())
