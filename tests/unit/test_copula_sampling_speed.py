"""The copula's fast sampling path gives the very rows of the plain one it replaced.

``_reference_sample`` is the per-column pandas code the copula sampled with before its
sampling overhead was removed (issue 18); for a fixed seed both must agree cell for cell,
with and without missing values and dates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr

from synthpatient.synthesizers._marginals import EPS, NumericMarginal
from synthpatient.synthesizers.copula import GaussianCopulaSynthesizer
from tests.conftest import make_clinical_table


def _reference_sample(model: GaussianCopulaSynthesizer, n_rows: int, seed: int) -> pd.DataFrame:
    z, missing = model._draw(n_rows, np.random.default_rng(seed), {})
    u = np.clip(ndtr(z), EPS, 1 - EPS)
    out = {}
    for j, (column, marginal) in enumerate(zip(model.columns_, model.marginals_, strict=True)):
        if isinstance(marginal, NumericMarginal):
            k = len(marginal.levels)
            position = np.clip(u[:, j], 0.0, 1.0) * (k - 1)
            i = np.minimum(position.astype(np.int64), k - 2)
            q = marginal.quantiles
            values = pd.Series(q[i] + (position - i) * (q[i + 1] - q[i]))
        else:
            values = pd.Series(marginal.from_uniform(u[:, j]))
        if isinstance(marginal, NumericMarginal) and marginal.is_datetime:
            values = pd.Series(pd.to_datetime(values.to_numpy(), unit="ns"))
        values = values.astype(object) if missing[:, j].any() else values
        values[missing[:, j]] = None
        out[column] = values
    return pd.DataFrame(out)


def test_fast_sampling_gives_the_same_rows_as_the_plain_path():
    table = make_clinical_table(150, seed=1)
    assert table.isna().any().any()  # the clinical table has missing values to draw
    model = GaussianCopulaSynthesizer(seed=0).fit(table)
    fast = model._sample(2_000, np.random.default_rng(5), [])
    reference = _reference_sample(model, 2_000, 5)
    pd.testing.assert_frame_equal(fast, reference)


def test_fast_sampling_without_missing_values_keeps_dtypes():
    table = make_clinical_table(150, seed=2).drop(columns=["ldl", "cause_of_death"])
    model = GaussianCopulaSynthesizer(seed=0).fit(table)
    fast = model._sample(1_000, np.random.default_rng(9), [])
    pd.testing.assert_frame_equal(fast, _reference_sample(model, 1_000, 9))
    assert all(fast[c].dtype == float for c in fast if c in ("bmi", "hba1c"))
