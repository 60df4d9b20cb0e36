"""Plots for the results view: the evaluation report's own figures, and a cohort's.

matplotlib (the ``report`` extra) is used through its object API, not pyplot's global state,
and under one lock, because several jobs may draw at once.
"""

from __future__ import annotations

import base64
import html
import math
import re
import threading
from typing import Any

import numpy as np
import pandas as pd

from synthpatient._labels import column_title
from synthpatient._optional import import_optional
from synthpatient.web.results import Plot, png_bytes

PLOT_LOCK = threading.Lock()
REAL, SYNTHETIC = "#1f77b4", "#d95f02"
_IMG = re.compile(r'<img\s+src="data:image/png;base64,([A-Za-z0-9+/=]+)"\s+alt="([^"]*)"')
# the evaluation report's figures, by a phrase of their alt text
_REPORT_TITLES = (
    ("histograms of every column", "Distributions: real and synthetic"),
    ("association heatmaps", "Correlations: real, synthetic, difference"),
    ("distances from synthetic rows", "Privacy: distance to the closest real record"),
    ("tstr and trtr", "ML utility: trained on synthetic vs real"),
    ("tstr against", "ML utility by synthetic table size"),
    ("share of patients by number of events", "Visits per patient: real and synthetic"),
    ("spaghetti plots", "A few patients' histories: real and synthetic"),
    ("mean trajectories", "Mean values over time: real and synthetic"),
)


def report_plots(report_html: str) -> list[Plot]:
    """The figures of an evaluation report's HTML, titled, in report order."""
    plots = []
    for match in _IMG.finditer(report_html):
        alt = html.unescape(match.group(2))
        title = next((t for phrase, t in _REPORT_TITLES if phrase in alt.lower()), alt)
        plots.append(Plot(title, alt, base64.b64decode(match.group(1))))
    return plots


def _figure(width: float, height: float) -> Any:
    import_optional("matplotlib", extra="report", purpose="the plots of the results view")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def cohort_plots(
    wide: pd.DataFrame, observations: list[tuple[str, str]], targets: list[dict[str, Any]]
) -> list[Plot]:
    """Distributions and correlations of the observations, and the sourced targets met.

    ``observations`` is (column, label with unit); ``targets`` are the realism checks.
    """
    columns = [
        (c, label)
        for c, label in observations
        if c in wide and pd.api.types.is_numeric_dtype(wide[c])
    ]
    plots = []
    with PLOT_LOCK:
        if columns:
            plots.append(_distributions(wide, columns))
        if len(columns) >= 2:
            plots.append(_correlations(wide, columns))
        within = [
            t
            for t in targets
            if t["kind"] != "at least" and t.get("tolerance") and t.get("measured") is not None
        ]
        if within:
            plots.append(_targets(within))
    return plots


