"""The copula fitted from a Parquet dataset larger than memory (``synthpatient.scale``).

1. A dataset: the copula fitted on the bundled diabetes table samples ``--rows`` rows
   (default 10,000,000) into a partitioned Parquet folder (``sample_partitioned``, partitions
   of ``--partition-size`` rows, seed 1). This dataset is "the data" below.
2. ``fit_partitioned`` fits a copula from the folder in passes (one child process, so that its
   peak memory is its own): seconds and peak RSS are printed, with the bound checked.
3. The in-memory ``GaussianCopulaSynthesizer.fit`` on the first ``--compare-rows`` rows of the
   dataset (all of it by default; a child process), and ``fit_partitioned`` on the same
   partitions when that is not the whole dataset: seconds and peak RSS.
4. Quality: each model samples 50,000 rows with seeds 0, 1, 2; each sample is scored with the
   project's fidelity quality score (``evaluation.fidelity.quality_report``, SDMetrics'
   QualityReport average of Column Shapes and Column Pair Trends) against one fixed reference:
   a uniform sample of 50,000 rows of the data the models were fitted on (seed 7). The mean of
   the three scores per model is printed, and the gap between the streamed and the in-memory
   fit on the same rows (target: at most 0.005).

5. Partitioned evaluation (``partitioned_quality``): the quality report of the dataset's first
   ``--evaluate-compare-rows`` rows against the bundled diabetes table from mergeable
   summaries, beside the in-memory ``quality_report`` of the same rows without its 50,000-row
   contingency subsample (the largest difference is printed; target below 1e-9), then of the
   whole dataset (a child process: seconds and peak RSS).

    python benchmarks/bench_scale_fit.py [--rows 10000000] [--compare-rows N]
        [--partition-size 500000] [--folder FOLDER] [--memory-bound-gb 1.5]
        [--evaluate-compare-rows 1000000] [--evaluation-only]

Figures are wall-clock seconds on whatever machine runs it; a busy machine inflates them.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REFERENCE_ROWS = 50_000
SAMPLE_SEEDS = (0, 1, 2)


def _child(args: argparse.Namespace) -> int:
    """One fit in this (child) process; prints a JSON line with seconds and peak RSS."""
    warnings.simplefilter("ignore")
    from synthpatient import GaussianCopulaSynthesizer

    files = sorted(Path(args.folder).glob("part-*.parquet"))[: args.partitions]
    started = time.perf_counter()
    if args.stage == "evaluate":
        from synthpatient import datasets
        from synthpatient.scale import partitioned_quality
        from synthpatient.schema import Schema

        real = datasets.load("diabetes")
        result = partitioned_quality(real, args.folder, Schema.infer(real).sdtypes())
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(json.dumps({"seconds": seconds, "peak_bytes": peak, "score": result.score}))
        return 0
    if args.stage == "stream":
        from synthpatient.scale import fit_partitioned

        link = Path(args.model).with_name(Path(args.model).name + "-data")
        link.mkdir(parents=True, exist_ok=True)
        for f in files:  # the same partitions as the in-memory fit reads
            target = link / f.name
            if not target.exists():
                target.symlink_to(f.resolve())
        model = fit_partitioned(link, GaussianCopulaSynthesizer(seed=0))
        extra = {"rank_error": model.fit_report_.max_rank_error}  # type: ignore[attr-defined]
    else:
        import pandas as pd

        data = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
        model = GaussianCopulaSynthesizer(seed=0).fit(data)
        extra = {}
    seconds = time.perf_counter() - started
    model.save(args.model)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {"seconds": seconds, "peak_bytes": peak, "rows": model.n_training_rows_, **extra}
        )
    )
    return 0


def _run_child(stage: str, folder: Path, partitions: int, model: Path) -> dict[str, float]:
    command = [
        sys.executable,
        __file__,
        "--stage",
        stage,
        "--folder",
        str(folder),
        "--partitions",
        str(partitions),
        "--model",
        str(model),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{stage} fit failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _make_dataset(folder: Path, rows: int, partition_size: int) -> None:
    from synthpatient import GaussianCopulaSynthesizer, datasets
    from synthpatient.scale import sample_partitioned

    if (folder / "_manifest.json").exists():
        print(f"dataset: reusing {folder}")
    model = folder.with_name(folder.name + "-source-model")
    if not model.exists():
        GaussianCopulaSynthesizer(seed=0).fit(datasets.load("diabetes")).save(model)
    started = time.perf_counter()
    sample_partitioned(model, rows, folder, partition_size=partition_size, seed=1)
    print(f"dataset: {rows:,} rows in {folder} ({time.perf_counter() - started:.0f} s)")


def _quality(models: dict[str, Path], folder: Path, partitions: int) -> dict[str, float]:
    import numpy as np
    import pandas as pd

    from synthpatient.evaluation.fidelity import quality_report
    from synthpatient.scale._partitions import partitions_of, sample_plan, take_rows
    from synthpatient.synthesizers import Synthesizer

    parts = partitions_of(folder)[:partitions]
    plan = sample_plan(parts, REFERENCE_ROWS, seed=7)
    reference = pd.concat(
        [take_rows(p, rows, None) for p, rows in zip(parts, plan, strict=True) if len(rows)],
        ignore_index=True,
    )
    scores = {}
    for name, path in models.items():
        model = Synthesizer.load(path)
        sdtypes = model.schema_.sdtypes()
        values = [
            quality_report(reference, model.sample(REFERENCE_ROWS, seed=s), sdtypes).score
            for s in SAMPLE_SEEDS
        ]
        scores[name] = float(np.mean(values))
        print(f"quality {name}: {scores[name]:.5f} (seeds {[round(v, 5) for v in values]})")
    return scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--compare-rows", type=int, default=None)
    parser.add_argument("--partition-size", type=int, default=500_000)
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--memory-bound-gb", type=float, default=1.5)
    parser.add_argument("--evaluate-compare-rows", type=int, default=1_000_000)
    parser.add_argument("--evaluation-only", action="store_true", help="skip steps 2-4")
    parser.add_argument("--stage", choices=("stream", "memory", "evaluate"), default=None)
    parser.add_argument("--partitions", type=int, default=None)
    parser.add_argument("--model", type=str, default=None)
    args = parser.parse_args()
    if args.stage:
        return _child(args)
    warnings.simplefilter("ignore")
    work = Path(tempfile.mkdtemp(prefix="bench_scale_fit_"))
    folder = args.folder or work / "data"
    _make_dataset(folder, args.rows, args.partition_size)
    n_parts = -(-args.rows // args.partition_size)
    if args.evaluation_only:
        _evaluation(folder, args.evaluate_compare_rows, args.partition_size, n_parts, work)
        return 0
    compare = args.compare_rows or args.rows
    k = -(-compare // args.partition_size)
    models = {}
    streamed = _run_child("stream", folder, n_parts, work / "stream-all")
    bound = args.memory_bound_gb * 1e9
    print(
        f"streamed fit, {streamed['rows']:,.0f} rows: {streamed['seconds']:.0f} s, peak RSS "
        f"{streamed['peak_bytes'] / 1e9:.2f} GB (bound {args.memory_bound_gb} GB: "
        f"{'kept' if streamed['peak_bytes'] <= bound else 'EXCEEDED'}), largest sketch rank "
        f"error {streamed['rank_error']:.5f}"
    )
    models[f"streamed on {streamed['rows']:,.0f} rows"] = work / "stream-all"
    memory = _run_child("memory", folder, k, work / "memory")
    print(
        f"in-memory fit, {memory['rows']:,.0f} rows: {memory['seconds']:.0f} s, peak RSS "
        f"{memory['peak_bytes'] / 1e9:.2f} GB"
    )
    models[f"in-memory on {memory['rows']:,.0f} rows"] = work / "memory"
    same = work / "stream-all"
    if k < n_parts:
        part = _run_child("stream", folder, k, work / "stream-same")
        print(
            f"streamed fit, {part['rows']:,.0f} rows: {part['seconds']:.0f} s, peak RSS "
            f"{part['peak_bytes'] / 1e9:.2f} GB"
        )
        same = work / "stream-same"
        models[f"streamed on {part['rows']:,.0f} rows"] = same
    scores = _quality(models, folder, k)
    names = list(models)
    gap = scores[names[-1] if k < n_parts else names[0]] - scores[names[1]]
    print(
        f"quality gap, streamed - in-memory on the same {memory['rows']:,.0f} rows: "
        f"{gap:+.5f} (target |gap| <= 0.005: {'met' if abs(gap) <= 0.005 else 'NOT met'})"
    )
    _evaluation(folder, args.evaluate_compare_rows, args.partition_size, n_parts, work)
    print(f"models and data kept in {work}" if args.folder is None else f"models in {work}")
    del same
    return 0


def _evaluation(folder: Path, rows: int, partition_size: int, n_parts: int, work: Path) -> None:
    import numpy as np
    import pandas as pd

    from synthpatient import datasets
    from synthpatient.evaluation.fidelity import quality_report
    from synthpatient.scale import partitioned_quality
    from synthpatient.schema import Schema

    real = datasets.load("diabetes")
    sdtypes = Schema.infer(real).sdtypes()
    k = max(1, -(-rows // partition_size))
    files = sorted(folder.glob("part-*.parquet"))[:k]
    subset = work / "evaluate-subset"
    subset.mkdir(exist_ok=True)
    for f in files:
        if not (subset / f.name).exists():
            (subset / f.name).symlink_to(f.resolve())
    started = time.perf_counter()
    merged = partitioned_quality(real, subset, sdtypes)
    summaries = time.perf_counter() - started
    synthetic = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    started = time.perf_counter()
    memory = quality_report(real, synthetic, sdtypes, num_rows_subsample=None)
    in_memory = time.perf_counter() - started
    gap = max(
        abs(merged.score - memory.score),
        float(np.nanmax(np.abs(merged.column_details["score"] - memory.column_details["score"]))),
        float(
            np.nanmax(np.abs(merged.pair_details["similarity"] - memory.pair_details["similarity"]))
        ),
    )
    print(
        f"partitioned evaluation of {len(synthetic):,} rows: quality {merged.score:.6f} "
        f"({summaries:.0f} s) vs in-memory {memory.score:.6f} ({in_memory:.0f} s); largest "
        f"difference in any score {gap:.1e} (target < 1e-9: {'met' if gap < 1e-9 else 'NOT met'})"
    )
    whole = _run_child("evaluate", folder, n_parts, work / "unused")
    print(
        f"partitioned evaluation of the whole dataset: quality {whole['score']:.6f}, "
        f"{whole['seconds']:.0f} s, peak RSS {whole['peak_bytes'] / 1e9:.2f} GB"
    )


if __name__ == "__main__":
    raise SystemExit(main())
