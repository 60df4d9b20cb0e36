"""Figures of the report's timeline section, as inline PNG data URIs (matplotlib, lazily).

Spaghetti plots of a few real and a few synthetic patients, mean trajectories with quartile
bands, and the events per patient. Patients are drawn by a fixed seed, so the same report
draws the same patients; no patient key or other identifier is ever written on a figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.evaluation._histories import Histories, number_column
from synthpatient.evaluation._plots import (
    REAL,
    SYNTHETIC,
    _encode,
    _pyplot,
    _quiet_glyphs,
    _title,
)

#: Patients drawn per table in a spaghetti plot, and columns drawn at most.
SPAGHETTI_PATIENTS = 8
MAX_COLUMNS = 4


def _chosen(hist: Histories, n: int, seed: int) -> np.ndarray:
    """Up to ``n`` patients with two events or more (else any), drawn with ``seed``."""
    multi = np.flatnonzero(hist.counts >= 2)
    pool = multi if len(multi) else np.arange(hist.n_patients)
    rng = np.random.default_rng(seed)
    return rng.choice(pool, size=min(n, len(pool)), replace=False)


def _lines(ax: Any, hist: Histories, name: str, patients: np.ndarray, colour: str) -> None:
    values = number_column(hist, name)
    for p in patients:
        rows = slice(hist.starts[p], hist.starts[p] + hist.counts[p])
        present = np.isfinite(values[rows])
        ax.plot(
            hist.since_first[rows][present],
            values[rows][present],
            marker="o",
            markersize=2.5,
            linewidth=1,
            alpha=0.8,
            color=colour,
        )


@_quiet_glyphs
def spaghetti(
    real: Histories,
    synthetic: Histories,
    columns: Sequence[str],
    unit: str,
    labels: Mapping[str, str] | None = None,
) -> str:
    """For each column: a few real patients' histories beside a few synthetic ones', on the
    same axes, against time since each patient's first event; columns named in words."""
    plt = _pyplot()
    columns = list(columns)[:MAX_COLUMNS]
    fig, axes = plt.subplots(
        len(columns), 2, figsize=(12, 3.4 * len(columns)), squeeze=False, sharey="row"
    )
    real_patients = _chosen(real, SPAGHETTI_PATIENTS, seed=0)
    synth_patients = _chosen(synthetic, SPAGHETTI_PATIENTS, seed=1)
    for row, name in enumerate(columns):
        _lines(axes[row, 0], real, name, real_patients, REAL)
        _lines(axes[row, 1], synthetic, name, synth_patients, SYNTHETIC)
        axes[row, 0].set_ylabel(_title(name, labels)[:28])
    axes[0, 0].set_title(f"{len(real_patients)} real patients")
    axes[0, 1].set_title(f"{len(synth_patients)} synthetic patients")
    for ax in axes[-1]:
        ax.set_xlabel(f"time since the first visit ({unit})")
    fig.tight_layout()
    return _encode(fig)


@_quiet_glyphs
def mean_trajectories(
    curves: pd.DataFrame,
    columns: Sequence[str],
    unit: str,
    labels: Mapping[str, str] | None = None,
) -> str:
    """Mean of each column by time since the first event, real and synthetic, each with the
    band between its 25th and 75th percentiles (the bins of ``trajectory_shape``)."""
    plt = _pyplot()
    columns = list(columns)[: 2 * MAX_COLUMNS]
    ncols = min(2, len(columns))
    nrows = max(1, math.ceil(len(columns) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.2 * ncols, 3.8 * nrows), squeeze=False)
    for ax, name in zip(axes.flat, columns, strict=False):
        part = curves[curves["column"] == name].sort_values("bin")
        x = part["time"].to_numpy(dtype=float)
        for what, colour in (("real", REAL), ("synthetic", SYNTHETIC)):
            ax.plot(x, part[f"{what}_mean"], marker="o", markersize=3, color=colour, label=what)
            ax.fill_between(
                x,
                part[f"{what}_p25"].to_numpy(dtype=float),
                part[f"{what}_p75"].to_numpy(dtype=float),
                color=colour,
                alpha=0.2,
            )
        ax.set_title(_title(name, labels)[:44])
        ax.set_xlabel(f"time since the first visit ({unit})")
    for ax in list(axes.flat)[len(columns) :]:
        ax.axis("off")
    axes.flat[0].legend()
    fig.tight_layout()
    return _encode(fig)


@_quiet_glyphs
def events_histogram(real: np.ndarray, synthetic: np.ndarray) -> str:
    """Share of patients by number of events, real and synthetic side by side."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.8))
    both = np.concatenate([real, synthetic])
    top = int(np.quantile(both, 0.99)) if len(both) else 1
    edges = np.arange(1, max(top, 1) + 2) - 0.5
    if len(edges) > 41:  # many events: 40 bins instead of one per count
        edges = np.linspace(0.5, top + 0.5, 41)
    for values, colour, label, offset in (
        (real, REAL, "real", -0.2),
        (synthetic, SYNTHETIC, "synthetic", 0.2),
    ):
        counts, _ = np.histogram(np.minimum(values, edges[-1] - 0.5), edges)
        centres = (edges[:-1] + edges[1:]) / 2
        width = 0.4 * (edges[1] - edges[0])
        ax.bar(
            centres + offset * (edges[1] - edges[0]),
            counts / max(len(values), 1),
            width,
            color=colour,
            label=label,
        )
    ax.set_xlabel("visits (events) per patient; the last bar includes all above")
    ax.set_ylabel("share of patients")
    ax.legend()
    fig.tight_layout()
    return _encode(fig)
