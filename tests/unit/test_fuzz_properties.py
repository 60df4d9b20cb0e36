"""Property tests (hypothesis) for issue 16: on any input, a result or a one-line error.

Random tables go through ``Schema.infer`` -> copula ``fit``/``sample`` -> ``quality_summary``
and ``evaluate``; random conditions through a fitted model; random bytes through
``read_table``; random text through the cohort request parser and a ``Conversation``. Every
outcome must be a result that keeps its promises, or a :class:`SynthPatientError` whose
message is one line; any other exception fails the test.

The number of examples is small by default (the suite stays fast and repeatable);
``pytest tests/unit/test_fuzz_properties.py --fuzz-examples 2000`` runs a long random search.
"""

from __future__ import annotations

import contextlib
import json
import math
import tempfile
import warnings
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from hypothesis.extra import pandas as hpd

from synthpatient import GaussianCopulaSynthesizer, Schema, quality_summary
from synthpatient._io import read_table
from synthpatient.errors import SynthPatientError
from synthpatient.evaluation.evaluate import evaluate
from synthpatient.knowledge import load_knowledge_base
from synthpatient.knowledge.conversation import Conversation
from synthpatient.knowledge.request import CohortRequest, parse_request
from synthpatient.knowledge.sampler import MAX_PATIENTS
from synthpatient.schema import category_key
from tests.conftest import make_clinical_table

KB = load_knowledge_base()


def assert_one_line(exc: SynthPatientError) -> None:
    message = str(exc).strip()
    assert message, f"{type(exc).__name__} with an empty message"
    assert "\n" not in message, f"{type(exc).__name__} message is not one line: {message!r}"
    assert "Traceback" not in message


# --- strategies -----------------------------------------------------------------------------

HOSTILE_TEXT = [
    "café",
    "日本語",
    "مريض",
    "\u202eevil",
    "🙂",
    "a\x00b",
    "line\nbreak",
    "\r",
    "\x1b[31mred",
    "",
    " ",
    "NULL",
    "nan",
    "NaN",
    "N/A",
    "1e308",
    "-0.0",
    "inf",
    "[/]",
    "{0}",
    "%s",
    "x" * 200,
    "\ufeffbom",
    "TRUE",
    "1",
    "1.0",
]
NUMBERS = (
    st.floats(allow_nan=True, allow_infinity=False)
    | st.integers(-(2**70), 2**70)
    | st.sampled_from([1e308, -1e308, -0.0, 5e-324, 2**63, -(2**63)])
)
TEXT = st.text(st.characters(codec="utf-8"), max_size=10) | st.sampled_from(HOSTILE_TEXT)
DATES = st.datetimes(
    min_value=datetime(1700, 1, 1), max_value=datetime(2250, 1, 1)
) | st.sampled_from(["1066-10-14", "9999-12-31", "2020-02-29", "2021-13-01"])
TZ_DATES = st.datetimes(
    min_value=datetime(1900, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
    ),
)
CELLS = {
    "number": NUMBERS,
    "small-int": st.integers(0, 4),
    "text": TEXT,
    "category": st.sampled_from(["a", "b", "c", "é", "🙂"]),
    "bool": st.booleans(),
    "bool-word": st.sampled_from(["yes", "no", "Y", "true", "False"]),
    "date": DATES,
    "tz-date": TZ_DATES,
    "duration": st.timedeltas(max_value=timedelta(days=3000)),
    "bytes": st.binary(max_size=4),
    "list": st.lists(st.integers(0, 3), max_size=2),
    "mixed": st.one_of(NUMBERS, TEXT, st.booleans()),
}
NAMES = st.sampled_from(
    [
        "age",
        "sex",
        "bmi",
        "visit",
        "Patient ID",
        "name",
        "notes",
        "",
        " ",
        "日本",
        "[/]",
        "a,b",
        "x" * 300,
    ]
) | st.text(max_size=6)


