"""Figures for the HTML report, as inline PNG data URIs (the report works offline, no CDN).

matplotlib is imported lazily (the ``report`` extra) with the non-interactive Agg backend.
"""

from __future__ import annotations

import base64
import functools
import io
import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from synthpatient._optional import import_optional
from synthpatient.evaluation.columns import bin_edges, read_column, scaled
from synthpatient.evaluation.similarity import CONTINUOUS, _numbers

REAL, SYNTHETIC, HOLDOUT = "#1f77b4", "#ff7f0e", "#2ca02c"
MAX_CATEGORIES_SHOWN = 12


def _quiet_glyphs(draw: Callable[..., str]) -> Callable[..., str]:
    """``draw`` without matplotlib's "Glyph ... missing from font" warnings: they quote a
    character of a category label (a patient's value) and the figure is drawn regardless."""

    @functools.wraps(draw)
    def quiet(*args: Any, **kwargs: Any) -> str:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Glyph .* missing from", category=UserWarning)
            return draw(*args, **kwargs)

    return quiet


def _pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (Any: an optional extra, without types here)."""
    matplotlib = import_optional("matplotlib", extra="report", purpose="the report's plots")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _encode(fig: Any) -> str:
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _edges(values: np.ndarray, bins: int) -> np.ndarray:
    """Histogram edges over the finite values (never more than ``bins`` bins, whatever their
    magnitude); one bin about a single value (numpy cannot cut bins of width 1 around a value
    as large as a datetime in nanoseconds), or about 0 when there is none."""
    edges = bin_edges(values[np.isfinite(values)], bins)
    if len(edges) >= 2:
        return edges
    centre = float(edges[0]) if len(edges) else 0.0
    half = max(abs(centre) * 1e-6, 0.5)
    return np.array([centre - half, centre + half])


@_quiet_glyphs
def distributions(real: pd.DataFrame, synthetic: pd.DataFrame, sdtypes: Mapping[str, str]) -> str:
    """One small panel per column: overlaid densities (numbers) or grouped shares (categories)."""
    plt = _pyplot()
    names = list(sdtypes)
    ncols = 4
    nrows = max(1, math.ceil(len(names) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 2.6 * nrows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        if sdtypes[name] in CONTINUOUS:
            r = _numbers(read_column(real, name, sdtypes[name]))
            s = _numbers(read_column(synthetic, name, sdtypes[name]))
            # values near the float limit are drawn scaled: densities over their range overflow
            r, s = scaled(r[np.isfinite(r)], s[np.isfinite(s)])
            if len(r) and len(s):
                edges = _edges(np.concatenate([r, s]), 30)
                ax.hist(
                    r,
                    edges,
                    density=True,
                    histtype="stepfilled",
                    alpha=0.35,
                    color=REAL,
                    label="real",
                )
                ax.hist(
                    s,
                    edges,
                    density=True,
                    histtype="step",
                    linewidth=1.6,
                    color=SYNTHETIC,
                    label="synthetic",
                )
            if sdtypes[name] == "datetime":
                ax.set_xticks([])
        else:
            r_share = real[name].astype(str).value_counts(normalize=True)
            s_share = synthetic[name].astype(str).value_counts(normalize=True)
            levels = r_share.index[:MAX_CATEGORIES_SHOWN]
            x = np.arange(len(levels))
            ax.bar(x - 0.2, r_share.reindex(levels).to_numpy(), 0.4, color=REAL, label="real")
            ax.bar(
                x + 0.2,
                s_share.reindex(levels, fill_value=0).to_numpy(),
                0.4,
                color=SYNTHETIC,
                label="synthetic",
            )
            ax.set_xticks(x, [str(v)[:10] for v in levels], rotation=30, fontsize=7)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return _encode(fig)


@_quiet_glyphs
def heatmaps(real_assoc: pd.DataFrame, synth_assoc: pd.DataFrame) -> str:
    """Association in real, in synthetic, and their difference."""
    plt = _pyplot()
    n = len(real_assoc)
    size = min(5.5, 2 + 0.18 * n)
    fig, axes = plt.subplots(1, 3, figsize=(3 * size + 1.5, size))
    panels = [
        (real_assoc, "real", "viridis", (0, 1)),
        (synth_assoc, "synthetic", "viridis", (0, 1)),
        (synth_assoc - real_assoc, "synthetic - real", "coolwarm", (-0.5, 0.5)),
    ]
    for ax, (matrix, title, cmap, (lo, hi)) in zip(axes, panels, strict=True):
        image = ax.imshow(matrix.to_numpy(dtype=float), cmap=cmap, vmin=lo, vmax=hi)
        ax.set_title(title, fontsize=10)
        labels = [str(c)[:14] for c in matrix.columns]
        ax.set_xticks(range(n), labels if n <= 30 else [""] * n, rotation=90, fontsize=6)
        ax.set_yticks(range(n), labels if n <= 30 else [""] * n, fontsize=6)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return _encode(fig)


def distance_histograms(to_training: np.ndarray, to_holdout: np.ndarray) -> str:
    """Distance of each synthetic row to its closest training row and closest holdout row."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3))
    both = np.concatenate([to_training, to_holdout])
    edges = _edges(both[np.isfinite(both)], 40)
    ax.hist(to_training, edges, alpha=0.5, color=REAL, label="to closest training row")
    ax.hist(to_holdout, edges, alpha=0.5, color=HOLDOUT, label="to closest holdout row")
    ax.set_xlabel("distance (encoded units)")
    ax.set_ylabel("synthetic rows")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _encode(fig)


@_quiet_glyphs
def utility_bars(table: pd.DataFrame) -> str:
    """TSTR next to TRTR for every model and metric (rows: model, metric, tstr, trtr)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(table)), 3))
    x = np.arange(len(table))
    ax.bar(x - 0.2, table["trtr"], 0.4, color=REAL, label="train real, test real (TRTR)")
    ax.bar(x + 0.2, table["tstr"], 0.4, color=SYNTHETIC, label="train synthetic, test real (TSTR)")
    labels = [f"{m}\n{k}" for m, k in zip(table["model"], table["metric"], strict=True)]
    ax.set_xticks(x, labels, fontsize=7)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _encode(fig)


@_quiet_glyphs
def size_curve(table: pd.DataFrame, metric: str) -> str:
    """TSTR against synthetic size (as a multiple of the real training size), TRTR as a line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3))
    for model, rows in table.groupby("model"):
        ax.plot(rows["multiplier"], rows["tstr"], marker="o", label=f"TSTR {model}")
        ax.axhline(rows["trtr"].iloc[0], linestyle="--", linewidth=1, label=f"TRTR {model}")
    ax.set_xlabel("synthetic rows / real training rows")
    ax.set_ylabel(metric)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _encode(fig)
