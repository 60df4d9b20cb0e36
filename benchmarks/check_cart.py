"""Sequential CART against the copula on the bundled diabetes table (issue 18).

    python benchmarks/check_cart.py [--seeds 5] [--dataset diabetes] [--also min_leaf=10 ...]

Runs the project's benchmark runner (same splits as `make bench`: 75% training rows, 25%
holdout per seed, synthetic tables the size of the training rows) for `cart` and `copula`,
and prints per generator, mean and spread over seeds: quality (the SDMetrics-style score),
TSTR and TRTR (and their ratio), the share of synthetic rows closer to a training row than
to a holdout row (DCR share, and its excess over the ideal n_train / (n_train + n_holdout)),
membership-inference AUC, rule excess, and fit + sample seconds. ``--also`` adds CART
variants with other parameters (e.g. ``--also guard_percentile=None``). On a table with gaps
(``--dataset pbcseq``) it also prints, for seed 0, each gappy column's missing share in the
training rows and in CART's synthetic rows: the donor-distance guard must not thin the gaps
(rows with gaps sit closer to everything, hence its threshold per pattern of missing columns).

Timings depend on the machine's load: rerun on a quiet machine for figures to quote.
"""

from __future__ import annotations

import argparse
import ast

import pandas as pd

from synthpatient import datasets
from synthpatient.benchmark import run_benchmark, synthpatient_candidate
from synthpatient.benchmark._runner import HOLDOUT_SHARE
from synthpatient.synthesizers import make_synthesizer

COLUMNS = {
    "quality_mean": "quality",
    "quality_std": "±",
    "ml_utility.tstr_mean": "TSTR",
    "ml_utility.trtr_mean": "TRTR",
    "tstr_over_trtr": "TSTR/TRTR",
    "dcr.share_closer_to_training_mean": "DCR share",
    "dcr_off_ideal": "DCR - ideal",
    "membership_inference.auc_mean": "MIA AUC",
    "rule_violations.excess_mean_mean": "rule excess",
    "seconds": "fit+sample s",
}


def _variant(text: str) -> tuple[str, dict[str, object]]:
    name, _, value = text.partition("=")
    parsed = None if value == "None" else ast.literal_eval(value)
    return f"cart[{text}]", {name: parsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--dataset", default="diabetes")
    parser.add_argument("--also", nargs="*", default=[], help="CART variants: name=value")
    args = parser.parse_args()
    candidates = [synthpatient_candidate("cart"), synthpatient_candidate("copula")]
    for text in args.also:
        label, params = _variant(text)
        candidates.append(synthpatient_candidate("cart", label=label, **params))
    result = run_benchmark(candidates, (args.dataset,), seeds=args.seeds)
    for failure in result.failures:
        print("FAILED:", failure)
    summary = (
        result.summary.reset_index() if "synthesizer" not in result.summary else result.summary
    )
    table = summary.set_index("synthesizer")
    table["tstr_over_trtr"] = table["ml_utility.tstr_mean"] / table["ml_utility.trtr_mean"]
    # with no memorisation the share is n_training / (n_training + n_holdout), not 0.5
    real = datasets.load(args.dataset)
    n_train = len(real.sample(frac=1 - HOLDOUT_SHARE, random_state=0))
    ideal = n_train / len(real)
    table["dcr_off_ideal"] = table["dcr.share_closer_to_training_mean"] - ideal
    table["seconds"] = table["fit_s_mean"] + table["sample_s_mean"]
    shown = table[[c for c in COLUMNS if c in table.columns]].rename(columns=COLUMNS)
    print(
        f"{args.dataset}, {args.seeds} seeds (mean over seeds; ± is the spread of quality; "
        f"ideal DCR share {ideal:.3f}); timings inflated by machine load"
    )
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(shown.round(3).to_string())
    _print_missing_shares(args.dataset)


def _print_missing_shares(dataset: str) -> None:
    training, _ = datasets.split(dataset, holdout_share=HOLDOUT_SHARE, seed=0)
    gappy = [c for c in training.columns if training[c].isna().any()]
    if not gappy:
        return
    synthetic = make_synthesizer("cart", seed=0).fit(training).sample(len(training), seed=0)
    shares = pd.DataFrame(
        {"training": training[gappy].isna().mean(), "cart": synthetic[gappy].isna().mean()}
    )
    shares["cart - training"] = shares["cart"] - shares["training"]
    print(f"\nmissing share per column with gaps (seed 0, {len(training)} training rows)")
    print(shares.round(3).to_string())


if __name__ == "__main__":
    main()
