"""The verdict a result opens with, and the words the pages use for codes (no server here)."""

from __future__ import annotations

import pytest

from synthpatient.web.verdict import cohort_verdict, table_verdict
from synthpatient.web.words import GENERATORS, generator_words, humanize

GOOD = [
    {"family": "fidelity", "metric": "quality", "score": 0.95, "verdict": "close", "level": "good"},
    {"family": "fidelity", "metric": "detection", "score": 0.9, "verdict": "hard", "level": "good"},
    {"family": "privacy", "metric": "dcr", "score": 0.95, "verdict": "no closer", "level": "good"},
    {
        "family": "privacy",
        "metric": "membership_inference",
        "score": 0.97,
        "verdict": "chance",
        "level": "good",
    },
]
CHOICES = [
    {"key": "copula", "label": "Gaussian copula", "available": True},
    {"key": "aim", "label": "AIM", "available": True, "differentially_private": True},
    {"key": "ctgan", "label": "CTGAN (neural network)", "available": True},
    {"key": "sequential", "label": "Histories", "available": True, "longitudinal": True},
]


def _rule(name: str, broken: int, real_rate: float = 0.0, of: int = 1000) -> dict:
    return {
        "rule": name,
        "description": f"{name} holds; a note",
        "real_rate": real_rate,
        "synthetic_violations": broken,
        "synthetic_rate": broken / of,
        "synthetic_applicable": of,
    }


def _table(scores=GOOD, rules=(), holdout=100, spent=None, choices=CHOICES):  # type: ignore[no-untyped-def]
    return table_verdict(
        title="1,000 synthetic rows like t.csv",
        generator="Gaussian copula",
        scores=list(scores),
        rules=list(rules),
        holdout_rows=holdout,
        privacy_spent=spent,
        choices=choices,
        synthesizer="copula",
    )


def _checks(verdict: dict) -> dict[str, dict]:
    return {c["key"]: c for c in verdict["checks"]}


def test_a_table_that_breaks_a_rule_opens_red_with_advice_naming_a_real_generator():
    verdict = _table(rules=[_rule("ldl-friedewald", 909), _rule("hdl-below-total", 0)])
    checks = _checks(verdict)
    assert verdict["light"] == "red" and verdict["made"].startswith("1,000 synthetic rows")
    consistent = checks["consistent"]
    assert consistent["light"] == "red" and consistent["status"] == "poor"
    assert "909 of 1,000 rows break the rule 'ldl-friedewald holds'" in consistent["text"]
    assert "(real rows: 0%)" in consistent["text"]
    # the advice names a generator the registry has and that runs here, never a private one
    assert "CTGAN (neural network)" in consistent["advice"] and "AIM" not in consistent["advice"]
    assert checks["faithful"]["light"] == "green" and checks["faithful"]["advice"] is None


def test_the_auto_generator_is_suggested_when_registered():
    choices = [*CHOICES, {"key": "auto", "label": "Automatic choice", "available": True}]
    verdict = _table(rules=[_rule("ldl", 500)], choices=choices)
    assert "try the auto generator" in _checks(verdict)["consistent"]["advice"]


def test_a_rule_the_real_data_breaks_as_often_is_not_held_against_the_generator():
    verdict = _table(rules=[_rule("bp", 50, real_rate=0.05), _rule("x", 0)])
    assert verdict["light"] == "green"
    assert "break no more often than in the real data" in _checks(verdict)["consistent"]["text"]
    amber = _table(rules=[_rule("bp", 110, real_rate=0.05)])  # 6 points above the real rate
    assert _checks(amber)["consistent"]["light"] == "amber"


def test_privacy_not_measured_is_grey_and_says_how_to_measure_it():
    scores = [s for s in GOOD if s["family"] != "privacy"]
    verdict = _table(scores=scores, holdout=0)
    private = _checks(verdict)["private"]
    assert private["light"] == "grey" and "Keep a quarter aside" in private["advice"]
    # the others pass: the headline says what was not judged instead of "all pass"
    assert verdict["light"] == "green" and "not judged: private" in verdict["headline"]


def test_a_poor_privacy_score_is_red_and_a_budget_is_named():
    scores = [*GOOD[:2], {**GOOD[2], "level": "poor", "verdict": "rows copy real patients"}]
    private = _checks(_table(scores=scores, spent={"epsilon": 3.0}))["private"]
    assert private["light"] == "red"
    assert "Rows copy real patients." in private["text"] and "epsilon 3" in private["text"]
    assert "privacy budget" in private["advice"]


