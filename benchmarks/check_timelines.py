"""Patient timelines on pbcseq: the sequential synthesizer against the row-wise copula.

For each seed, fit SequentialSynthesizer and GaussianCopulaSynthesizer (row by row, today's
way) on pbcseq (312 patients, 1,945 visits; key ``id``, time ``day``), draw as many patients
(sequential) or rows (copula) as the real table has, and print beside the real values:

* events per patient: KS complement of the distribution (target >= 0.9);
* within-patient lag-1 correlation (Spearman, over every patient's consecutive pairs, as the
  ``lag1_correlation`` metric measures it) of bilirubin and albumin (target: within 0.1);
* quality (the SDMetrics QualityReport score) of the long table and of the patients table
  (one row per patient, static columns; target >= 0.85);
* real patient ids in the output (target 0);
* the registered timeline metrics (``evaluate`` with the patient key and time);
* privacy with the patient as the unit: fitted on 70% of the patients, the share of synthetic
  patients whose whole history is closer to a training patient than to a held-out one (ideal:
  the training share, 0.70 here) and the membership-inference AUC per patient (target <= 0.6).

The copula's rows carry a fresh id each; to measure their lag-1 correlation at all, they are
grouped into patients with the real events-per-patient counts and ordered by day (the most
favourable reading for it).

    python benchmarks/check_timelines.py [--seeds 3] [--data a-copy-of-pbcseq.csv]

By default the bundled copy (``synthpatient.datasets.load("pbcseq")``) is used.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np
import pandas as pd

KEY, TIME = "id", "day"
LAGGED = ("bili", "albumin", "protime", "platelet")
TIMELINE_METRICS = ["events_per_patient", "event_gaps", "lag1_correlation", "trajectory_shape"]


def lag1(frame: pd.DataFrame, column: str) -> float:
    """Spearman correlation of each present value with its patient's next present value."""
    rows = frame[[KEY, TIME, column]].dropna().sort_values([KEY, TIME], kind="stable")
    same = rows[KEY].eq(rows[KEY].shift()).to_numpy()
    values = rows[column].astype(float).to_numpy()
    before, after = values[:-1][same[1:]], values[1:][same[1:]]
    if len(before) < 3:
        return 0.0
    return float(pd.Series(before).corr(pd.Series(after), method="spearman"))


def ks_complement(real: np.ndarray, synthetic: np.ndarray) -> float:
    from scipy.stats import ks_2samp

    return 1.0 - float(ks_2samp(real, synthetic).statistic)


