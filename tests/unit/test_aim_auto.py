"""AIM's workload, junction-tree sampling and budget; auto's choice, guard, budget and split."""

from __future__ import annotations

import itertools
import time
import warnings

import numpy as np
import pandas as pd
import pytest

from synthpatient.errors import ConditionError, DataError
from synthpatient.schema import ColumnSpec, Relation, Schema, Term
from synthpatient.synthesizers import Synthesizer, make_synthesizer
from synthpatient.synthesizers._marginal_dp import exactly_derived
from synthpatient.synthesizers.aim import (
    TARGET_WEIGHT,
    _draw_given,
    _first_pairs,
    _sample_codes,
    _workload_weights,
)
from synthpatient.synthesizers.auto import AutoSynthesizer, CandidateScore
from tests.conftest import make_clinical_table


def test_workload_is_pairs_plus_the_targets_triples_weighted_by_overlap():
    weights = _workload_weights(["a", "b", "c", "y"], "y")
    triples = {c for c in weights if len(c) == 3}
    assert triples == {("a", "b", "y"), ("a", "c", "y"), ("b", "c", "y")}
    # 6 pairs, the target's 3 counted TARGET_WEIGHT times, and 3 triples
    extra = TARGET_WEIGHT - 1
    assert weights[("y",)] == 6 + 3 * extra and weights[("a",)] == 5 + extra
    workload = [
        *itertools.combinations("abcy", 2),
        *[(c, "y") for c in "abc"] * extra,
        *[(*p, "y") for p in itertools.combinations("abc", 2)],
    ]
    assert weights[("a", "y")] == sum(len({"a", "y"} & set(s)) for s in workload)
    assert max(len(c) for c in _workload_weights(["a", "b", "c"], None)) == 2
    assert max(len(c) for c in _workload_weights(["a", "b", "y"], "y", triples=False)) == 2


def test_first_pairs_are_the_targets_and_those_a_declared_relation_ties():
    ldl = Relation(
        kind="identity",
        column="ldl",
        terms=(Term(column="tc", coefficient=1.0), Term(column="hdl", coefficient=-1.0)),
    )
    # ldl itself is derived (not modelled): only its inputs' pair joins the target's pairs
    pairs = _first_pairs(["tc", "hdl", "age", "y"], "y", [ldl])
    assert pairs == [("tc", "y"), ("hdl", "y"), ("age", "y"), ("tc", "hdl")]
    assert _first_pairs(["tc", "hdl"], None, []) == []


def test_only_exact_relations_on_complete_columns_are_derived():
    spec = {"kind": "numeric", "minimum": 0, "maximum": 10}
    schema = Schema(
        columns=(
            ColumnSpec(name="a", **spec),
            ColumnSpec(name="b", **spec),
            ColumnSpec(name="s", **spec),
            ColumnSpec(name="r", **spec),
            ColumnSpec(name="m", nullable=True, **spec),
        ),
        relations=(
            Relation(kind="identity", column="s", terms=(Term(column="a", coefficient=1.0),)),
            # a band keeps the drawn value: the model must learn it
            Relation(
                kind="ratio", column="r", terms=(Term(column="a", coefficient=1.0),), tolerance=1
            ),
            # a column that may be missing is not computed where it is missing
            Relation(kind="identity", column="m", terms=(Term(column="b", coefficient=1.0),)),
        ),
    )
    assert exactly_derived(schema) == ["s"]


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


def test_aim_spends_its_budget_derives_declared_columns_and_round_trips(table, tmp_path):
    data = table[["age", "sex", "bmi"]].assign(double_bmi=2 * table["bmi"])
    relation = Relation(
        kind="identity", column="double_bmi", terms=(Term(column="bmi", coefficient=2.0),)
    )
    schema = Schema.infer(data).with_relations((relation,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # few columns and rounds: each round compiles a JAX estimation (seconds)
        synth = make_synthesizer("aim", epsilon=5.0, n_bins=4, rounds=3, target="bmi", seed=0)
        synth.fit(data, schema=schema)
    spent = synth.privacy_spent_
    assert spent["epsilon"] == 5.0 and spent["delta"] > 0 and spent["rho"] > 0
    # the declared relation computes double_bmi: no budget is spent on it
    assert spent["derived"] == ["double_bmi"] and synth.columns_ == ["age", "sex", "bmi"]
    measured = [tuple(c) for c, _ in synth.measured_]
    assert measured[:3] == [("age",), ("sex",), ("bmi",)]  # every 1-way marginal first
    assert measured[3:5] == [("age", "bmi"), ("sex", "bmi")]  # then the target's pairs
    assert spent["rounds"] == len(measured) - 5
    rows = synth.sample(200, seed=3)
    assert np.allclose(rows["double_bmi"], 2 * rows["bmi"])
    with pytest.raises(ConditionError, match="computes 'double_bmi'"):
        synth.sample(10, conditions={"double_bmi": (40, 60)})
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


def test_the_guard_refuses_an_auc_above_its_limit_beyond_one_splits_noise():
    from synthpatient.synthesizers.auto import _auc_lower_bound

    # the copula's 0.602 on one split of 110 held-out rows (s.e. 0.039) is noise, not a leak
    assert _auc_lower_bound(0.602, 0.039) < 0.6
    assert _auc_lower_bound(0.72, 0.036) > 0.6  # a real leak still fails
    assert _auc_lower_bound(0.61, float("nan")) == 0.61  # a selection saved before the s.e.


def test_auto_skips_what_does_not_fit_the_budget_and_saves_its_choice(table, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto = make_synthesizer("auto", candidates=["tvae", "copula"], time_budget_s=2.0, seed=0)
        auto.fit(table.iloc[:150])
    rows = {c.key: c for c in auto.selection_.candidates}
    assert rows["tvae"].status == "skipped" and "estimated" in rows["tvae"].reason
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


class _Sleeper:
    """A stand-in for a generator whose fit costs 0.05 s plus 5 ms per step."""

    def __init__(self, steps: int) -> None:
        self.steps = steps

    def fit(self, data, schema=None):
        time.sleep(0.05 + 0.005 * self.steps)
        return self


def test_probe_extrapolates_set_up_and_per_step_cost_to_the_default_steps():
    from synthpatient.synthesizers._fit_estimate import VALIDATION_MARGIN, probe
    from synthpatient.synthesizers.tvae import TVAESynthesizer

    rows = pd.DataFrame({"a": [1.0, 2.0]})
    estimate = probe("tvae", lambda key, p: _Sleeper(p["steps"]), rows, Schema.infer(rows))
    expected = 0.05 + 0.005 * TVAESynthesizer().steps * VALIDATION_MARGIN
    assert abs(estimate.seconds - expected) < 0.35 * expected
    assert "10 and 30 steps" in estimate.how and estimate.probe_s > 0.3


def test_pace_comes_from_candidates_whose_reference_tells_it():
    from synthpatient.synthesizers._fit_estimate import from_reference, observed_pace

    # copula's and cart's second or so is overhead, ctgan is probed: only tabular_lm counts
    fits = [("copula", 5.0), ("cart", 16.0), ("ctgan", 99.0), ("tabular_lm", 60.0)]
    pace = observed_pace(fits, 350)
    assert pace == 2.0
    assert from_reference("tvae", 350, pace).seconds == 24.0
    assert observed_pace([("copula", 5.0)], 350) == 1.0
