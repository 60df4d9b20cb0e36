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
    for key in (
        "ml_utility_mean",
        "ml_utility.tstr_mean",
        "ml_utility.trtr_mean",
        "dcr.share_closer_to_training_mean",
        "membership_inference.auc_mean",
        "rule_violations.excess_mean_mean",
        "fit_s_mean",
        "sample_100k_s_mean",
        "peak_mb_mean",
    ):
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
    small = synthpatient_candidate(
        "tvae", label="tvae (eps=2)", epsilon=2.0, steps=20, progress=False
    )
    result = run_benchmark([small], ["diabetes"], seeds=1)
    assert not result.failures
    assert 1.5 < result.summary.iloc[0]["epsilon_spent_mean"] <= 2.0 + 1e-6
    assert "ε spent" in to_markdown(result)


def test_sdv_comparison_lines_come_from_the_summary():
    summary = pd.DataFrame(
        [
            {
                "dataset": "d",
                "synthesizer": "ctgan",
                "quality_mean": 0.9,
                "fit_s_mean": 5.0,
                "ml_utility.tstr_mean": 0.45,
                "ml_utility.trtr_mean": 0.5,
            },
            {
                "dataset": "d",
                "synthesizer": "sdv_ctgan",
                "quality_mean": 0.7,
                "fit_s_mean": 10.0,
                "ml_utility.tstr_mean": 0.3,
                "ml_utility.trtr_mean": 0.5,
            },
            {
                "dataset": "d",
                "synthesizer": "tvae",
                "quality_mean": 0.9,
                "fit_s_mean": 1.0,
                "ml_utility.tstr_mean": 0.4,
                "ml_utility.trtr_mean": 0.5,
            },
        ]
    )
    lines = compare_with_sdv(BenchmarkResult(pd.DataFrame(), summary, []))
    assert lines == [
        "d: ctgan quality 0.900 vs sdv_ctgan 0.700; fit 5.00 s vs 10.00 s "
        "(2.0x faster); TSTR/TRTR 0.90 vs 0.60"
    ]


def test_update_readme_replaces_only_the_marked_section(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(
        "# Title\nintro\n<!-- benchmark:start -->\nold table\n<!-- benchmark:end -->\nafter\n",
        encoding="utf-8",
    )
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


def test_prompted_llm_runs_only_when_configured_and_reports_its_cost():
    from tests.fake_llm_server import FakeLLMServer

    candidates, skipped = default_candidates(["llm"], include_sdv=False)
    assert not candidates and "--llm-base-url" in skipped[0]  # no network unless configured
    with FakeLLMServer() as server:
        config = {
            "base_url": server.url,
            "model": "local-test",
            "rows_per_request": 40,
            "price_per_1k_input_tokens": 0.15,
            "price_per_1k_output_tokens": 0.6,
        }
        candidates, skipped = default_candidates(["llm"], include_sdv=False, llm=config)
        assert [c.name for c in candidates] == ["llm (local-test)"] and not skipped
        result = run_benchmark(candidates, ["diabetes"], seeds=1)
    assert not result.failures, result.failures
    row = result.summary.iloc[0]
    assert row["cost_per_1k_mean"] > 0 and 0 < row["quality_mean"] <= 1
    assert row["sample_100k_s_mean"] != row["sample_100k_s_mean"]  # NaN: never 100,000 paid rows
    assert "$ per 1k rows" in to_markdown(result)


def test_fine_tuned_tabular_lm_is_run_beside_the_one_from_scratch(tmp_path):
    candidates, _ = default_candidates(
        ["tabular_lm"], include_sdv=False, lm_checkpoint=str(tmp_path)
    )
    assert [c.name for c in candidates] == ["tabular_lm", "tabular_lm (fine-tuned)"]
    assert candidates[1].params == {"base_model": str(tmp_path)} and not candidates[0].params
    assert candidates[0].large_sample and not candidates[1].large_sample


def test_a_longitudinal_synthesizer_runs_only_when_named():
    # the benchmark's tables have one row per patient: the sequential synthesizer would refuse
    # them, so by default it is listed as skipped with where it is compared instead
    candidates, skipped = default_candidates(include_sdv=False)
    assert "sequential" not in {c.name for c in candidates}
    assert any(s.startswith("sequential: learns tables with several rows") for s in skipped)
    named, _ = default_candidates(["sequential"], include_sdv=False)
    assert [c.name for c in named] == ["sequential"]