def quality(real: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    from synthpatient.evaluation import quality_report
    from synthpatient.schema import Schema

    sdtypes = Schema.infer(real).sdtypes()
    return float(quality_report(real, synthetic, sdtypes).score)


def static_columns(real: pd.DataFrame) -> list[str]:
    from synthpatient.longitudinal import infer_layout

    return list(infer_layout(real, key=KEY, time=TIME).static)


def patients_table(frame: pd.DataFrame, static: list[str]) -> pd.DataFrame:
    """One row per patient: the real table's static columns, from each patient's first row
    (the row-wise copula's 'patients' are not constant within themselves)."""
    return frame.groupby(KEY, sort=False)[static].first().reset_index()


def as_patients(rows: pd.DataFrame, counts: np.ndarray) -> pd.DataFrame:
    """Row-wise samples grouped into patients of the given sizes, each ordered by day."""
    grouped = rows.copy()
    grouped[KEY] = np.repeat(np.arange(1, len(counts) + 1), counts)[: len(rows)]
    return grouped.sort_values([KEY, TIME], kind="stable").reset_index(drop=True)


def timeline_scores(real: pd.DataFrame, synthetic: pd.DataFrame) -> dict[str, float]:
    from synthpatient.evaluation.evaluate import evaluate

    report = evaluate(
        real, synthetic, metrics=TIMELINE_METRICS, patient_key=KEY, time_column=TIME, detailed=False
    )
    return dict(zip(report.summary["metric"], report.summary["score"], strict=True))


def measure(real: pd.DataFrame, synthetic: pd.DataFrame, static: list[str]) -> dict[str, float]:
    counts_real = real.groupby(KEY).size().to_numpy()
    counts = synthetic.groupby(KEY).size().to_numpy()
    out = {"events/patient KS": ks_complement(counts_real, counts)}
    out.update({f"lag-1 {c}": lag1(synthetic, c) for c in LAGGED})
    out["quality (long)"] = quality(real, synthetic)
    out["quality (patients)"] = quality(
        patients_table(real, static), patients_table(synthetic, static)
    )
    out["real ids in output"] = float(len(set(synthetic[KEY]) & set(real[KEY])))
    out["visits with day > futime"] = float((synthetic[TIME] > synthetic["futime"]).mean())
    return out


def patient_privacy(real: pd.DataFrame, seed: int) -> dict[str, float]:
    """Fit on 70% of the patients, sample as many, and measure privacy per patient."""
    from synthpatient.evaluation import split_patients
    from synthpatient.evaluation.evaluate import evaluate
    from synthpatient.synthesizers import get_synthesizer_class

    train, holdout = split_patients(real, KEY, holdout_share=0.3, seed=seed)
    model = get_synthesizer_class("sequential")(seed=seed).fit(train)
    synthetic = model.sample(train[KEY].nunique(), seed=seed + 100)
    report = evaluate(
        train,
        synthetic,
        holdout=holdout,
        metrics=["patient_dcr", "patient_membership_inference"],
        patient_key=KEY,
        time_column=TIME,
        detailed=False,
    )
    dcr = report.sections["patient_dcr"]
    mia = report.sections["patient_membership_inference"]
    return {
        "patient DCR share closer to training": float(dcr["share_closer_to_training"]),
        "ideal share (training patients)": float(dcr["ideal_share"]),
        "patient membership-inference AUC": float(mia["auc"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--data", default=None, help="a CSV of pbcseq (default: the bundled one)")
    args = parser.parse_args()
    from synthpatient import datasets
    from synthpatient.synthesizers import get_synthesizer_class

    real = pd.read_csv(args.data) if args.data else datasets.load("pbcseq")
    counts = real.groupby(KEY).size().to_numpy()
    static = static_columns(real)
    reference = {f"lag-1 {c}": lag1(real, c) for c in LAGGED}
    rows: dict[str, list[dict[str, float]]] = {"sequential": [], "copula (row-wise)": []}
    for seed in range(args.seeds):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            sequential = get_synthesizer_class("sequential")(seed=seed).fit(real)
            synthetic = sequential.sample(real[KEY].nunique(), seed=seed + 100)
            took = time.perf_counter() - start
            copula = get_synthesizer_class("copula")(seed=seed).fit(real)
            raw = copula.sample(len(real), seed=seed + 100)
        result = measure(real, synthetic, static) | timeline_scores(real, synthetic)
        rows["sequential"].append(result | {"fit+sample seconds": took})
        ids = float(len(set(raw[KEY]) & set(real[KEY])))
        grouped = as_patients(raw, counts)
        result = measure(real, grouped, static) | timeline_scores(real, grouped)
        rows["copula (row-wise)"].append(result | {"real ids in output": ids})
    table = pd.DataFrame({name: pd.DataFrame(r).mean() for name, r in rows.items()})
    table.insert(0, "real", pd.Series(reference))
    pd.set_option("display.width", 120)
    print(f"pbcseq: {real[KEY].nunique()} patients, {len(real)} visits; mean of {args.seeds} seeds")
    print(table.round(3).to_string())
    seq = table["sequential"]
    checks = {
        "events/patient KS >= 0.9": seq["events/patient KS"] >= 0.9,
        "lag-1 bili within 0.1": abs(seq["lag-1 bili"] - reference["lag-1 bili"]) <= 0.1,
        "lag-1 albumin within 0.1": abs(seq["lag-1 albumin"] - reference["lag-1 albumin"]) <= 0.1,
        "quality (long) >= 0.85": seq["quality (long)"] >= 0.85,
        "quality (patients) >= 0.85": seq["quality (patients)"] >= 0.85,
        "0 real ids": seq["real ids in output"] == 0,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        privacy = pd.DataFrame([patient_privacy(real, seed) for seed in range(args.seeds)]).mean()
    print("\nprivacy, patient as the unit (sequential fitted on 70% of the patients):")
    print(privacy.round(3).to_string())
    share, ideal = privacy.iloc[0], privacy.iloc[1]
    checks["patient DCR share within 0.1 of the ideal"] = abs(share - ideal) <= 0.1
    checks["patient membership-inference AUC <= 0.6"] = privacy.iloc[2] <= 0.6
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
