"""Evaluation of a patients table with several event tables (``PatientTables``).

Each table is judged as a patient history on its own (``evaluate`` with the patient key and
time: per-table quality, events per patient, gaps, lag-1 correlation, trajectories, privacy per
patient), the patients table as a table of one row per patient, and what ties the tables
together by three measures of their own, each real against synthetic:

* ``count_correlation``: for every pair of tables, the Spearman correlation of the number of
  events a patient has in each (many lab tests go with many diagnoses); score 1 - |gap| / 2;
* ``first_event_order``: for every pair of timed tables, the share of patients with events in
  both whose first event in the one comes first; score 1 - |gap|;
* ``patients_without_events``: per table, the share of patients with no event there; score
  1 - |gap|.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.errors import DataError
from synthpatient.evaluation.evaluate import evaluate
from synthpatient.evaluation.report import EvaluationReport
from synthpatient.longitudinal import PatientTables
from synthpatient.schema import Schema


@dataclass
class TablesReport:
    """What :func:`evaluate_tables` measured.

    Attributes:
        patients: the patients tables compared (one row per patient, key left out).
        tables: event table name -> its report at the patient level.
        cross: one row per cross-table measure: metric, tables, real, synthetic, score.
    """

    patients: EvaluationReport
    tables: dict[str, EvaluationReport]
    cross: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def summary(self) -> pd.DataFrame:
        """Every score: one row per (table, metric); ``table`` is "patients", an event
        table's name, or "across" for the cross-table measures."""
        parts = [self.patients.summary.assign(table="patients")]
        parts += [r.summary.assign(table=name) for name, r in self.tables.items()]
        if not self.cross.empty:
            across = self.cross.groupby("metric", sort=False)["score"].mean().reset_index()
            parts.append(across.assign(table="across", family="timeline"))
        frame = pd.concat(parts, ignore_index=True)
        return frame[["table", *[c for c in frame.columns if c != "table"]]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "patients": self.patients.to_dict(),
            "tables": {name: r.to_dict() for name, r in self.tables.items()},
            "cross": self.cross.to_dict(orient="records"),
        }


def evaluate_tables(
    real: PatientTables,
    synthetic: PatientTables,
    *,
    holdout: PatientTables | None = None,
    metrics: list[str] | None = None,
    seed: int = 0,
    detailed: bool = False,
) -> TablesReport:
    """Evaluate synthetic tables against the real ones they were learned from.

    Args:
        real: the tables the generator was fitted on.
        synthetic: the generated tables (the same table names).
        holdout: real patients the generator never saw (privacy per patient is measured
            against them, per table).
        metrics: registry keys to run on every table (None: all that apply).
        seed: seed of the stochastic metrics.
        detailed: also compute the diagnostics behind report plots.

    Raises:
        DataError: the tables do not have the same names or patient key.
    """
    for other, what in ((synthetic, "synthetic"), (holdout, "held-out")):
        if other is None:
            continue
        if other.names != real.names or other.key != real.key:
            raise DataError(
                f"The {what} tables ({', '.join(other.names)}; key '{other.key}') differ from "
                f"the real ones ({', '.join(real.names)}; key '{real.key}'); compare like with "
                "like."
            )
    key = real.key
    options: dict[str, Any] = {"metrics": metrics, "seed": seed, "detailed": detailed}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # skipped metrics are in each meta
        # one row per patient: the key and the other identifiers (a matched case's id, which
        # repeats and would be read as a patient key) are not compared
        inferred = Schema.infer(real.patients)
        ids = [key, *(c.name for c in inferred if c.kind == "identifier" and c.name != key)]
        people = real.patients.drop(columns=ids)
        patients = evaluate(
            people,
            synthetic.patients.drop(columns=ids),
            holdout=None if holdout is None else holdout.patients.drop(columns=ids),
            schema=Schema(columns=tuple(c for c in inferred if c.name not in ids)),
            **options,
        )
        tables = {
            name: evaluate(
                real.table(name).to_long(),
                synthetic.table(name).to_long(),
                holdout=None if holdout is None else holdout.table(name).to_long(),
                patient_key=key,
                time_column=real.layout(name).time,
                **options,
            )
            for name in real.names
        }
    return TablesReport(
        patients=patients, tables=tables, cross=cross_table_measures(real, synthetic)
    )


def cross_table_measures(real: PatientTables, synthetic: PatientTables) -> pd.DataFrame:
    """The cross-table measures of the module's docstring, one row per measure and tables."""
    rows: list[dict[str, Any]] = []
    counts = {id(t): _counts(t) for t in (real, synthetic)}
    for name in real.names:
        a = float((counts[id(real)][name] == 0).mean())
        b = float((counts[id(synthetic)][name] == 0).mean()) if synthetic.n_patients else np.nan
        rows.append(_row("patients_without_events", name, a, b, 1 - abs(a - b)))
    for first, second in itertools.combinations(real.names, 2):
        pair = f"{first} ~ {second}"
        a, b = (_spearman(counts[id(t)][first], counts[id(t)][second]) for t in (real, synthetic))
        rows.append(_row("count_correlation", pair, a, b, 1 - abs(a - b) / 2))
        if real.layout(first).time and real.layout(second).time:
            a, b = (_first_before(t, first, second) for t in (real, synthetic))
            rows.append(_row("first_event_order", pair, a, b, 1 - abs(a - b)))
    return pd.DataFrame(rows, columns=["metric", "tables", "real", "synthetic", "score"])


def _row(metric: str, tables: str, real: float, synthetic: float, score: float) -> dict[str, Any]:
    return {
        "metric": metric,
        "tables": tables,
        "real": real,
        "synthetic": synthetic,
        "score": float(score) if np.isfinite(score) else np.nan,
    }


def _counts(tables: PatientTables) -> dict[str, np.ndarray]:
    return {n: tables.table(n).events_per_patient().to_numpy(dtype=float) for n in tables.names}


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return np.nan
    return float(pd.Series(a).corr(pd.Series(b), method="spearman"))


def _first_before(tables: PatientTables, first: str, second: str) -> float:
    """Among patients with events in both tables, the share whose first ``first`` event is
    earlier than their first ``second`` event (ties count half)."""
    key = tables.key
    starts = []
    for name in (first, second):
        events = tables.events(name)
        time = tables.layout(name).time
        starts.append(events.groupby(key)[time].min())
    both = pd.concat(starts, axis=1, join="inner")
    if both.empty:
        return np.nan
    a, b = both.iloc[:, 0], both.iloc[:, 1]
    return float(((a < b).sum() + 0.5 * (a == b).sum()) / len(both))
