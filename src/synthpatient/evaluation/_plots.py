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

from synthpatient._labels import column_title, humanize
from synthpatient._optional import import_optional
from synthpatient.evaluation.columns import bin_edges, read_column, scaled
from synthpatient.evaluation.similarity import CONTINUOUS, _numbers

REAL, SYNTHETIC, HOLDOUT = "#1f77b4", "#ff7f0e", "#2ca02c"
MAX_CATEGORIES_SHOWN = 12


#: font sizes (points) every figure is drawn with: read at the report's width without zoom
LEGIBLE = {
    "font.size": 12,
    "axes.titlesize": 13,
    "axes.labelsize": 12,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 11,
}


def _quiet_glyphs(draw: Callable[..., str]) -> Callable[..., str]:
    """``draw`` at legible font sizes, without matplotlib's "Glyph ... missing from font"
    warnings: they quote a character of a category label (a patient's value) and the figure
    is drawn regardless."""

    @functools.wraps(draw)
    def quiet(*args: Any, **kwargs: Any) -> str:
        plt = _pyplot()
        with warnings.catch_warnings(), plt.rc_context(LEGIBLE):
            warnings.filterwarnings("ignore", message="Glyph .* missing from", category=UserWarning)
            return draw(*args, **kwargs)

    return quiet


def column_labels(meta: Mapping[str, Any]) -> dict[str, str]:
    """Each evaluated column's title in words, with its unit where ``meta["units"]`` (column
    -> UCUM unit, the schema's) gives one: ``egfr`` -> ``eGFR (mL/min/1.73 m²)``."""
    units = meta.get("units") or {}
    return {str(c): column_title(c, units.get(c)) for c in meta.get("columns", [])}


def _title(name: str, labels: Mapping[str, str] | None) -> str:
    """A column's title in words with its unit (``labels``), never its code with UCUM."""
    return (labels or {}).get(name) or column_title(name)


def _shares(values: np.ndarray) -> np.ndarray:
    """Each value's weight in a histogram of the share of rows (sums to 1)."""
    return np.full(len(values), 1.0 / max(len(values), 1))


