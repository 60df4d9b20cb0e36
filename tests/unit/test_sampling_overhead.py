"""Sampling overhead removed for issue 18 without changing a single delivered value."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthpatient import datasets
from synthpatient.synthesizers._gaussian import ROW_BLOCK, _rows_times
from synthpatient.synthesizers.base import Synthesizer
from synthpatient.synthesizers.copula import GaussianCopulaSynthesizer


def test_the_product_by_blocks_of_rows_is_the_plain_product_bit_for_bit():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((2 * ROW_BLOCK + 17, 11))
    root = np.linalg.cholesky(np.corrcoef(rng.standard_normal((11, 40))) + 0.1 * np.eye(11))
    assert np.array_equal(_rows_times(z, root.T), z @ root.T)


def test_rows_kept_by_the_relations_are_not_enforced_twice_and_stay_the_same(monkeypatch):
    real = datasets.load("diabetes")
    model = GaussianCopulaSynthesizer(seed=0).fit(real)
    assert model.schema_.relations  # the bundled table's Friedewald identity and its ratio
    fast = model.sample(3_000, seed=1)
    calls = []
    original = Synthesizer._finalize

    def enforce_again(self, *args, enforced=False, **kwargs):  # the code before the change
        calls.append(enforced)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Synthesizer, "_finalize", enforce_again)
    slow = model.sample(3_000, seed=1)
    assert True in calls  # the pass-through was asked for, and is what the change skips
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    assert fast["age"].dtype == np.int64 and fast["bmi"].dtype == np.float64
