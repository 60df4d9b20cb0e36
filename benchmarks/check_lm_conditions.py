"""How well the tabular LM's conditional samples match the real patients who meet the condition.

For each seed, fit TabularLMSynthesizer and the Gaussian copula on the bundled diabetes table,
draw 2,000 rows under each condition below, and compare every other numeric column's mean with
the mean of the real patients meeting the condition, in units of the column's standard
deviation. Conditions on the first, a middle and the last column test that any subset can
condition (the LM reads the conditioned columns first).

    python benchmarks/check_lm_conditions.py [--seeds 3] [--rows 2000]

Prints the mean error per condition and overall for both models. The real subsets hold about
100 to 250 patients, so their own means carry a standard error of roughly 0.06-0.09 SD: errors
near that are as good as this check can tell.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import pandas as pd

CONDITIONS = {
    "sex == 2": ({"sex": 2}, lambda d: d["sex"] == 2),
    "bmi >= 30": ({"bmi": (30, None)}, lambda d: d["bmi"] >= 30),
    "hdl <= 40": ({"hdl": (None, 40)}, lambda d: d["hdl"] <= 40),
    "progression >= 200": ({"progression": (200, None)}, lambda d: d["progression"] >= 200),
}


def mean_error(
    real: pd.DataFrame, subset: pd.DataFrame, synthetic: pd.DataFrame, columns: list[str]
) -> float:
    """Mean over ``columns`` of |synthetic mean - subset mean| / the real column's sd."""
    return float(
        np.mean(
            [
                abs(synthetic[c].astype(float).mean() - subset[c].mean()) / real[c].std()
                for c in columns
            ]
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:2])
    import torch

    torch.set_num_threads(2)
    from synthpatient import datasets
    from synthpatient.synthesizers.copula import GaussianCopulaSynthesizer
    from synthpatient.synthesizers.tabular_lm import TabularLMSynthesizer

    real = datasets.load("diabetes")
    numeric = [c for c in real.columns if c != "sex"]
    errors: dict[str, dict[str, list[float]]] = {"tabular_lm": {}, "copula": {}}
    for seed in range(args.seeds):
        models = {
            "tabular_lm": TabularLMSynthesizer(seed=seed, progress=False).fit(real),
            "copula": GaussianCopulaSynthesizer(seed=seed).fit(real),
        }
        for name, (conditions, meets) in CONDITIONS.items():
            subset = real[meets(real)]
            others = [c for c in numeric if c not in conditions]
            for key, model in models.items():
                rows = model.sample(args.rows, conditions=conditions, seed=seed)
                errors[key].setdefault(name, []).append(mean_error(real, subset, rows, others))
    print(
        f"diabetes: {len(real)} patients; {args.rows} rows per condition; {args.seeds} seeds; "
        "error = mean |synthetic mean - real subset mean| / sd over the other numeric columns"
    )
    for name, (_, meets) in CONDITIONS.items():
        print(
            f"  {name:20s} ({int(meets(real).sum())} real patients): tabular_lm "
            f"{np.mean(errors['tabular_lm'][name]):.3f}, copula "
            f"{np.mean(errors['copula'][name]):.3f}"
        )
    overall = {key: np.mean([np.mean(v) for v in per.values()]) for key, per in errors.items()}
    print(f"overall: tabular_lm {overall['tabular_lm']:.3f}, copula {overall['copula']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
