"""How long the full evaluation report takes at scale.

    python benchmarks/bench_evaluation.py [--real 10000] [--synthetic 100000] [--columns 30]

Builds a mixed clinical-style table (numbers, integers, categories, a boolean, a date, missing
values; made up by code, so nothing is downloaded), fits the copula on it, samples the synthetic
table, and times ``evaluate`` (fidelity, detection, utility with size curve, privacy with a
holdout, attribute inference, rules, representation) plus the HTML rendering, stage by stage.
Target: the whole report in at most 60 s on 2 cores. Exit code 1 if it takes longer.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import warnings

import numpy as np
import pandas as pd

from synthpatient import GaussianCopulaSynthesizer
from synthpatient.evaluation.evaluate import evaluate
from synthpatient.rules import RuleSet

TARGET_SECONDS = 60.0
RULES = """
rules:
  - id: dbp-below-sbp
    compare: {left: diastolic_bp, op: "<", right: systolic_bp}
  - id: bmi-possible
    range: {column: bmi, min: 12, max: 80}
  - id: insulin-means-diabetes
    implies: {if: "on_insulin == True", then: "diagnosis != 'none'"}
"""


def clinical_table(n_rows: int, n_columns: int, seed: int) -> pd.DataFrame:
    """A made-up table with correlated labs, categories that move them, and missing values."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 95, n_rows)
    latent = rng.normal(size=(n_rows, 4)) + (age[:, None] - 55) / 30
    sex = rng.choice(["female", "male"], n_rows)
    diagnosis = np.where(
        latent[:, 0] > 1.0, "type 2", np.where(latent[:, 0] > 0.6, "prediabetes", "none")
    )
    frame = {
        "age": age,
        "sex": sex,
        "diagnosis": diagnosis,
        "race": rng.choice(
            ["white", "black", "hispanic", "asian", "other"],
            n_rows,
            p=[0.6, 0.13, 0.17, 0.06, 0.04],
        ),
        "smoker": rng.choice(["never", "former", "current"], n_rows, p=[0.55, 0.3, 0.15]),
        "on_insulin": (diagnosis == "type 2") & (rng.random(n_rows) < 0.3),
        "visit_date": pd.Timestamp("2021-01-01")
        + pd.to_timedelta(rng.integers(0, 1000, n_rows), "D"),
        "systolic_bp": np.round(125 + 12 * latent[:, 1] + rng.normal(0, 8, n_rows)),
        "bmi": np.round(28 + 4 * latent[:, 0] + rng.normal(0, 3, n_rows), 1),
        "n_admissions": rng.poisson(np.exp(0.3 * latent[:, 2])),
        "insurance": rng.choice(["private", "medicare", "medicaid", "none"], n_rows),
        "region": rng.choice(
            ["north", "south", "east", "west", "rare-island"], n_rows, p=[0.3, 0.3, 0.2, 0.19, 0.01]
        ),
    }
    frame["diastolic_bp"] = np.round(frame["systolic_bp"] * 0.62 + rng.normal(0, 5, n_rows))
    i = 0
    while len(frame) < n_columns:
        weights = rng.normal(size=4)
        values = np.exp(
            0.3 * (latent @ weights) / np.linalg.norm(weights) + rng.normal(0, 0.3, n_rows)
        )
        values = np.round(values * rng.uniform(1, 200), 2)
        if i % 3 == 0:
            values[rng.random(n_rows) < 0.15 + 0.1 * (latent[:, 3] > 1)] = np.nan
        frame[f"lab_{i:02d}"] = values
        i += 1
    return pd.DataFrame(frame)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=int, default=10_000)
    parser.add_argument("--synthetic", type=int, default=100_000)
    parser.add_argument("--columns", type=int, default=30)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")

    population = clinical_table(args.real + args.real // 4, args.columns, seed=0)
    real, holdout = population.iloc[: args.real], population.iloc[args.real :]
    model = GaussianCopulaSynthesizer(seed=0).fit(real)
    synthetic = model.sample(args.synthetic, seed=1)
    rules = RuleSet.from_yaml(RULES)
    print(f"real {real.shape}, holdout {holdout.shape}, synthetic {synthetic.shape}")

    start = time.perf_counter()
    report = evaluate(
        real, synthetic, holdout=holdout, target="diagnosis", rules=rules, sensitive="smoker"
    )
    evaluated = time.perf_counter()
    html = report.to_html()
    done = time.perf_counter()
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(report.summary[["family", "metric", "score", "verdict"]].to_string(index=False))
    print("\nstages:", ", ".join(f"{k} {v:.1f} s" for k, v in report.meta["timings_s"].items()))
    print(
        f"\nevaluate(): {evaluated - start:.1f} s; HTML with plots: {done - evaluated:.1f} s "
        f"({len(html) / 1e6:.1f} MB); total {done - start:.1f} s "
        f"(target <= {TARGET_SECONDS:.0f} s); "
        f"peak memory of the process {peak_gb:.2f} GB"
    )
    return 0 if done - start <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
