"""Privacy evaluators: copying must score worst, a fresh draw of the population near ideal."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synthpatient._row_hash import row_hashes
from synthpatient.errors import DataError, InvalidParameterError
from synthpatient.evaluation import get_metric_class
from synthpatient.evaluation._encoding import (
    ONE_HOT_WEIGHT,
    fit_encoder,
    nearest_neighbours,
)
from synthpatient.evaluation.privacy import (
    attribute_inference,
    copied_from_examples,
    dcr,
    exact_copies,
    membership_inference,
    nndr,
)
from synthpatient.schema import Schema
from tests.conftest import make_clinical_table

N = 300


def noisy_copy(
    frame: pd.DataFrame, scale: float = 0.5, flip: float = 0.3, seed: int = 0
) -> pd.DataFrame:
    """Training rows with numeric noise of ``scale`` standard deviations and flipped categories."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    for column in ["age", "bmi", "hba1c", "ldl"]:
        out[column] = out[column] + rng.normal(0, scale * out[column].std(), len(out))
    out["age"] = out["age"].round()
    for column in ["sex", "smoker"]:
        flipped = rng.random(len(out)) < flip
        out.loc[flipped, column] = rng.choice(frame[column].unique(), flipped.sum())
    out["admitted"] = out["admitted"] + pd.to_timedelta(rng.integers(-60, 60, len(out)), "D")
    return out