def test_a_cohort_is_private_by_construction_and_judged_on_its_targets():
    targets = [{"what": f"t{i}", "ok": i != 0} for i in range(10)]
    rules = [{"rule": "r", "description": "d", "applicable": 100, "violations": 0}]
    verdict = cohort_verdict(title="2,000 synthetic patients", targets=targets, rules=rules)
    checks = _checks(verdict)
    assert checks["private"]["light"] == "green" and "No real patient" in checks["private"]["text"]
    assert checks["faithful"]["light"] == "amber" and "Off target: t0" in checks["faithful"]["text"]
    assert checks["consistent"]["light"] == "green"
    broken = [{"rule": "r", "description": "d", "applicable": 100, "violations": 40}]
    bad = cohort_verdict(title="x", targets=targets[1:], rules=broken)
    assert bad["light"] == "red" and "40 of 100 patients" in _checks(bad)["consistent"]["text"]


def test_codes_become_words():
    assert humanize("non_hispanic_black", title=True) == "Non-Hispanic Black"
    assert humanize("type2_diabetes") == "Type 2 diabetes"
    assert humanize("us") == "US" and humanize("Already Words") == "Already Words"
    assert generator_words("copula")[0] == "Gaussian copula"


def test_a_generator_this_module_does_not_know_is_described_from_its_class():
    class NewSynthesizer:
        """Rows from a brand-new method.

        More text that is not the summary."""

    name, description = generator_words("new_method", NewSynthesizer)
    assert name == "New method" and description == "Rows from a brand-new method."
    assert "new_method" not in GENERATORS


def test_every_registered_generator_has_words():
    from synthpatient import available_synthesizers

    for key in available_synthesizers():
        name, description = generator_words(key)
        assert name and description and name != key, key


def test_distributions_are_shares_with_human_labels_and_units():
    import numpy as np
    import pandas as pd

    from synthpatient.web._distributions import MAX_CATEGORIES, distributions, unit_words

    assert unit_words("mL/min/{1.73_m2}") == "mL/min/1.73 m²" and unit_words("kg/m2") == "kg/m²"
    rng = np.random.default_rng(0)
    real = pd.DataFrame(
        {
            "egfr": rng.normal(80, 15, 300),
            "race": [f"group_{i % 20}" for i in range(300)],
            "mrn": range(300),
        }
    )
    synthetic = real.sample(frac=1, random_state=1).reset_index(drop=True)
    found = distributions(
        synthetic, real, labels={"egfr": ("eGFR", "mL/min/{1.73_m2}")}, skip={"mrn"}
    )
    by = {d["column"]: d for d in found}
    assert set(by) == {"egfr", "race"}
    egfr = by["egfr"]
    assert egfr["label"] == "eGFR" and egfr["unit"] == "mL/min/1.73 m²" and egfr["numeric"]
    assert sum(b["real"] for b in egfr["bins"]) == pytest.approx(1, abs=1e-3)
    race = by["race"]
    assert len(race["bins"]) == MAX_CATEGORIES + 1 and race["bins"][-1]["label"] == "8 others"
    assert race["bins"][0]["label"].startswith("Group ")
    only_synthetic = distributions(synthetic)[0]
    assert only_synthetic["bins"][0]["real"] is None
    # a nullable integer column (days, visits) with missing values is binned like any other
    days = pd.DataFrame({"day": pd.array([0, 30, None, 400, 61, 90] * 10, dtype="Int64")})
    assert sum(b["synthetic"] for b in distributions(days, days)[0]["bins"]) == pytest.approx(1)


def test_the_cohort_report_opens_with_the_verdict(tmp_path):
    from synthpatient.web.report import cohort_report_html
    from synthpatient.web.results import Result

    targets = [{"what": "hba1c mean", "ok": False, "target": 7, "measured": 8, "sources": []}]
    result = Result(
        id="r",
        kind="cohort",
        title="5 synthetic patients",
        n_rows=5,
        columns=[],
        preview=[],
        folder=tmp_path,
        targets=targets,
    )
    result.verdict = cohort_verdict(title=result.title, targets=targets, rules=[], n_patients=5)
    page = cohort_report_html(result)
    assert page.index("<h2>Verdict</h2>") < page.index("<h2>Summary</h2>")
    assert "Faithful to the sources: poor</strong>" in page and "ask for more patients" in page
