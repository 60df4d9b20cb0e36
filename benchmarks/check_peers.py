"""Our generators against the literature's on the same splits of the bundled table (issue 18).

    python benchmarks/check_peers.py [--seeds 5] [--ours copula cart auto aim]
        [--peers synthpop "cart[synthpop defaults]" sdv_gaussiancopula sdv_ctgan sdv_tvae arf
                 forest_flow]
        [--forest-flow n_t=50 duplicate_K=100] [--checkpoint benchmarks/results/peers]

Runs the project's benchmark runner (75% training rows, 25% holdout per seed, as many
synthetic rows as training rows, the same evaluation for every generator) for our generators
and the peers. The peers run in their own environment (``make peers`` makes ``.venv-peers``:
SDV and py-synthpop need pandas<3, arfpy numpy<2.4). synthpop's sequential CART is there
twice: ``synthpop`` is py-synthpop (Hazy's Python port of the R package, MIT) at its
defaults, and ``cart[synthpop defaults]`` our ``cart`` at synthpop's defaults (table order, no
guard), counted among the peers. Prints per
generator, mean over seeds: quality (± its spread), TSTR, TRTR and their ratio, DCR share and
its distance from the ideal n_train / n_real, membership-inference AUC, rule excess, fit and
sample seconds and the 100,000-row sample time; then issue 18's must-show: the best of ours
has quality >= the best peer's + 0.01, with TSTR >= 0.95 x TRTR, DCR share within 0.05 of
the ideal and MIA AUC <= 0.55.

Every finished run is saved as a JSON file under ``--checkpoint``; a rerun reads those and
runs only what is missing (delete the folder to start afresh); ``--saved-only`` runs nothing
and prints what the folder holds (``--per-seed``: every run's figures too). Forest-Flow runs
at the authors' settings (n_t 50, duplicate_K 100) unless ``--forest-flow`` says otherwise;
the settings are part of its label.
Timings depend on the machine's load: rerun on a quiet machine for figures to quote.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

from synthpatient import datasets
from synthpatient.benchmark import peer_candidate, run_benchmark, synthpatient_candidate
from synthpatient.benchmark._peers import forest_flow_candidate, peer_available, peer_note
from synthpatient.benchmark._runner import HOLDOUT_SHARE, summarise

#: A second sequential-CART reference beside py-synthpop: our `cart` at synthpop's defaults
#: (columns in table order, donors' values unsmoothed, leaves of at least 5 rows, no
#: donor-distance guard); our `cart` differs by its measured order and its guard.
SYNTHPOP = "cart[synthpop defaults]"
PRIVATE = {"aim": 1.0, "mst": 1.0}  # shown for the record at epsilon 1; not in the must-show
COLUMNS = {
    "quality_mean": "quality",
    "quality_sd": "±",
    "ml_utility.tstr_mean": "TSTR",
    "ml_utility.trtr_mean": "TRTR",
    "tstr_over_trtr": "TSTR/TRTR",
    "dcr.share_closer_to_training_mean": "DCR share",
    "dcr_off_ideal": "DCR-ideal",
    "membership_inference.auc_mean": "MIA AUC",
    "rule_violations.excess_mean_mean": "rule excess",
    "fit_s_mean": "fit s",
    "sample_s_mean": "sample s",
    "sample_100k_s_mean": "100k s",
    "n_seeds": "seeds",
}


def _settings(pairs: list[str]) -> dict[str, object]:
    return {k: ast.literal_eval(v) for k, _, v in (p.partition("=") for p in pairs)}


def candidates(args: argparse.Namespace) -> tuple[list, set[str]]:  # type: ignore[type-arg]
    ours = []
    for key in args.ours:
        if key in PRIVATE:
            ours.append(synthpatient_candidate(key, label=f"{key} (eps=1)", epsilon=PRIVATE[key]))
        else:
            ours.append(synthpatient_candidate(key))
    peers = []
    for name in args.peers:
        if name == SYNTHPOP:  # synthpop's defaults on our trees: table order, no guard
            peers.append(
                synthpatient_candidate(
                    "cart", label=SYNTHPOP, visit_order="table", guard_percentile=None
                )
            )
            continue
        if not peer_available(name):
            print("NOT RUN:", peer_note(name))
            continue
        if name == "forest_flow":
            peers.append(forest_flow_candidate(**_settings(args.forest_flow)))
        else:
            peers.append(peer_candidate(name))
    return ours + peers, {c.name for c in peers}


def table(summary: pd.DataFrame, ideal: float) -> pd.DataFrame:
    out = summary.set_index("synthesizer").copy()
    out["tstr_over_trtr"] = out["ml_utility.tstr_mean"] / out["ml_utility.trtr_mean"]
    out["dcr_off_ideal"] = out["dcr.share_closer_to_training_mean"] - ideal
    return out


def must_show(shown: pd.DataFrame, peers: set[str]) -> None:
    ours = shown[[n not in peers and "eps=" not in n for n in shown.index]]
    theirs = shown[[n in peers for n in shown.index]]
    if ours.empty or theirs.empty:
        print("must-show not judged: ours or the peers have no finished run")
        return
    best, peer = ours["quality_mean"].idxmax(), theirs["quality_mean"].idxmax()
    row, margin = ours.loc[best], ours.loc[best, "quality_mean"] - theirs.loc[peer, "quality_mean"]
    checks = {
        f"quality {row['quality_mean']:.3f} >= best peer {peer} "
        f"{theirs.loc[peer, 'quality_mean']:.3f} + 0.01 (margin {margin:+.3f})": margin >= 0.01,
        f"TSTR/TRTR {row['tstr_over_trtr']:.3f} >= 0.95": row["tstr_over_trtr"] >= 0.95,
        f"|DCR share - ideal| {abs(row['dcr_off_ideal']):.3f} <= 0.05": abs(row["dcr_off_ideal"])
        <= 0.05,
        f"MIA AUC {row['membership_inference.auc_mean']:.3f} <= 0.55": row[
            "membership_inference.auc_mean"
        ]
        <= 0.55,
    }
    print(f"\nmust-show (best of ours by quality: {best}):")
    for text, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {text}")
    print(f"  overall: {'PASS' if all(checks.values()) else 'FAIL'}")


def load_scoring_code() -> None:
    """Import what the scoring uses before the first fit. The evaluation imports its metrics
    when a run is scored; a Forest-Flow fit lasts the better part of an hour, and a module
    edited or renamed in the working tree meanwhile failed the run at its end (so, most
    likely, a reduced Forest-Flow run was lost). Loaded first, a run scores with the code it
    started with."""
    import synthpatient.evaluation.evaluate  # noqa: F401
    import synthpatient.rules  # noqa: F401
    from synthpatient.benchmark._runner import BENCHMARK_METRICS
    from synthpatient.evaluation.registry import get_metric_class

    for key in BENCHMARK_METRICS:
        get_metric_class(key)


def run(args: argparse.Namespace, runs: list) -> pd.DataFrame:  # type: ignore[type-arg]
    load_scoring_code()
    start = time.perf_counter()

    def progress(text: str) -> None:
        print(f"[{time.perf_counter() - start:7.0f} s] {text}", file=sys.stderr, flush=True)

    result = run_benchmark(
        runs, (args.dataset,), seeds=args.seeds, progress=progress, checkpoint=args.checkpoint
    )
    for failure in result.failures:
        print("FAILED:", failure)
    return result.runs


def saved(args: argparse.Namespace, names: list[str]) -> pd.DataFrame:
    """The checkpoint folder's finished runs of ``names`` (seeds below ``--seeds``)."""
    rows = [json.loads(p.read_text(encoding="utf-8")) for p in Path(args.checkpoint).glob("*.json")]
    runs = pd.DataFrame(rows)
    if runs.empty:
        print(f"nothing saved in {args.checkpoint}")
        return runs
    keep = runs["synthesizer"].isin(names) & (runs["seed"] < args.seeds)
    keep &= runs["dataset"] == args.dataset
    runs = runs[keep].copy()
    order = {name: i for i, name in enumerate(names)}
    runs = runs.sort_values(["synthesizer", "seed"], key=lambda c: c.map(order).fillna(c))
    return runs.reset_index(drop=True)


