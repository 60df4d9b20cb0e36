"""What the copula's matched draw changes, and what it does not (issue 18).

    python benchmarks/check_matched_draw.py [--seeds 5] [--datasets diabetes breast_cancer pbcseq]

For each bundled table and seed (75% training rows, 25% holdout, as many synthetic rows as
training rows, as in ``check_peers.py``) the copula samples with ``matched_draw`` on (the
default) and off, and our CART at synthpop's defaults stands beside them. Prints, mean over
seeds: the SDMetrics quality against the training rows (what the benchmark scores) and
against the holdout (patients the model never saw: a gain there is a better model of the
population, a gain only against training is a closer copy of the training sample), TSTR,
DCR share (ideal: the training share) and membership-inference AUC (0.5 ideal).
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd

from synthpatient import datasets
from synthpatient.benchmark._runner import HOLDOUT_SHARE
from synthpatient.evaluation.evaluate import evaluate
from synthpatient.schema import Schema
from synthpatient.synthesizers import make_synthesizer

GENERATORS = {
    "copula (matched draw)": ("copula", {}),
    "copula (independent rows)": ("copula", {"matched_draw": False}),
    "cart[synthpop defaults]": ("cart", {"visit_order": "table", "guard_percentile": None}),
}
METRICS = ("quality", "ml_utility", "dcr", "membership_inference")


def one_run(key: str, real: pd.DataFrame, schema: Schema, seed: int, generator: str) -> dict:
    train = real.sample(frac=1 - HOLDOUT_SHARE, random_state=seed).sort_index()
    holdout = real.drop(train.index)
    synth_key, params = GENERATORS[generator]
    model = make_synthesizer(synth_key, seed=seed, **params).fit(train, schema=schema)
    synthetic = model.sample(len(train), seed=seed + 1000)
    target = datasets.info(key).target
    report = evaluate(
        train,
        synthetic,
        metrics=METRICS,
        holdout=holdout,
        target=target,
        schema=schema,
        seed=seed,
        detailed=False,
    )
    scores = dict(zip(report.summary["metric"], report.summary["score"], strict=True))
    unseen = evaluate(holdout, synthetic, metrics=("quality",), schema=schema, detailed=False)
    return {
        "quality vs training": scores["quality"],
        "quality vs holdout": float(unseen.summary["score"].iloc[0]),
        "TSTR": report.sections["ml_utility"]["tstr"],
        "TRTR": report.sections["ml_utility"]["trtr"],
        "DCR share": report.sections["dcr"]["share_closer_to_training"],
        "MIA AUC": report.sections["membership_inference"]["auc"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--datasets", nargs="*", default=["diabetes", "breast_cancer", "pbcseq"])
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    for key in args.datasets:
        real = datasets.load(key)
        schema = Schema.infer(real)
        ideal = len(real.sample(frac=1 - HOLDOUT_SHARE, random_state=0)) / len(real)
        rows = {
            generator: pd.DataFrame(
                [one_run(key, real, schema, seed, generator) for seed in range(args.seeds)]
            ).mean()
            for generator in GENERATORS
        }
        table = pd.DataFrame(rows).T
        print(f"\n{key}: {len(real)} rows, {args.seeds} seeds, ideal DCR share {ideal:.3f}")
        with pd.option_context("display.width", 200, "display.max_columns", 10):
            print(table.round(3))
        gain = table["quality vs training"].iloc[0] - table["quality vs training"].iloc[1]
        unseen = table["quality vs holdout"].iloc[0] - table["quality vs holdout"].iloc[1]
        print(
            f"matched draw: quality {gain:+.3f} against the training rows, {unseen:+.3f} "
            f"against the holdout; MIA AUC {np.round(table['MIA AUC'].iloc[0], 3)} vs "
            f"{np.round(table['MIA AUC'].iloc[1], 3)}"
        )


if __name__ == "__main__":
    main()
