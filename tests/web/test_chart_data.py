"""The data behind the results page's heatmap and timelines: human labels, real and synthetic
side by side, and no real patient's history sent to the page."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from synthpatient.web._correlations import correlations
from synthpatient.web._trajectories import MIN_PER_BIN, trajectories


def _table(seed: int, n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(n)],
            "egfr": 90 - 10 * x,
            "creatinine": 1 + 0.2 * x + rng.normal(scale=0.01, size=n),
            "smoker": rng.integers(0, 2, size=n),
            "noise": rng.normal(size=n),
        }
    )


def test_correlations_real_beside_synthetic_with_names_and_units():
    labels = {"egfr": ("eGFR (CKD-EPI 2021)", "mL/min/{1.73_m2}")}
    out = correlations(_table(1), _table(2), labels=labels, skip={"patient_id"})
    assert out is not None and out["method"] == "Spearman rank correlation"
    assert [c["column"] for c in out["columns"]] == ["egfr", "creatinine", "noise"]  # no flag
    assert out["columns"][0] == {
        "column": "egfr",
        "label": "eGFR (CKD-EPI 2021)",
        "unit": "mL/min/1.73 m²",
    }
    for matrix in (out["real"], out["synthetic"]):
        assert matrix[0][0] == 1.0 and matrix[0][1] < -0.95  # eGFR falls as creatinine rises
        assert abs(matrix[0][2]) < 0.3
    cohort = correlations(_table(1), labels=labels, skip={"patient_id"})
    assert cohort is not None and cohort["real"] is None
    assert correlations(_table(1)[["patient_id", "egfr"]]) is None  # one number: no heatmap


def _visits(seed: int, patients: int, offset: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(patients):
        for visit in range(4):
            day = pd.Timestamp("2020-01-01") + pd.Timedelta(
                days=200 * visit + int(rng.integers(30))
            )
            rows.append(
                {"pid": f"S{p}", "date": day, "hba1c": 7 + offset + visit * 0.1 + rng.normal()}
            )
    return pd.DataFrame(rows)


def test_timelines_show_synthetic_patients_and_only_quartiles_of_real_ones():
    real = _visits(1, 60, offset=100.0)  # real values far from every synthetic one
    synthetic = _visits(2, 60)
    out = trajectories(
        synthetic,
        real,
        patient="pid",
        time="date",
        columns=["hba1c"],
        labels={"hba1c": ("Hemoglobin A1c", "%")},
    )
    assert out is not None and out["has_real"] is True
    assert out["time_label"] == "Years since the first visit"  # 600 days and more
    (column,) = out["columns"]
    assert column["label"] == "Hemoglobin A1c" and column["unit"] == "%"
    assert 1 <= len(column["patients"]) <= 5
    values = [v for line in column["patients"] for _, v in line]
    assert values and max(values) < 50  # every trajectory is a synthetic patient's
    real_bands = column["bands"]["real"]
    assert real_bands and all(b["n"] >= MIN_PER_BIN and b["median"] > 100 for b in real_bands)
    assert "S1" not in json.dumps(out)  # no patient id travels either
    few = trajectories(synthetic, real.head(8), patient="pid", time="date", columns=["hba1c"])
    assert few is not None and few["columns"][0]["bands"]["real"] == []  # too few to show


def test_the_cohort_figures_name_observations_in_words(monkeypatch):
    from synthpatient.web import plots

    drawn: list = []
    monkeypatch.setattr(plots, "png_bytes", lambda fig: drawn.append(fig) or b"")
    rng = np.random.default_rng(0)
    wide = pd.DataFrame({"egfr": rng.normal(70, 15, 300), "uacr": rng.lognormal(2, 1, 300)})
    columns = [("egfr", "eGFR (CKD-EPI 2021) (mL/min/1.73 m²)"), ("uacr", "uACR (mg/g)")]
    plots.cohort_plots(wide, columns, [])
    histograms, heatmap = drawn
    first = histograms.axes[0]
    assert first.get_title() == "eGFR (CKD-EPI 2021) (mL/min/1.73 m²)"
    assert first.get_ylabel() == "share of patients" and first.get_yticklabels()
    ticks = [t.get_text() for t in heatmap.axes[0].get_yticklabels()]
    assert ticks == ["eGFR", "uACR"]  # names, not column codes
