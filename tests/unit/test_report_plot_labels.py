"""The report's figures speak in words: columns by their display names with units (no UCUM
braces, no codes), a count or share on every y axis, the privacy plot's axis in words, and
fonts large enough to read without zooming."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from synthpatient.evaluation import _plots, _timeline_plots
from synthpatient.evaluation._histories import Timeline, histories

pytest.importorskip("matplotlib")


@pytest.fixture
def figures(monkeypatch) -> list[Any]:  # type: ignore[no-untyped-def]
    """The matplotlib figures the plot functions draw, kept instead of encoded."""
    drawn: list[Any] = []

    def keep(fig: Any) -> str:
        drawn.append(fig)
        return "data:image/png;base64,"

    monkeypatch.setattr(_plots, "_encode", keep)
    monkeypatch.setattr(_timeline_plots, "_encode", keep)
    return drawn


def _texts(fig: Any) -> list[Any]:
    from matplotlib.text import Text

    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def _table(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 120
    return pd.DataFrame(
        {
            "egfr": rng.normal(70, 15, n),
            "uacr": np.concatenate([rng.lognormal(2, 0.5, n - 1), [20_000]]),
            "race_ethnicity": rng.choice(["non_hispanic_black", "hispanic"], n),
        }
    )


def test_distributions_and_heatmaps_use_display_names_units_and_shares(figures):
    meta = {"columns": ["egfr", "uacr", "race_ethnicity"], "units": {"egfr": "mL/min/{1.73_m2}"}}
    labels = _plots.column_labels(meta)
    assert labels["egfr"] == "eGFR (mL/min/1.73 m²)" and labels["uacr"] == "uACR"
    sdtypes = {"egfr": "numerical", "uacr": "numerical", "race_ethnicity": "categorical"}
    _plots.distributions(_table(1), _table(2), sdtypes, labels)
    assoc = pd.DataFrame(np.eye(2), index=["egfr", "uacr"], columns=["egfr", "uacr"])
    _plots.heatmaps(assoc, assoc, labels)
    dist, heat = figures
    titles = [ax.get_title() for ax in dist.axes if ax.get_title()]
    assert titles == ["eGFR (mL/min/1.73 m²)", "uACR", "Race ethnicity"]
    assert dist.axes[0].get_ylabel() == "share of rows"  # a share axis, not bare densities
    ticks = [t.get_text() for t in dist.axes[2].get_xticklabels()]
    assert "Non-Hispanic Black" in ticks
    # the long tail (two huge values) is folded into the last bar, not a spike at zero
    top = max(float(p.get_xy()[:, 1].max()) for p in dist.axes[1].patches)
    assert 0 < top < 0.5
    assert {t.get_text() for t in heat.axes[0].get_yticklabels()} == {"eGFR", "uACR"}
    for fig in figures:
        texts = _texts(fig)
        assert not any("{" in t.get_text() or "_" in t.get_text() for t in texts)
        assert min(t.get_fontsize() for t in texts) >= 10


def test_the_privacy_plot_and_timelines_are_labelled_in_words(figures):
    rng = np.random.default_rng(0)
    _plots.distance_histograms(rng.random(50), rng.random(50))
    (privacy,) = figures
    axis = privacy.axes[0]
    assert "encoded" not in axis.get_xlabel() and "exact copy" in axis.get_xlabel()
    assert axis.get_ylabel() == "number of synthetic rows"
    visits = pd.DataFrame(
        {
            "pid": np.repeat(np.arange(20), 3),
            "day": np.tile([0, 30, 60], 20),
            "hba1c": rng.random(60),
        }
    )
    hist = histories(visits, Timeline("pid", "day"), "number")
    labels = {"hba1c": "HbA1c (%)"}
    _timeline_plots.spaghetti(hist, hist, ["hba1c"], "days", labels)
    _timeline_plots.events_histogram(hist.counts, hist.counts)
    spaghetti, events = figures[1:]
    assert spaghetti.axes[0].get_ylabel() == "HbA1c (%)"
    assert spaghetti.axes[0].get_xlabel() == "time since the first visit (days)"
    assert events.axes[0].get_ylabel() == "share of patients"
    for fig in figures:
        assert min(t.get_fontsize() for t in _texts(fig)) >= 10
