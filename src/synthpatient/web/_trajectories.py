"""Patient histories over time for the results page's interactive timeline chart
(``static/trajectories.js``): per measured column, a few synthetic patients' trajectories and
the real and synthetic values per period of follow-up (median and quartiles).

Real patients are shown only as those per-period quartiles, over at least
:data:`MIN_PER_BIN` values each: no real patient's history travels to the page. Time is
counted from each patient's first visit, in years or days for dates, in the table's own unit
for numbers, or as the visit number when there is no time column.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.web._distributions import unit_words
from synthpatient.web.words import humanize

MAX_COLUMNS = 8
PATIENTS = 5  # synthetic trajectories drawn per column
MAX_POINTS = 60  # per trajectory
BINS = 8
MIN_PER_BIN = 10
FEW_LEVELS = 5


def _since_first(frame: pd.DataFrame, patient: str, time: str | None) -> tuple[pd.Series, str]:
    """Time since each patient's first row, and its label."""
    if time is None:
        return frame.groupby(patient, sort=False).cumcount().astype(float) + 1, "Visit number"
    values = frame[time]
    if pd.api.types.is_datetime64_any_dtype(values):
        days = (values - values.groupby(frame[patient]).transform("min")).dt.days.astype(float)
        if days.max() >= 365:  # a year or more of follow-up reads best in years
            return days / 365.25, "Years since the first visit"
        return days, "Days since the first visit"
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    since = numbers - numbers.groupby(frame[patient]).transform("min")
    unit = humanize(time).lower().rstrip("s")
    if unit in ("day", "week", "month", "year", "hour"):  # a column named for its unit
        return since, f"{unit.capitalize()}s since the first visit"
    return since, f"Time since the first visit ({humanize(time)})"


def _bands(t: np.ndarray, values: np.ndarray, edges: np.ndarray) -> list[dict[str, float]]:
    out = []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (t >= low) & (t <= high) & np.isfinite(values)
        if inside.sum() < MIN_PER_BIN:
            continue
        q1, median, q3 = np.percentile(values[inside], [25, 50, 75])
        out.append(
            {
                "t": round(float((low + high) / 2), 3),
                "q1": round(float(q1), 3),
                "median": round(float(median), 3),
                "q3": round(float(q3), 3),
                "n": int(inside.sum()),
            }
        )
    return out


def _patients(frame: pd.DataFrame, patient: str, column: str) -> list[list[list[float]]]:
    """A few synthetic patients with two values or more, drawn with a fixed seed."""
    present = frame[np.isfinite(frame[column].to_numpy(float))]
    counts = present.groupby(patient, sort=False).size()
    pool = counts.index[counts >= 2]
    if len(pool) == 0:
        return []
    rng = np.random.default_rng(0)
    chosen = rng.choice(
        np.asarray(pool, dtype=object), size=min(PATIENTS, len(pool)), replace=False
    )
    lines = []
    for pid in chosen:
        rows = present[present[patient] == pid].sort_values("_t").head(MAX_POINTS)
        lines.append(
            [
                [round(float(t), 3), round(float(v), 3)]
                for t, v in zip(rows["_t"], rows[column], strict=True)
            ]
        )
    return lines


def _prepared(
    frame: pd.DataFrame, patient: str, time: str | None, columns: list[str]
) -> tuple[pd.DataFrame, str]:
    ordered = frame.sort_values([patient, time]) if time else frame
    since, label = _since_first(ordered, patient, time)
    out = ordered[[patient]].copy()
    out["_t"] = since.to_numpy(float)
    for column in columns:
        out[column] = pd.to_numeric(ordered[column], errors="coerce").astype(float)
    return out, label


def trajectories(
    synthetic: pd.DataFrame,
    real: pd.DataFrame | None,
    *,
    patient: str,
    time: str | None,
    columns: list[str],
    labels: Mapping[str, tuple[str, str | None]] | None = None,
) -> dict[str, Any] | None:
    """Per column (up to :data:`MAX_COLUMNS` numeric ones): trajectories and period quartiles;
    None when no column changes over time."""
    labels = labels or {}
    numeric = [
        c
        for c in columns
        if c in synthetic.columns
        and pd.api.types.is_numeric_dtype(synthetic[c])
        and not pd.api.types.is_bool_dtype(synthetic[c])
    ]
    # measurements first: a column of a few levels (a 0/0.5/1 score) draws flat lines
    numeric = sorted(numeric, key=lambda c: synthetic[c].nunique() <= FEW_LEVELS)[:MAX_COLUMNS]
    if not numeric:
        return None
    syn, time_label = _prepared(synthetic, patient, time, numeric)
    rea = None if real is None else _prepared(real, patient, time, numeric)[0]
    t_all = syn["_t"] if rea is None else pd.concat([syn["_t"], rea["_t"]])
    t_all = t_all[np.isfinite(t_all)]
    if t_all.empty:
        return None
    edges = np.linspace(0.0, max(float(np.percentile(t_all, 95)), 1e-9), BINS + 1)
    out = []
    for column in numeric:
        label, unit = labels.get(column, (humanize(column), None))
        bands = {"synthetic": _bands(syn["_t"].to_numpy(), syn[column].to_numpy(), edges)}
        if rea is not None:
            bands["real"] = _bands(rea["_t"].to_numpy(), rea[column].to_numpy(), edges)
        lines = _patients(syn, patient, column)
        if not lines and not bands["synthetic"]:
            continue
        out.append(
            {
                "column": column,
                "label": label,
                "unit": unit_words(unit),
                "patients": lines,
                "bands": bands,
            }
        )
    if not out:
        return None
    return {"time_label": time_label, "has_real": real is not None, "columns": out}


def cohort_trajectories(cohort: Any) -> dict[str, Any] | None:
    """A cohort's follow-up: its long observations table, one row per visit and patient."""
    timeline = getattr(cohort, "timeline", None)
    if timeline is None or timeline.observations.empty:
        return None
    obs = timeline.observations
    wide = obs.pivot_table(
        index=["patient_id", "effective_date"],
        columns="observation",
        values="value",
        aggfunc="first",
        observed=True,
    ).reset_index()
    keys = [o.key for o in cohort.observations if o.key in wide.columns]
    return trajectories(
        wide,
        None,
        patient="patient_id",
        time="effective_date",
        columns=keys,
        labels={o.key: (o.name, o.unit) for o in cohort.observations},
    )
