"""The clinical-consistency rules engine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthpatient import datasets
from synthpatient.errors import DataError
from synthpatient.rules import RuleSet, list_rule_packs, load_rule_pack

RULES = """
name: test
rules:
  - id: bp-order
    description: diastolic below systolic
    compare: {left: diastolic, op: "<", right: systolic}
  - id: stay
    compare: {left: discharged, op: ">=", right: admitted}
  - id: pregnancy-female
    implies: {if: "pregnant == True", then: "sex == 'female'"}
  - id: bmi
    range: {column: bmi, min: 12, max: 80}
  - id: smoker-known
    expression: "smoker in ['never', 'former', 'current']"
"""


@pytest.fixture
def frame():
    return pd.DataFrame(
        {
            "systolic": [120, 110, 130, np.nan],
            "diastolic": [80, 115, 85, 70],
            "admitted": pd.to_datetime(["2020-01-01", "2020-01-05", "2020-02-01", "2020-03-01"]),
            "discharged": pd.to_datetime(["2020-01-03", "2020-01-04", "2020-02-01", None]),
            "pregnant": [True, True, False, False],
            "sex": ["female", "male", "male", "female"],
            "bmi": [22.0, 95.0, np.nan, 11.0],
            "smoker": ["never", "vaping", "current", None],
        }
    )


def test_each_rule_type_flags_the_right_rows(frame):
    results = {r.rule_id: r for r in RuleSet.from_yaml(RULES).check(frame)}
    assert results["bp-order"].violations.tolist() == [False, True, False, False]
    assert results["bp-order"].n_applicable == 3  # a missing systolic is not a violation
    assert results["stay"].violations.tolist() == [False, True, False, False]
    assert results["pregnancy-female"].violations.tolist() == [False, True, False, False]
    assert results["pregnancy-female"].n_applicable == 2
    assert results["bmi"].violations.tolist() == [False, True, False, True]
    assert results["smoker-known"].violations.tolist() == [False, True, False, False]
    assert results["bp-order"].message == "1 of 3 rows break 'bp-order': diastolic below systolic"


def test_flags_and_compare(frame):
    rules = RuleSet.from_yaml(RULES)
    flags = rules.flags(frame)
    assert list(flags.columns) == [r.id for r in rules.rules] and flags.loc[1].all()
    table = rules.compare(frame.iloc[[0, 2]], frame)
    assert table.loc[table.rule == "bp-order", "real_rate"].item() == 0
    assert table.loc[table.rule == "bp-order", "synthetic_rate"].item() == pytest.approx(1 / 3)


def test_yaml_syntax_error_names_line_and_column(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - id: a\n    range: {column: x, min: 1\n")
    with pytest.raises(DataError, match=r"line \d+, column \d+"):
        RuleSet.from_yaml(str(path))


@pytest.mark.parametrize(
    "text, message",
    [
        ("rules:\n  - id: a\n", "exactly one"),
        ("rules:\n  - id: a\n    expression: 'x <'\n", "syntax error"),
        ("rules:\n  - id: a\n    expression: \"__import__('os')\"\n", "only these"),
        ("rules:\n  - id: a\n    expression: 'x.real > 1'\n", "not allowed"),
        (
            "rules:\n  - id: a\n    expression: 'x > 1'\n  - id: a\n    expression: 'x > 2'\n",
            "unique",
        ),
        ("just text", "list of rules"),
    ],
)
def test_invalid_rules_get_clear_errors(text, message):
    with pytest.raises(DataError, match=message):
        RuleSet.from_yaml(text)


def test_rules_reading_missing_columns_fail_clearly(frame):
    rules = RuleSet.from_yaml("rules:\n  - id: a\n    expression: 'height > 1'\n")
    with pytest.raises(DataError, match="height"):
        rules.check(frame)


def test_diabetes_pack_holds_on_the_real_table():
    assert "diabetes" in list_rule_packs()
    real = datasets.load("diabetes")
    before = real.copy()
    results = load_rule_pack("diabetes").check(real)
    assert len(results) >= 8 and all(r.n_violations == 0 for r in results)
    pd.testing.assert_frame_equal(real, before)  # checking never alters data
    broken = real.assign(ldl=real["ldl"] + 50)
    friedewald = {r.rule_id: r for r in load_rule_pack("diabetes").check(broken)}["friedewald-ldl"]
    assert friedewald.violation_rate == 1.0
