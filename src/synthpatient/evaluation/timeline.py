"""Patient timelines: do synthetic patients have real patients' histories?

Row-level fidelity compares visit rows; these metrics compare patients, each a sequence of
events ordered in time (see :mod:`synthpatient.evaluation._histories` for how a long table is
read). They need a :class:`~synthpatient.evaluation.Timeline` (``evaluate`` infers one when
a column of the real table repeats as a patient key) and are skipped, with the reason, on
tables of one row per patient.

* ``events_per_patient``: KS complement of the number of events per patient;
* ``event_gaps``: KS complement of the times between consecutive events of a patient;
* ``lag1_correlation``: the within-patient lag-1 correlation of every varying number (how
  much a patient's value at one visit tells about the next), real against synthetic: a
  generator that draws each visit afresh gets about 0 where real labs persist;
* ``trajectory_shape``: the mean of every varying number by time since the patient's first
  event, binned on the real times, the gap between the two curves in real standard deviations.

Parent-child relations and the constancy of static columns are in
:mod:`~synthpatient.evaluation.timeline_relations`; patient-level privacy and utility in
:mod:`~synthpatient.evaluation.patient_privacy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.errors import DataError
from synthpatient.evaluation._histories import (
    Columns,
    Histories,
    TimeKind,
    Timeline,
    dropped_notice,
    histories,
    number_column,
    split_columns,
    time_kind,
)
from synthpatient.evaluation._metric import Inputs, Metric, Verdicts
from synthpatient.evaluation.similarity import ks_statistic

#: Bins of time since the first event for trajectory shapes (the first event is its own bin).
TRAJECTORY_BINS = 6
_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


@dataclass(frozen=True)
class Prepared:
    """The histories of every table of one ``Inputs``, computed once and shared."""

    timeline: Timeline
    time_kind: TimeKind
    real: Histories
    synthetic: Histories
    holdout: Histories | None
    columns: Columns
    notices: list[str]

    @property
    def unit(self) -> str:
        """What times are counted in."""
        if self.time_kind == "datetime":
            return "days"
        if self.time_kind == "numeric":
            return f"units of '{self.timeline.time}'"
        return "visits"


def _prepare(inputs: Inputs) -> Prepared:
    timeline = inputs.timeline
    assert timeline is not None  # in `requires`: compute_inputs refused it missing
    kind = time_kind(inputs.schema, inputs.real, timeline.time)
    notices: list[str] = []

    def read(what: str, frame: pd.DataFrame) -> Histories:
        timeline.check(frame, what)
        hist = histories(frame, timeline, kind)
        if hist.n_patients == 0:
            raise DataError(
                f"No row of the {what} table has both a patient key and a time; there is no "
                "patient history to compare."
            )
        notices.extend(dropped_notice(what, hist))
        return hist

    # in this order: the real table's problems are reported first
    real = read("real", inputs.real)
    synthetic = read("synthetic", inputs.synthetic)
    holdout = None if inputs.holdout is None else read("holdout", inputs.holdout)
    columns = split_columns(real, inputs.schema, timeline)
    return Prepared(timeline, kind, real, synthetic, holdout, columns, notices)


def prepared(inputs: Inputs) -> Prepared:
    """The shared histories of ``inputs`` (computed by the first patient-level metric)."""
    return inputs.shared("timeline_histories", lambda: _prepare(inputs))


class TimelineMetric(Metric):
    """A metric over patient histories: needs a timeline; ``_measure`` gets them prepared."""

    requires = frozenset({"timeline"})

    def _compute(self, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        prep = prepared(inputs)
        score, details = self._measure(prep, inputs)
        details.setdefault("unit", "patient")
        details["notices"] = list(prep.notices) + details.get("notices", [])
        return score, details

    def _measure(self, prep: Prepared, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        raise NotImplementedError  # pragma: no cover - every subclass defines it


def _quantiles(values: np.ndarray) -> dict[str, float]:
    if not len(values):
        return {f"p{int(q * 100)}": float("nan") for q in _QUANTILES}
    return {f"p{int(q * 100)}": float(np.quantile(values, q)) for q in _QUANTILES}


def _distribution(name: str, real: np.ndarray, synthetic: np.ndarray) -> pd.DataFrame:
    rows = []
    for what, values in (("real", real), ("synthetic", synthetic)):
        mean = float(np.mean(values)) if len(values) else float("nan")
        rows.append({"table": what, name: len(values), "mean": mean, **_quantiles(values)})
    return pd.DataFrame(rows)


# -- events per patient ----------------------------------------------------------------------
class EventsPerPatient(TimelineMetric):
    """1 - KS distance between the real and synthetic numbers of events per patient.

    Details: ``real_mean`` / ``synthetic_mean`` events, the patients of each table and the
    quantiles of both distributions (``distribution``).

    Examples:
        >>> EventsPerPatient().compute(train, synthetic, timeline=Timeline("id", "day")).score
        0.93
    """

    key = "events_per_patient"
    family = "fidelity"
    name = "Events per patient"
    verdicts = Verdicts(
        0.9,
        0.75,
        "patients have as many events as real ones",
        "the number of events per patient differs somewhat",
        "the number of events per patient is far from the real one",
    )

    def _measure(self, prep: Prepared, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        real = prep.real.counts.astype(float)
        synthetic = prep.synthetic.counts.astype(float)
        score = 1.0 - ks_statistic(real, synthetic)
        details: dict[str, Any] = {
            "real_mean": float(real.mean()),
            "synthetic_mean": float(synthetic.mean()),
            "n_real_patients": prep.real.n_patients,
            "n_synthetic_patients": prep.synthetic.n_patients,
            "distribution": _distribution("patients", real, synthetic),
        }
        return score, details


# -- gaps between events -------------------------------------------------------------------------
class EventGaps(TimelineMetric):
    """1 - KS distance between the real and synthetic times between consecutive events of a
    patient (in days for dates, in the time column's unit for numbers).

    Synthetic patients with a single event have no gap; when no synthetic patient has two,
    the score is 0 (real patients have gaps, synthetic ones none). Without a time column
    (rows in table order) the score is not computed.

    Examples:
        >>> EventGaps().compute(train, synthetic, timeline=Timeline("id", "day")).score
    """

    key = "event_gaps"
    family = "fidelity"
    name = "Gaps between events"
    verdicts = Verdicts(
        0.9,
        0.75,
        "events are as far apart as real ones",
        "the spacing of events differs somewhat",
        "events are spaced unlike real ones",
    )

    def _measure(self, prep: Prepared, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        if prep.timeline.time is None:
            return float("nan"), {
                "error": "no time column was given or found, so rows are ordered only by "
                "table order and have no gaps (pass time_column=)"
            }
        real, synthetic = prep.real.gaps(), prep.synthetic.gaps()
        if not len(real):
            return float("nan"), {"error": "no real patient has two events"}
        score = 0.0 if not len(synthetic) else 1.0 - ks_statistic(real, synthetic)
        details: dict[str, Any] = {
            "time_unit": prep.unit,
            "real_median": float(np.median(real)),
            "synthetic_median": float(np.median(synthetic)) if len(synthetic) else float("nan"),
            "n_real_gaps": len(real),
            "n_synthetic_gaps": len(synthetic),
            "distribution": _distribution("gaps", real, synthetic),
        }
        if not len(synthetic):
            details["notices"] = [
                "No synthetic patient has two events, so there are no gaps between events."
            ]
        return score, details


# -- lag-1 correlation -------------------------------------------------------------------------
def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (NaN with fewer than 3 pairs or a constant side)."""
    if len(x) < 3:
        return float("nan")
    rx = pd.Series(x).rank().to_numpy()
    ry = pd.Series(y).rank().to_numpy()
    sx, sy = rx.std(), ry.std()
    if sx == 0 or sy == 0:
        return float("nan")
    return float(np.mean((rx - rx.mean()) * (ry - ry.mean())) / (sx * sy))


def lag1(hist: Histories, name: str) -> tuple[float, int]:
    """Within-patient lag-1 correlation of ``name``: Spearman's correlation between each
    present value and the patient's next present value, over all patients' consecutive
    pairs; and the number of pairs."""
    values = number_column(hist, name)
    before, after = hist.pairs(np.isfinite(values))
    return spearman(values[before], values[after]), len(before)


class Lag1Correlation(TimelineMetric):
    """1 - mean over varying numbers of |real - synthetic| / 2, of the within-patient lag-1
    correlation (see :func:`lag1`).

    The correlation pools every patient's consecutive pairs of present values, so it measures
    persistence: how much a patient's value at one event tells about the next. Ranks, not
    values (Spearman), so that a few extreme labs do not decide it. A synthetic column
    without pairs counts as correlation 0 (no persistence shown).

    Details: ``columns``, a table with every varying number's real and synthetic correlation,
    their difference and the pairs behind them; ``not_compared`` with why.

    Examples:
        >>> result = Lag1Correlation().compute(train, synthetic, timeline=Timeline("id", "day"))
        >>> result.details["columns"].set_index("column").loc["bili", ["real", "synthetic"]]
    """

    key = "lag1_correlation"
    family = "fidelity"
    name = "Within-patient lag-1 correlation"
    verdicts = Verdicts(
        0.95,
        0.85,
        "values persist from event to event as in real patients",
        "persistence from event to event differs somewhat",
        "values do not persist from event to event as real ones do",
    )

    def _measure(self, prep: Prepared, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        rows, not_compared = [], {}
        for name in prep.columns.numbers:
            real, n_real = lag1(prep.real, name)
            if np.isnan(real):
                not_compared[name] = "fewer than 3 real pairs of consecutive values, or constant"
                continue
            synthetic, n_synthetic = lag1(prep.synthetic, name)
            shown = 0.0 if np.isnan(synthetic) else synthetic
            rows.append(
                {
                    "column": name,
                    "real": real,
                    "synthetic": synthetic,
                    "difference": shown - real,
                    "n_real_pairs": n_real,
                    "n_synthetic_pairs": n_synthetic,
                }
            )
        details: dict[str, Any] = {
            "columns": pd.DataFrame(
                rows,
                columns=[
                    "column",
                    "real",
                    "synthetic",
                    "difference",
                    "n_real_pairs",
                    "n_synthetic_pairs",
                ],
            ),
            "not_compared": not_compared,
            "score_formula": "1 - mean |synthetic - real| / 2",
        }
        if not rows:
            details["error"] = "no number changes within real patients"
            return float("nan"), details
        gaps = np.abs(np.array([r["difference"] for r in rows], dtype=float))
        return float(1.0 - np.mean(gaps) / 2.0), details


# -- trajectory shape ----------------------------------------------------------------------------
def trajectory_bins(since_first: np.ndarray, bins: int = TRAJECTORY_BINS) -> np.ndarray:
    """Inner cut points of the time since the first event: quantiles of the real positive
    times (the first events are a bin of their own, at 0)."""
    later = since_first[since_first > 0]
    if not len(later):
        return np.zeros(0)
    levels = np.arange(1, bins - 1) / (bins - 1)
    return np.unique(np.quantile(later, levels))


def bin_of(since_first: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Each event's bin: 0 for a first event (time 0), then 1.. by the cut points."""
    return np.where(since_first <= 0, 0, 1 + np.searchsorted(cuts, since_first, side="left"))


def _curve(values: np.ndarray, bins: np.ndarray, n_bins: int) -> pd.DataFrame:
    present = np.isfinite(values)
    frame = pd.DataFrame({"bin": bins[present], "value": values[present]})
    grouped = frame.groupby("bin")["value"]
    stats = pd.DataFrame(
        {
            "mean": grouped.mean(),
            "p25": grouped.quantile(0.25),
            "p75": grouped.quantile(0.75),
            "n": grouped.size(),
        }
    )
    return stats.reindex(range(n_bins))


def trajectory_curves(prep: Prepared) -> pd.DataFrame:
    """Mean (and quartiles) of every varying number per bin of time since the first event,
    real and synthetic side by side, with each bin's real median time."""
    cuts = trajectory_bins(prep.real.since_first)
    n_bins = len(cuts) + 2
    real_bins = bin_of(prep.real.since_first, cuts)
    synth_bins = bin_of(prep.synthetic.since_first, cuts)
    times = pd.Series(prep.real.since_first).groupby(real_bins).median().reindex(range(n_bins))
    parts = []
    for name in prep.columns.numbers:
        real = _curve(number_column(prep.real, name), real_bins, n_bins)
        synth = _curve(number_column(prep.synthetic, name), synth_bins, n_bins)
        part = pd.DataFrame(
            {
                "column": name,
                "bin": range(n_bins),
                "time": times.to_numpy(),
                "real_mean": real["mean"].to_numpy(),
                "real_p25": real["p25"].to_numpy(),
                "real_p75": real["p75"].to_numpy(),
                "n_real": real["n"].fillna(0).to_numpy(dtype=int),
                "synthetic_mean": synth["mean"].to_numpy(),
                "synthetic_p25": synth["p25"].to_numpy(),
                "synthetic_p75": synth["p75"].to_numpy(),
                "n_synthetic": synth["n"].fillna(0).to_numpy(dtype=int),
            }
        )
        parts.append(part[part["n_real"] > 0])
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts, ignore_index=True)


class TrajectoryShape(TimelineMetric):
    """1 - mean over varying numbers of the real-count-weighted mean over time bins of
    min(1, |synthetic mean - real mean| / real standard deviation).

    Bins of time since the patient's first event: the first event, then bins cut at
    quantiles of the real times (so each holds about as many real events). A bin where the
    synthetic patients have no value costs 1. The real standard deviation is that of the
    column over all real events, so a curve shifted by a whole spread scores 0.

    Details: ``columns`` (score per column), ``curves`` (per column and bin: the real median
    time, real and synthetic mean and quartiles, events), ``time_unit``.

    Examples:
        >>> result = TrajectoryShape().compute(train, synthetic, timeline=Timeline("id", "day"))
        >>> result.details["curves"].query("column == 'bili'")
    """

    key = "trajectory_shape"
    family = "fidelity"
    name = "Trajectory shape"
    verdicts = Verdicts(
        0.9,
        0.75,
        "mean trajectories follow the real ones",
        "mean trajectories drift somewhat from the real ones",
        "mean trajectories differ from the real ones",
    )

    def _measure(self, prep: Prepared, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        curves = trajectory_curves(prep)
        rows, not_compared = [], {}
        for name in prep.columns.numbers:
            real = number_column(prep.real, name)
            spread = float(np.nanstd(real)) if np.isfinite(real).sum() > 1 else 0.0
            part = curves[curves["column"] == name] if len(curves) else curves
            if spread <= 0 or not len(part):
                not_compared[name] = "constant (or a single value) in the real table"
                continue
            gap = np.abs(part["synthetic_mean"] - part["real_mean"]).to_numpy() / spread
            gap = np.where(np.isfinite(gap), np.minimum(gap, 1.0), 1.0)
            weights = part["n_real"].to_numpy(dtype=float)
            rows.append(
                {
                    "column": name,
                    "score": float(1.0 - np.average(gap, weights=weights)),
                    "largest_gap_sd": float(gap.max()),
                    "real_sd": spread,
                }
            )
        details: dict[str, Any] = {
            "columns": pd.DataFrame(rows, columns=["column", "score", "largest_gap_sd", "real_sd"]),
            "curves": curves,
            "time_unit": prep.unit,
            "not_compared": not_compared,
        }
        if not rows:
            details["error"] = "no number changes within real patients"
            return float("nan"), details
        return float(np.mean([r["score"] for r in rows])), details
