"""CTGAN, TVAE and MST beyond the conformance suite: differential privacy accounting, bad
parameters, native conditioning, interruption, and what the saved manifest records."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from synthpatient.errors import DataError, InvalidParameterError, SynthPatientWarning
from synthpatient.schema import Schema, infer_schema
from synthpatient.synthesizers import Synthesizer, get_synthesizer_class
from tests.conftest import make_clinical_table

pytest.importorskip("torch")

SMALL = {
    "ctgan": {
        "steps": 40,
        "batch_size": 100,
        "generator_dims": (32,),
        "discriminator_dims": (32,),
        "progress": False,
    },
    "tvae": {
        "steps": 40,
        "batch_size": 100,
        "compress_dims": (32,),
        "decompress_dims": (32,),
        "progress": False,
    },
}


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return make_clinical_table(300, seed=5)


@pytest.mark.parametrize("key", ["ctgan", "tvae", "mst"])
@pytest.mark.parametrize("epsilon", [0, -1.0, float("inf"), "3", True])
def test_bad_epsilon_rejected(key, epsilon):
    with pytest.raises(InvalidParameterError, match="epsilon"):
        get_synthesizer_class(key)(epsilon=epsilon)


@pytest.mark.parametrize("key", ["ctgan", "tvae", "mst"])
def test_delta_at_or_above_one_over_n_rejected(key, table):
    synth = get_synthesizer_class(key)(epsilon=1.0, delta=1 / len(table), **SMALL.get(key, {}))
    with pytest.raises(InvalidParameterError, match="1/n"):
        synth.fit(table)
    assert not synth.is_fitted


@pytest.mark.parametrize("key", ["ctgan", "tvae"])
def test_too_small_table_suggests_the_copula(key, table):
    with pytest.raises(DataError, match="copula"):
        get_synthesizer_class(key)(**SMALL[key]).fit(table.head(20))


@pytest.mark.parametrize("key", ["ctgan", "tvae"])
def test_gpu_without_one_falls_back_with_a_notice(key, table):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.warns(SynthPatientWarning, match="no CUDA GPU"):
        synth = get_synthesizer_class(key)(device="cuda", seed=0, **SMALL[key]).fit(table)
    assert len(synth.sample(10)) == 10


@pytest.mark.parametrize("key", ["ctgan", "tvae"])
def test_interrupted_training_leaves_nothing_fitted(key, table, monkeypatch):
    klass = get_synthesizer_class(key)

    def interrupt(self, data):
        raise KeyboardInterrupt

    monkeypatch.setattr(klass, "_train", interrupt)
    synth = klass(**SMALL[key])
    with pytest.raises(KeyboardInterrupt):
        synth.fit(table)
    assert not synth.is_fitted


@pytest.mark.parametrize("key", ["ctgan", "tvae"])
def test_dp_sgd_spends_at_most_the_budget_and_records_it(key, table, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SynthPatientWarning)
        synth = get_synthesizer_class(key)(epsilon=2.0, seed=0, **SMALL[key]).fit(table)
    spent = synth.privacy_spent_
    assert 1.5 < spent["epsilon"] <= 2.0 + 1e-6  # the plan uses the budget, never more
    assert spent["delta"] < 1 / len(table)
    assert "preprocessing" in spent  # inferred bounds are read from the data: said so
    synth.save(tmp_path / "model")
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert manifest["privacy"]["epsilon"] == pytest.approx(spent["epsilon"])
    assert Synthesizer.load(tmp_path / "model").privacy_spent_ == spent


@pytest.mark.parametrize("key", ["ctgan", "tvae"])
def test_public_bounds_in_the_schema_make_preprocessing_private(key, table):
    data = table[["age", "bmi", "sex"]].dropna()
    schema = infer_schema(data)
    public = (
        schema.replace(  # declared by the user: not read from the data
            "age", minimum=0, maximum=110, observed=False
        )
        .replace("bmi", minimum=10, maximum=80, observed=False)
        .replace("sex", observed=False)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", SynthPatientWarning)
        synth = get_synthesizer_class(key)(epsilon=3.0, seed=0, **SMALL[key]).fit(
            data, schema=public
        )
    assert "preprocessing" not in synth.privacy_spent_
    sample = synth.sample(200, seed=1)
    assert sample["age"].between(0, 110).all()


@pytest.mark.parametrize("key", ["ctgan", "tvae"])
def test_rare_category_is_generated_natively_not_by_rejection(key, table, monkeypatch):
    assert (table["smoker"] == "unknown-rare").mean() < 0.05
    # no relations between columns: rows that break one are drawn again, which is not the
    # rejection this test is about
    schema = Schema.infer(table).with_relations(())
    synth = get_synthesizer_class(key)(seed=0, **SMALL[key]).fit(table, schema=schema)
    calls = []
    original = type(synth)._generate

    def counting(self, *args, **kwargs):
        calls.append(len(args[3]))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(synth), "_generate", counting)
    out = synth.sample(500, conditions={"smoker": "unknown-rare"}, seed=2)
    assert (out["smoker"] == "unknown-rare").all()
    assert calls == [500]  # one pass of exactly the rows asked for: nothing discarded


def test_mst_spends_its_budget_and_bins_numbers(table, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SynthPatientWarning)
        synth = get_synthesizer_class("mst")(epsilon=1.0, n_bins=8, seed=0).fit(table)
    assert synth.privacy_spent_["epsilon"] == 1.0
    assert synth.privacy_spent_["read_from_data"]["bounds"]  # inferred bounds: said so
    out = synth.sample(500, seed=1)
    assert out["age"].between(table["age"].min(), table["age"].max()).all()
    assert out["age"].nunique() > 8  # values are spread within bins, not bin edges only
    synth.save(tmp_path / "mst")
    loaded = Synthesizer.load(tmp_path / "mst")
    pd.testing.assert_frame_equal(loaded.sample(50, seed=3), synth.sample(50, seed=3))


def test_private_models_differ_from_non_private_ones(table):
    """The noise is real: at a tiny epsilon the model is visibly worse than without DP."""
    from synthpatient.evaluation.fidelity import quality_report

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SynthPatientWarning)
        private = get_synthesizer_class("mst")(epsilon=0.5, n_bins=8, seed=0).fit(table)
        loose = get_synthesizer_class("mst")(epsilon=50.0, n_bins=8, seed=0).fit(table)
    sdtypes = private.schema_.sdtypes()
    scores = [
        np.mean(
            [quality_report(table, m.sample(len(table), seed=s), sdtypes).score for s in range(2)]
        )
        for m in (private, loose)
    ]
    assert scores[0] < scores[1]
