"""The sampling overhead removed for issue 18 changes no delivered value.

``_plain_enforce`` is the per-column pandas code the base class enforced the schema with
before (column for column, the new numpy path must give the same Series, dtype included);
the relations' shortcuts (a derived column checked without reading its inputs again, whole
numbers kept as integers) must agree with the plain checks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthpatient import Schema, datasets
from synthpatient.relations import Relation, Term, check_relation, enforce_relations
from synthpatient.relations._enforce import bad_rows, canonical, derive
from synthpatient.schema import ColumnSpec
from synthpatient.synthesizers._conditions import Condition
from synthpatient.synthesizers._delivery import enforce_column
from synthpatient.synthesizers._marginals import CategoricalMarginal
from synthpatient.synthesizers.copula import GaussianCopulaSynthesizer


def _plain_enforce(spec: ColumnSpec, values: pd.Series, condition: Condition | None) -> pd.Series:
    """The code enforce_column replaced (base._enforce before issue 18), as it was."""
    if spec.kind in ("numeric", "integer", "datetime"):
        is_date = spec.kind == "datetime"
        if is_date and pd.api.types.is_datetime64_any_dtype(values):
            numbers = values.astype("datetime64[ns]").astype("int64").to_numpy(dtype=float)
            numbers[values.isna().to_numpy()] = np.nan
        else:
            numbers = np.array(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float))
        if is_date:
            low = None if spec.minimum is None else float(pd.Timestamp(spec.minimum).value)
            high = None if spec.maximum is None else float(pd.Timestamp(spec.maximum).value)
            step = 86_400e9 if spec.datetime_unit == "day" else 1e9
            numbers = np.round(numbers / step) * step
        else:
            low = None if spec.minimum is None else float(spec.minimum)
            high = None if spec.maximum is None else float(spec.maximum)
            decimals = 0 if spec.kind == "integer" else spec.decimals
            if decimals is not None:
                numbers = np.round(numbers, decimals)
        if condition is not None:
            if condition.kind == "equal":
                numbers[:] = float(condition.value)
            else:
                if condition.low is not None and (low is None or condition.low > low):
                    low = condition.low
                if condition.high is not None and (high is None or condition.high < high):
                    high = condition.high
        numbers = np.clip(numbers, low, high) if (low is not None or high is not None) else numbers
        if is_date:
            out = pd.Series(pd.to_datetime(numbers, unit="ns"))
            return out.dt.normalize() if spec.datetime_unit == "day" else out
        if spec.kind == "integer":
            series = pd.Series(numbers)
            return series.astype("Int64") if series.isna().any() else series.astype("int64")
        return pd.Series(numbers, dtype=float)
    if spec.kind == "boolean":
        series = values.map(lambda v: bool(v), na_action="ignore")
        return series.astype("boolean") if series.isna().any() else series.astype(bool)
    series = values.astype(object)
    categories = spec.categories or ()
    if (
        categories
        and all(isinstance(c, int) and not isinstance(c, bool) for c in categories)
        and not series.isna().any()
    ):
        return series.astype("int64")
    return series


_RNG = np.random.default_rng(0)
_X = pd.Series(_RNG.normal(50, 20, 500))
_GAPS = _X.where(_RNG.random(500) > 0.2)
_DAYS = pd.Series(pd.Timestamp("2020-01-01") + pd.to_timedelta(_RNG.random(500) * 900, "D"))
_CASES = [
    (ColumnSpec(name="x", kind="numeric", decimals=1, minimum=10, maximum=80), _X, None),
    (ColumnSpec(name="x", kind="numeric"), _X, None),
    (ColumnSpec(name="x", kind="numeric", decimals=2, nullable=True), _GAPS, None),
    (ColumnSpec(name="x", kind="numeric", decimals=1), _X, Condition("x", "range", None, 40, 60)),
    (ColumnSpec(name="x", kind="numeric"), _X, Condition("x", "equal", 42.5)),
    (ColumnSpec(name="n", kind="integer", minimum=0, maximum=90), _X, None),
    (ColumnSpec(name="n", kind="integer", nullable=True), _GAPS, None),
    (ColumnSpec(name="n", kind="integer"), _X.round().astype("int64"), None),
    (ColumnSpec(name="n", kind="integer"), _X.astype(object), Condition("n", "range", None, 30)),
    (ColumnSpec(name="d", kind="datetime", datetime_unit="day", maximum="2021-06-01"), _DAYS, None),
    (ColumnSpec(name="d", kind="datetime", datetime_unit="second"), _DAYS, None),
    (ColumnSpec(name="c", kind="categorical", categories=(1, 2)), pd.Series([1, 2, 2] * 9), None),
    (
        ColumnSpec(name="c", kind="categorical", categories=(1, 2)),
        pd.Series([1, 2, 2] * 9, dtype=object),
        None,
    ),
    (
        ColumnSpec(name="c", kind="categorical", categories=(1, 2), nullable=True),
        pd.Series([1, None, 2] * 9, dtype=object),
        None,
    ),
    (
        ColumnSpec(name="c", kind="categorical", categories=(1, 2)),
        pd.Series([1.0, 2.0, 2.0] * 9),
        None,
    ),
    (
        ColumnSpec(name="c", kind="categorical", categories=("a", "b")),
        pd.Series(["a", "b", None] * 9, dtype=object),
        None,
    ),
    (
        ColumnSpec(name="b", kind="boolean", nullable=True),
        pd.Series([True, None, False] * 9, dtype=object),
        None,
    ),
]


@pytest.mark.parametrize("case", range(len(_CASES)))
def test_each_column_is_delivered_as_the_plain_code_delivered_it(case):
    spec, values, condition = _CASES[case]
    before = values.copy()
    fast = enforce_column(spec, values, condition)
    pd.testing.assert_series_equal(fast, _plain_enforce(spec, values, condition), check_exact=True)
    pd.testing.assert_series_equal(values, before)  # the input is never written


def test_a_non_whole_value_in_an_integer_category_column_still_fails_loudly():
    spec = ColumnSpec(name="c", kind="categorical", categories=(1, 2))
    with pytest.raises(ValueError):
        enforce_column(spec, pd.Series(["1", "two"], dtype=object), None)


@pytest.fixture(scope="module")
def diabetes_model() -> GaussianCopulaSynthesizer:
    return GaussianCopulaSynthesizer(seed=0).fit(datasets.load("diabetes"))


def test_samples_keep_integer_dtypes_and_can_be_edited(diabetes_model):
    rows = diabetes_model.sample(2_000, seed=3)
    assert diabetes_model.last_relation_report_.resampled > 0  # the replacement path ran
    assert rows["age"].dtype == np.int64 and rows["sex"].dtype == np.int64
    assert rows["ldl"].dtype == np.float64
    rows.loc[0, "age"] = 30  # columns built without a copy are still the caller's to edit
    rows.loc[1, "ldl"] = 100.5
    assert rows.loc[0, "age"] == 30 and rows.loc[1, "ldl"] == 100.5


def test_enforcing_relations_keeps_integers_and_never_writes_its_input(diabetes_model):
    model = diabetes_model
    rng = np.random.default_rng(2)
    learned = [c.name for c in model.schema_.learned]
    rows = model._finalize(model._sample(1_000, rng, []), 1_000, [], rng, regenerate_ids=False)
    before = rows.copy()

    def redraw(k: int) -> pd.DataFrame:
        fresh = model._sample(k, rng, [])
        return model._finalize(fresh, k, [], rng, regenerate_ids=False)[learned]

    kept, report = enforce_relations(
        rows[learned], model.schema_, list(model.schema_.relations), [], redraw
    )
    pd.testing.assert_frame_equal(rows, before)
    assert report.resampled > 0 and not report.left
    assert kept["total_cholesterol"].dtype == np.int64 and kept["sex"].dtype == np.int64
    for relation in model.schema_.relations:
        assert not check_relation(relation, kept, model.schema_).violations.any()


def test_a_derived_column_is_checked_again_in_full_when_a_later_relation_moves_an_input():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {"w": np.round(rng.uniform(1, 9, 400), 1), "y": np.round(rng.uniform(1, 9, 400), 1)}
    )
    frame["x"] = frame["w"] * 2
    frame["z"] = np.round(frame["x"] + frame["y"], 1)
    schema = Schema.infer(frame)
    relations = [  # z from x, then x from w: z's check must read the new x
        Relation(
            kind="identity",
            column="z",
            terms=(Term(column="x", coefficient=1.0), Term(column="y", coefficient=1.0)),
        ),
        Relation(kind="identity", column="x", terms=(Term(column="w", coefficient=2.0),)),
    ]
    drawn = frame.assign(x=frame["x"] + rng.normal(0, 1, 400))  # x drawn off its relation
    rows = canonical(drawn)
    _, known = derive(rows, schema, relations)
    assert 0 not in known and 1 in known
    shortcut = bad_rows(rows, schema, relations, [], known)
    assert shortcut.any()  # z was derived from the x drawn, before x was derived
    np.testing.assert_array_equal(shortcut, bad_rows(rows, schema, relations, []))


@pytest.mark.parametrize("n_categories", [1, 2, 4, 9, 12])
def test_scores_land_in_the_same_category_as_by_a_binary_search(n_categories):
    rng = np.random.default_rng(n_categories)
    counts = rng.integers(0, 4, n_categories).astype(float)
    counts[0] += 1  # unseen categories (no mass) make repeated edges
    marginal = CategoricalMarginal.from_counts(list(range(n_categories)), counts)
    u = np.concatenate([rng.random(2_000), marginal.edges, [np.nan, -np.inf, np.inf]])
    plain = np.clip(np.searchsorted(marginal.edges[1:-1], u, side="right"), 0, n_categories - 1)
    np.testing.assert_array_equal(marginal.code_from_uniform(u), plain)


def _plain_predict(relation: Relation, frame: pd.DataFrame) -> np.ndarray:
    """predict() before issue 18: a fresh array per step."""
    out = np.full(len(frame), relation.constant if relation.constant is not None else 1.0)
    if relation.kind == "identity":
        out = np.full(len(frame), relation.constant or 0.0)
    for term in relation.terms or ():
        x = frame[term.column].to_numpy(dtype=float)
        x = np.exp(x) if term.transform == "exp" else x
        if relation.kind == "identity":
            out = out + term.coefficient * x
        else:
            out = out * np.power(x, term.coefficient)
    return out


def _plain_tolerance(relation: Relation, frame: pd.DataFrame, schema: Schema) -> np.ndarray:
    """tolerance() before issue 18, as it was."""
    from synthpatient.relations._check import step

    total = np.full(len(frame), step(schema[relation.column]) / 2)
    predicted = np.abs(_plain_predict(relation, frame))
    for term in relation.terms or ():
        half = step(schema[term.column]) / 2
        x = frame[term.column].to_numpy(dtype=float)
        x = np.exp(x) if term.transform == "exp" else x
        if relation.kind == "identity":
            scale = np.abs(x) if term.transform == "exp" else 1.0
            total = total + np.abs(term.coefficient) * scale * half
        else:
            total = total + predicted * np.abs(term.coefficient) * half / np.abs(x)
    return np.maximum(total, 1e-6 * np.abs(predicted)) + 1e-9


def test_predictions_and_tolerances_are_the_plain_arithmetic_bit_for_bit():
    from synthpatient.relations._check import predict, tolerance

    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {
            "a": np.round(rng.uniform(-5, 60, 3_000), 1),
            "b": np.round(rng.uniform(0.5, 9, 3_000), 2),
            "c": np.round(rng.normal(4.5, 0.5, 3_000), 4),
            "y": np.round(rng.uniform(0, 90, 3_000), 1),
        }
    )
    frame.loc[::97, "b"] = np.nan
    frame.loc[::89, "b"] = 0.0  # a power of zero: infinities on both sides
    schema = Schema.infer(frame)
    terms = (
        Term(column="a", coefficient=1.0),
        Term(column="b", coefficient=-0.7),
        Term(column="c", coefficient=-0.2, transform="exp"),
    )
    for relation in (
        Relation(kind="identity", column="y", terms=terms, constant=3.0),
        Relation(kind="ratio", column="y", terms=terms[1:2] + (Term(column="a", coefficient=2),)),
        Relation(kind="ratio", column="y", terms=terms[:2], constant=0.3),
    ):
        with np.errstate(all="ignore"):
            plain = _plain_predict(relation, frame), _plain_tolerance(relation, frame, schema)
        assert np.array_equal(predict(relation, frame), plain[0], equal_nan=True)
        assert np.array_equal(tolerance(relation, frame, schema), plain[1], equal_nan=True)
