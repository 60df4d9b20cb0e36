"""The sequential CART synthesizer: visit order, donors, smoothing, missing values, the guard,
and the checks on a saved tree. (The contract itself is the conformance suite's.)"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthpatient import Schema
from synthpatient.errors import ModelFileError
from synthpatient.synthesizers import make_synthesizer
from synthpatient.synthesizers._cart_guard import GuardReport
from synthpatient.synthesizers._cart_tree import DonorTree
from synthpatient.synthesizers.cart import visit_order
from tests.conftest import make_clinical_table


@pytest.fixture(scope="module")
def clinical() -> pd.DataFrame:
    return make_clinical_table(300, seed=3)


def _without_relations(table: pd.DataFrame) -> Schema:
    """CART on its own: the base class's relation enforcement would hide what trees do."""
    return Schema.infer(table).with_relations(())


def test_visit_order_starts_with_the_dependent_columns():
    rng = np.random.default_rng(0)
    a = rng.normal(size=500)
    x = np.column_stack([rng.normal(size=500), a, a + 0.1 * rng.normal(size=500), a**2])
    order = visit_order(x, [False] * 4)
    assert order[-1] == 0  # the unrelated column comes last
    assert sorted(order[:3]) == [1, 2, 3]


def test_set_only_if_structures_are_kept_by_the_trees(clinical):
    synth = make_synthesizer("cart", seed=0).fit(clinical, schema=_without_relations(clinical))
    rows = synth.sample(600, seed=1)
    died = rows["died"].astype(bool)
    assert rows.loc[~died, "cause_of_death"].isna().all()
    assert rows.loc[died, "cause_of_death"].notna().mean() > 0.9
    assert abs(rows["ldl"].isna().mean() - clinical["ldl"].isna().mean()) < 0.06


def test_donors_without_smoothing_and_new_values_with_it(clinical):
    schema = _without_relations(clinical)
    plain = make_synthesizer("cart", guard_percentile=None, seed=0).fit(clinical, schema=schema)
    assert plain.sample(300, seed=1)["hba1c"].isin(clinical["hba1c"]).all()
    smooth = make_synthesizer("cart", smoothing="density", guard_percentile=None, seed=0)
    drawn = smooth.fit(clinical, schema=schema).sample(300, seed=1)["hba1c"]
    assert not drawn.isin(clinical["hba1c"]).all()
    assert drawn.between(clinical["hba1c"].min(), clinical["hba1c"].max()).all()


def test_the_guard_redraws_rows_too_close_to_training_rows(clinical):
    schema = _without_relations(clinical)
    off = make_synthesizer("cart", guard_percentile=None, seed=0).fit(clinical, schema=schema)
    off.sample(300, seed=1)
    assert off.last_sample_report_ is None
    strict = make_synthesizer("cart", guard_percentile=50.0, seed=0).fit(clinical, schema=schema)
    strict.sample(300, seed=1)
    report = strict.last_sample_report_
    assert isinstance(report, GuardReport) and report.redrawn > 0
    assert "drawn again" in report.summary() and report.to_dict()["percentile"] == 50.0
    x = strict._encode(strict.sample(300, seed=2), strict.schema_learned_)
    loose_x = off._encode(off.sample(300, seed=2), off.schema_learned_)
    assert strict._too_close(x).mean() < strict._too_close(loose_x).mean()


def test_a_tampered_tree_is_refused():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 2))
    tree = DonorTree.fit(x, x[:, 1], [0], classify=False, min_leaf=5, smooth=False, rng=rng)
    meta, arrays = tree.state("value1")
    assert DonorTree.from_state(meta, arrays, "value1", n_columns=2).donors.size == 100
    looping = dict(arrays, value1_left=np.where(tree.left > 0, 0, tree.left))
    with pytest.raises(ModelFileError, match="not a tree"):
        DonorTree.from_state(meta, looping, "value1", n_columns=2)
    with pytest.raises(ModelFileError, match="column the model does not have"):
        DonorTree.from_state({"features": [5]}, arrays, "value1", n_columns=2)


def test_a_nullable_coded_category_read_as_floats_is_learned():
    # pandas holds a 0/1 column with gaps as floats 0.0/1.0 while the schema names the
    # categories 0 and 1: every value once read as missing, and so did every row's
    # cholesterol whose presence the trees tied to it (pbcseq's quality was 0.57)
    rng = np.random.default_rng(0)
    n = 400
    flag = rng.integers(0, 2, n).astype(float)
    flag[rng.random(n) < 0.05] = np.nan
    chol = np.where(rng.random(n) < 0.4, np.nan, 200 + 60 * flag + rng.normal(0, 20, n))
    others = {f"lab{i}": rng.normal(50, 10, n) for i in range(4)}
    real = pd.DataFrame({"ascites": flag, "chol": chol, **others})
    model = make_synthesizer("cart", seed=0).fit(real)
    synthetic = model.sample(n, seed=1)
    assert synthetic["ascites"].isna().mean() < 0.15
    assert set(synthetic["ascites"].dropna().astype(int)) == {0, 1}
    # the guard's threshold is its pattern's: rows with a gap sit closer to everything, and
    # one threshold for all redrew them more often (0.31 missing here instead of 0.41)
    assert abs(synthetic["chol"].isna().mean() - real["chol"].isna().mean()) < 0.08
    assert model.guard_thresholds_.values.size == 2  # complete rows, rows without chol
