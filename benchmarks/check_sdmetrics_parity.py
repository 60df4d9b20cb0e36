"""Check that synthpatient's fidelity metrics equal SDMetrics' on the same data.

Builds several real tables and perturbed "synthetic" versions, computes
``synthpatient.evaluation.fidelity.quality_report`` and, when SDMetrics is importable (the
optional ``compare`` extra; SDMetrics is BUSL-licensed and never imported by synthpatient
itself), SDMetrics' ``QualityReport`` and its single metrics, and prints them side by side.

Exit status: 1 if any value differs by more than 1e-9 (or is NaN on one side only) while
SDMetrics is installed, 0 otherwise.

Usage:
    python benchmarks/check_sdmetrics_parity.py [--verbose]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.evaluation.fidelity import (
    ContingencySimilarity,
    CorrelationSimilarity,
    KSComplement,
    TVComplement,
    quality_report,
)

TOLERANCE = 1e-9
SEED = 7


# -- tables ------------------------------------------------------------------------------------
def diabetes() -> tuple[pd.DataFrame, dict[str, str]]:
    """scikit-learn's diabetes table in raw units (442 x 11), ``sex`` categorical."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame
    sdtypes = {c: "numerical" for c in frame.columns}
    sdtypes["sex"] = "categorical"
    return frame, sdtypes


def mixed(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, dict[str, str]]:
    """A made-up table with NaNs, booleans, datetimes, a rare category and ignored columns."""
    rng = np.random.default_rng(seed)
    age = rng.normal(55, 12, n).round(0)
    bmi = 18 + 0.15 * age + rng.normal(0, 3, n)
    bmi[rng.random(n) < 0.1] = np.nan
    smoker = pd.Series(rng.random(n) < 0.3 + 0.004 * (age - 55), dtype=object)
    smoker[rng.random(n) < 0.05] = None  # a boolean with missing values is object in pandas
    admitted = (
        pd.Timestamp("2020-01-01")
        + pd.to_timedelta(rng.integers(0, 3 * 365, n), unit="D")
        + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s")
    )
    admitted = pd.Series(admitted).where(rng.random(n) > 0.05)  # NaT
    stay = np.clip(rng.gamma(2.0, 2.5 + 0.05 * (age - 40), n), 0, None).round(1)
    discharged = (admitted + pd.to_timedelta(stay, unit="D")).astype("datetime64[s]")
    ward = rng.choice(
        ["cardio", "onco", "general", "icu", "burns"], n, p=[0.3, 0.2, 0.43, 0.065, 0.005]
    )  # "burns" is rare
    blood = pd.Series(rng.choice(["A", "B", "AB", "O"], n, p=[0.4, 0.1, 0.05, 0.45]))
    blood[rng.random(n) < 0.08] = np.nan
    frame = pd.DataFrame(
        {
            "patient_id": [f"P{i:05d}" for i in range(n)],  # id: ignored
            "age": age,
            "bmi": bmi,
            "smoker": smoker,
            "admitted": admitted,
            "discharged": discharged,
            "stay_days": stay,
            "ward": ward,
            "blood": blood,
            "n_visits": rng.poisson(2 + (ward == "icu") * 3, n),
            "note": ["free text"] * n,  # text: ignored
            "site": pd.Categorical(
                rng.choice(["north", "south"], n), categories=["north", "south"]
            ),
        }
    )
    sdtypes = {
        "age": "numerical",
        "bmi": "numerical",
        "smoker": "boolean",
        "admitted": "datetime",
        "discharged": "datetime",
        "stay_days": "numerical",
        "ward": "categorical",
        "blood": "categorical",
        "n_visits": "numerical",
        "site": "categorical",
    }
    return frame, sdtypes


