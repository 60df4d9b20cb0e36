"""Benchmark results as Markdown, JSON and an offline HTML page with plots."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from synthpatient.benchmark._runner import BenchmarkResult

#: Table columns: a run's column (a metric's registry key, ``key.detail`` for a figure from
#: its details, or a measurement), the header shown, and the digits.
COLUMNS = [
    ("epsilon_spent", "ε spent", 2),
    ("quality", "quality", 3),
    ("ml_utility", "utility", 3),
    ("ml_utility.tstr", "TSTR", 3),
    ("ml_utility.trtr", "TRTR", 3),
    ("dcr.share_closer_to_training", "DCR share", 3),
    ("membership_inference.auc", "MIA AUC", 3),
    ("rule_violations.excess_mean", "rule excess", 3),
    ("fit_s", "fit s", 2),
    ("sample_s", "sample s", 3),
    ("sample_100k_s", "100k rows s", 2),
    ("cost_per_1k", "$ per 1k rows", 4),
    ("peak_mb", "peak MB", 0),
]
TSTR, TRTR = "ml_utility.tstr_mean", "ml_utility.trtr_mean"


def _cell(row: pd.Series, key: str, digits: int) -> str:
    mean, sd = row.get(f"{key}_mean"), row.get(f"{key}_sd")
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    text = f"{mean:.{digits}f}"
    if sd is not None and not (isinstance(sd, float) and math.isnan(sd)) and row["n_seeds"] > 1:
        text += f" ± {sd:.{digits}f}"
    return text


def _given(row: pd.Series, key: str) -> str:
    """What a generator got (its target or schema), or – for nothing."""
    value = row.get(key)
    return "–" if _missing(value) else str(value).replace("|", "/")


def to_markdown(result: BenchmarkResult) -> str:
    lines = []
    if result.summary.empty:
        return "No benchmark run succeeded.\n" + "".join(f"- {f}\n" for f in result.failures)
    shown = [(k, label, d) for k, label, d in COLUMNS if f"{k}_mean" in result.summary.columns]
    given = [k for k in ("target", "schema") if k in result.summary.columns]
    for dataset, table in result.summary.groupby("dataset", sort=False):
        lines.append(f"\n### {dataset} (mean ± sd over {int(table['n_seeds'].max())} seeds)\n")
        headers = ["synthesizer", *given, *(label for _, label, _ in shown)]
        lines.append("| " + " | ".join(headers) + " |")
        lines.append("|---" * len(headers) + "|")
        for _, row in table.iterrows():
            cells = [_given(row, k) for k in given] + [_cell(row, k, d) for k, _, d in shown]
            lines.append(f"| {row['synthesizer']} | " + " | ".join(cells) + " |")
    lines.append(
        "\ntarget: the dataset's column to predict, given to each generator that takes one "
        "(AIM weights its marginals in the workload; – = none given); schema: what every "
        "generator was given, inferred from the dataset's rows or declared in the file named "
        "(column kinds only: a peer that gets the kinds, not the bounds, categories or "
        "relations; columns' bounds/categories read from the rows: a private generator's "
        "outside its ε, where the schema did not declare them). "
        "ε spent: the differential-privacy budget the accountant reports as spent "
        "(– = not private); quality: SDMetrics QualityReport score; "
        "utility: mean of min(1, TSTR/TRTR); "
        "TSTR/TRTR: the primary metric (R2 or ROC-AUC) on the holdout; DCR share: "
        "synthetic rows closer to training than holdout rows (ideal = training share); "
        "MIA AUC: membership inference (0.5 ideal); rule excess: mean violation rate "
        "above the real data's; $ per 1k rows: a prompted LLM's cost per 1,000 "
        "delivered rows at the prices set (its 100,000-row sample is not run); peak "
        "MB: resident memory of the process."
    )
    comparisons = compare_with_sdv(result)
    if comparisons:
        lines.append("\nAgainst SDV on the same data and machine, in this run:\n")
        lines += [f"- {line}" for line in comparisons]
    if result.failures:
        lines.append("\nNot run:\n" + "".join(f"- {f}\n" for f in result.failures))
    return "\n".join(lines) + "\n"


#: Our synthesizer -> SDV's synthesizer of the same method.
SDV_COUNTERPARTS = {"copula": "sdv_gaussiancopula", "ctgan": "sdv_ctgan", "tvae": "sdv_tvae"}


def compare_with_sdv(result: BenchmarkResult) -> list[str]:
    """One line per (dataset, our synthesizer) with an SDV counterpart in the run: quality,
    fit time and TSTR/TRTR side by side, from the same summary the table shows."""
    summary = result.summary
    if summary.empty:
        return []
    lines = []
    for dataset, table in summary.groupby("dataset", sort=False):
        rows = {row["synthesizer"]: row for _, row in table.iterrows()}
        for ours, theirs in SDV_COUNTERPARTS.items():
            if ours not in rows or theirs not in rows:
                continue
            a, b = rows[ours], rows[theirs]
            text = (
                f"{dataset}: {ours} quality {a['quality_mean']:.3f} vs {theirs} "
                f"{b['quality_mean']:.3f}; fit {a['fit_s_mean']:.2f} s vs "
                f"{b['fit_s_mean']:.2f} s ({_ratio(a['fit_s_mean'], b['fit_s_mean'])})"
            )
            if TSTR in a and not _missing(a.get(TSTR)):
                text += f"; TSTR/TRTR {a[TSTR] / a[TRTR]:.2f} vs {b[TSTR] / b[TRTR]:.2f}"
            lines.append(text)
    return lines


def _ratio(ours: float, theirs: float) -> str:
    if ours <= 0 or theirs <= 0:
        return "n/a"
    return f"{theirs / ours:.1f}x faster" if ours <= theirs else f"{ours / theirs:.1f}x slower"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


README_START = "<!-- benchmark:start -->"
README_END = "<!-- benchmark:end -->"


def check_readme(path: str | Path) -> str:
    """The README's text, after checking it can be updated: it exists, is readable and
    writable (the folder too: it is rewritten through a temporary sibling) and holds both
    markers. The CLI calls this before a benchmark runs, so a bad README costs no run."""
    import os

    from synthpatient._io import read_text
    from synthpatient.errors import DataError, FileIOError

    path = Path(path)
    text = read_text(path, what="README")
    folder = path.parent if str(path.parent) else Path(".")
    if not os.access(path, os.W_OK) or not os.access(folder, os.W_OK):
        raise FileIOError(
            f"The README '{path}' cannot be updated: it or its folder is not "
            "writable. Fix its permissions or leave out --update-readme."
        )
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise DataError(
            f"'{path}' has no '{README_START}' ... '{README_END}' section to "
            "replace. Add the two markers where the results table should go."
        )
    return text


def update_readme(path: str | Path, markdown: str, command: str) -> None:
    """Replace the text between the benchmark markers of a README with ``markdown``.

    The README must already hold both markers (so that nothing else is ever overwritten); it
    is rewritten atomically.
    """
    from synthpatient._io import write_text_atomic

    path = Path(path)
    text = check_readme(path)
    start, end = text.find(README_START), text.find(README_END)
    block = (
        f"{README_START}\n<!-- written by `{command}`; do not edit by hand -->\n"
        f"{markdown.strip()}\n"
    )
    write_text_atomic(path, text[:start] + block + text[end:])


def to_json(result: BenchmarkResult) -> str:
    data: dict[str, Any] = {
        "summary": result.summary.replace({float("nan"): None}).to_dict("records"),
        "runs": result.runs.replace({float("nan"): None}).to_dict("records"),
        "failures": result.failures,
    }
    return json.dumps(data, indent=2, default=str)


def to_html(result: BenchmarkResult) -> str:
    from synthpatient._html import esc, image, page
    from synthpatient.evaluation import _plots

    sections = [("summary", "Results", f"<pre>{esc(to_markdown(result))}</pre>")]
    if not result.summary.empty:
        plt = _plots._pyplot()
        for dataset, table in result.summary.groupby("dataset", sort=False):
            fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
            names = table["synthesizer"].tolist()
            axes[0].barh(names, table["quality_mean"], xerr=table["quality_sd"], color="#1f77b4")
            axes[0].set_xlabel("quality (SDMetrics)")
            axes[0].set_xlim(0, 1)
            axes[1].scatter(table["fit_s_mean"], table["quality_mean"], color="#ff7f0e")
            for name, x, y in zip(names, table["fit_s_mean"], table["quality_mean"], strict=True):
                axes[1].annotate(name, (x, y), fontsize=7)
            axes[1].set_xscale("log")
            axes[1].set_xlabel("fit time (s, log scale)")
            axes[1].set_ylabel("quality")
            fig.suptitle(dataset)
            fig.tight_layout()
            sections.append(
                (
                    f"plot-{dataset}",
                    f"{dataset}: quality and speed",
                    image(_plots._encode(fig), f"Quality and fit time on {dataset}"),
                )
            )
    return page(
        "synthpatient benchmark", "Every generator on the same data: quality, speed, cost", sections
    )
