"""The benchmark runner and its outputs (copula only, so it stays fast)."""

from __future__ import annotations

import json

from synthpatient.benchmark import (
    default_candidates,
    run_benchmark,
    synthpatient_candidate,
    to_html,
    to_json,
    to_markdown,
)


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