def with_new_identifiers(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of the rows with regenerated identifiers, as a synthesizer would output them."""
    out = frame.copy()
    out["patient_id"] = np.arange(len(out)) + 900_000
    out["name"] = [f"Synthetic {i}" for i in range(len(out))]
    out["email"] = [f"s{i}@example.org" for i in range(len(out))]
    return out


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    train = make_clinical_table(N, seed=11)
    return {
        "train": train,
        "holdout": make_clinical_table(N, seed=12),
        "copy": with_new_identifiers(train),
        "noisy": noisy_copy(train),
        "fresh": make_clinical_table(N, seed=13),
    }


def scores(fn, t: dict[str, pd.DataFrame], **kw) -> dict[str, float]:
    return {
        name: fn(t["train"], t[name], t["holdout"], seed=0, **kw).score
        for name in ("copy", "noisy", "fresh", "holdout")
    }


# -- encoding ----------------------------------------------------------------------------------
def test_encoder_weights_make_columns_comparable():
    real = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 4.0], "c": ["a", "b", "a", "b", "c"]})
    encoder = fit_encoder(real)
    iqr = 2.0  # percentiles 25/75 of 0..4 are 1 and 3
    pair = encoder.transform(pd.DataFrame({"x": [1.0, 1.0 + iqr, 1.0], "c": ["a", "a", "b"]}))
    assert np.linalg.norm(pair[0] - pair[1]) == pytest.approx(1.0)  # one IQR apart
    assert np.linalg.norm(pair[0] - pair[2]) == pytest.approx(1.0)  # another category
    unknown = encoder.transform(pd.DataFrame({"x": [1.0], "c": ["never seen"]}))
    assert not unknown[0, 1:].any()
    assert pytest.approx(2**-0.5) == ONE_HOT_WEIGHT


def test_encoder_missing_values_get_indicator_and_median():
    real = pd.DataFrame({"x": [1.0, 2.0, np.nan, 4.0, 5.0], "c": ["a", None, "a", "b", "b"]})
    encoder = fit_encoder(real)
    assert "x__missing" in encoder.feature_names and "c__missing" in encoder.feature_names
    out = encoder.transform(real)
    row = dict(zip(encoder.feature_names, out[2], strict=True))
    assert row["x"] == 0.0 and row["x__missing"] == 1.0  # imputed by the real median
    assert out.dtype == np.float32 and not np.isnan(out).any()


def test_category_spellings_and_missing_are_equal_in_hashes():
    kinds = {"n": "integer", "c": "categorical", "b": "boolean", "x": "numeric"}
    a = pd.DataFrame({"n": [1, 2], "c": [1, 2], "b": [True, False], "x": [np.nan, -0.0]})
    b = pd.DataFrame({"n": [1.0, 2.0], "c": ["1", "2"], "b": ["yes", "0"], "x": [None, 0.0]})
    assert (row_hashes(a, kinds) == row_hashes(b, kinds)).all()
    c = b.assign(x=[np.nan, 1e-6])
    assert row_hashes(a, kinds)[1] != row_hashes(c, kinds)[1]


def test_nearest_neighbours_exact_and_ordered():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(500, 7))
    query = np.vstack([ref[:20], rng.normal(size=(30, 7))])
    dist, idx = nearest_neighbours(query, ref, k=3)
    assert (dist[:20, 0] == 0).all() and (idx[:20, 0] == np.arange(20)).all()
    brute = np.sqrt(((query[:, None, :] - ref[None]) ** 2).sum(-1))
    np.testing.assert_allclose(dist, np.sort(brute, axis=1)[:, :3], rtol=1e-12)


# -- distance to closest record ----------------------------------------------------------------
def test_dcr_orders_copy_noisy_fresh(tables):
    s = scores(dcr, tables)
    assert s["copy"] == 0.0
    assert 0.1 < s["noisy"] < 0.75
    assert s["fresh"] > 0.8 and s["holdout"] == 1.0
    copy = dcr(tables["train"], tables["copy"], tables["holdout"], seed=0)
    assert copy.share_closer_to_training == 1.0 and copy.dcr_training_p5 == 0.0
    assert copy.nndr_p5 == 0.0
    fresh = dcr(tables["train"], tables["fresh"], tables["holdout"], seed=0)
    assert abs(fresh.share_closer_to_training - 0.5) < 0.1 and fresh.ideal_share == 0.5


def test_dcr_unequal_sizes_copies_still_score_zero(tables):
    train, holdout = tables["train"], tables["holdout"].iloc[:100]
    copy = dcr(train, tables["copy"], holdout, seed=0)
    assert copy.ideal_share == pytest.approx(0.75) and copy.score == 0.0
    assert dcr(train, tables["fresh"], holdout, seed=0).score > 0.7


def test_dcr_details_are_json_and_distributions(tables):
    result = dcr(tables["train"], tables["fresh"], tables["holdout"], seed=3)
    text = json.dumps(result.details)
    assert len(result.details["distances_to_training"]) == N
    assert len(result.details["distances_to_holdout"]) == N
    assert result.details["seed"] == 3 and "Realname" not in text  # identifiers are ignored
    assert "name" not in result.details["columns"]


def test_dcr_subsamples_with_seed_and_repeats(tables):
    big = pd.concat([tables["fresh"], make_clinical_table(N, seed=14)], ignore_index=True)
    a = dcr(tables["train"], big, tables["holdout"], seed=5, max_synthetic_rows=250)
    b = dcr(tables["train"], big, tables["holdout"], seed=5, max_synthetic_rows=250)
    assert a.n_synthetic == 250 and a.details["subsampled"]["synthetic"]
    assert a.score == b.score and a.details == b.details
    unseeded = dcr(tables["train"], big, tables["holdout"])
    assert isinstance(unseeded.details["seed"], int)  # recorded, so the run can be repeated


def test_nndr_copy_worst_fresh_near_baseline(tables):
    s = scores(nndr, tables)
    assert s["copy"] == 0.0 and s["copy"] < s["noisy"] < s["fresh"]
    assert s["fresh"] > 0.8
    result = nndr(tables["train"], tables["fresh"], tables["holdout"], seed=0)
    assert 0 < result.nndr_p5 <= 1 and 0 < result.baseline_p5 <= 1


# -- exact copies ------------------------------------------------------------------------------
def test_exact_copies_shares_and_score(tables):
    train, holdout = tables["train"], tables["holdout"]
    copy = exact_copies(train, tables["copy"], holdout)  # ldl has NaN: NaN must equal NaN
    assert copy.share_training == 1.0 and copy.share_holdout == 0.0 and copy.score == 0.0
    fresh = exact_copies(train, tables["fresh"], holdout)
    assert fresh.share_training == 0.0 and fresh.score == 1.0
    half = pd.concat([tables["copy"].iloc[:150], tables["fresh"].iloc[:150]])
    assert exact_copies(train, half, holdout).share_training == pytest.approx(0.5)
    assert exact_copies(train, half).score == pytest.approx(0.5)  # no holdout: 1 - share


def test_exact_copies_dtype_normalisation(tables):
    train = tables["train"]
    as_text = with_new_identifiers(train).astype({"age": float, "on_insulin": str})
    as_text["admitted"] = as_text["admitted"].dt.strftime("%Y-%m-%d")
    assert exact_copies(train, as_text).share_training == 1.0


def test_exact_copies_holdout_baseline_for_coarse_tables():
    rng = np.random.default_rng(0)

    def draw(n: int) -> pd.DataFrame:
        return pd.DataFrame({"sex": rng.choice(["f", "m"], n), "smoker": rng.choice(["y", "n"], n)})

    train, holdout, fresh = draw(200), draw(200), draw(200)
    result = exact_copies(train, fresh, holdout)
    assert result.share_training == 1.0 and result.share_holdout == 1.0
    assert result.score == 1.0  # every row is a coincidence; nothing is learned about anyone
    assert result.share_duplicated_within_synthetic > 0.9


def test_copied_from_examples():
    examples = make_clinical_table(6, seed=40)
    synthetic = pd.concat(
        [examples.iloc[[0, 0, 1]], make_clinical_table(97, seed=41)], ignore_index=True
    )
    result = copied_from_examples(synthetic, examples)
    assert result.n_copied == 3 and result.share_copied == pytest.approx(0.03)
    assert result.details["copies_per_example"] == [2, 1, 0, 0, 0, 0]
    assert result.score == pytest.approx(0.97)


# -- attacks -----------------------------------------------------------------------------------
def test_membership_inference_orders_copy_noisy_fresh(tables):
    copy = membership_inference(tables["train"], tables["copy"], tables["holdout"], seed=0)
    assert copy.auc > 0.95 and copy.score < 0.1
    noisy = membership_inference(tables["train"], tables["noisy"], tables["holdout"], seed=0)
    fresh = membership_inference(tables["train"], tables["fresh"], tables["holdout"], seed=0)
    assert copy.score < noisy.score < fresh.score
    assert abs(fresh.auc - 0.5) < 0.08 and fresh.score > 0.8
    assert copy.details["tpr_at_fpr_0.01"] > 0.9
    json.dumps(copy.details)


def test_auc_standard_error_matches_the_spread_of_aucs_between_samples():
    from sklearn.metrics import roc_auc_score

    from synthpatient.evaluation.attacks import auc_standard_error

    rng = np.random.default_rng(0)
    truth = np.r_[np.ones(110), np.zeros(110)]
    for shift in (0.0, 0.8):  # no leak (AUC 0.5), and a leak (AUC about 0.71)
        aucs = [
            roc_auc_score(truth, np.r_[rng.normal(shift, 1, 110), rng.normal(0, 1, 110)])
            for _ in range(2000)
        ]
        se = auc_standard_error(float(np.mean(aucs)), 110, 110)
        assert se == pytest.approx(np.std(aucs), rel=0.1)
    assert auc_standard_error(0.5, 110, 110) == pytest.approx(0.039, abs=0.001)
    assert auc_standard_error(1.0, 110, 110) == 0.0


def test_membership_inference_equal_member_counts(tables):
    result = membership_inference(
        tables["train"], tables["fresh"], tables["holdout"].iloc[:120], seed=0
    )
    assert result.n_members == result.n_non_members == 120


@pytest.mark.parametrize("sensitive", ["smoker", "bmi"])
def test_attribute_inference_copy_leaks_fresh_does_not(tables, sensitive):
    copy = attribute_inference(
        tables["train"], tables["copy"], tables["holdout"], sensitive, seed=0
    )
    fresh = attribute_inference(
        tables["train"], tables["fresh"], tables["holdout"], sensitive, seed=0
    )
    assert copy.gain > 0.2 and copy.score < 0.2 and copy.k == 1
    assert copy.training == pytest.approx(1.0)  # the nearest synthetic row is the patient
    assert fresh.score > 0.8 and abs(fresh.gain) < 0.15
    assert copy.task == ("classification" if sensitive == "smoker" else "regression")
    assert set(copy.details["per_k"]) == {"1", "5"}
    json.dumps(copy.details)


def test_attribute_inference_known_columns_and_errors(tables):
    t = tables
    result = attribute_inference(
        t["train"], t["copy"], t["holdout"], "smoker", known=["age", "sex"], seed=0, k=3
    )
    assert result.known == ["age", "sex"] and result.k == 3
    with pytest.raises(InvalidParameterError, match="not a learned column"):
        attribute_inference(t["train"], t["copy"], t["holdout"], "name")
    with pytest.raises(InvalidParameterError, match="known"):
        attribute_inference(t["train"], t["copy"], t["holdout"], "smoker", known=["smoker"])


# -- contract ----------------------------------------------------------------------------------
def test_inputs_are_never_modified(tables):
    originals = {name: frame.copy(deep=True) for name, frame in tables.items()}
    train, holdout = tables["train"], tables["holdout"]
    for name in ("copy", "noisy"):
        syn = tables[name]
        dcr(train, syn, holdout, seed=0)
        nndr(train, syn, holdout, seed=0)
        exact_copies(train, syn, holdout, seed=0)
        membership_inference(train, syn, holdout, seed=0)
        attribute_inference(train, syn, holdout, "ldl", seed=0)
        copied_from_examples(syn, train.iloc[:5])
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(frame, originals[name])


def test_clear_errors_without_patient_values(tables):
    train, holdout = tables["train"], tables["holdout"]
    with pytest.raises(DataError, match="bmi") as info:
        dcr(train, tables["fresh"].drop(columns=["bmi"]), holdout)
    assert "Realname" not in str(info.value)
    with pytest.raises(DataError, match="extra_col"):
        membership_inference(train, tables["fresh"].assign(extra_col=1), holdout)
    with pytest.raises(DataError, match="no rows"):
        exact_copies(train, tables["fresh"].iloc[:0])
    with pytest.raises(InvalidParameterError, match="DataFrame"):
        dcr(train, tables["fresh"].to_numpy(), holdout)
    with pytest.raises(InvalidParameterError, match="max_synthetic_rows"):
        dcr(train, tables["fresh"], holdout, max_synthetic_rows=0)
    with pytest.raises(InvalidParameterError, match="seed"):
        dcr(train, tables["fresh"], holdout, seed=-1)


def test_explicit_schema_limits_the_columns(tables):
    schema = Schema.infer(tables["train"])
    only_labs = Schema(columns=tuple(c for c in schema if c.name in ("bmi", "hba1c")))
    # a table that copies the labs but not the rest is a copy as far as the labs go
    synthetic = tables["fresh"].assign(
        bmi=tables["train"]["bmi"].to_numpy(), hba1c=tables["train"]["hba1c"].to_numpy()
    )
    result = exact_copies(tables["train"], synthetic, schema=only_labs)
    assert result.share_training == 1.0 and result.details["columns"] == ["bmi", "hba1c"]


def test_registered_metrics_give_the_function_scores_and_details(tables):
    t = tables
    dcr_metric = get_metric_class("dcr")()
    assert dcr_metric.family == "privacy" and dcr_metric.requires == {"holdout"}
    result = dcr_metric.compute(t["train"], t["copy"], holdout=t["holdout"], seed=0)
    assert result.score == 0.0 and result.details["share_closer_to_training"] == 1.0
    mia = get_metric_class("membership_inference")().compute(
        t["train"], t["copy"], holdout=t["holdout"], seed=0
    )
    assert mia.score < 0.1 and mia.details["auc"] > 0.95
    copies = get_metric_class("exact_copies")().compute(t["train"], t["copy"])
    assert copies.score == 0.0 and copies.details["share_holdout"] is None
    fresh = get_metric_class("nndr")(max_synthetic_rows=100).compute(
        t["train"], t["fresh"], holdout=t["holdout"], seed=0
    )
    assert fresh.details["n_synthetic"] == 100
    attribute = get_metric_class("attribute_inference")(k=1).compute(
        t["train"], t["copy"], holdout=t["holdout"], sensitive="smoker", seed=0
    )
    assert attribute.details["k"] == 1 and attribute.score < 0.2
    examples = get_metric_class("copied_from_examples")().compute(
        t["train"], t["copy"], examples=t["train"].iloc[:30]
    )
    assert examples.details["n_copied"] == 30


def test_registered_metrics_check_their_parameters_and_inputs(tables):
    with pytest.raises(InvalidParameterError, match="max_synthetic_rows"):
        get_metric_class("dcr")(max_synthetic_rows=0)
    with pytest.raises(InvalidParameterError, match="'k'"):
        get_metric_class("attribute_inference")(k=[])
    with pytest.raises(InvalidParameterError, match="known"):
        get_metric_class("attribute_inference")(known="age")
    with pytest.raises(InvalidParameterError, match="no holdout was given"):
        get_metric_class("membership_inference")().compute(tables["train"], tables["copy"])
    with pytest.raises(InvalidParameterError, match="no sensitive column"):
        get_metric_class("attribute_inference")().compute(
            tables["train"], tables["copy"], holdout=tables["holdout"]
        )
