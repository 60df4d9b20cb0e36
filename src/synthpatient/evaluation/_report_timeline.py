"""The report's timeline section: patients as histories, real beside synthetic.

Drawn from the patient-level metrics' details and, for the figures, from the report's own
tables read again as histories (the timeline ``evaluate`` used is in ``meta["timeline"]``).
Without a timeline the section says why there is none and how to ask for one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synthpatient._html import esc, fmt, image, table
from synthpatient.evaluation import _timeline_plots
from synthpatient.evaluation._histories import Timeline, histories
from synthpatient.evaluation._plots import column_labels

if TYPE_CHECKING:
    from synthpatient.evaluation.report import EvaluationReport

#: Metrics this section draws (the report's generic blocks leave them out).
DRAWN = frozenset(
    {
        "events_per_patient",
        "event_gaps",
        "lag1_correlation",
        "trajectory_shape",
        "parent_child",
        "static_constancy",
        "patient_ml_utility",
    }
)


def _line(report: EvaluationReport, key: str, text: str) -> str:
    """``text`` about a metric that ran, or its reason for having no score."""
    details = report.sections.get(key)
    if not isinstance(details, dict):
        return ""
    label = esc(str(report.meta.get("labels", {}).get(key, key)))
    if "error" in details:
        return f"<p>{label}: not computed ({esc(str(details['error']))}).</p>"
    return f"<p>{text}</p>"


def _score(report: EvaluationReport, key: str) -> str:
    rows = report.summary[report.summary["metric"] == key]
    return fmt(float(rows["score"].iloc[0])) if len(rows) else "-"


def _facts(report: EvaluationReport, info: dict[str, Any]) -> str:
    time = (
        f"time column <b>{esc(info['time_column'])}</b> (in {esc(info['time_unit'])})"
        if info["time_column"]
        else "no time column (each patient's rows in table order)"
    )
    static = ", ".join(info["static"]) or "none"
    varying = ", ".join(info["varying"]) or "none"
    return (
        f"<p>Patient key <b>{esc(info['patient_key'])}</b>, {time}: "
        f"{info['n_real_patients']:,} real and {info['n_synthetic_patients']:,} synthetic "
        "patients compared as histories.</p>"
        f"<p class=note>Static (constant within every real patient): {esc(static)}. "
        f"Varying: {esc(varying)}.</p>"
    )


def _metric_lines(report: EvaluationReport) -> list[str]:
    s = report.sections
    parts = []
    if "events_per_patient" in s:
        e = s["events_per_patient"]
        parts.append(
            _line(
                report,
                "events_per_patient",
                f"Events per patient: mean {fmt(e.get('real_mean'))} real, "
                f"{fmt(e.get('synthetic_mean'))} synthetic (KS complement "
                f"{_score(report, 'events_per_patient')}).",
            )
        )
    if "event_gaps" in s:
        g = s["event_gaps"]
        parts.append(
            _line(
                report,
                "event_gaps",
                f"Gaps between events: median {fmt(g.get('real_median'))} real, "
                f"{fmt(g.get('synthetic_median'))} synthetic, in {esc(g.get('time_unit', ''))} "
                f"(KS complement {_score(report, 'event_gaps')}).",
            )
        )
    if "static_constancy" in s:
        parts.append(
            _line(
                report,
                "static_constancy",
                "Static values kept within synthetic patients: "
                f"{_score(report, 'static_constancy')} (1 = every patient keeps them).",
            )
        )
    if "patient_ml_utility" in s:
        u = s["patient_ml_utility"]
        parts.append(
            _line(
                report,
                "patient_ml_utility",
                f"Patient-level utility, predicting <b>{esc(str(u.get('target', '')))}</b> "
                f"from each patient's summarised history: TSTR {fmt(u.get('tstr'))}, TRTR "
                f"{fmt(u.get('trtr'))} (score {_score(report, 'patient_ml_utility')}).",
            )
        )
    return parts


def _top_numbers(report: EvaluationReport, info: dict[str, Any]) -> list[str]:
    """Varying numbers to draw: the most persistent in the real table first."""
    lag = report.sections.get("lag1_correlation", {})
    frame = lag.get("columns") if isinstance(lag, dict) else None
    if isinstance(frame, pd.DataFrame) and len(frame):
        return list(frame.sort_values("real", ascending=False)["column"])
    return list(info.get("numbers", []))


def _figures(report: EvaluationReport, info: dict[str, Any], columns: list[str]) -> list[str]:
    timeline = Timeline(info["patient_key"], info["time_column"])
    real = histories(report._real, timeline, info["time_kind"])
    synthetic = histories(report._synthetic, timeline, info["time_kind"])
    parts = [
        "<h3>Events per patient</h3>",
        image(
            _timeline_plots.events_histogram(real.counts, synthetic.counts),
            "Share of patients by number of events, real and synthetic",
        ),
    ]
    if columns and real.n_patients and synthetic.n_patients:
        parts += [
            "<h3>A few patients, real and synthetic</h3>",
            "<p class=note>Each line is one patient's history (patients drawn at random). "
            "The real lines are real patients' values: treat this report as derived from "
            "patient data.</p>",
            image(
                _timeline_plots.spaghetti(
                    real, synthetic, columns, info["time_unit"], column_labels(report.meta)
                ),
                "Spaghetti plots of real and synthetic patients' values over time",
            ),
        ]
    shape = report.sections.get("trajectory_shape", {})
    curves = shape.get("curves") if isinstance(shape, dict) else None
    if isinstance(curves, pd.DataFrame) and len(curves) and columns:
        parts += [
            "<h3>Mean trajectories</h3>",
            "<p class=note>Mean by time since the patient's first event (bins of equal real "
            "events), with the band between the 25th and 75th percentiles.</p>",
            image(
                _timeline_plots.mean_trajectories(
                    curves, columns, info["time_unit"], column_labels(report.meta)
                ),
                "Mean trajectories with quartile bands, real and synthetic",
            ),
        ]
    return parts


def _tables(report: EvaluationReport) -> list[str]:
    s = report.sections
    parts = []
    lag = s.get("lag1_correlation", {})
    if isinstance(lag, dict) and isinstance(lag.get("columns"), pd.DataFrame):
        parts += [
            "<h3>Within-patient lag-1 correlation</h3>",
            "<p class=note>Spearman's correlation between a patient's value at one event and "
            "at the next, over all patients.</p>",
            table(lag["columns"]),
        ]
    shape = s.get("trajectory_shape", {})
    if isinstance(shape, dict) and isinstance(shape.get("columns"), pd.DataFrame):
        parts += ["<h3>Trajectory shape per column</h3>", table(shape["columns"])]
    relations = s.get("parent_child", {})
    if isinstance(relations, dict) and isinstance(relations.get("pairs"), pd.DataFrame):
        pairs = relations["pairs"]
        worst = pairs.reindex(np.abs(pairs["difference"]).sort_values(ascending=False).index)
        parts += [
            "<h3>Patient attributes and their histories</h3>",
            "<p class=note>Spearman's correlation over patients, largest differences first.</p>",
            table(worst.head(15)),
        ]
    return parts


def render_timeline(report: EvaluationReport) -> str:
    """The section's HTML."""
    info = report.meta.get("timeline")
    if not info:
        return (
            "<p>Each row was treated as one patient: no column repeats as a patient key. For "
            "a long table (several rows per patient), pass patient_key= and time_column=.</p>"
        )
    columns = _top_numbers(report, info)[: _timeline_plots.MAX_COLUMNS]
    parts = [_facts(report, info), *_metric_lines(report)]
    if not report._real.empty and not report._synthetic.empty:
        parts += _figures(report, info, columns)
    parts += _tables(report)
    return "".join(parts)


def privacy_lines(report: EvaluationReport) -> str:
    """The patient-level privacy results and the unit every privacy metric used."""
    s = report.sections
    parts = []
    if "patient_dcr" in s:
        d = s["patient_dcr"]
        parts.append(
            _line(
                report,
                "patient_dcr",
                f"Distance to closest patient (whole histories): "
                f"{fmt(d.get('share_closer_to_training'))} of synthetic patients are closer to "
                f"a training patient than to a holdout one (ideal {fmt(d.get('ideal_share'))}).",
            )
        )
    if "patient_membership_inference" in s:
        parts.append(
            _line(
                report,
                "patient_membership_inference",
                "Membership inference on patients: ROC-AUC "
                f"{fmt(s['patient_membership_inference'].get('auc'))} (0.5 = chance).",
            )
        )
    units = report.meta.get("privacy_unit") or {}
    if units:
        rows = pd.DataFrame({"metric": list(units), "unit": list(units.values())})
        parts += ["<h3>Unit of each privacy test</h3>", table(rows)]
    return "".join(parts)
