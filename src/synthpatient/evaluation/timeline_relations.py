"""Patients and their events together: parent-child relations and static values that stay put.

A long table is two tables in one: patients (static columns, constant within each patient)
and their events (varying columns). Per-table fidelity misses how the two relate (older
patients have more visits, treated ones lower bilirubin) and whether a synthetic patient
keeps their sex and year of birth from one visit to the next.

* ``parent_child``: Spearman's correlation of every static number (or two-level category)
  with each patient's number of events, follow-up and mean of every varying number, real
  against synthetic;
* ``static_constancy``: the share of synthetic patients whose static columns (those constant
  within every real patient) are constant too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthpatient.evaluation._histories import Histories, number_column
from synthpatient.evaluation._metric import Inputs, Verdicts
from synthpatient.evaluation.timeline import Prepared, TimelineMetric, spearman

#: Static kinds a rank correlation reads directly.
_NUMBER_KINDS = frozenset({"numeric", "integer", "datetime"})


def _static_numbers(hist: Histories, name: str, kind: str, levels: list[Any] | None) -> np.ndarray:
    """A static column as one number per patient (its first row's): numbers as they are,
    dates in days, a two-level category as 0/1 in the real table's level order."""
    values = hist.frame[name].iloc[hist.starts].reset_index(drop=True)
    if kind == "datetime":
        stamps = pd.to_datetime(values, errors="coerce", utc=True)
        days = stamps.to_numpy(dtype="datetime64[ns]").astype(np.int64) / 86_400e9
        return np.where(stamps.isna().to_numpy(), np.nan, days)
    if levels is None:
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    keys = values.astype(str).where(values.notna())
    return np.where(keys == str(levels[1]), 1.0, np.where(keys == str(levels[0]), 0.0, np.nan))


def _children(hist: Histories, prep: Prepared) -> dict[str, np.ndarray]:
    """What each patient's events add up to: their number, follow-up, and the patient's mean
    of every varying number."""
    out = {"number of events": hist.counts.astype(float)}
    if prep.timeline.time is not None:
        ends = hist.starts + hist.counts - 1
        out["follow-up"] = hist.since_first[ends]
    for name in prep.columns.numbers:
        values = number_column(hist, name)
        present = np.isfinite(values)
        sums = np.bincount(hist.patient[present], values[present], hist.n_patients)
        n = np.bincount(hist.patient[present], minlength=hist.n_patients)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"mean {name}"] = np.where(n > 0, sums / np.maximum(n, 1), np.nan)
    return out


def _correlation(x: np.ndarray, y: np.ndarray) -> float:
    both = np.isfinite(x) & np.isfinite(y)
    return spearman(x[both], y[both])


def _statics(prep: Prepared, inputs: Inputs) -> tuple[dict[str, tuple[str, Any]], dict[str, str]]:
    """Static columns a correlation can read (name -> kind, levels) and those it cannot."""
    usable: dict[str, tuple[str, Any]] = {}
    skipped: dict[str, str] = {}
    for name in prep.columns.static:
        kind = inputs.schema[name].kind
        if kind in _NUMBER_KINDS:
            usable[name] = (kind, None)
            continue
        levels = sorted(prep.real.frame[name].dropna().astype(str).unique())
        if len(levels) == 2:
            usable[name] = (kind, levels)
        else:
            skipped[name] = f"a category with {len(levels)} levels (not ordered)"
    return usable, skipped


class ParentChild(TimelineMetric):
    """1 - mean over (static column, patient aggregate) pairs of |real - synthetic| / 2, of
    Spearman's correlation over patients.

    Static columns: numbers, dates and two-level categories (categories of more levels have
    no order to correlate and are listed in ``not_compared``). Aggregates: the number of
    events, the follow-up (with a time column) and the patient's mean of every varying
    number. A synthetic patient's static value is that of their first event.

    Details: ``pairs`` (static, aggregate, real, synthetic, difference), ``not_compared``.

    Examples:
        >>> result = ParentChild().compute(train, synthetic, timeline=Timeline("id", "day"))
        >>> result.details["pairs"].sort_values("difference")
    """

    key = "parent_child"
    family = "fidelity"
    name = "Patient-event relations"
    verdicts = Verdicts(
        0.95,
        0.85,
        "patients' attributes relate to their histories as in real data",
        "attributes relate to histories somewhat differently",
        "attributes relate to histories unlike real data",
    )

    def _measure(self, prep: Prepared, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        usable, not_compared = _statics(prep, inputs)
        real_children = _children(prep.real, prep)
        synth_children = _children(prep.synthetic, prep)
        rows = []
        for name, (kind, levels) in usable.items():
            real_static = _static_numbers(prep.real, name, kind, levels)
            synth_static = _static_numbers(prep.synthetic, name, kind, levels)
            for child, real_values in real_children.items():
                real = _correlation(real_static, real_values)
                if np.isnan(real):
                    continue
                synthetic = _correlation(synth_static, synth_children[child])
                shown = 0.0 if np.isnan(synthetic) else synthetic
                rows.append(
                    {
                        "static": name,
                        "aggregate": child,
                        "real": real,
                        "synthetic": synthetic,
                        "difference": shown - real,
                    }
                )
        pairs = pd.DataFrame(
            rows, columns=["static", "aggregate", "real", "synthetic", "difference"]
        )
        details: dict[str, Any] = {
            "pairs": pairs,
            "not_compared": not_compared,
            "score_formula": "1 - mean |synthetic - real| / 2",
        }
        if pairs.empty:
            details["error"] = (
                "no static number or two-level category correlates with the patients' events"
                if usable
                else "no static column a correlation can read (numbers, dates, two levels)"
            )
            return float("nan"), details
        return float(1.0 - np.abs(pairs["difference"]).mean() / 2.0), details


class StaticConstancy(TimelineMetric):
    """Mean over static columns (constant within every real patient) of the share of synthetic
    patients with two or more events in whom the column stays constant too.

    A generator that learns visits one by one gives a patient a new sex or birth date at each
    visit; real patients score 1 by definition.

    Details: ``columns`` (share constant per static column), ``n_patients_checked``.

    Examples:
        >>> StaticConstancy().compute(train, synthetic, timeline=Timeline("id", "day")).score
        1.0
    """

    key = "static_constancy"
    family = "consistency"
    name = "Static values constant within patients"
    verdicts = Verdicts(
        0.99,
        0.9,
        "every patient keeps their static values",
        "some patients' static values change between events",
        "static values change between a patient's events",
    )

    def _measure(self, prep: Prepared, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        hist = prep.synthetic
        multi = hist.counts >= 2
        details: dict[str, Any] = {"n_patients_checked": int(multi.sum())}
        if not prep.columns.static:
            details["error"] = "no column is constant within every real patient"
            return float("nan"), details
        if not multi.any():
            details["error"] = "no synthetic patient has two events"
            return float("nan"), details
        rows = []
        for name in prep.columns.static:
            codes = pd.factorize(hist.frame[name], use_na_sentinel=False)[0]
            first = np.repeat(codes[hist.starts], hist.counts)
            changed = np.bincount(hist.patient, codes != first, hist.n_patients) > 0
            rows.append({"column": name, "share_constant": float(1.0 - changed[multi].mean())})
        table = pd.DataFrame(rows, columns=["column", "share_constant"])
        details["columns"] = table
        return float(table["share_constant"].mean()), details
