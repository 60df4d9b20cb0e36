"""Fuzz-campaign findings through the Python API and the CLI, each kept as a regression test:
every outcome is a result or one line of our own error, never another exception."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from synthpatient import GaussianCopulaSynthesizer, Synthesizer
from synthpatient.errors import ConditionError, InvalidParameterError
from tests.conftest import make_clinical_table


@pytest.fixture(scope="module")
def model():
    return GaussianCopulaSynthesizer(seed=0).fit(make_clinical_table(120))


def test_a_numpy_seed_saves_and_loads(tmp_path):
    model = GaussianCopulaSynthesizer(seed=np.int64(3)).fit(make_clinical_table(60))
    model.save(tmp_path / "m")
    assert Synthesizer.load(tmp_path / "m").seed == 3


@pytest.mark.parametrize(
    "conditions",
    [
        {"bmi": 10**400},
        {"bmi": (None, 10**400)},
        {"bmi": "\n"},
        {"sex": "a\nb"},
        {"sex": "x" * 500},
    ],
)
def test_absurd_or_multiline_condition_values_are_one_line(model, conditions):
    with pytest.raises(ConditionError) as caught:
        model.sample(5, conditions=conditions)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 400


def test_more_rows_than_memory_is_refused_before_sampling(model):
    with pytest.raises(InvalidParameterError, match="does not fit in memory"):
        model.sample(10**15)


def test_the_seed_as_a_parameter_is_refused_in_one_line(tmp_path):
    make_clinical_table(60).to_csv(tmp_path / "real.csv", index=False)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "synthpatient",
            "generate",
            "real.csv",
            "-o",
            "s.csv",
            "-p",
            "seed=5",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "--seed" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "s.csv").exists()