@st.composite
def messy_frames(draw: st.DrawFn, max_rows: int = 25) -> pd.DataFrame:
    """Object columns of any kind of cell, missing values anywhere, odd column names and
    pandas dtypes (categorical, nullable integers, strings)."""
    n_rows = draw(st.integers(1, max_rows))
    data: dict[str, Any] = {}
    for i in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(sorted(CELLS)))
        missing = draw(st.sampled_from([0.0, 0.0, 0.2, 1.0]))
        cells = draw(
            st.lists(
                st.one_of(CELLS[kind], st.none()) if missing else CELLS[kind],
                min_size=n_rows,
                max_size=n_rows,
            )
        )
        name = draw(NAMES) if draw(st.booleans()) else f"c{i}"
        data[name if name not in data else f"{name}_{i}"] = cells
    frame = pd.DataFrame(data)
    for column in frame.columns:
        cast = draw(st.sampled_from([None, None, "category", "string", "Int64"]))
        if cast is not None:  # cells that cannot take that dtype keep the one they have
            with contextlib.suppress(TypeError, ValueError, OverflowError):
                frame[column] = frame[column].astype(cast)
    return frame


def typed_frames(max_rows: int = 30) -> st.SearchStrategy[pd.DataFrame]:
    """Columns of real numpy dtypes, through hypothesis.extra.pandas."""
    return hpd.data_frames(
        columns=[
            hpd.column("age", elements=st.integers(0, 120), dtype=int),
            hpd.column("bmi", elements=st.floats(10, 80) | st.just(np.nan), dtype=float),
            hpd.column("lab", elements=st.floats(-1e300, 1e300) | st.just(np.nan), dtype=float),
            hpd.column("smoker", elements=st.sampled_from(["never", "former", "current"])),
            hpd.column("flag", elements=st.booleans(), dtype=bool),
            hpd.column(
                "seen",
                elements=st.datetimes(
                    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)
                ),
                dtype="datetime64[ns]",
            ),
        ],
        index=hpd.range_indexes(min_size=1, max_size=max_rows),
    )


def _shown(frame: pd.DataFrame) -> str:
    """A failing table in a form that can be pasted back (hypothesis prints notes)."""
    return f"pd.DataFrame({frame.to_dict('list')!r}) with dtypes {dict(frame.dtypes.astype(str))}"


def _pipeline(frame: pd.DataFrame, n_rows: int) -> None:
    """infer -> fit -> sample -> quality_summary: each promise checked, or a one-line error."""
    note(_shown(frame))
    before = frame.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            schema = Schema.infer(frame)
            json.loads(schema.to_json())
            model = GaussianCopulaSynthesizer(seed=0).fit(frame, schema=schema)
            synthetic = model.sample(n_rows)
            assert len(synthetic) == n_rows
            assert list(synthetic.columns) == [str(c) for c in frame.columns]
            if n_rows:
                summary = quality_summary(frame, synthetic, schema)
                if math.isfinite(summary["score"]):
                    assert 0.0 <= summary["score"] <= 1.0
        except SynthPatientError as exc:
            assert_one_line(exc)
    pd.testing.assert_frame_equal(frame, before)  # the caller's table is never changed


# --- tables through the pipeline ------------------------------------------------------------


def test_messy_tables_give_rows_or_one_line_errors(fuzz_settings):
    @fuzz_settings(40)
    @given(frame=messy_frames(), n_rows=st.sampled_from([0, 1, 7, 60]))
    def check(frame: pd.DataFrame, n_rows: int) -> None:
        _pipeline(frame, n_rows)

    check()


def test_typed_tables_give_rows_or_one_line_errors(fuzz_settings):
    @fuzz_settings(30)
    @given(frame=typed_frames(), n_rows=st.sampled_from([1, 25]))
    def check(frame: pd.DataFrame, n_rows: int) -> None:
        _pipeline(frame, n_rows)

    check()