def _pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (Any: an optional extra, without types here)."""
    matplotlib = import_optional("matplotlib", extra="report", purpose="the report's plots")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _encode(fig: Any) -> str:
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
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


def _bulk_edges(values: np.ndarray, bins: int) -> np.ndarray:
    """Edges over the 1st to 99th percentile (a few extreme values would squeeze every
    other value into one spike); values beyond are counted in the end bins."""
    finite = values[np.isfinite(values)]
    if len(finite) >= 50:
        # the nearest values inside: a single huge value must not stretch the 99th percentile
        low = np.percentile(finite, 1, method="higher")
        high = np.percentile(finite, 99, method="lower")
        if high > low:
            return _edges(np.clip(finite, low, high), bins)
    return _edges(finite, bins)


def _numeric_panel(ax: Any, real: np.ndarray, synthetic: np.ndarray) -> None:
    edges = _bulk_edges(np.concatenate([real, synthetic]), 30)
    for values, style in (
        (real, {"histtype": "stepfilled", "alpha": 0.35, "color": REAL, "label": "real"}),
        (synthetic, {"histtype": "step", "linewidth": 2, "color": SYNTHETIC, "label": "synthetic"}),
    ):
        ax.hist(np.clip(values, edges[0], edges[-1]), edges, weights=_shares(values), **style)


def _category_panel(ax: Any, real: pd.Series, synthetic: pd.Series) -> None:
    r_share = real.astype(str).value_counts(normalize=True)
    s_share = synthetic.astype(str).value_counts(normalize=True)
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
    names = [humanize(v, title=True)[:22] for v in levels]
    ax.set_xticks(x, names, rotation=30, ha="right")


@_quiet_glyphs
def distributions(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    sdtypes: Mapping[str, str],
    labels: Mapping[str, str] | None = None,
) -> str:
    """One panel per column, three to a row: the share of real and synthetic rows per range
    (numbers) or per value (categories), titled in words with the unit (``labels``)."""
    plt = _pyplot()
    names = list(sdtypes)
    ncols = 3
    nrows = max(1, math.ceil(len(names) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.6 * ncols, 3.9 * nrows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        if sdtypes[name] in CONTINUOUS:
            r = _numbers(read_column(real, name, sdtypes[name]))
            s = _numbers(read_column(synthetic, name, sdtypes[name]))
            # values near the float limit are drawn scaled: densities over their range overflow
            r, s = scaled(r[np.isfinite(r)], s[np.isfinite(s)])
            if len(r) and len(s):
                _numeric_panel(ax, r, s)
            if sdtypes[name] == "datetime":
                ax.set_xticks([])
        else:
            _category_panel(ax, real[name], synthetic[name])
        ax.set_title(_title(name, labels)[:48])
        ax.yaxis.set_major_formatter(_percent())
    for row in axes:
        row[0].set_ylabel("share of rows")
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    axes.flat[0].legend()
    fig.tight_layout()
    return _encode(fig)


def _percent() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(xmax=1, decimals=0)


@_quiet_glyphs
def heatmaps(
    real_assoc: pd.DataFrame, synth_assoc: pd.DataFrame, labels: Mapping[str, str] | None = None
) -> str:
    """Association in real, in synthetic, and their difference, columns named in words."""
    plt = _pyplot()
    n = len(real_assoc)
    size = min(7.5, 3 + 0.3 * n)
    fig, axes = plt.subplots(1, 3, figsize=(3 * size + 2.5, size + 1))
    panels = [
        (real_assoc, "Real rows", "viridis", (0, 1), "strength of association"),
        (synth_assoc, "Synthetic rows", "viridis", (0, 1), "strength of association"),
        (synth_assoc - real_assoc, "Synthetic minus real", "coolwarm", (-0.5, 0.5), "difference"),
    ]
    names = [humanize(c)[:26] for c in real_assoc.columns]
    if labels:
        names = [labels.get(str(c), humanize(c)).split(" (")[0][:26] for c in real_assoc.columns]
    font = 10 if n <= 16 else 8
    for ax, (matrix, title, cmap, (lo, hi), what) in zip(axes, panels, strict=True):
        image = ax.imshow(matrix.to_numpy(dtype=float), cmap=cmap, vmin=lo, vmax=hi)
        ax.set_title(title)
        shown = names if n <= 30 else [""] * n
        ax.set_xticks(range(n), shown, rotation=90, fontsize=font)
        ax.set_yticks(range(n), shown, fontsize=font)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=what)
    fig.tight_layout()
    return _encode(fig)


@_quiet_glyphs
def distance_histograms(to_training: np.ndarray, to_holdout: np.ndarray) -> str:
    """Distance of each synthetic row to its closest training row and closest holdout row."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    both = np.concatenate([to_training, to_holdout])
    edges = _edges(both[np.isfinite(both)], 40)
    ax.hist(to_training, edges, alpha=0.5, color=REAL, label="to the closest training row (seen)")
    ax.hist(
        to_holdout, edges, alpha=0.5, color=HOLDOUT, label="to the closest holdout row (unseen)"
    )
    ax.set_xlabel("how different from the closest real row (0 = an exact copy)")
    ax.set_ylabel("number of synthetic rows")
    ax.set_title("Is each synthetic row closer to the rows learned from than to unseen ones?")
    ax.legend()
    fig.tight_layout()
    return _encode(fig)


@_quiet_glyphs
def utility_bars(table: pd.DataFrame) -> str:
    """TSTR next to TRTR for every model and metric (rows: model, metric, tstr, trtr)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(7, 1.5 * len(table)), 4.2))
    x = np.arange(len(table))
    ax.bar(x - 0.2, table["trtr"], 0.4, color=REAL, label="trained on real rows (TRTR)")
    ax.bar(x + 0.2, table["tstr"], 0.4, color=SYNTHETIC, label="trained on synthetic rows (TSTR)")
    labels = [
        f"{humanize(m)}\n{humanize(k)}"
        for m, k in zip(table["model"], table["metric"], strict=True)
    ]
    ax.set_xticks(x, labels)
    ax.set_ylabel("score on real test rows")
    ax.legend()
    fig.tight_layout()
    return _encode(fig)


@_quiet_glyphs
def size_curve(table: pd.DataFrame, metric: str) -> str:
    """TSTR against synthetic size (as a multiple of the real training size), TRTR as a line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for model, rows in table.groupby("model"):
        name = humanize(model)
        ax.plot(rows["multiplier"], rows["tstr"], marker="o", label=f"{name}, synthetic (TSTR)")
        ax.axhline(rows["trtr"].iloc[0], linestyle="--", linewidth=1, label=f"{name}, real (TRTR)")
    ax.set_xlabel("synthetic rows, as a multiple of the real training rows")
    ax.set_ylabel(humanize(metric))
    ax.legend()
    fig.tight_layout()
    return _encode(fig)
