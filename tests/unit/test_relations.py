"""Learned constraints: discovery, the schema's record of them, and enforcement at sampling."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from synthpatient import Schema, datasets
from synthpatient.errors import DataError, SynthPatientWarning
from synthpatient.relations import Relation, Term, check_relation, discover_relations
from synthpatient.synthesizers import Capabilities, make_synthesizer
from synthpatient.synthesizers.copula import GaussianCopulaSynthesizer
from tests.conftest import make_clinical_table


def _vitals(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Weight, height and the BMI computed from them; pressures with diastolic < systolic;
    admission and discharge dates; a ward code fixing its building; unrelated noise."""
    rng = np.random.default_rng(seed)
    weight = np.round(rng.uniform(50, 110, n), 1)
    height = np.round(rng.uniform(150, 200, n), 0)
    systolic = np.round(rng.normal(130, 15, n))
    admitted = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 300, n), "D")
    ward = rng.choice(["A1", "A2", "B1", "C1"], n)
    return pd.DataFrame(
        {
            "weight": weight,
            "height": height,
            "bmi": np.round(weight / (height / 100) ** 2, 1),
            "systolic": systolic,
            "diastolic": systolic - np.round(rng.uniform(15, 50, n)),
            "noise": np.round(rng.normal(0, 1, n), 2),
            "admitted": admitted,
            "discharged": admitted + pd.to_timedelta(rng.integers(0, 20, n), "D"),
            "ward": ward,
            "building": pd.Series(ward).str[0].to_numpy(),
        }
    )


@pytest.fixture(scope="module")
def vitals() -> pd.DataFrame:
    return _vitals()


@pytest.fixture(scope="module")
def vitals_schema(vitals) -> Schema:
    return Schema.infer(vitals).complete(vitals)


def _texts(schema: Schema) -> set[str]:
    return {r.text for r in schema.relations or ()}


def test_discovery_finds_ratio_orders_dates_and_mapping(vitals_schema):
    texts = _texts(vitals_schema)
    assert "bmi = 10000 * weight * height^-2" in texts
    assert "diastolic < systolic" in texts
    assert "admitted <= discharged" in texts
    assert "building is fixed by ward (4 pairs)" in texts
    assert all(r.share == 1.0 and r.source == "discovered" for r in vitals_schema.relations)
    assert not any("noise" in r.columns for r in vitals_schema.relations)


def test_discovery_finds_friedewald_in_the_bundled_table():
    diabetes = datasets.load("diabetes")
    schema = Schema.infer(diabetes).complete(diabetes)
    texts = _texts(schema)
    assert "ldl = total_cholesterol - hdl - 0.2*exp(log_triglycerides)" in texts
    band = next(r for r in schema.relations if r.column == "cholesterol_hdl_ratio")
    assert band.tolerance is not None and band.tolerance < 0.7  # whole-number rounding


def test_set_only_if_structures_are_found():
    table = make_clinical_table(400, seed=0)
    schema = Schema.infer(table).complete(table)
    presence = [r for r in schema.relations if r.kind == "presence"]
    assert [(r.column, r.other, r.presence, r.value) for r in presence] == [
        ("cause_of_death", "died", "same", True)
    ]


def test_relations_round_trip_through_json_and_observed_ones_stay_private(vitals_schema):
    shared = json.loads(vitals_schema.to_json())
    kinds = {r["kind"] for r in shared["relations"]}
    assert "mapping" not in kinds and {"ratio", "order"} <= kinds  # a mapping names values
    assert "A1" not in vitals_schema.to_json()
    full = Schema.from_json(vitals_schema.to_json(include_observed=True))
    assert full.relations == vitals_schema.relations
    # an old schema without the key discovers again; an empty list means "none"
    del shared["relations"]
    assert Schema.from_dict(shared).relations is None