def test_evaluate_gives_a_report_or_a_one_line_error(fuzz_settings):
    @fuzz_settings(6)
    @given(real=typed_frames(20), synthetic=typed_frames(20))
    def check(real: pd.DataFrame, synthetic: pd.DataFrame) -> None:
        note(f"real = {_shown(real)}; synthetic = {_shown(synthetic)}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                report = evaluate(real, synthetic)
            except SynthPatientError as exc:
                assert_one_line(exc)
                return
        json.loads(report.to_json())
        assert set(report.summary.columns) >= {"family", "metric", "score", "verdict"}

    check()


# --- conditions -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted() -> GaussianCopulaSynthesizer:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GaussianCopulaSynthesizer(seed=0).fit(make_clinical_table(200, seed=1))


CONDITION_VALUES = st.one_of(
    NUMBERS,
    TEXT,
    st.booleans(),
    st.none(),
    st.sampled_from(["female", "never", "cardiac"]),
    st.tuples(st.one_of(st.none(), NUMBERS, TEXT), st.one_of(st.none(), NUMBERS, TEXT)),
    st.lists(st.integers(0, 90), max_size=3),
    st.sampled_from([10**400, float("inf"), b"\xff"]),
)
CONDITION_COLUMNS = st.sampled_from(
    [
        "age",
        "sex",
        "bmi",
        "ldl",
        "smoker",
        "on_insulin",
        "admitted",
        "cause_of_death",
        "name",
        "patient_id",
        "nope",
    ]
)


_BOOL_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _meets(values: pd.Series, wanted: Any) -> bool:
    """Whether every sampled value meets one condition (a value, or a (low, high) range)."""
    if values.isna().any():
        return False
    if pd.api.types.is_bool_dtype(values):
        flag = wanted if isinstance(wanted, bool) else _BOOL_WORDS.get(category_key(wanted).lower())
        return bool((values == flag).all())
    if pd.api.types.is_datetime64_any_dtype(values):
        numbers = values.astype("int64").to_numpy(dtype=float)

        def to_number(v: Any) -> float:
            return float(pd.Timestamp(v).value)
    elif pd.api.types.is_numeric_dtype(values):
        numbers, to_number = values.to_numpy(dtype=float), float
    else:
        return bool((values.map(category_key) == category_key(wanted)).all())
    if isinstance(wanted, tuple | list):
        low, high = (None if v is None else to_number(v) for v in wanted)
        ok = np.ones(len(numbers), dtype=bool)
        if low is not None:
            ok &= numbers >= low - 1e-6 * max(1.0, abs(low))
        if high is not None:
            ok &= numbers <= high + 1e-6 * max(1.0, abs(high))
        return bool(ok.all())
    return bool(np.isclose(numbers, to_number(wanted), rtol=1e-9, atol=1e-9).all())


def test_random_conditions_are_met_or_refused_in_one_line(fitted, fuzz_settings):
    @fuzz_settings(40)
    @given(
        conditions=st.dictionaries(CONDITION_COLUMNS, CONDITION_VALUES, max_size=3)
        | st.sampled_from([["age"], "sex=female", 5]),
        n_rows=st.sampled_from([1, 30]),
    )
    def check(conditions: Any, n_rows: int) -> None:
        try:
            synthetic = fitted.sample(n_rows, conditions=conditions, seed=1)
        except SynthPatientError as exc:
            assert_one_line(exc)
            return
        assert len(synthetic) == n_rows
        for column, wanted in (conditions or {}).items():
            assert _meets(synthetic[column], wanted), (column, wanted)

    check()


# --- files ----------------------------------------------------------------------------------

CSV_PIECES = st.sampled_from(
    [
        ",",
        ";",
        "\t",
        '"',
        "\n",
        "\r\n",
        "\x00",
        "\ufeff",
        "a",
        "1",
        "2.5",
        "nan",
        "",
        "🙂",
        "x,y",
        "1e400",
        "\\",
    ]
)
FILE_BYTES = st.one_of(
    st.binary(max_size=300),
    st.lists(CSV_PIECES, max_size=60).map(lambda parts: "".join(parts).encode("utf-8")),
    st.lists(
        st.lists(st.one_of(TEXT, NUMBERS.map(str)), min_size=1, max_size=4), min_size=1, max_size=6
    ).map(lambda rows: "\n".join(",".join(r) for r in rows).encode("utf-8", "replace")),
)


def test_read_table_gives_a_table_or_a_one_line_error(fuzz_settings):
    @fuzz_settings(60)
    @given(data=FILE_BYTES, suffix=st.sampled_from([".csv", ".tsv", ".parquet"]))
    def check(data: bytes, suffix: str) -> None:
        with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            path = Path(folder) / f"table{suffix}"
            path.write_bytes(data)
            note(f"{suffix} file with bytes {data!r}")
            try:
                frame = read_table(path)
                assert frame.shape[0] >= 1 and frame.shape[1] >= 1
                Schema.infer(frame)
            except SynthPatientError as exc:
                assert_one_line(exc)

    check()


# --- cohort requests ------------------------------------------------------------------------

REQUEST_PIECES = st.sampled_from(
    [
        "generate",
        "create",
        "2000",
        "two thousand",
        "a million",
        "0",
        "-5",
        "10000000000",
        "1e3",
        "½",
        "٣٠٠",
        "type 2 diabetes",
        "T2D",
        "diabetic",
        "CKD stage 3",
        "COPD",
        "heart failure",
        "hypertension",
        "zebra fever",
        "patients",
        "people",
        "women",
        "men",
        "aged",
        "40",
        "to",
        "65",
        "over",
        "under",
        "between",
        "and",
        "with",
        "without",
        "HbA1c",
        "eGFR",
        "BMI",
        "on",
        "insulin",
        "observations",
        "20",
        "seed",
        "42",
        "as",
        "FHIR",
        "parquet",
        "csv",
        "US",
        "UK",
        "population",
        "?",
        "which sources",
        "what is",
        "\x1b[31m",
        "\u202e",
        "🙂",
        "\x00",
        "-",
        "%s",
        "{0}",
        "9" * 40,
    ]
)
REQUESTS = st.one_of(
    st.lists(REQUEST_PIECES, max_size=14).map(" ".join),
    st.text(st.characters(codec="utf-8"), max_size=80),
    st.sampled_from(["1 " * 999, "with " * 399 + "patients", "x" * 2001]),
)


def test_request_parser_gives_a_request_or_a_one_line_clarification(fuzz_settings):
    @fuzz_settings(80)
    @given(text=REQUESTS)
    def check(text: str) -> None:
        try:
            request = parse_request(text, KB)
        except SynthPatientError as exc:
            assert_one_line(exc)
            return
        assert isinstance(request, CohortRequest)
        assert 1 <= request.count <= MAX_PATIENTS
        assert request.age_min <= request.age_max
        assert request.describe(KB)
        try:
            request.to_spec(KB)
        except SynthPatientError as exc:
            assert_one_line(exc)

    check()


def test_a_conversation_answers_every_text_and_writes_nothing_before_confirmation(fuzz_settings):
    @fuzz_settings(40)
    @given(first=REQUESTS, second=REQUESTS)
    def check(first: str, second: str) -> None:
        with tempfile.TemporaryDirectory() as folder:
            chat = Conversation(out_dir=Path(folder) / "cohort")
            for text in (first, second if second.strip().lower() not in {"yes", "y"} else "no"):
                reply = chat.send(text)
                assert reply.kind in {"confirm", "answer", "clarify", "exported", "generated"}
                assert isinstance(reply.text, str) and reply.text.strip()
            assert not any(Path(folder).iterdir()), "a file was written without confirmation"

    check()