def perturb(
    real: pd.DataFrame,
    sdtypes: dict[str, str],
    scale: float,
    n_rows: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """A bootstrap of ``real`` with noise: numbers jittered by ``scale`` standard deviations,
    dates by ``scale`` x 30 days, a share ``scale`` of categories redrawn."""
    rng = np.random.default_rng(seed)
    n_rows = len(real) if n_rows is None else n_rows
    out = real.iloc[rng.integers(0, len(real), n_rows)].reset_index(drop=True)
    for column, sdtype in sdtypes.items():
        values = out[column]
        if sdtype == "numerical":
            out[column] = values + rng.normal(0, scale * values.std(), n_rows)
        elif sdtype == "datetime":
            jitter = pd.to_timedelta(rng.normal(0, scale * 30 * 86_400, n_rows).round(), unit="s")
            out[column] = (values + jitter).astype(values.dtype)
        else:
            redraw = rng.random(n_rows) < scale
            choices = values.dropna().unique()
            new = values.astype(object).copy()
            new[redraw] = rng.choice(choices, int(redraw.sum()))
            out[column] = (
                new.astype(values.dtype) if isinstance(values.dtype, pd.CategoricalDtype) else new
            )
    return out


def cases() -> Iterator[tuple[str, pd.DataFrame, pd.DataFrame, dict[str, str]]]:
    """(name, real, synthetic, sdtypes) for every comparison."""
    real, sdtypes = diabetes()
    rng = np.random.default_rng(1)
    yield "diabetes: real vs real", real, real.copy(), sdtypes
    yield "diabetes: light noise", real, perturb(real, sdtypes, 0.1, seed=1), sdtypes
    yield "diabetes: heavy noise", real, perturb(real, sdtypes, 0.8, seed=2), sdtypes
    shuffled = real.apply(lambda col: rng.permutation(col.to_numpy()))
    yield "diabetes: columns shuffled", real, shuffled, sdtypes
    yield (
        "diabetes: 100,000 synthetic rows (subsampled)",
        real,
        perturb(real, sdtypes, 0.2, n_rows=100_000, seed=3),
        sdtypes,
    )

    real, sdtypes = mixed()
    yield "mixed: real vs real", real, real.copy(), sdtypes
    synthetic = perturb(real, sdtypes, 0.2, seed=4)
    synthetic["ward"] = synthetic["ward"].replace("burns", "general")  # category missing
    synthetic.loc[:5, "blood"] = "A-"  # a synthetic-only category
    yield "mixed: perturbed, category missing", real, synthetic, sdtypes
    yield "mixed: heavy noise", real, perturb(real, sdtypes, 0.7, seed=5), sdtypes
    # A declared but unused category, a constant column and a column with infinite values:
    # pairs SDMetrics leaves NaN.
    odd_real, odd_synth = real.copy(), perturb(real, sdtypes, 0.2, seed=6)
    for frame in (odd_real, odd_synth):
        frame["site"] = frame["site"].cat.add_categories(["east"])
        frame["constant"] = 1.0
    odd_real.loc[3, "stay_days"] = np.inf
    yield (
        "mixed: unused category, constant, inf",
        odd_real,
        odd_synth,
        {**sdtypes, "constant": "numerical"},
    )


# -- SDMetrics ---------------------------------------------------------------------------------
def sdmetrics_report(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    sdtypes: dict[str, str],
    thresholds: tuple[float, float],
) -> dict[str, Any]:
    """SDMetrics' QualityReport on the same data; other columns declared as id/text."""
    from sdmetrics.reports.single_table import QualityReport

    columns = {
        c: {"sdtype": sdtypes.get(c, "id" if c.endswith("_id") else "text")} for c in real.columns
    }
    report = QualityReport()
    report.real_correlation_threshold, report.real_association_threshold = thresholds
    np.random.seed(SEED)  # SDMetrics subsamples with numpy's global generator
    report.generate(real, synthetic, {"columns": columns}, verbose=False)
    properties = report.get_properties().set_index("Property")["Score"]
    # The unified report that replaces it (sdmetrics.reports.QualityReport) must agree.
    from sdmetrics.reports import QualityReport as UnifiedQualityReport

    unified = UnifiedQualityReport()
    unified.real_correlation_threshold, unified.real_association_threshold = thresholds
    np.random.seed(SEED)
    unified.generate(
        {"table": real},
        {"table": synthetic},
        {"tables": {"table": {"columns": columns}}},
        verbose=False,
    )
    return {
        "score": report.get_score(),
        "unified_score": unified.get_score(),
        "column_shapes": properties["Column Shapes"],
        "column_pair_trends": properties["Column Pair Trends"],
        "columns": report.get_details("Column Shapes"),
        "pairs": report.get_details("Column Pair Trends"),
    }


def differences(ours: float, theirs: float) -> float:
    """|ours - theirs|, 0 if both are NaN, inf if only one is."""
    ours, theirs = float(ours), float(theirs)
    if np.isnan(ours) and np.isnan(theirs):
        return 0.0
    if np.isnan(ours) or np.isnan(theirs):
        return float("inf")
    return abs(ours - theirs)


def compare_details(result: Any, theirs: dict[str, Any]) -> list[tuple[str, float, float]]:
    """(label, ours, SDMetrics) for every column and pair value SDMetrics reports."""
    rows = []
    columns = result.column_details.set_index("column")
    for _, row in theirs["columns"].iterrows():
        rows.append(
            (f"{row['Metric']}({row['Column']})", columns.loc[row["Column"], "score"], row["Score"])
        )
    pairs = result.pair_details.set_index(["column_1", "column_2"])
    for _, row in theirs["pairs"].iterrows():
        ours = pairs.loc[(row["Column 1"], row["Column 2"])]
        label = f"{row['Metric']}({row['Column 1']}, {row['Column 2']})"
        assert ours["metric"] == row["Metric"], (label, ours["metric"])
        rows.append((label, ours["score"], row["Score"]))
        rows.append((label + " real r", ours["real_correlation"], row["Real Correlation"]))
        if not np.isnan(row["Synthetic Correlation"]):  # we report it past the threshold too
            rows.append(
                (
                    label + " synthetic r",
                    ours["synthetic_correlation"],
                    row["Synthetic Correlation"],
                )
            )
        rows.append((label + " real V", ours["real_association"], row["Real Association"]))
        rows.append(
            (
                label + " counts",
                float(ours["meets_threshold"]),
                float(bool(row["Meets Threshold?"] is True)),
            )
        )
    return rows


def single_metrics(
    real: pd.DataFrame, synthetic: pd.DataFrame, sdtypes: dict[str, str]
) -> list[tuple[str, float, float]]:
    """The four metrics called directly, with and without their thresholds and binning."""
    from sdmetrics.column_pairs import ContingencySimilarity as TheirContingency
    from sdmetrics.column_pairs import CorrelationSimilarity as TheirCorrelation
    from sdmetrics.single_column import KSComplement as TheirKS
    from sdmetrics.single_column import TVComplement as TheirTV

    def safe(fn: Callable[[], float]) -> float:
        try:
            return float(fn())
        except Exception:  # SDMetrics raises where we return NaN (constant input, no values)
            return float("nan")

    rows = []
    numeric = [c for c, t in sdtypes.items() if t in ("numerical", "datetime")]
    discrete = [c for c, t in sdtypes.items() if t not in ("numerical", "datetime")]
    for c in numeric:
        rows.append(
            (
                f"KSComplement.compute({c})",
                KSComplement.compute(real[c], synthetic[c]).score,
                safe(lambda c=c: TheirKS.compute(real[c], synthetic[c])),
            )
        )
    for c in discrete:
        rows.append(
            (
                f"TVComplement.compute({c})",
                TVComplement.compute(real[c], synthetic[c]).score,
                safe(lambda c=c: TheirTV.compute(real[c], synthetic[c])),
            )
        )
    for x, y in zip(numeric, numeric[1:], strict=False):
        for threshold in (0.0, 0.3):
            ours = CorrelationSimilarity.compute(
                real[[x, y]], synthetic[[x, y]], real_correlation_threshold=threshold
            ).score
            theirs = safe(
                lambda x=x, y=y, t=threshold: TheirCorrelation.compute(
                    real[[x, y]], synthetic[[x, y]], real_correlation_threshold=t
                )
            )
            rows.append((f"CorrelationSimilarity.compute({x}, {y}, t={threshold})", ours, theirs))
    pairs = list(zip(discrete, discrete[1:], strict=False)) + [(d, numeric[0]) for d in discrete]
    for x, y in pairs:
        continuous = [y] if y in numeric else None
        for threshold in (0.0, 0.1):
            ours = ContingencySimilarity.compute(
                real[[x, y]],
                synthetic[[x, y]],
                continuous_columns=continuous,
                real_association_threshold=threshold,
            ).score
            theirs = safe(
                lambda x=x, y=y, c=continuous, t=threshold: TheirContingency.compute(
                    real[[x, y]],
                    synthetic[[x, y]],
                    continuous_column_names=c,
                    real_association_threshold=t,
                )
            )
            rows.append((f"ContingencySimilarity.compute({x}, {y}, t={threshold})", ours, theirs))
    return rows


def compare_case(
    name: str,
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    sdtypes: dict[str, str],
    thresholds: tuple[float, float],
    sdmetrics: Any,
    verbose: bool,
) -> tuple[int, float]:
    """Print one case side by side; return (values compared, max |diff|)."""
    before = (real.copy(), synthetic.copy())
    start = time.perf_counter()
    ours = quality_report(
        real,
        synthetic,
        sdtypes,
        real_correlation_threshold=thresholds[0],
        real_association_threshold=thresholds[1],
        seed=SEED,
    )
    seconds = time.perf_counter() - start
    pd.testing.assert_frame_equal(real, before[0])  # inputs must be left as they were
    pd.testing.assert_frame_equal(synthetic, before[1])
    theirs = None
    if sdmetrics is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = sdmetrics_report(real, synthetic, sdtypes, thresholds)
    diffs = []
    for key in ("score", "column_shapes", "column_pair_trends"):
        mine = getattr(ours, key)
        other = theirs[key] if theirs else float("nan")
        diffs.append(differences(mine, other) if theirs else float("nan"))
        print(
            f"{name if key == 'score' else '':<46} {key:<19} {mine:>13.10f} {other:>13.10f} "
            f"{diffs[-1]:>9.1e}"
        )
    counted = int(ours.pair_details["meets_threshold"].sum())
    summary = f"{counted}/{len(ours.pair_details)} pairs count; ours {seconds:.2f} s"
    if theirs is None:
        print(f"{'':<46} {summary}")
        return 0, 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        details = [
            ("score, unified sdmetrics.reports.QualityReport", ours.score, theirs["unified_score"])
        ] + compare_details(ours, theirs)
        if thresholds[0]:  # the single metrics do not depend on the report's thresholds
            details += single_metrics(real, synthetic, sdtypes)
    detail_diffs = [differences(a, b) for _, a, b in details]
    print(
        f"{'':<46} {'details':<19} {len(details):>5} values, max |diff| "
        f"{max(detail_diffs):.1e}; {summary}"
    )
    for (label, a, b), diff in zip(details, detail_diffs, strict=True):
        if verbose or diff > TOLERANCE:
            print(f"{'':<6}{label:<59} {a:>13.10f} {b:>13.10f} {diff:>9.1e}")
    return 3 + len(details), max(diffs + detail_diffs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="print every compared value")
    args = parser.parse_args()
    try:
        import sdmetrics
    except ImportError:
        sdmetrics = None
    print(
        f"SDMetrics: {sdmetrics.__version__ if sdmetrics else 'not installed (ours only)'}; "
        f"pandas {pd.__version__}, numpy {np.__version__}\n"
    )
    header = f"{'case':<46} {'value':<19} {'synthpatient':>13} {'SDMetrics':>13} {'|diff|':>9}"
    print(header)
    print("-" * len(header))
    worst, worst_label, n_compared = 0.0, "", 0
    for name, real, synthetic, sdtypes in cases():
        # SDMetrics' defaults (0.5, 0.3), then every pair scored (0, 0)
        for thresholds in ((0.5, 0.3), (0.0, 0.0)):
            label = name if thresholds[0] else "  same, thresholds 0"
            result = compare_case(
                label, real, synthetic, sdtypes, thresholds, sdmetrics, args.verbose
            )
            n_compared += result[0]
            if result[1] > worst:
                worst, worst_label = result[1], f"{name}, thresholds {thresholds}"
    if sdmetrics is None:
        print("\nSDMetrics is not installed: nothing to compare (pip install sdmetrics).")
        return 0
    print(
        f"\n{n_compared} values compared; max |diff| = {worst:.2e}"
        + (f" ({worst_label})" if worst_label else "")
    )
    if worst > TOLERANCE:
        print(f"FAIL: a difference exceeds {TOLERANCE:g}")
        return 1
    print(f"OK: every value within {TOLERANCE:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
