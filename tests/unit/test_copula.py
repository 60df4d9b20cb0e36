"""The Gaussian copula: what it must keep of the real table, and how it conditions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthpatient import GaussianCopulaSynthesizer
from synthpatient.errors import ConditionError, DataError, InvalidParameterError
from synthpatient.synthesizers._gaussian import nearest_correlation, sample_latent
from tests.conftest import make_clinical_table


@pytest.fixture(scope="module")
def diabetes_model():
    from sklearn.datasets import load_diabetes

    real = load_diabetes(as_frame=True, scaled=False).frame
    return real, GaussianCopulaSynthesizer(seed=0).fit(real)


def test_marginals_and_correlations_follow_the_real_table(diabetes_model):
    real, model = diabetes_model
    synthetic = model.sample(20000, seed=1)
    for column in real:
        assert abs(synthetic[column].mean() - real[column].mean()) < 0.05 * real[column].std()
        assert synthetic[column].std() == pytest.approx(real[column].std(), rel=0.08)
    gap = (synthetic.corr() - real.corr()).abs().to_numpy()
    assert gap.max() < 0.08, gap.max()


def test_integers_stay_integer_and_bounds_hold(diabetes_model):
    real, model = diabetes_model
    synthetic = model.sample(5000, seed=2)
    assert synthetic["age"].dtype == np.int64 and synthetic["sex"].dtype == np.int64
    assert set(synthetic["sex"]) == {1, 2}
    for column in real:
        assert synthetic[column].min() >= real[column].min()
        assert synthetic[column].max() <= real[column].max()
    assert (np.round(synthetic["bmi"], 1) == synthetic["bmi"]).all()


def test_native_conditions_shift_correlated_columns(diabetes_model):
    real, model = diabetes_model
    high = model.sample(3000, conditions={"target": (250, None)}, seed=3)
    low = model.sample(3000, conditions={"target": (None, 100)}, seed=3)
    assert (high["target"] >= 250).all() and (low["target"] <= 100).all()
    # bmi correlates with progression (r ~ 0.59): the conditional draws must show it
    real_gap = (
        real.loc[real.target >= 250, "bmi"].mean() - real.loc[real.target <= 100, "bmi"].mean()
    )
    assert high["bmi"].mean() - low["bmi"].mean() > 0.6 * real_gap


def test_point_condition_and_whole_number_range(diabetes_model):
    _, model = diabetes_model
    assert (model.sample(50, conditions={"age": 50}, seed=0)["age"] == 50).all()
    assert model.sample(50, conditions={"age": ("40.5", "41.5")}, seed=0)["age"].eq(41).all()
    with pytest.raises(ConditionError, match="whole number"):
        model.sample(5, conditions={"age": (40.2, 40.8)})
    with pytest.raises(ConditionError, match="low end is above"):
        model.sample(5, conditions={"age": (60, 40)})


def test_missingness_that_depends_on_other_columns_survives():
    real = make_clinical_table(600, seed=3)
    model = GaussianCopulaSynthesizer(seed=0).fit(real)
    synthetic = model.sample(5000, seed=1)
    died, cause = synthetic["died"], synthetic["cause_of_death"]
    assert cause[died].notna().all() and cause[~died].isna().all()
    assert died.mean() == pytest.approx(real["died"].mean(), abs=0.04)
    # ldl is missing far more often above 60: the tree on age keeps that
    old = synthetic["age"] > 60
    assert synthetic.loc[old, "ldl"].isna().mean() > 2 * synthetic.loc[~old, "ldl"].isna().mean()


def test_condition_on_a_sometimes_missing_column_conditions_its_presence():
    real = make_clinical_table(600, seed=3)
    model = GaussianCopulaSynthesizer(seed=0).fit(real)
    rows = model.sample(200, conditions={"cause_of_death": "cancer"}, seed=2)
    assert (rows["cause_of_death"] == "cancer").all() and rows["died"].all()


def test_rare_categories_and_datetimes_are_kept():
    real = make_clinical_table(800, seed=4)
    synthetic = GaussianCopulaSynthesizer(seed=0).fit(real).sample(20000, seed=1)
    share = (synthetic["smoker"] == "unknown-rare").mean()
    assert share == pytest.approx((real["smoker"] == "unknown-rare").mean(), abs=0.01)
    assert synthetic["admitted"].dtype == "datetime64[ns]"
    assert (synthetic["admitted"] == synthetic["admitted"].dt.normalize()).all()
    assert synthetic["admitted"].between(real["admitted"].min(), real["admitted"].max()).all()


def test_does_not_copy_real_rows(diabetes_model):
    real, model = diabetes_model
    synthetic = model.sample(2000, seed=5)
    copies = synthetic.merge(real.drop_duplicates(), how="inner")
    assert len(copies) == 0


@pytest.mark.parametrize(
    "params", [{"n_quantiles": 1}, {"missing_tree_depth": 0}, {"missing_min_leaf": "5"}]
)
def test_bad_params_rejected(params):
    with pytest.raises(InvalidParameterError, match=next(iter(params))):
        GaussianCopulaSynthesizer(**params)


def test_too_few_rows(diabetes_model):
    real, _ = diabetes_model
    with pytest.raises(DataError, match="at least 10 rows"):
        GaussianCopulaSynthesizer().fit(real.head(1))


def test_latent_conditioning_matches_the_gaussian_conditional():
    corr = nearest_correlation(np.array([[1.0, 0.8], [0.8, 1.0]]))
    rng = np.random.default_rng(0)
    z = sample_latent(corr, 200000, rng, {0: (1.0, np.inf)})
    assert z[:, 0].min() >= 1.0
    # E[z1 | z0 > 1] = 0.8 * E[z0 | z0 > 1] = 0.8 * phi(1) / (1 - Phi(1))
    assert z[:, 1].mean() == pytest.approx(0.8 * 1.5251, rel=0.02)
    both = sample_latent(corr, 100000, rng, {0: (0.0, np.inf), 1: (-np.inf, 0.0)})
    assert (both[:, 0] >= 0).all() and (both[:, 1] <= 0).all()


def test_input_frame_never_modified(diabetes_model):
    real, _ = diabetes_model
    before = real.copy()
    GaussianCopulaSynthesizer(seed=1).fit(real)
    pd.testing.assert_frame_equal(real, before)


def test_fresh_integer_ids_never_equal_a_real_id():
    # real ids 1..120 (an identifier by name): fresh ids start at the power of ten above them
    rng = np.random.default_rng(0)
    real = pd.DataFrame({"patient_id": np.arange(1, 121), "age": rng.normal(60, 10, 120).round(1)})
    model = GaussianCopulaSynthesizer(seed=0).fit(real)
    assert model.schema_["patient_id"].kind == "identifier"
    synthetic = model.sample(300)
    assert synthetic["patient_id"].min() >= 1000
    assert not set(synthetic["patient_id"]) & set(real["patient_id"])
    assert synthetic["patient_id"].is_unique
    # the floor is an observed bound: a shared schema does not carry it
    assert '"minimum"' not in model.schema_.to_json().split('"patient_id"')[1].split("}")[0]


def test_matched_latent_has_the_model_correlation_and_stratified_columns():
    from scipy.special import ndtr

    from synthpatient.synthesizers._gaussian import matched_latent

    corr = nearest_correlation(np.array([[1.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 1.0]]))
    z = matched_latent(corr, 300, np.random.default_rng(3))
    # stratified: the i-th smallest score of every column lies in the i-th 1/n probability slice
    slices = np.floor(ndtr(np.sort(z, axis=0)) * 300)
    assert (slices == np.arange(300)[:, None]).all()
    # the ranks are the moment-matched draw's, so its correlation is all but exact; an
    # independent draw of 300 rows misses by ~0.05
    assert np.abs(np.corrcoef(z, rowvar=False) - corr).max() < 0.02
    independent = sample_latent(corr, 300, np.random.default_rng(3))
    assert not np.allclose(independent, z)


def test_a_small_sample_matches_the_fitted_marginals_a_large_one_is_independent(diabetes_model):
    from scipy.stats import ks_2samp

    from synthpatient.synthesizers._gaussian import MATCHED_MAX_ROWS

    real, model = diabetes_model
    plain = GaussianCopulaSynthesizer(seed=0, matched_draw=False).fit(real)
    worst = {
        name: max(
            ks_2samp(m.sample(len(real), seed=s)["bmi"], real["bmi"]).statistic for s in range(5)
        )
        for name, m in (("matched", model), ("plain", plain))
    }
    # five independent draws of 442 rows stray from the marginal by ~0.06 at worst; matched ones
    # only by the 100 stored quantiles' interpolation
    assert worst["matched"] < 0.035 < worst["plain"], worst
    big = MATCHED_MAX_ROWS + 1
    pd.testing.assert_frame_equal(model.sample(big, seed=4), plain.sample(big, seed=4))
    conditioned = {"sex": 2}
    pd.testing.assert_frame_equal(
        model.sample(500, seed=4, conditions=conditioned),
        plain.sample(500, seed=4, conditions=conditioned),
    )
