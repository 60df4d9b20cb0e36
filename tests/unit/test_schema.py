"""Schema inference, validation and JSON io."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from synthpatient.errors import DataError, MixedTypesError, SchemaValidationError
from synthpatient.schema import ColumnSpec, Schema


def test_infers_every_kind(clinical_table):
    schema = Schema.infer(clinical_table)
    kinds = {c.name: c.kind for c in schema}
    assert kinds == {
        "patient_id": "identifier",
        "name": "identifier",
        "email": "identifier",
        "age": "integer",
        "sex": "categorical",
        "bmi": "numeric",
        "hba1c": "numeric",
        "ldl": "integer",
        "smoker": "categorical",
        "on_insulin": "boolean",
        "admitted": "datetime",
        "died": "boolean",
        "cause_of_death": "categorical",
    }
    assert schema["ldl"].nullable and schema["cause_of_death"].nullable
    assert not schema["age"].nullable
    assert schema["bmi"].decimals == 1
    assert schema["admitted"].datetime_unit == "day"
    assert schema["email"].identifier_type == "email"
    assert schema["name"].identifier_type == "name"


def test_low_cardinality_integers_are_categorical(diabetes):
    schema = Schema.infer(diabetes)
    assert schema["sex"].kind == "categorical"
    assert set(schema["sex"].categories) == {1, 2}
    assert schema["age"].kind == "integer"
    assert schema["s5"].kind == "numeric" and schema["s5"].decimals == 4


def test_identifiers_detected_by_content_and_name():
    n = 50
    frame = pd.DataFrame(
        {
            "MRN": [f"X{i:05d}" for i in range(n)],
            "contact": [f"p{i}@mail.com" for i in range(n)],
            "Phone Number": [f"555-{i:04d}" for i in range(n)],
            "home address": [f"{i} Main Street" for i in range(n)],
            "value": np.arange(n) % 7,
        }
    )
    schema = Schema.infer(frame)
    assert [c.kind for c in schema] == ["identifier"] * 4 + ["integer"]
    assert schema["contact"].identifier_type == "email"
    assert schema["Phone Number"].identifier_type == "phone"
    assert schema["home address"].identifier_type == "address"


def test_text_columns_detected():
    notes = [f"patient {i} reports mild chest pain after exercise" for i in range(40)]
    schema = Schema.infer(pd.DataFrame({"note": notes, "x": range(40)}))
    assert schema["note"].kind == "text"


def test_numbers_and_dates_in_text_are_parsed():
    frame = pd.DataFrame(
        {"a": ["1.5", "2.25", None, "3"], "d": ["2020-01-01", "2021-03-04", "2020-05-06", None]}
    )
    schema = Schema.infer(frame)
    assert schema["a"].kind == "numeric" and schema["a"].nullable
    assert schema["d"].kind == "datetime"


def test_mixed_types_refused_without_values_in_message():
    frame = pd.DataFrame({"lab": ["1.5", "2.5", "3.5", "<0.1", "2.0"]})
    with pytest.raises(MixedTypesError, match="lab") as info:
        Schema.infer(frame)
    assert "<0.1" not in str(info.value)


@pytest.mark.parametrize(
    "frame, message",
    [
        (pd.DataFrame(), "no columns"),
        (pd.DataFrame({"a": []}), "no rows"),
        (pd.DataFrame({"a": [1, 2], "b": [None, None]}), "no values"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), "duplicate"),
    ],
)
def test_bad_tables(frame, message):
    with pytest.raises(DataError, match=message):
        Schema.infer(frame)


def test_validate_reports_every_problem_at_once(clinical_table):
    schema = Schema.infer(clinical_table)
    bad = clinical_table.drop(columns=["bmi"]).assign(extra=1)
    bad.loc[0, "age"] = None
    bad.loc[1, "smoker"] = "vaping"
    bad["sex"] = bad["sex"].astype(object)
    bad.loc[2, "age"] = 999
    with pytest.raises(SchemaValidationError) as info:
        schema.validate(bad)
    problems = info.value.problems
    assert any("missing column" in p and "bmi" in p for p in problems)
    assert any("not in the schema" in p and "extra" in p for p in problems)
    assert any("'age'" in p and "missing value" in p for p in problems)
    assert any("'age'" in p and "above the maximum" in p for p in problems)
    assert any("'smoker'" in p and "categories" in p for p in problems)
    assert "vaping" not in str(info.value) and "999" not in str(info.value)


def test_saved_schema_leaks_no_real_extremes_or_categories(diabetes, tmp_path):
    schema = Schema.infer(diabetes)
    text = schema.to_json(tmp_path / "schema.json")
    data = json.loads(text)
    assert all(
        "minimum" not in c and "maximum" not in c and "categories" not in c for c in data["columns"]
    )
    assert str(diabetes["target"].max()) not in text
    kept = json.loads(schema.to_json(include_observed=True))
    assert any(c.get("maximum") == diabetes["target"].max() for c in kept["columns"])
    loaded = Schema.from_json(tmp_path / "schema.json")
    assert loaded.names == schema.names
    assert [c.kind for c in loaded] == [c.kind for c in schema]


def test_edited_schema_bounds_are_kept_when_completed(diabetes):
    schema = Schema.from_json(Schema.infer(diabetes).to_json()).replace(
        "age", minimum=0, maximum=120
    )
    completed = schema.complete(diabetes)
    assert completed["age"].minimum == 0 and completed["age"].maximum == 120
    assert completed["bmi"].minimum == diabetes["bmi"].min()


def test_bad_schema_json_gets_clear_error(tmp_path):
    path = tmp_path / "s.json"
    path.write_text('{"columns": [{"name": "a", "kind": "weird"}]}')
    with pytest.raises(DataError, match="schema is not valid"):
        Schema.from_json(path)
    path.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        Schema.from_json(path)


def test_specs_are_frozen():
    spec = ColumnSpec(name="a", kind="numeric")
    with pytest.raises(ValidationError):
        spec.kind = "integer"  # type: ignore[misc]
