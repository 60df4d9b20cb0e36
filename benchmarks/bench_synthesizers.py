"""Speed, memory and quality of every registered synthesizer on the bundled data, beside the
peers (SDV's GaussianCopulaSynthesizer by default) run on the same data through the peers'
worker process.

    python benchmarks/bench_synthesizers.py [--dataset diabetes] [--seeds 5] [--json out.json]
        [--synthesizers copula,cart] [--peers sdv_gaussiancopula,arf]

The peers (SDV needs pandas<3) are never imported here: each runs in its worker process
(``synthpatient.benchmark._peers``) under the peers' environment (``make peers`` makes
``.venv-peers``, or set SYNTHPATIENT_PEERS_PYTHON). When that environment or a peer in it is
absent, the peer is named as skipped and ours still run.

Prints, per generator as soon as it is measured: fit time (a peer's is its worker's own time
around its fit), time to sample 1,000 and 100,000 rows (best of 3), peak memory of fit +
100,000-row sample, and the SDMetrics-style quality score of synthetic tables the size of the
real one (mean and spread over seeds), by our implementation and by SDMetrics itself where it
is importable here or in the peers' environment. Peak memory is what ``tracemalloc`` traced
in this process for ours; tracemalloc cannot see into the peer's worker process, whose peak
resident memory is printed apart. A generator that takes a target (AIM) gets the dataset's.
Then the ratios against SDV's GaussianCopula. Times are inflated on a loaded machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from synthpatient import Schema, datasets
from synthpatient.benchmark import default_candidates
from synthpatient.benchmark._candidates import Candidate
from synthpatient.benchmark._peers import (
    PEERS,
    PeerProcess,
    peer_available,
    peer_candidate,
    peer_note,
)
from synthpatient.benchmark._peers import peer_python as peers_python
from synthpatient.benchmark._runner import _own_seconds
from synthpatient.errors import SynthPatientError
from synthpatient.evaluation.fidelity import quality_report

SDV_COPULA = "sdv_gaussiancopula"
#: SDMetrics' QualityReport over a list of synthetic tables, run in the peers' interpreter
#: (SDMetrics comes with SDV there); reads a JSON job file, prints the scores as JSON.
SDMETRICS_JOB = """
import json, sys, warnings
warnings.filterwarnings("ignore")
import pandas as pd
from sdmetrics.reports.single_table import QualityReport
job = json.load(open(sys.argv[1], encoding="utf-8"))
real = pd.read_parquet(job["real"])
metadata = {"columns": {c: {"sdtype": t} for c, t in job["sdtypes"].items()}}
scores = []
for path in job["synthetic"]:
    report = QualityReport()
    report.generate(real, pd.read_parquet(path), metadata, verbose=False)
    scores.append(float(report.get_score()))
print(json.dumps(scores))
"""


class SDMetricsScorer:
    """SDMetrics' quality score, computed here when SDMetrics is importable, else in the
    peers' interpreter when it is there, else not at all (``where`` is then None)."""

    def __init__(self, real: pd.DataFrame, sdtypes: dict[str, str]) -> None:
        self.real, self.sdtypes = real[list(sdtypes)], sdtypes
        self.metadata = {"columns": {c: {"sdtype": t} for c, t in sdtypes.items()}}
        try:
            import sdmetrics  # noqa: F401
        except ImportError:
            self.where = "peers" if _importable(peers_python(), "sdmetrics") else None
        else:
            self.where = "here"

    def scores(self, tables: list[pd.DataFrame]) -> list[float]:
        if self.where == "here":
            from sdmetrics.reports.single_table import QualityReport

            out = []
            for table in tables:
                report = QualityReport()
                report.generate(self.real, table[list(self.sdtypes)], self.metadata, verbose=False)
                out.append(float(report.get_score()))
            return out
        if self.where == "peers":
            return self._in_peers(tables)
        return []

    def _in_peers(self, tables: list[pd.DataFrame]) -> list[float]:
        with tempfile.TemporaryDirectory(prefix="synthpatient-sdmetrics-") as folder:
            root = Path(folder)
            self.real.to_parquet(root / "real.parquet", index=False)
            paths = []
            for i, table in enumerate(tables):
                paths.append(str(root / f"synthetic{i}.parquet"))
                table[list(self.sdtypes)].to_parquet(paths[-1], index=False)
            job = {"real": str(root / "real.parquet"), "sdtypes": self.sdtypes, "synthetic": paths}
            (root / "job.json").write_text(json.dumps(job), encoding="utf-8")
            done = subprocess.run(
                [peers_python(), "-c", SDMETRICS_JOB, str(root / "job.json")],
                capture_output=True,
                text=True,
                timeout=1800,
            )
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise RuntimeError(f"SDMetrics in the peers' environment failed: {last}")
        scores: list[float] = json.loads(done.stdout.strip().splitlines()[-1])
        return scores


