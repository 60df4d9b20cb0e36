"""evaluate() and quality_summary() on hostile real-world tables (issue 16): mixed UTC offsets,
numbers near the float limits, infinities, tiny tables, constant and almost empty columns,
unicode categories. Each gives a result or one SynthPatientError, never another exception,
and a metric that could not compute says why in the HTML and the JSON."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from synthpatient import datasets
from synthpatient._row_hash import row_hashes
from synthpatient.api import quality_summary
from synthpatient.errors import DataError, SynthPatientError
from synthpatient.evaluation import ContingencySimilarity, KSComplement, quality_report
from synthpatient.evaluation.columns import N_HISTOGRAM_BINS, bin_edges, column_details
from synthpatient.evaluation.evaluate import evaluate
from synthpatient.evaluation.fidelity import discretize
from synthpatient.schema import Schema, utc_datetimes

#: Fast metrics of every family that needs no target (models are the slow part).
FAST = [
    "quality",
    "column_shapes",
    "column_pair_trends",
    "detection",
    "exact_copies",
    "dcr",
    "nndr",
    "alpha_precision",
    "subgroup_shares",
]
pytestmark = pytest.mark.filterwarnings(  # holdouts that overlap the training rows, on purpose
    "ignore:.*holdout row:synthpatient.errors.SynthPatientWarning"
)
OFFSETS = ["2020-01-01T00:00:00+00:00", "2020-03-01T10:00:00+05:30", "2021-06-01T00:00:00-08:00"]


def _table(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(20, 90, n).astype(float),
            "sex": rng.choice(["female", "male"], n),
            "bmi": rng.normal(27, 4, n),
            "group": rng.choice(["é", "日本", "🙂"], n),
        }
    )


def _rendered(report) -> tuple[str, dict]:
    """The report as HTML and parsed JSON (both must build)."""
    return report.to_html(), json.loads(report.to_json())


# -- T1: mixed UTC offsets are read the way the schema reads them ---------------------------
def test_utc_datetimes_reads_mixed_offsets_as_utc():
    values = pd.Series(OFFSETS + ["2020-01-01 12:00", "not a date", None])
    out = utc_datetimes(values)
    assert out.dtype == "datetime64[ns]"
    assert list(out[:4]) == [
        pd.Timestamp("2020-01-01 00:00"),
        pd.Timestamp("2020-03-01 04:30"),
        pd.Timestamp("2021-06-01 08:00"),
        pd.Timestamp("2020-01-01 12:00"),
    ]
    assert out[4:].isna().all()
    far = pd.Series(["9999-12-31", "2020-01-01"])
    assert utc_datetimes(far).isna().tolist() == [True, False]  # outside what ns can hold
    assert utc_datetimes(far, nanoseconds=False).notna().all()  # kept for spelling


def test_mixed_offsets_quality_and_evaluate_compare_instants():
    real = pd.DataFrame({"when": OFFSETS * 4, "x": np.arange(12.0)})
    summary = quality_summary(real, real)
    assert summary["score"] == pytest.approx(1.0)
    # the same instants written in other zones are the same values
    shifted = real.assign(
        when=["2020-01-01T05:30:00+05:30", "2020-03-01T04:30:00Z", "2021-06-01T08:00:00+00:00"] * 4
    )
    assert (
        KSComplement.compute(utc_datetimes(real["when"]), utc_datetimes(shifted["when"])).score
        == 1.0
    )
    assert summary == quality_summary(real, shifted)
    report = evaluate(real, shifted, metrics=FAST[:5])
    html, payload = _rendered(report)
    scores = dict(zip(report.summary["metric"], report.summary["score"], strict=True))
    assert scores["column_shapes"] == pytest.approx(1.0)
    assert scores["exact_copies"] == 0.0  # every synthetic row is a copy of a training row
    assert "when" in html and payload["meta"]["sdtypes"]["when"] == "datetime"


def test_row_hash_mixed_offsets_equal_the_same_instants_in_utc():
    kinds = {"when": "datetime"}
    aware = pd.DataFrame({"when": ["2020-01-01T05:30:00+05:30", "2020-01-01T00:00:00+00:00"]})
    naive = pd.DataFrame({"when": ["2020-01-01 00:00:00", "2020-01-01 00:00:00"]})
    assert (row_hashes(aware, kinds) == row_hashes(naive, kinds)).all()


def test_row_hash_keeps_numbers_near_the_float_limit_apart():
    kinds = {"x": "numeric"}
    hashes = row_hashes(pd.DataFrame({"x": [1e308, 1.5e308, -1e308, np.inf, np.nan]}), kinds)
    # rounding to 9 decimals used to overflow, so that both huge numbers read "inf"
    assert len(set(hashes[:3].tolist())) == 3
    assert hashes[3] == hashes[4]  # an infinity is not a value: it reads as missing


# -- T2: bins over any finite range, capped -------------------------------------------------
@pytest.mark.parametrize(
    "values",
    [
        [1e308, -1e308, 0.0, 5.0],
        [1.7e308, -1.7e308],
        [1e300, 1e300 * (1 + 4e-16)],
        [1e-308, 2e-308],
        [3.0, 3.0],
    ],
)
def test_bin_edges_are_finite_increasing_and_capped(values):
    edges = bin_edges(np.array(values))
    assert np.isfinite(edges).all() and len(edges) <= N_HISTOGRAM_BINS + 1
    assert (np.diff(edges) > 0).all()


def test_column_details_with_huge_and_infinite_values():
    real = pd.DataFrame({"v": [1e308, -1e308, 0.0, 5.0] * 3, "w": [1.0, 2.0, np.inf] * 4})
    same = column_details(real, real, {"v": "numerical", "w": "numerical"})
    assert same["jensen_shannon"].tolist() == [0.0, 0.0]
    assert same["wasserstein_normalised"].tolist() == [0.0, 0.0]
    flipped = real.assign(w=[1.0, 2.0, -np.inf] * 4)
    other = column_details(real, flipped, {"v": "numerical", "w": "numerical"})
    assert other.loc[1, "jensen_shannon"] > 0.3  # +inf and -inf land in different bins


def test_evaluate_huge_numbers_renders():
    real = _table(12).assign(huge=[1e308, -1e308] * 6, huge2=[1.7e308] * 11 + [-1.7e308])
    report = evaluate(
        real,
        real.iloc[::-1].reset_index(drop=True),
        holdout=real.sample(frac=1, random_state=2),
        sensitive="bmi",
    )
    html, payload = _rendered(report)
    assert "Per column" in html and payload["summary"]
    columns = report.sections["column_shapes"]["columns"].set_index("column")
    assert columns.loc["huge", "jensen_shannon"] == 0.0


def test_ml_utility_regression_on_a_huge_target():
    real = _table(40).assign(w=np.resize([1e308, -1e308, 5e307], 40))
    report = evaluate(real, real, holdout=real, target="w", metrics=["ml_utility"])
    utility = report.sections["ml_utility"]["metrics"]
    assert all(np.isfinite(v["r2"]["trtr"]) for v in utility.values())


# -- T3: a metric that could not compute says so --------------------------------------------
def test_one_real_row_reports_not_computed_in_html_and_json():
    real = datasets.load("diabetes")
    report = evaluate(real.iloc[:1], real.iloc[1:6])
    html, payload = _rendered(report)
    assert "not computed (fewer than 3 rows in a table)" in html
    summary = {row["metric"]: row for row in payload["summary"]}
    assert summary["detection"]["score"] is None or np.isnan(summary["detection"]["score"])
    assert summary["detection"]["verdict"] == "not computed (fewer than 3 rows in a table)"
    assert payload["meta"]["not_computed"]["detection"] == "fewer than 3 rows in a table"
    assert payload["sections"]["detection"]["error"] == "fewer than 3 rows in a table"


def test_a_block_whose_details_are_missing_is_named_not_drawn():
    real = _table(12)
    report = evaluate(real, real, holdout=real, metrics=["detection", "dcr", "nndr"])
    del report.sections["detection"]["auc"]
    report.sections["dcr"] = {}
    html = report.to_html()
    assert html.count("not computed (its details were not recorded)") == 2


def test_one_training_row_with_a_holdout_still_gives_a_report():
    real = _table(6)
    report = evaluate(real.iloc[:1], real.iloc[1:4], holdout=real.iloc[4:], sensitive="bmi")
    html, payload = _rendered(report)
    assert payload["meta"]["not_computed"]["nndr"].startswith("fewer than 2 training rows")
    assert "not computed (fewer than 2 training rows" in html


# -- hostile tables in general: a result or one SynthPatientError ---------------------------
def _hostile_tables() -> dict[str, pd.DataFrame]:
    tables = {f"{n}_rows": _table(n, seed=n) for n in (1, 2, 3, 5)}
    base = _table(12)
    tables["constant"] = base.assign(const=7.0, label="x", day=pd.Timestamp("2020-01-01"))
    sparse = base.assign(lab=np.nan, note=None)
    sparse.loc[0, "lab"], sparse.loc[1, "note"] = 3.0, "a"
    tables["all_missing_but_one"] = sparse
    tables["unicode"] = base.assign(word=["ü" * 3, "नमस्ते", "\u200b", "a\x00b"] * 3)
    tables["mixed_offsets"] = base.assign(when=OFFSETS * 4)
    tables["tiny_numbers"] = base.assign(small=[1e-308, 2e-308] * 6)
    tables["big_integers"] = base.assign(big=[2**62, -(2**62), 0, 1] * 3)
    return tables


@pytest.mark.parametrize("name", sorted(_hostile_tables()))
def test_hostile_table_gives_a_full_report(name):
    real = _hostile_tables()[name]
    synthetic = real.sample(frac=1.0, random_state=1).reset_index(drop=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        json.dumps(quality_summary(real, synthetic))
        report = evaluate(
            real,
            synthetic,
            holdout=real.iloc[::-1],
            sensitive="bmi",
            metrics=FAST + ["membership_inference", "attribute_inference"],
        )
        html, payload = _rendered(report)
    assert payload["summary"] and "<section" in html
    for key, reason in payload["meta"]["not_computed"].items():
        assert f"not computed ({reason})" in html, key
    # matplotlib's missing-glyph warnings would quote a character of a category value
    assert not [w for w in caught if "Glyph" in str(w.message)]


def test_infinite_real_values_are_one_line_errors_naming_the_column():
    real = _table(12).assign(lab=[np.inf, 1.0, 2.0] * 4)
    for call in (lambda: quality_summary(real, real), lambda: evaluate(real, real)):
        with pytest.raises(SynthPatientError, match="'lab'") as error:
            call()
        assert "\n" not in str(error.value)


def test_infinite_synthetic_values_under_a_given_schema():
    real = _table(20).assign(when=pd.date_range("2020-01-01", periods=20).astype(str))
    synthetic = real.copy()
    synthetic.loc[0, "age"], synthetic.loc[1, "bmi"] = np.inf, -1e308
    synthetic["when"] = OFFSETS[:2] * 10
    report = evaluate(
        real, synthetic, schema=Schema.infer(real), holdout=real, target="bmi", sensitive="age"
    )
    html, payload = _rendered(report)
    assert payload["summary"] and "Per column" in html


# -- public building blocks: SynthPatientError (still a ValueError) on what they cannot do ---
def test_building_blocks_refuse_with_data_errors():
    real = _table(10)
    with pytest.raises(DataError, match="not in both tables"):
        quality_report(real, real.drop(columns="bmi"), {"bmi": "numerical"})
    with pytest.raises(DataError, match="cannot be cut into bins"):
        discretize(pd.Series([1.0, np.inf], name="bmi"))
    infinite = real.assign(bmi=[np.inf] + [1.0] * 9)
    result = ContingencySimilarity.compute(
        infinite[["bmi", "sex"]], real[["bmi", "sex"]], continuous_columns=["bmi"]
    )
    assert np.isnan(result.score) and "cannot be binned" in result.details["error"]
