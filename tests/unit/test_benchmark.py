"""The benchmark runner and its outputs (copula only, so it stays fast)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from synthpatient.benchmark import (
    BenchmarkResult,
    compare_with_sdv,
    default_candidates,
    run_benchmark,
    synthpatient_candidate,
    to_html,
    to_json,
    to_markdown,
    update_readme,
)
from synthpatient.errors import DataError


def test_benchmark_scores_every_family_and_writes_three_formats():
    result = run_benchmark([synthpatient_candidate("copula")], ["diabetes"], seeds=2)
    assert not result.failures
    assert len(result.runs) == 2 and result.runs["seed"].tolist() == [0, 1]
    row = result.summary.iloc[0]
    assert row["n_seeds"] == 2 and 0.85 < row["quality_mean"] <= 1
    for key in ("utility_mean", "tstr_mean", "trtr_mean", "dcr_share_mean", "mia_auc_mean",
                "rule_violation_excess_mean", "fit_s_mean", "sample_100k_s_mean", "peak_mb_mean"):
        assert key in row and row[key] == row[key], key  # present and not NaN
    markdown = to_markdown(result)
    assert "| copula |" in markdown and "±" in markdown
    assert json.loads(to_json(result))["summary"][0]["synthesizer"] == "copula"
    assert to_html(result).startswith("<!doctype html>")


def test_a_failing_candidate_is_reported_not_fatal():
    broken = synthpatient_candidate("copula", label="broken", n_quantiles=1)
    result = run_benchmark([broken, synthpatient_candidate("copula")], ["diabetes"], seeds=1)
    assert len(result.runs) == 1 and result.failures and "broken" in result.failures[0]


def test_default_candidates_without_sdv():
    candidates, skipped = default_candidates(["copula"], include_sdv=False)
    assert [c.name for c in candidates] == ["copula"] and not skipped


def test_private_candidates_at_each_epsilon_report_the_spent_budget():
    candidates, _ = default_candidates(["mst", "tvae"], epsilons=[2.0], include_sdv=False)
    assert [c.name for c in candidates] == ["mst (eps=2)", "tvae", "tvae (eps=2)"]
    small = synthpatient_candidate("tvae", label="tvae (eps=2)", epsilon=2.0, steps=20,
                                   progress=False)
    result = run_benchmark([small], ["diabetes"], seeds=1)
    assert not result.failures
    assert 1.5 < result.summary.iloc[0]["epsilon_spent_mean"] <= 2.0 + 1e-6
    assert "ε spent" in to_markdown(result)


def test_sdv_comparison_lines_come_from_the_summary():
    summary = pd.DataFrame([
        {"dataset": "d", "synthesizer": "ctgan", "quality_mean": 0.9, "fit_s_mean": 5.0,
         "tstr_mean": 0.45, "trtr_mean": 0.5},
        {"dataset": "d", "synthesizer": "sdv_ctgan", "quality_mean": 0.7, "fit_s_mean": 10.0,
         "tstr_mean": 0.3, "trtr_mean": 0.5},
        {"dataset": "d", "synthesizer": "tvae", "quality_mean": 0.9, "fit_s_mean": 1.0,
         "tstr_mean": 0.4, "trtr_mean": 0.5},
    ])
    lines = compare_with_sdv(BenchmarkResult(pd.DataFrame(), summary, []))
    assert lines == ["d: ctgan quality 0.900 vs sdv_ctgan 0.700; fit 5.00 s vs 10.00 s "
                     "(2.0x faster); TSTR/TRTR 0.90 vs 0.60"]


def test_update_readme_replaces_only_the_marked_section(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Title\nintro\n<!-- benchmark:start -->\nold table\n"
                      "<!-- benchmark:end -->\nafter\n", encoding="utf-8")
    update_readme(readme, "| new | table |\n", "synthpatient benchmark --seeds 3")
    text = readme.read_text(encoding="utf-8")
    assert "old table" not in text and "| new | table |" in text
    assert text.startswith("# Title\nintro\n") and text.endswith("<!-- benchmark:end -->\nafter\n")
    assert "synthpatient benchmark --seeds 3" in text
    unmarked = tmp_path / "OTHER.md"
    unmarked.write_text("no markers\n", encoding="utf-8")
    with pytest.raises(DataError, match="markers"):
        update_readme(unmarked, "x", "cmd")
    assert unmarked.read_text(encoding="utf-8") == "no markers\n"