def _importable(python: str, module: str) -> bool:
    code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    try:
        return subprocess.run([python, "-c", code], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def best_of(run: Callable[[], float], repeats: int = 3) -> float:
    """The shortest of ``repeats`` timings (``run`` returns its own seconds)."""
    return min(run() for _ in range(repeats))


def candidates(args: argparse.Namespace) -> list[Candidate]:
    """Ours (as `synthpatient benchmark` picks them) and the peers asked for; every one left
    out is named."""
    keys = [k.strip() for k in args.synthesizers.split(",")] if args.synthesizers else None
    ours, skipped = default_candidates(keys, include_sdv=False)
    peers = []
    for name in [p.strip() for p in args.peers.split(",") if p.strip()]:
        if name not in PEERS:
            raise SystemExit(f"--peers: unknown peer '{name}'; known: {', '.join(PEERS)}")
        if peer_available(name):
            peers.append(peer_candidate(name))
        else:
            skipped.append(peer_note(name))
    for note in skipped:
        print(f"skipped {note}")
    return ours + peers


class Run:
    """One candidate on the table: ``fit`` and ``sample`` return the result and the model's
    own seconds (a peer's worker time, not the process start or the transfer of rows)."""

    def __init__(self, candidate: Candidate, real: pd.DataFrame, schema: Schema, target: str):
        self.candidate, self.real, self.schema = candidate, real, schema
        self.target = target if candidate.takes_target else None

    def fit(self, seed: int) -> tuple[Any, float]:
        start = time.perf_counter()
        if self.target is not None:
            model = self.candidate.fit(self.real, self.schema, seed, target=self.target)
        else:
            model = self.candidate.fit(self.real, self.schema, seed)
        return model, _own_seconds(model, start)

    def sample(self, model: Any, n_rows: int, seed: int) -> tuple[pd.DataFrame, float]:
        start = time.perf_counter()
        rows = self.candidate.sample(model, n_rows, seed)
        return rows, _own_seconds(model, start)


def _close(model: Any) -> None:
    if callable(getattr(model, "close", None)):  # a peer's worker process
        model.close()


def measure(run: Run, sdtypes: dict[str, str], seeds: int, scorer: SDMetricsScorer) -> dict:
    model, fit_s = run.fit(0)
    try:
        sample_1k = best_of(lambda: run.sample(model, 1_000, 1)[1])
        sample_100k = best_of(lambda: run.sample(model, 100_000, 1)[1])
        tables = [run.sample(model, len(run.real), 100)[0]]
        worker_mb = model.peak_mb if isinstance(model, PeerProcess) else None
    finally:
        _close(model)
    peak_mb = None
    if worker_mb is None:  # ours: traced in this process (a peer's worker is out of its sight)
        tracemalloc.start()
        traced = run.fit(0)[0]
        run.sample(traced, 100_000, 2)
        peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    for seed in range(1, seeds):
        fitted = run.fit(seed)[0]
        try:
            tables.append(run.sample(fitted, len(run.real), 100 + seed)[0])
        finally:
            _close(fitted)
    ours_q = [quality_report(run.real, t, sdtypes).score for t in tables]
    sdm_q = scorer.scores(tables)
    return {
        "synthesizer": run.candidate.name,
        "target": run.target,
        "fit_s": fit_s,
        "sample_1k_s": sample_1k,
        "sample_100k_s": sample_100k,
        "peak_mb": peak_mb,
        "worker_peak_rss_mb": worker_mb,
        "quality_mean": statistics.mean(ours_q),
        "quality_sd": statistics.pstdev(ours_q),
        "sdmetrics_quality_mean": statistics.mean(sdm_q) if sdm_q else None,
        "sdmetrics_quality_sd": statistics.pstdev(sdm_q) if sdm_q else None,
    }


def _line(r: dict) -> str:
    sdm = (
        "n/a"
        if r["sdmetrics_quality_mean"] is None
        else f"{r['sdmetrics_quality_mean']:.3f} +- {r['sdmetrics_quality_sd']:.3f}"
    )
    peak = "–" if r["peak_mb"] is None else f"{r['peak_mb']:.1f}"
    return (
        f"| {r['synthesizer']:<20} | {r['fit_s']:6.2f} | {r['sample_1k_s']:11.4f} | "
        f"{r['sample_100k_s']:13.3f} | {peak:>7} | "
        f"{r['quality_mean']:.3f} +- {r['quality_sd']:.3f} | {sdm:>19} |"
    )


def compare(rows: list[dict]) -> bool:
    """Each of ours against SDV's GaussianCopula (when it ran); False when the copula misses
    its target (>= SDV's quality, >= 10x faster sampling)."""
    base = next((r for r in rows if r["synthesizer"] == SDV_COPULA), None)
    if base is None:
        print("\nSDV's GaussianCopula did not run: no comparison.")
        return True
    ok = True
    for r in rows:
        if r is base or r["worker_peak_rss_mb"] is not None:
            continue
        speedup = base["sample_100k_s"] / r["sample_100k_s"]
        both = None not in (r["sdmetrics_quality_mean"], base["sdmetrics_quality_mean"])
        key = "sdmetrics_quality_mean" if both else "quality_mean"
        gap = r[key] - base[key]
        pace = f"{speedup:.1f}x faster" if speedup >= 1 else f"{1 / speedup:.1f}x slower"
        print(
            f"\n{r['synthesizer']} vs SDV GaussianCopula: sampling 100,000 rows {pace}; "
            f"quality {r[key]:.3f} vs {base[key]:.3f} ({gap:+.3f})"
        )
        if r["synthesizer"] == "copula":
            fast, close = speedup >= 10, gap >= 0
            print(
                f"copula target (>= SDV quality, >= 10x faster sampling): "
                f"quality {'met' if close else 'NOT met'}, speed {'met' if fast else 'NOT met'}"
            )
            ok = ok and fast and close
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="diabetes")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument(
        "--synthesizers", default=None, help="comma-separated keys (default: as the benchmark)"
    )
    parser.add_argument(
        "--peers", default=SDV_COPULA, help=f"comma-separated peers from: {', '.join(PEERS)}"
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")

    real = datasets.load(args.dataset)
    schema = Schema.infer(real)
    sdtypes = schema.sdtypes()
    target = datasets.info(args.dataset).target
    scorer = SDMetricsScorer(real, sdtypes)
    runs = [Run(c, real, schema, target) for c in candidates(args)]
    given = [r.candidate.name for r in runs if r.target is not None]
    where = {"here": "in this environment", "peers": "in the peers' environment"}
    print(
        f"\nDataset {args.dataset}: {len(real)} real rows x {real.shape[1]} columns; quality on "
        f"synthetic tables of {len(real)} rows, mean +- sd over {args.seeds} seeds; SDMetrics "
        f"{where.get(scorer.where or '', 'not installed')}; target '{target}' given to "
        f"{', '.join(given) or 'none'}; times inflated on a loaded machine\n"
    )
    header = (
        f"| {'synthesizer':<20} | fit s  | sample 1k s | sample 100k s | peak MB | "
        "quality (ours) | quality (SDMetrics) |"
    )
    print(header)
    print("|" + "|".join("-" * (len(part)) for part in header.split("|")[1:-1]) + "|", flush=True)
    rows, failures = [], []
    for run in runs:
        try:
            rows.append(measure(run, sdtypes, args.seeds, scorer))
        except (SynthPatientError, ImportError, ValueError, RuntimeError, OSError) as exc:
            first = (str(exc).splitlines() or [""])[0][:200]
            failures.append(f"{run.candidate.name}: {type(exc).__name__}: {first}")
            continue
        print(_line(rows[-1]), flush=True)
    for r in rows:
        if r["worker_peak_rss_mb"] is not None:
            print(
                f"\n{r['synthesizer']}: peak MB not traced (it runs in its worker process); "
                f"the worker's peak resident memory was {r['worker_peak_rss_mb']:.0f} MB"
            )
    for failure in failures:
        print(f"\nfailed {failure}")
    ok = compare(rows)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"rows": rows, "failures": failures}, handle, indent=2)
    return 0 if ok and not failures else 1


if __name__ == "__main__":
    sys.exit(main())
