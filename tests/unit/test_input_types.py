"""Every pandas/Parquet dtype is supported or refused in one line naming the column and the type,
never a value; extreme dates and numbers are handled (issue 16, item 4)."""

from __future__ import annotations

import datetime as dt
import decimal
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from synthpatient.errors import DataError, MixedTypesError, SchemaValidationError
from synthpatient.schema import ColumnSpec, Schema, category_key, coerce_frame, explain_schema
from synthpatient.synthesizers.copula import GaussianCopulaSynthesizer

N = 40


class Opaque:
    """A Python object with no tabular meaning."""

    def __repr__(self) -> str:
        return "opaque-secret"


def _table(column: pd.Series | list | np.ndarray) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.integers(20, 80, N), "hba1c": rng.normal(7, 1, N).round(1)})
    frame["x"] = column.array if isinstance(column, pd.Series) else column
    return frame


def _fit_sample(frame: pd.DataFrame, n_rows: int = 30) -> tuple[Schema, pd.DataFrame]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = GaussianCopulaSynthesizer(seed=0).fit(frame)
    return model.schema_, model.sample(n_rows, seed=1)


REFUSED = {
    "lists": ([["secret", 1]] * N, "lists or other nested values"),
    "dicts": ([{"secret": 1}] * N, "nested values"),
    "sets": ([{"secret"}] * N, "nested values"),
    "bytes": ([b"secret-%d" % i for i in range(N)], "raw bytes"),
    "complex": (np.arange(N) + 1j, "complex numbers"),
    "complex objects": (
        pd.Series([complex(i, 1) for i in range(N)], dtype=object),
        "complex numbers",
    ),
    "periods": (pd.Series(pd.period_range("2020-01", periods=N, freq="M")), "periods"),
    "intervals": (pd.Series(pd.interval_range(0, N)), "intervals"),
    "objects": ([Opaque() for _ in range(N)], "type Opaque"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_unsupported_types_are_refused_in_one_line_on_every_path(case):
    values, words = REFUSED[case]
    frame = _table(values)
    for action in (
        lambda: Schema.infer(frame),
        lambda: GaussianCopulaSynthesizer(seed=0).fit(frame),
        lambda: Schema(columns=(ColumnSpec(name="x", kind="categorical"),)).validate(frame[["x"]]),
    ):
        with pytest.raises(DataError) as info:
            action()
        message = str(info.value)
        assert "'x'" in message and words in message
        assert "\n" not in message and "secret" not in message


def test_time_zone_aware_times_become_utc_and_the_reason_says_so():
    stamps = pd.Series(pd.date_range("2021-03-01 08:00", periods=N, freq="7h", tz="Europe/Paris"))
    frame = _table(stamps)
    schema, decisions = explain_schema(frame)
    assert schema["x"].kind == "datetime"
    assert "UTC" in next(d.reason for d in decisions if d.name == "x")
    utc = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    assert pd.Timestamp(schema["x"].minimum) == utc.min()
    schema.validate(frame)  # the same conversion when a schema is given
    assert coerce_frame(schema, frame)["x"].tolist() == utc.tolist()
    _, synthetic = _fit_sample(frame)
    assert synthetic["x"].between(utc.min(), utc.max()).all()


def test_text_times_with_mixed_offsets_are_read_as_utc():
    text = [f"2020-01-{i % 28 + 1:02d}T10:00:00+0{i % 3}:00" for i in range(N)]
    schema, decisions = explain_schema(_table(text))
    assert schema["x"].kind == "datetime" and schema["x"].datetime_unit == "second"
    utc = pd.to_datetime(pd.Series(text), utc=True).dt.tz_localize(None)
    assert pd.Timestamp(schema["x"].minimum) == utc.min() != pd.Timestamp("2020-01-01T10:00")
    assert "UTC" in next(d.reason for d in decisions if d.name == "x")


def test_durations_are_learned_as_numbers_of_a_stated_unit():
    rng = np.random.default_rng(1)
    days = pd.Series(pd.to_timedelta(rng.integers(1, 30, N), unit="D"))
    frame = _table(days)
    schema, decisions = explain_schema(frame)
    spec = schema["x"]
    assert spec.kind == "integer" and spec.unit == "d"
    assert "days" in next(d.reason for d in decisions if d.name == "x")
    assert coerce_frame(schema, frame)["x"].tolist() == (days.dt.days.astype(float)).tolist()
    _, synthetic = _fit_sample(frame)
    assert synthetic["x"].between(days.dt.days.min(), days.dt.days.max()).all()
    minutes = pd.Series(pd.to_timedelta(rng.integers(1, 500, N) * 60, unit="s"))
    assert explain_schema(_table(minutes))[0]["x"].unit == "min"
    bad = schema.replace("x", unit="years")
    with pytest.raises(DataError, match="'x'.*unit"):
        bad.validate(frame)


@pytest.mark.parametrize(
    "values, kind",
    [
        (pd.Series(pd.Categorical(["a", "b", None, "c"] * 10)), "categorical"),
        (pd.Series(pd.Categorical([1, 2, 3, 2] * 10)), "categorical"),
        (pd.Series(pd.array([1, None, *range(10, 48)], dtype="Int64")), "integer"),
        (pd.Series(pd.array([1.5, None, *np.linspace(0, 9, 38)], dtype="Float64")), "numeric"),
        (pd.Series(pd.array([True, False, None, True] * 10, dtype="boolean")), "boolean"),
        (pd.Series(pd.array(["x", "y", None, "z"] * 10, dtype="string")), "categorical"),
        (pd.Series(pd.arrays.SparseArray([0.0, 1.5, 0.0, 2.25] * 10)), "numeric"),
        ([decimal.Decimal("1.25"), decimal.Decimal("2.5")] * 20, "numeric"),
    ],
)
def test_supported_dtypes_are_inferred_fitted_and_sampled(values, kind):
    frame = _table(values)
    schema, synthetic = _fit_sample(frame)
    assert schema["x"].kind == kind
    assert schema["x"].nullable == bool(frame["x"].isna().any())
    assert len(synthetic) == 30 and list(synthetic.columns) == list(frame.columns)


def test_mixed_objects_get_one_line():
    with pytest.raises(MixedTypesError, match="'x'") as info:
        Schema.infer(_table([1, "secret", 2.5, None, dt.date(2020, 1, 1)] * 8))
    assert "secret" not in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    "extreme",
    [
        dt.date(1066, 10, 14),
        "9999-12-31",
        np.datetime64("9999-12-31", "s"),
    ],
)
def test_dates_outside_the_supported_range_are_refused_without_the_date(extreme):
    if isinstance(extreme, np.datetime64):
        column = np.array([extreme] + ["2020-01-01"] * (N - 1), dtype="datetime64[s]")
    else:
        normal = [dt.date(2020, 1, i % 28 + 1) for i in range(N - 1)]
        column = [extreme, *(str(d) if isinstance(extreme, str) else d for d in normal)]
    frame = _table(pd.Series(column, dtype=None if isinstance(extreme, np.datetime64) else object))
    for action in (lambda: Schema.infer(frame), lambda: GaussianCopulaSynthesizer().fit(frame)):
        with pytest.raises(DataError) as info:
            action()
        message = str(info.value)
        assert "'x'" in message and "1 date(s) outside" in message and "row 0" in message
        assert "9999" not in message and "1066" not in message


def test_out_of_range_dates_against_a_given_schema_are_problems_not_tracebacks():
    frame = pd.DataFrame({"x": ["9999-12-31", "2020-01-01", "2021-06-01"]})
    schema = Schema(columns=(ColumnSpec(name="x", kind="datetime"),))
    with pytest.raises(SchemaValidationError) as info:
        schema.validate(frame)
    assert "'x': 1 value(s)" in str(info.value) and "9999" not in str(info.value)


@pytest.mark.parametrize(
    "values",
    [
        [1e308, -1e308, *np.linspace(-5, 5, N - 2)],
        pd.Series([2**70, *range(N - 1)], dtype=object),
        [str(2**70), *map(str, range(N - 1))],
        pd.Series([2**70, 1, 2, 3] * (N // 4), dtype=object),  # few values: not int64 categories
        [1e308, -1e308, 0.0, 1.0] * (N // 4),
    ],
)
def test_extreme_numbers_stay_numbers(values):
    frame = _table(values)
    schema, synthetic = _fit_sample(frame)
    assert schema["x"].kind == "numeric"
    assert np.isfinite(synthetic["x"].to_numpy(dtype=float)).all()
    schema.validate(frame)


def test_extreme_numbers_as_categories_match_their_spelling_in_text():
    schema = Schema(
        columns=(ColumnSpec(name="code", kind="categorical", categories=(1e308, 2**70, 2.5)),)
    )
    schema.validate(pd.DataFrame({"code": ["1e308", str(2**70), "2.50", "1E308"]}))
    assert category_key("1e308") == category_key(1e308)
    assert category_key("inf") == "inf" and category_key("1_000") == "1_000"
    with pytest.raises(SchemaValidationError) as info:
        schema.validate(pd.DataFrame({"code": ["1e307", "secret"]}))
    assert "2 value(s) are not among" in str(info.value)
    assert "1e307" not in str(info.value) and "secret" not in str(info.value)


def test_the_cli_reads_parquet_types_and_refuses_nested_cells_in_one_line(tmp_path):
    from synthpatient.cli.app import app

    frame = _table(pd.Series(pd.date_range("2021-01-01", periods=N, freq="D", tz="UTC")))
    frame["stay"] = pd.to_timedelta(np.arange(N) % 9 + 1, unit="D")
    frame["ward"] = pd.Categorical(np.array(["a", "b"] * (N // 2)))
    frame.to_parquet(tmp_path / "ok.parquet")
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["schema", str(tmp_path / "ok.parquet"), "--out", str(tmp_path / "ok.json")],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 0, result.output
    assert "UTC" in result.output and "days" in result.output
    frame["tags"] = [["secret", str(i)] for i in range(N)]
    frame.to_parquet(tmp_path / "nested.parquet")
    result = runner.invoke(
        app, ["schema", str(tmp_path / "nested.parquet"), "--out", str(tmp_path / "nested.json")]
    )
    assert result.exit_code == 2
    assert "'tags'" in result.output and "Traceback" not in result.output
    assert "secret" not in result.output


# -- issue 16 fuzz findings T6, T8, T9 -------------------------------------------------------
def test_a_datetime_declared_categorical_is_refused_in_one_line_on_every_path(tmp_path):
    """T8: a category is a JSON scalar, and a date turned into text would silently change
    the column's type, so the declaration is refused (dates are learned as dates)."""
    from synthpatient.cli.app import app

    frame = _table(pd.Series(pd.date_range("2021-01-01", periods=N, freq="D")))
    with pytest.raises(DataError, match="'x' holds dates and times") as info:
        Schema.infer(frame, categorical=["x"])
    assert "\n" not in str(info.value) and "2021" not in str(info.value)
    declared = Schema(
        columns=(
            ColumnSpec(name="age", kind="integer"),
            ColumnSpec(name="hba1c", kind="numeric"),
            ColumnSpec(name="x", kind="categorical"),
        )
    )
    with pytest.raises(DataError, match="'x' holds dates and times"):
        declared.complete(frame)
    frame.to_parquet(tmp_path / "dates.parquet")
    result = CliRunner().invoke(
        app,
        [
            "schema",
            str(tmp_path / "dates.parquet"),
            "--out",
            str(tmp_path / "s.json"),
            "--categorical",
            "x",
        ],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "holds dates and times" in result.output and "2021" not in result.output
    assert not (tmp_path / "s.json").exists()
    # dates written as text stay text, so declaring them categorical still works
    text = frame.assign(x=frame["x"].dt.strftime("%Y-%m-%d"))
    assert Schema.infer(text, categorical=["x"])["x"].kind == "categorical"


@pytest.mark.parametrize("blank", ["", " ", "\t"])
def test_a_column_without_a_name_is_refused_with_its_position(blank):
    """T9: checked in check_table, so inference, fitting and validation all meet it."""
    frame = _table(np.arange(N))
    frame = frame.rename(columns={"x": blank})
    with pytest.raises(DataError, match=r"^Column 3 has no name; give every column a name\.$"):
        Schema.infer(frame)
    with pytest.raises(DataError, match="Column 3 has no name"):
        GaussianCopulaSynthesizer(seed=0).fit(frame)


@pytest.mark.parametrize(("sign", "digits"), [(1, 400), (-1, 400), (1, 5000)])
def test_absurd_integers_have_a_category_key_and_meet_the_schema_as_problems(sign, digits):
    """T6: an integer beyond any float (or beyond Python's 4,300-digit str limit) gets an
    exact key instead of an OverflowError, and validation reports it as a problem."""
    value = sign * 10**digits
    key = category_key(value)
    assert key == category_key(value) and key != category_key(float("inf"))
    assert category_key(10**400) != category_key(10**400 + 1)
    assert category_key(2**70) == category_key(str(2**70)) == category_key(float(2**70))
    schema = Schema(columns=(ColumnSpec(name="code", kind="categorical", categories=(1, 2)),))
    frame = pd.DataFrame({"code": pd.Series([value, 1], dtype=object)})
    with pytest.raises(SchemaValidationError, match="1 value\\(s\\) are not among") as info:
        schema.validate(frame)
    assert "0000" not in str(info.value)
