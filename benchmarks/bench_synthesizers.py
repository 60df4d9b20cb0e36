"""Speed, memory and quality of every registered synthesizer on the bundled data, with SDV's
GaussianCopulaSynthesizer run on the same data in the same process when SDV is installed.

    python benchmarks/bench_synthesizers.py [--dataset diabetes] [--seeds 5] [--json out.json]

Prints, per synthesizer: fit time, time to sample 1,000 and 100,000 rows (best of 3), peak
traced memory of fit + 100,000-row sample, and the SDMetrics-style quality score of synthetic
tables the size of the real one (mean and spread over seeds), by our implementation and, when
SDMetrics is installed, by SDMetrics itself. Then the ratios against SDV.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from typing import Any

import pandas as pd

from synthpatient import Schema, datasets
from synthpatient.errors import MissingExtraError
from synthpatient.evaluation.fidelity import quality_report
from synthpatient.synthesizers import available_synthesizers, get_synthesizer_class


def best_of(fn: Callable[[], Any], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def sdmetrics_score(
    real: pd.DataFrame, synthetic: pd.DataFrame, sdtypes: dict[str, str]
) -> float | None:
    try:
        from sdmetrics.reports.single_table import QualityReport
    except ImportError:
        return None
    metadata = {"columns": {c: {"sdtype": t} for c, t in sdtypes.items()}}
    report = QualityReport()
    report.generate(real[list(sdtypes)], synthetic[list(sdtypes)], metadata, verbose=False)
    return float(report.get_score())


class Candidate:
    """Adapter so that ours and SDV's are timed and scored by the same code."""

    def __init__(
        self,
        name: str,
        make_fit: Callable[[int], Any],
        sample: Callable[[Any, int, int], pd.DataFrame],
    ):
        self.name, self.make_fit, self.sample = name, make_fit, sample


def ours(key: str, real: pd.DataFrame, schema: Schema) -> Candidate:
    klass = get_synthesizer_class(key)
    return Candidate(
        key,
        lambda seed: klass(seed=seed).fit(real, schema=schema),
        lambda model, n, seed: model.sample(n, seed=seed),
    )


def sdv_copula(real: pd.DataFrame, sdtypes: dict[str, str]) -> Candidate | None:
    try:
        from sdv.metadata import Metadata
        from sdv.single_table import GaussianCopulaSynthesizer
    except ImportError:
        return None
    metadata = Metadata.load_from_dict(
        {"tables": {"table": {"columns": {c: {"sdtype": t} for c, t in sdtypes.items()}}}}
    )

    def fit(seed: int) -> Any:
        model = GaussianCopulaSynthesizer(metadata)
        model.fit({"table": real[list(sdtypes)]})
        return model

    def sample(model: Any, n: int, seed: int) -> pd.DataFrame:
        out = model.sample(n)
        return out["table"] if isinstance(out, dict) else out

    return Candidate("SDV GaussianCopula", fit, sample)


def measure(
    candidate: Candidate, real: pd.DataFrame, sdtypes: dict[str, str], seeds: int
) -> dict[str, Any]:
    start = time.perf_counter()
    model = candidate.make_fit(0)
    fit_s = time.perf_counter() - start
    sample_1k = best_of(lambda: candidate.sample(model, 1_000, 1))
    sample_100k = best_of(lambda: candidate.sample(model, 100_000, 1))
    tracemalloc.start()
    candidate.sample(candidate.make_fit(0), 100_000, 2)
    peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    ours_q, sdm_q = [], []
    for seed in range(seeds):
        fitted = candidate.make_fit(seed)
        synthetic = candidate.sample(fitted, len(real), 100 + seed)
        ours_q.append(quality_report(real, synthetic, sdtypes).score)
        score = sdmetrics_score(real, synthetic, sdtypes)
        if score is not None:
            sdm_q.append(score)
    return {
        "synthesizer": candidate.name,
        "fit_s": fit_s,
        "sample_1k_s": sample_1k,
        "sample_100k_s": sample_100k,
        "peak_mb": peak_mb,
        "quality_mean": statistics.mean(ours_q),
        "quality_sd": statistics.pstdev(ours_q),
        "sdmetrics_quality_mean": statistics.mean(sdm_q) if sdm_q else None,
        "sdmetrics_quality_sd": statistics.pstdev(sdm_q) if sdm_q else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="diabetes")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")

    real = datasets.load(args.dataset)
    schema = Schema.infer(real)
    sdtypes = schema.sdtypes()
    candidates = []
    for key in available_synthesizers():
        capabilities = get_synthesizer_class(key).capabilities
        if capabilities.needs_network:  # never a network call the user did not configure
            print(f"skipped {key}: it needs a configured LLM server")
            continue
        if capabilities.writes_text:  # the hybrid: its numbers are its base model's
            print(f"skipped {key}: its structured columns are its base model's; it adds text")
            continue
        try:
            candidates.append(ours(key, real, schema))
        except MissingExtraError as exc:
            print(f"skipped {key}: {exc}")
    sdv = sdv_copula(real, sdtypes)
    if sdv is None:
        print("SDV is not installed (pip install 'synthpatient[compare]'): no comparison run.")
    else:
        candidates.append(sdv)

    rows = [measure(c, real, sdtypes, args.seeds) for c in candidates]
    print(
        f"\nDataset {args.dataset}: {len(real)} real rows x {real.shape[1]} columns; quality on "
        f"synthetic tables of {len(real)} rows, mean +- sd over {args.seeds} seeds\n"
    )
    header = (
        f"| {'synthesizer':<20} | fit s | sample 1k s | sample 100k s | peak MB | "
        "quality (ours) | quality (SDMetrics) |"
    )
    print(header)
    print("|" + "|".join("-" * (len(part)) for part in header.split("|")[1:-1]) + "|")
    for r in rows:
        sdm = (
            "n/a"
            if r["sdmetrics_quality_mean"] is None
            else f"{r['sdmetrics_quality_mean']:.3f} +- {r['sdmetrics_quality_sd']:.3f}"
        )
        print(
            f"| {r['synthesizer']:<20} | {r['fit_s']:5.2f} | {r['sample_1k_s']:11.4f} | "
            f"{r['sample_100k_s']:13.3f} | {r['peak_mb']:7.1f} | "
            f"{r['quality_mean']:.3f} +- {r['quality_sd']:.3f} | {sdm:>19} |"
        )

    ok = True
    if sdv is not None:
        base = rows[-1]
        for r in rows[:-1]:
            speedup = base["sample_100k_s"] / r["sample_100k_s"]
            key = (
                "sdmetrics_quality_mean"
                if r["sdmetrics_quality_mean"] is not None
                else "quality_mean"
            )
            gap = r[key] - base[key]
            print(
                f"\n{r['synthesizer']} vs SDV GaussianCopula: sampling 100,000 rows {speedup:.1f}x "
                f"faster; quality {r[key]:.3f} vs {base[key]:.3f} ({gap:+.3f})"
            )
            if r["synthesizer"] == "copula":
                fast, close = speedup >= 10, gap >= 0
                print(
                    f"copula target (>= SDV quality, >= 10x faster sampling): "
                    f"quality {'met' if close else 'NOT met'}, speed {'met' if fast else 'NOT met'}"
                )
                ok = ok and fast and close
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(rows, handle, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
