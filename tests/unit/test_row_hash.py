"""The package's one row hash: equal rows hash alike whatever their spelling, different rows
do not, keys separate models, and the tabular LM's saved hashes keep their values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthpatient._row_hash import DEFAULT_KEY, new_key, row_hashes, row_keys
from synthpatient.schema import Schema

KINDS = {"n": "integer", "c": "categorical", "b": "boolean", "x": "numeric", "d": "datetime"}


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [54, 61, 70, 33],
            "bmi": [31.2, np.nan, 27.0, -0.0],
            "sex": ["female", "male", "female", None],
            "on_insulin": [True, False, True, False],
            "admitted": pd.to_datetime(["2020-01-01", "2021-06-30", "2019-12-31", "2020-02-29"]),
            "seen": pd.to_datetime(
                ["2020-01-01 08:30:05", "2021-06-30 23:59:59", None, "2020-02-29 12:00:00"]
            ),
            "ldl": [120.0, np.nan, 95.0, 101.0],
            "ratio": [0.123456789, 1e-7, 2.5, np.nan],
        }
    )


def test_the_tabular_lm_hashes_keep_the_values_saved_in_model_folders():
    from synthpatient.synthesizers.tabular_lm import _row_hashes

    frame = _frame()
    # computed by the tabular LM's own hash before it moved to synthpatient._row_hash: a
    # change here would let a loaded model deliver copies of its training rows
    expected = [10648457172180903191, 161180757757672700, 1254670481929593769, 15419411765951577818]
    assert _row_hashes(Schema.infer(frame).learned, frame).tolist() == expected


def test_spellings_of_one_value_hash_alike_and_other_values_do_not():
    a = pd.DataFrame(
        {
            "n": [1, 2],
            "c": [1, 2],
            "b": [True, False],
            "x": [np.nan, -0.0],
            "d": pd.to_datetime(["2020-01-01", None]),
        }
    )
    b = pd.DataFrame(
        {
            "n": [1.0, "2"],
            "c": ["1", 2.0],
            "b": ["yes", "0"],
            "x": [None, 0.0],
            "d": ["2020-01-01 00:00:00", None],
        }
    )
    assert (row_hashes(a, KINDS) == row_hashes(b, KINDS)).all()
    c = b.assign(x=[np.nan, 1e-6])
    assert row_hashes(a, KINDS)[1] != row_hashes(c, KINDS)[1]
    assert row_hashes(a, KINDS, decimals=3)[1] == row_hashes(c, KINDS, decimals=3)[1]
    assert row_hashes(a, KINDS, decimals={"x": 3})[1] == row_hashes(c, KINDS, decimals=3)[1]


def test_keys_separate_models_and_the_frame_is_left_alone():
    frame = _frame()
    before = frame.copy(deep=True)
    kinds = {"age": "integer", "sex": "categorical", "admitted": "datetime"}
    one, other = new_key(np.random.default_rng(0)), new_key(np.random.default_rng(1))
    assert len(one) == 16 and one != other
    plain, keyed = row_hashes(frame, kinds), row_hashes(frame, kinds, key=one)
    assert (plain == row_hashes(frame, kinds, key=DEFAULT_KEY)).all()
    assert not (plain == keyed).any() and not (keyed == row_hashes(frame, kinds, key=other)).any()
    assert len(set(plain.tolist())) == len(frame)
    pd.testing.assert_frame_equal(frame, before)


def test_keys_read_the_columns_in_order_and_empty_tables_work():
    frame = pd.DataFrame({"p": ["a", "b"], "q": ["b", "a"]})
    kinds = {"p": "categorical", "q": "categorical"}
    assert row_keys(frame, kinds).tolist() == ["a\x1fb", "b\x1fa"]
    assert row_hashes(frame.iloc[:0], kinds).dtype == np.uint64
    assert len(row_hashes(frame.iloc[:0], kinds)) == 0