def test_a_bad_relation_in_a_schema_file_is_one_line(vitals_schema):
    data = json.loads(vitals_schema.to_json())
    data["relations"] = [{"kind": "order", "column": "diastolic", "other": "pulse", "op": "<"}]
    with pytest.raises(DataError, match="pulse") as info:
        Schema.from_dict(data)
    assert "\n" not in str(info.value)
    data["relations"] = [{"kind": "order", "column": "diastolic", "other": "systolic"}]
    with pytest.raises(DataError, match="needs op"):
        Schema.from_dict(data)


def test_every_synthesizer_keeps_the_relations_and_reports(vitals, vitals_schema):
    synth = make_synthesizer("copula", seed=0).fit(vitals, schema=vitals_schema)
    rows = synth.sample(400, seed=1)
    for relation in vitals_schema.relations:
        assert check_relation(relation, rows, synth.schema_).violations.sum() == 0, relation.text
    report = synth.last_relation_report_
    assert report.derived["bmi = 10000 * weight * height^-2"] > 0 and not report.left
    assert "computed" in report.summary()
    synth.schema_.validate(rows)


def test_deleted_relations_are_not_kept_and_added_ones_are(vitals):
    schema = Schema.infer(vitals).with_relations(())
    free = make_synthesizer("copula", seed=0).fit(vitals, schema=schema).sample(400, seed=1)
    bmi = next(r for r in Schema.infer(vitals).complete(vitals).relations if r.column == "bmi")
    assert check_relation(bmi, free, Schema.infer(vitals).complete(vitals)).violations.sum() > 0
    # a relation written by hand: noise within 1.5 of 0 (a band around a zero formula)
    zero = (Term(column="weight", coefficient=0),)
    added = Relation(kind="identity", column="noise", terms=zero, tolerance=1.5)
    own = Schema.infer(vitals).with_relations((added,))
    synth = make_synthesizer("copula", seed=0).fit(vitals, schema=own)
    assert synth.schema_.relations == (added,)
    rows = synth.sample(200, seed=2)
    assert rows["noise"].abs().max() <= 1.5 and vitals["noise"].abs().max() > 2


def test_conditions_still_hold_when_a_column_is_derived(vitals, vitals_schema):
    synth = make_synthesizer("copula", seed=0).fit(vitals, schema=vitals_schema)
    rows = synth.sample(100, conditions={"bmi": (20, 25)}, seed=3)
    assert rows["bmi"].between(20, 25).all()
    bmi = next(r for r in vitals_schema.relations if r.column == "bmi")
    assert check_relation(bmi, rows, synth.schema_).violations.sum() == 0


class _Private(GaussianCopulaSynthesizer):
    """Stands for a differentially private model (MST, AIM): only the capability matters."""

    capabilities = Capabilities(differentially_private=True, accepts_epsilon=True)


def test_private_fits_drop_discovered_relations(vitals, vitals_schema):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        synth = _Private(seed=0).fit(vitals, schema=vitals_schema)
    assert synth.schema_.relations == ()
    assert any(
        issubclass(w.category, SynthPatientWarning) and "not private" in str(w.message)
        for w in caught
    )


def test_a_three_column_identity_in_a_wide_table():
    rng = np.random.default_rng(0)
    wide = pd.DataFrame(rng.normal(size=(2000, 24)).round(2), columns=[f"c{i}" for i in range(24)])
    wide["total"] = wide["c0"] + wide["c1"] - wide["c2"]
    schema = Schema.infer(wide).complete(wide)
    assert "total = c0 + c1 - c2" in _texts(schema)
    assert discover_relations(wide, schema)  # the same answer on a second call


def test_a_column_made_an_identifier_drops_its_relations_with_a_warning(vitals_schema):
    with pytest.warns(SynthPatientWarning, match="'bmi' is no longer learned"):
        changed = vitals_schema.replace("bmi", kind="identifier", identifier_type="string_id")
    assert not any("bmi" in r.columns for r in changed.relations)
    assert len(changed.relations) == len(vitals_schema.relations) - 1