def per_seed(runs: pd.DataFrame) -> None:
    """Each finished run's figures (the table's columns that a single run has)."""
    names = {k.removesuffix("_mean"): v for k, v in COLUMNS.items() if k.endswith("_mean")}
    shown = runs.set_index(["synthesizer", "seed"])[[c for c in names if c in runs.columns]]
    print("per seed:")
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(shown.rename(columns=names).round(3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--dataset", default="diabetes")
    parser.add_argument("--ours", nargs="*", default=["copula", "cart", "auto", "aim"])
    parser.add_argument(
        "--peers",
        nargs="*",
        default=[
            "synthpop",
            SYNTHPOP,
            "sdv_gaussiancopula",
            "sdv_ctgan",
            "sdv_tvae",
            "arf",
            "forest_flow",
        ],
    )
    parser.add_argument("--forest-flow", nargs="*", default=[], metavar="NAME=VALUE")
    parser.add_argument("--checkpoint", default="benchmarks/results/peers")
    parser.add_argument(
        "--saved-only",
        action="store_true",
        help="run nothing: print what the checkpoint folder holds for these generators",
    )
    parser.add_argument("--per-seed", action="store_true", help="also print every run's figures")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    runs, peers = candidates(args)
    done = saved(args, [c.name for c in runs]) if args.saved_only else run(args, runs)
    if done.empty:
        return
    if args.per_seed:
        per_seed(done)
    summary = summarise(done)
    real = datasets.load(args.dataset)
    ideal = len(real.sample(frac=1 - HOLDOUT_SHARE, random_state=0)) / len(real)
    shown = table(summary, ideal)
    print(
        f"{args.dataset}, up to {args.seeds} seeds (mean over seeds; ± is quality's spread; "
        f"ideal DCR share {ideal:.3f}); timings inflated by the machine's load; the peers' "
        "times are their own worker's, around their fit and sample calls"
    )
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(shown[[c for c in COLUMNS if c in shown.columns]].rename(columns=COLUMNS).round(3))
    must_show(shown, peers)


if __name__ == "__main__":
    main()
