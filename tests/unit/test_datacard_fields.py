"""Every field of the data card (issue 20), for a copula run and for a knowledge cohort: what
made it, the privacy guarantee or what was measured, intended and out-of-scope uses, the
representation table (real vs synthetic vs the knowledge base's target), known limitations,
sources and the evaluation summary, in JSON and in Markdown."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from synthpatient import Schema, __version__
from synthpatient.exporters import Table, get_exporter
from synthpatient.exporters._card_facts import OTHER, representation
from synthpatient.knowledge import load_knowledge_base
from synthpatient.knowledge.sampler import CohortSampler, CohortSpec
from tests.conftest import make_clinical_table

TOP = {
    "format",
    "title",
    "created",
    "synthetic",
    "dataset",
    "generation",
    "schema",
    "representation",
    "privacy",
    "evaluation",
    "sources",
    "files",
    "intended_use",
    "out_of_scope_use",
    "known_limitations",
    "limits",
}


@pytest.fixture(scope="module")
def copula_card():
    from synthpatient.evaluation.evaluate import evaluate
    from synthpatient.synthesizers.copula import GaussianCopulaSynthesizer

    real = make_clinical_table(120, seed=3)
    training, holdout = real.iloc[:90], real.iloc[90:]
    model = GaussianCopulaSynthesizer(seed=0).fit(training, schema=Schema.infer(training))
    synthetic = model.sample(90, seed=1)
    report = evaluate(training, synthetic, holdout=holdout, schema=model.schema_)
    options = {
        "synthesizer": "copula",
        "generator": "synthpatient (copula, data-driven)",
        "parameters": model.get_params(),
        "seed": 1,
        "training_rows": 90,
        "holdout_rows": 30,
        "evaluation": report,
        "real": training,
    }
    data = Table(synthetic, model.schema_)
    card = json.loads(get_exporter("datacard_json").to_text(data, **options))
    return card, get_exporter("datacard").to_text(data, **options), training, synthetic


@pytest.fixture(scope="module")
def cohort_card():
    cohort = CohortSampler(load_knowledge_base()).sample(
        CohortSpec(condition="type2_diabetes", n=300, seed=4, n_observations=5)
    )
    return (
        json.loads(get_exporter("datacard_json").to_text(cohort)),
        get_exporter("datacard").to_text(cohort),
        cohort,
    )


def test_a_copula_runs_card_has_every_field(copula_card):
    card, markdown, training, synthetic = copula_card
    assert set(card) == TOP
    made = card["generation"]
    assert made["synthesizer"] == "copula" and made["seed"] == 1
    assert made["version"] == __version__ and made["parameters"]["seed"] == 0
    assert (made["training_rows"], made["holdout_rows"]) == (90, 30)
    assert card["dataset"]["rows"] == 90 and card["dataset"]["kind"] == "data-driven table"
    # no formal guarantee: "none", with what was measured against the held-out rows
    privacy = card["privacy"]
    assert privacy["guarantee"] == "none" and not privacy["differentially_private"]
    assert set(privacy["measured"]) >= {"dcr", "membership_inference"}
    assert 0 <= privacy["measured"]["dcr"]["score"] <= 1
    assert "Guarantee: none." in markdown and "membership inference 0." in markdown
    # representation: real vs synthetic shares of sex and age bands (no target for a table)
    sex = {r["group"]: r for r in card["representation"] if r["attribute"] == "sex"}
    assert sex["female"]["real"] == pytest.approx((training["sex"] == "female").mean(), abs=1e-4)
    assert sex["female"]["synthetic"] == pytest.approx(
        (synthetic["sex"] == "female").mean(), abs=1e-4
    )
    assert sex["female"]["target"] is None
    ages = [r for r in card["representation"] if r["attribute"] == "age band"]
    assert sum(r["real"] for r in ages) == pytest.approx(1, abs=1e-3)
    assert "## Representation" in markdown and "| sex | female |" in markdown
    # uses, limitations, evaluation
    assert card["intended_use"] and any("Clinical decisions" in u for u in card["out_of_scope_use"])
    assert any("privacy guarantee" in u for u in card["out_of_scope_use"])  # not DP
    known = card["known_limitations"]
    assert set(known) == {
        "relations_not_enforced",
        "unverified_sources",
        "merged_rare_categories",
        "not_learned",
    }
    assert {"name", "email"} <= set(known["not_learned"])  # identifiers made up fresh
    assert any(line.startswith("Not learned") for line in card["limits"])
    assert "quality" in {r["metric"] for r in card["evaluation"]["scores"]}
    assert "## Out of scope" in markdown and "synthpatient version" in markdown


def test_a_knowledge_cohorts_card_has_every_field(cohort_card):
    card, markdown, cohort = cohort_card
    assert set(card) == TOP
    assert card["generation"]["version"] == __version__ and card["generation"]["seed"] == 4
    assert card["privacy"]["guarantee"].startswith("not applicable")
    assert card["privacy"]["measured"] is None
    rows = {(r["attribute"], r["group"]): r for r in card["representation"]}
    female = rows[("sex", "female")]
    assert female["real"] is None and female["target"] == pytest.approx(0.495)
    assert female["synthetic"] == pytest.approx((cohort.wide["sex"] == "female").mean(), 1e-3)
    assert rows[("age band", "40-59")]["target"] == pytest.approx(0.4)
    assert rows[("race/ethnicity", "non_hispanic_black")]["target"] == pytest.approx(0.137)
    assert "| race/ethnicity | non hispanic black |" in markdown
    # unverified sources are named as a limitation; every source is cited
    unverified = [s["id"] for s in card["sources"] if not s["verified"]]
    assert card["known_limitations"]["unverified_sources"] == unverified
    assert {s["id"] for s in card["sources"]} == set(cohort.sources_used)
    if unverified:
        assert any(line.startswith("Sources not verified") for line in card["limits"])
    assert card["evaluation"] is None or card["evaluation"]["kind"].startswith("realism")
    assert card["out_of_scope_use"] and card["intended_use"]
    assert "Guarantee: not applicable" in markdown


def test_small_real_groups_are_not_shown_on_their_own():
    real = pd.DataFrame({"sex": ["f"] * 40 + ["m"] * 57 + ["x"] * 3, "age": [50] * 100})
    synthetic = pd.DataFrame({"sex": ["f"] * 50 + ["m"] * 48 + ["x"] * 2, "age": [30] * 100})
    rows = representation(synthetic, real)
    groups = {r["group"]: r for r in rows if r["attribute"] == "sex"}
    assert "x" not in groups and groups[OTHER]["real"] == pytest.approx(0.03)
    assert groups[OTHER]["synthetic"] == pytest.approx(0.02)
    bands = {r["group"]: r for r in rows if r["attribute"] == "age band"}
    assert bands["40-59"]["real"] == 1.0 and bands["18-39"]["synthetic"] == 1.0