def _distributions(wide: pd.DataFrame, columns: list[tuple[str, str]]) -> Plot:
    from matplotlib.ticker import PercentFormatter

    ncols = 3
    nrows = max(1, math.ceil(len(columns) / ncols))
    fig = _figure(5.6 * ncols, 3.9 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, (column, label) in zip(axes.flat, columns, strict=False):
        values = pd.to_numeric(wide[column], errors="coerce").dropna().to_numpy()
        if len(values):
            # the 1st to 99th percentile: a long tail (uACR) would make the rest one spike
            low = np.percentile(values, 1, method="higher")
            high = np.percentile(values, 99, method="lower")
            edges = np.linspace(low, high, 31) if high > low else 30
            shares = np.full(len(values), 1 / len(values))
            ax.hist(np.clip(values, low, high), bins=edges, weights=shares, color=SYNTHETIC)
        ax.set_title(label[:48], fontsize=13)
        ax.tick_params(labelsize=11)
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
    for row in axes:
        row[0].set_ylabel("share of patients", fontsize=12)
    for ax in list(axes.flat)[len(columns) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return Plot(
        "Distributions of the observations",
        "Histograms of every observation of the synthetic cohort",
        png_bytes(fig),
    )


def _correlations(wide: pd.DataFrame, columns: list[tuple[str, str]]) -> Plot:
    keys = [c for c, _ in columns]
    names = [label.split(" (")[0][:24] for _, label in columns]  # the name, without the unit
    corr = wide[keys].apply(pd.to_numeric, errors="coerce").corr().fillna(0).to_numpy()
    size = max(5.0, 0.5 * len(columns) + 3)
    fig = _figure(size + 2, size)
    ax = fig.subplots()
    image = ax.imshow(corr, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(keys)), names, rotation=90, fontsize=11)
    ax.set_yticks(range(len(keys)), names, fontsize=11)
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label("Pearson r (-1 opposite, 0 none, +1 together)", fontsize=11)
    ax.set_title("Correlations between observations", fontsize=13)
    return Plot(
        "Correlations between observations",
        "Heatmap of the Pearson correlations between the cohort's observations",
        png_bytes(fig),
    )


def _targets(targets: list[dict[str, Any]]) -> Plot:
    names = [t["what"] for t in targets]
    deviation = np.array([(t["measured"] - t["target"]) / t["tolerance"] for t in targets])
    shown = deviation.clip(-3, 3)
    fig = _figure(9, max(3.0, 0.36 * len(targets) + 1.2))
    ax = fig.subplots()
    ax.axvspan(-1, 1, color="#cfe8cf", label="within tolerance")
    colors = [SYNTHETIC if abs(d) > 1 else REAL for d in deviation]
    ax.scatter(shown, range(len(names)), color=colors, zorder=3)
    ax.set_yticks(range(len(names)), names, fontsize=11)
    ax.set_xlim(-3.2, 3.2)
    ax.invert_yaxis()
    ax.set_xlabel("distance from the sourced target, in tolerances (0 = on target)", fontsize=12)
    ax.tick_params(axis="x", labelsize=11)
    ax.set_title("Sourced targets: how far each measured figure is", fontsize=13)
    ax.legend(fontsize=11, loc="lower right")
    return Plot(
        "Sourced targets met",
        "Dot plot of each measured figure's distance from its sourced target, in "
        "tolerances; dots in the shaded band meet the target",
        png_bytes(fig),
    )


def history_plot(observations: pd.DataFrame, n_patients: int = 12, seed: int = 0) -> Plot | None:
    """A few patients' histories of a cohort with a follow-up: the most often measured
    observations (up to three) against years since each patient's first measurement."""
    needed = {"patient_id", "observation", "name", "unit", "value", "effective_date"}
    if not needed <= set(observations.columns) or observations.empty:
        return None
    values = observations.assign(value=pd.to_numeric(observations["value"], errors="coerce"))
    values = values.dropna(subset=["value", "effective_date"])
    per_patient = values.groupby("observation")["patient_id"].count() / max(
        values["patient_id"].nunique(), 1
    )
    chosen = [str(k) for k in per_patient[per_patient >= 2].sort_values(ascending=False).index[:3]]
    if not chosen:
        return None
    rng = np.random.default_rng(seed)
    patients = values["patient_id"].unique()
    picked = set(rng.choice(patients, size=min(n_patients, len(patients)), replace=False))
    values = values[values["patient_id"].isin(picked)]
    dates = pd.to_datetime(values["effective_date"])
    years = (dates - dates.groupby(values["patient_id"]).transform("min")).dt.days / 365.25
    values = values.assign(years=years)
    with PLOT_LOCK:
        fig = _figure(5.4 * len(chosen), 4.0)
        axes = fig.subplots(1, len(chosen), squeeze=False)[0]
        for ax, key in zip(axes, chosen, strict=True):
            rows = values[values["observation"] == key]
            for _, patient in rows.groupby("patient_id"):
                patient = patient.sort_values("years")
                ax.plot(patient["years"], patient["value"], marker=".", lw=1, alpha=0.8)
            first = rows.iloc[0] if len(rows) else None
            label = key if first is None else column_title(first["name"], first["unit"])
            ax.set_title(label[:40], fontsize=13)
            ax.set_xlabel("years since the first visit", fontsize=12)
            ax.tick_params(labelsize=11)
        fig.tight_layout()
        png = png_bytes(fig)
    return Plot(
        "A few patients' histories",
        f"Line plots of {len(picked)} synthetic patients' {', '.join(chosen)} over the years "
        "of follow-up, one line per patient",
        png,
    )
