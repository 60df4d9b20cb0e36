"""AIM's workload, junction-tree sampling and budget; auto's choice, guard, budget and split."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

from synthpatient.errors import DataError
from synthpatient.synthesizers import Synthesizer, make_synthesizer
from synthpatient.synthesizers.aim import _draw_given, _sample_codes, _workload_weights
from synthpatient.synthesizers.auto import AutoSynthesizer, CandidateScore
from tests.conftest import make_clinical_table


def test_workload_is_pairs_plus_the_targets_triples_weighted_by_overlap():
    weights = _workload_weights(["a", "b", "c", "y"], "y")
    triples = {c for c in weights if len(c) == 3}
    assert triples == {("a", "b", "y"), ("a", "c", "y"), ("b", "c", "y")}
    # 6 pairs and 3 triples: 'y' is in 3 pairs and 3 triples; 'a' in 3 pairs and 2 triples
    assert weights[("y",)] == 6 and weights[("a",)] == 5
    # (a, y) shares 2 with itself, 1 with each of the 4 pairs and 2 triples without both...
    expected = sum(
        len({"a", "y"} & set(s))
        for s in [
            *itertools.combinations("abcy", 2),
            *[(*p, "y") for p in itertools.combinations("abc", 2)],
        ]
    )
    assert weights[("a", "y")] == expected
    assert max(len(c) for c in _workload_weights(["a", "b", "c"], None)) == 2


def test_junction_tree_sampling_reproduces_the_cliques_tables():
    rng = np.random.default_rng(0)
    ab = rng.random((3, 4))
    ab /= ab.sum()
    # (b, c) agrees with (a, b) on b: P(c | b) any, P(b) from ab
    c_given_b = rng.random((4, 2))
    c_given_b /= c_given_b.sum(axis=1, keepdims=True)
    bc = ab.sum(axis=0)[:, None] * c_given_b
    codes = _sample_codes([("a", "b"), ("b", "c")], [ab, bc], 200_000, rng)
    joint = np.zeros((3, 4, 2))
    np.add.at(joint, (codes["a"], codes["b"], codes["c"]), 1)
    joint /= joint.sum()
    expected = ab[:, :, None] * c_given_b[None, :, :]
    assert np.abs(joint - expected).max() < 0.01


def test_draw_given_falls_back_on_the_marginal_for_a_parent_without_weight():
    table = np.array([[0.0, 0.0], [0.3, 0.7]])
    codes = {"p": np.zeros(10_000, dtype=np.int64)}
    drawn = _draw_given(
        table, ("p", "c"), ["p"], "c", codes, np.random.default_rng(1).random(10_000)
    )
    assert abs(drawn.mean() - 0.7) < 0.03


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return make_clinical_table(300, seed=4)


def test_aim_spends_its_budget_and_round_trips(table, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # few columns and rounds: each round compiles a JAX estimation (seconds)
        synth = make_synthesizer("aim", epsilon=5.0, n_bins=4, rounds=3, target="bmi", seed=0)
        synth.fit(table[["age", "sex", "bmi"]])
    spent = synth.privacy_spent_
    assert spent["epsilon"] == 5.0 and spent["delta"] > 0 and spent["rho"] > 0
    measured = [tuple(c) for c, _ in synth.measured_]
    learned = [s.name for s in synth.schema_.learned]
    assert measured[: len(learned)] == [(c,) for c in learned]  # every 1-way marginal first
    assert spent["rounds"] == len(measured) - len(learned)
    synth.save(tmp_path / "aim")
    loaded = Synthesizer.load(tmp_path / "aim")
    assert loaded.sample(50, seed=3).equals(synth.sample(50, seed=3))


def test_aim_target_must_be_a_learned_column(table):
    with pytest.raises(DataError, match="target 'nope'"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        make_synthesizer("aim", target="nope", epsilon=5.0, seed=0).fit(table)


def _score(key, quality, dcr=0.75, auc=0.5, passes=True):
    return CandidateScore(
        key,
        "scored",
        fit_s=1.0,
        quality=quality,
        dcr_share=dcr,
        dcr_ideal=0.75,
        mia_auc=auc,
        passes_guard=passes,
    )


def test_auto_keeps_the_best_quality_that_passes_the_guard():
    auto = AutoSynthesizer()
    winner, reason = auto._choose(
        [_score("a", 0.99, dcr=0.95, passes=False), _score("b", 0.90), _score("c", 0.93)]
    )
    assert winner == "c" and "privacy guard" in reason
    with pytest.warns(UserWarning, match="No candidate passed"):
        winner, _ = auto._choose(
            [_score("a", 0.99, dcr=0.99, passes=False), _score("b", 0.9, auc=0.58, passes=False)]
        )
    assert winner == "b"  # fails the guard by 0.03, 'a' by 0.19


def test_auto_skips_what_does_not_fit_the_budget_and_saves_its_choice(table, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto = make_synthesizer("auto", candidates=["tvae", "copula"], time_budget_s=2.0, seed=0)
        auto.fit(table.iloc[:150])
    rows = {c.key: c for c in auto.selection_.candidates}
    assert rows["tvae"].status == "skipped" and "expected" in rows["tvae"].reason
    assert auto.selection_.chosen == "copula" and rows["copula"].status == "scored"
    assert "auto chose 'copula'" in auto.report() and "tvae | skipped" in auto.report()
    auto.save(tmp_path / "auto")
    loaded = Synthesizer.load(tmp_path / "auto")
    assert loaded.selection_.to_dict() == auto.selection_.to_dict()
    assert loaded.sample(40, seed=2).equals(auto.sample(40, seed=2))
    assert "auto chose 'copula'" in auto.last_sample_report_.summary()  # the CLI prints it


def test_auto_holds_out_whole_patients():
    auto = AutoSynthesizer(holdout_share=0.3)
    auto._patients = np.repeat(np.arange(40), 3)
    mask = auto._split(120, np.random.default_rng(0))
    per_patient = pd.Series(mask).groupby(auto._patients).nunique()
    assert (per_patient == 1).all() and mask.sum() == 12 * 3


def test_default_rounds_leave_the_first_noise_a_few_values_on_small_tables():
    from synthpatient.synthesizers._marginal_dp import zcdp_rho
    from synthpatient.synthesizers.aim import default_rounds

    rho = zcdp_rho(1.0, 1e-9)
    small, large = default_rounds(331, 11, rho), default_rounds(1_000_000, 11, rho)
    assert 12 <= small < large == 33  # between d + 1 and 3 d
    sigma = (small / (2 * 0.9 * rho)) ** 0.5
    assert 3 * sigma * 4 <= 331  # four values of 3 sigma each fit in the rows
    assert default_rounds(20, 11, rho) == 12
