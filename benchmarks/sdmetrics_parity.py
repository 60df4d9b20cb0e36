"""Our SDMetrics-named metrics against SDMetrics itself, on the same tables.

    pip install 'synthpatient[compare]' && python benchmarks/sdmetrics_parity.py

Prints, per table, every per-column and per-pair score and the overall QualityReport score by
both implementations and the largest absolute difference; exits 1 if any exceeds 1e-9.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd

from synthpatient import GaussianCopulaSynthesizer, Schema, datasets
from synthpatient.evaluation.fidelity import quality_report

TOLERANCE = 1e-9


def mixed_table(n_rows: int, seed: int) -> pd.DataFrame:
    """Missing values, booleans, datetimes, a rare category: the awkward cases."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, n_rows).astype(float)
    sex = rng.choice(["female", "male"], n_rows)
    smoker = np.where(sex == "male", rng.choice(["current", "former"], n_rows),
                      rng.choice(["never", "former", "rare"], n_rows, p=[.7, .29, .01]))
    hba1c = np.round(5 + 0.04 * age + rng.normal(0, 0.6, n_rows), 1)
    admitted = pd.Timestamp("2020-01-01") + pd.to_timedelta(
        (age * 10 + rng.integers(0, 200, n_rows)).astype(int), "D")
    age[rng.random(n_rows) < 0.1] = np.nan
    return pd.DataFrame({
        "age": age, "sex": sex, "smoker": smoker,
        "on_insulin": hba1c + rng.normal(0, 0.5, n_rows) > 7.5,
        "hba1c": hba1c, "admitted": admitted,
    })


def cases() -> list[tuple[str, pd.DataFrame, pd.DataFrame, dict[str, str]]]:
    out = []
    for key in ("diabetes", "breast_cancer"):
        real = datasets.load(key)
        schema = Schema.infer(real)
        synthetic = GaussianCopulaSynthesizer(seed=0).fit(real).sample(len(real), seed=1)
        out.append((f"{key} vs copula", real, synthetic, schema.sdtypes()))
    real, other = mixed_table(600, 1), mixed_table(800, 2)
    other.loc[other.index[:5], "smoker"] = "only-in-synthetic"
    other["sex"] = other["sex"].where(other.index % 2 == 0, "female")  # shift a share
    out.append(("mixed table vs perturbed draw", real, other, Schema.infer(real).sdtypes()))
    return out


def main() -> int:
    try:
        from sdmetrics.reports.single_table import QualityReport
    except ImportError:
        print("SDMetrics is not installed: pip install 'synthpatient[compare]'")
        return 1
    warnings.filterwarnings("ignore")
    worst = 0.0
    runs = [(name, real, synthetic, sdtypes, threshold)
            for name, real, synthetic, sdtypes in cases() for threshold in (True, False)]
    for name, real, synthetic, sdtypes, threshold in runs:
        corr_t, assoc_t = (0.5, 0.3) if threshold else (0.0, 0.0)
        name = f"{name}, pair thresholds {corr_t}/{assoc_t}"
        ours = quality_report(real, synthetic, sdtypes, real_correlation_threshold=corr_t,
                              real_association_threshold=assoc_t)
        metadata = {"columns": {c: {"sdtype": t} for c, t in sdtypes.items()}}
        theirs = QualityReport()
        theirs.real_correlation_threshold = corr_t
        theirs.real_association_threshold = assoc_t
        theirs.generate(real[list(sdtypes)], synthetic[list(sdtypes)], metadata, verbose=False)
        shapes = theirs.get_details("Column Shapes")["Score"].to_numpy()
        pairs = theirs.get_details("Column Pair Trends")["Score"].to_numpy()
        diffs = {
            "column scores": np.nanmax(np.abs(shapes - ours.column_details["score"].to_numpy())),
            "pair scores": np.nanmax(np.abs(pairs - ours.pair_details["score"].to_numpy())),
            "overall": abs(theirs.get_score() - ours.score),
        }
        same_nan = np.array_equal(np.isnan(pairs), ours.pair_details["score"].isna().to_numpy())
        print(f"\n{name}: {len(real)} real x {len(synthetic)} synthetic rows, {len(sdtypes)} columns")
        print(f"  overall quality   ours {ours.score:.12f}   SDMetrics {theirs.get_score():.12f}")
        print(f"  column shapes     ours {ours.column_shapes:.12f}   SDMetrics "
              f"{theirs.get_properties()['Score'].iloc[0]:.12f}")
        print(f"  column pair trends ours {ours.column_pair_trends:.12f}   SDMetrics "
              f"{theirs.get_properties()['Score'].iloc[1]:.12f}")
        for key, value in diffs.items():
            print(f"  max |difference| of {key:<13} {value:.2e}")
        print(f"  pairs left out by the real-relation thresholds agree: {same_nan}")
        worst = max(worst, *np.nan_to_num(list(diffs.values()), nan=0.0), 0.0 if same_nan else 1.0)
    print(f"\nlargest difference over all tables: {worst:.2e} (tolerance {TOLERANCE:.0e})")
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
