"""Several event tables per patient, on the bundled nafld tables (patients, labs, diagnoses).

For each seed: split the 998 patients 70/30 (by patient), fit MultiTableSynthesizer on the 70%,
draw as many patients, and print beside the real (training) values:

* per event table: events per patient (KS complement, target >= 0.9), within-patient lag-1
  correlation of HDL and systolic pressure (target: within 0.1 of the real), quality of the
  table (SDMetrics QualityReport score, target >= 0.85), patient-level DCR share (ideal: the
  training share 0.70) and membership inference AUC per patient (target <= 0.6) against the
  held-out 30%;
* across tables: the Spearman correlation of a patient's number of lab rows and diagnoses,
  the share of patients whose first lab comes before their first diagnosis, the share of
  patients without events per table;
* real patient ids or matched-case ids ('case.id') in any output (target 0), events out of
  time order within a patient (target 0);
* a known limit: the share of patients with the same diagnosis twice (the real tables have
  some, from repeated coding; the model, drawing each event given the last, makes more).

    python benchmarks/check_multi_table.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np
import pandas as pd


def lag1(events: pd.DataFrame, key: str, time_column: str, column: str) -> float:
    rows = events[[key, time_column, column]].dropna().sort_values([key, time_column])
    same = rows[key].eq(rows[key].shift()).to_numpy()
    values = rows[column].astype(float).to_numpy()
    before, after = values[:-1][same[1:]], values[1:][same[1:]]
    return float(pd.Series(before).corr(pd.Series(after), method="spearman"))


def ks_complement(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import ks_2samp

    return 1.0 - float(ks_2samp(a, b).statistic)


def repeated_diagnoses(tables) -> float:
    events = tables.events("diagnoses")
    per_patient = events.groupby(tables.key)["event"].agg(lambda s: s.duplicated().any())
    return float(per_patient.mean()) if len(per_patient) else 0.0


def one_seed(seed: int) -> dict[str, float]:
    from synthpatient import datasets
    from synthpatient.evaluation.tables import evaluate_tables
    from synthpatient.synthesizers.multi_table import MultiTableSynthesizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        everyone = datasets.load_tables("nafld")
        train, holdout = everyone.split(0.3, seed=seed)
        start = time.perf_counter()
        model = MultiTableSynthesizer(seed=seed).fit(train)
        fitted = time.perf_counter()
        synthetic = model.sample(train.n_patients, seed=seed + 100)
        sampled = time.perf_counter()
        report = evaluate_tables(
            train,
            synthetic,
            holdout=holdout,
            metrics=[
                "quality",
                "events_per_patient",
                "patient_dcr",
                "patient_membership_inference",
            ],
            seed=seed,
        )
    key = train.key
    out: dict[str, float] = {"fit_s": fitted - start, "sample_s": sampled - fitted}
    for name in train.names:
        scores = report.tables[name].summary.set_index("metric")["score"]
        real_counts = train.table(name).events_per_patient().to_numpy()
        synth_counts = synthetic.table(name).events_per_patient().to_numpy()
        out[f"{name}.events_ks"] = ks_complement(real_counts, synth_counts)
        out[f"{name}.quality"] = float(scores["quality"])
        dcr = report.tables[name].sections["patient_dcr"]
        out[f"{name}.patient_dcr_share"] = float(dcr["share_closer_to_training"])
        out[f"{name}.patient_dcr_ideal"] = float(dcr["ideal_share"])
        mia = report.tables[name].sections["patient_membership_inference"]
        out[f"{name}.patient_mia_auc"] = float(mia["auc"])
        steps = synthetic.events(name).groupby(key)[train.layout(name).time].diff().dropna()
        # earlier than the event before it (two diagnoses on one day are real: ties allowed)
        out[f"{name}.order_violations"] = float((steps < 0).sum())
    for column in ("hdl", "sbp"):
        out[f"lag1.{column}.real"] = lag1(train.events("labs"), key, "days", column)
        out[f"lag1.{column}.synthetic"] = lag1(synthetic.events("labs"), key, "days", column)
    out["patients.quality"] = float(report.patients.summary.set_index("metric")["score"]["quality"])
    for row in report.cross.itertuples():
        out[f"{row.metric}[{row.tables}].real"] = float(row.real)
        out[f"{row.metric}[{row.tables}].synthetic"] = float(row.synthetic)
    real_ids = set(everyone.patients[key]) | set(everyone.patients["case.id"].dropna())
    leaked = set(synthetic.patients[key]) | set(synthetic.patients["case.id"].dropna())
    for name in synthetic.names:
        leaked |= set(synthetic.events(name)[key])
    out["real_ids_in_output"] = float(len(real_ids & leaked))
    out["repeated_diagnosis.real"] = repeated_diagnoses(train)
    out["repeated_diagnosis.synthetic"] = repeated_diagnoses(synthetic)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    runs = pd.DataFrame([one_seed(seed) for seed in range(args.seeds)])
    pd.set_option("display.width", 160)
    table = runs.agg(["mean", "min", "max"]).T
    print(f"nafld: 998 patients (70% fitted, 30% held out), {args.seeds} seed(s)")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    checks = {
        "events per patient KS >= 0.9 (every table)": all(
            runs[f"{n}.events_ks"].mean() >= 0.9 for n in ("labs", "diagnoses")
        ),
        "lag-1 HDL and SBP within 0.1": all(
            abs(runs[f"lag1.{c}.synthetic"].mean() - runs[f"lag1.{c}.real"].mean()) <= 0.1
            for c in ("hdl", "sbp")
        ),
        "quality >= 0.85 (patients and every table)": all(
            runs[f"{n}.quality"].mean() >= 0.85 for n in ("patients", "labs", "diagnoses")
        ),
        "patient DCR share within 0.1 of the ideal, MIA AUC <= 0.6 (every table)": all(
            abs(runs[f"{n}.patient_dcr_share"].mean() - runs[f"{n}.patient_dcr_ideal"].mean())
            <= 0.1
            and runs[f"{n}.patient_mia_auc"].mean() <= 0.6
            for n in ("labs", "diagnoses")
        ),
        "0 real ids in any output": runs["real_ids_in_output"].max() == 0,
        "0 events out of order": all(
            runs[f"{n}.order_violations"].max() == 0 for n in ("labs", "diagnoses")
        ),
    }
    for what, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {what}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
