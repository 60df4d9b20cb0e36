"""The template every backend fills: a new synthesizer is one class (hooks, capabilities, a
parameter table) plus one registry line. Checked here with a small but real backend that
draws each column independently from the training rows (a bootstrap of the marginals)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from synthpatient.errors import ConditionError, InvalidParameterError, ModelFileError
from synthpatient.schema import Schema
from synthpatient.synthesizers import Capabilities, Synthesizer
from synthpatient.synthesizers._conditions import Condition
from synthpatient.synthesizers._constraints import Boolean, Interval, Options, Param
from synthpatient.synthesizers._persistence import expect
from tests.conftest import make_clinical_table


class MarginalSynthesizer(Synthesizer):
    """Each learned column drawn on its own from the training rows (no dependence at all).

    Args:
        shrink: share of each drawn number pulled towards the column's median.
        mode: "bootstrap" (draw training values) or "median" (every number the median).
        flag: add a constant ``_flag`` column to every sample (the post-processing hook).
        seed: seed for sampling.

    Examples:
        >>> MarginalSynthesizer(seed=0).fit(real).sample(10)
    """

    key = "marginal"
    capabilities = Capabilities(range_conditions=True, handles_missing=True)
    _parameter_constraints = {
        "shrink": Param(Interval(float, 0, 1)),
        "mode": Param(Options("bootstrap", "median")),
        "flag": Param(Boolean()),
    }

    def __init__(
        self,
        *,
        shrink: float = 0.0,
        mode: str = "bootstrap",
        flag: bool = False,
        seed: int | None = None,
    ) -> None:
        self.shrink = shrink
        self.mode = mode
        self.flag = flag
        super().__init__(seed=seed)

    def _fit(self, data: pd.DataFrame, schema: Schema, rng: np.random.Generator) -> None:
        self.columns_ = {name: data[name].to_numpy(copy=True) for name in data.columns}

    def _sample(
        self, n_rows: int, rng: np.random.Generator, conditions: list[Condition]
    ) -> pd.DataFrame:
        assert not conditions  # none are native: the base class meets them by rejection
        self.sample_calls_ = getattr(self, "sample_calls_", 0) + 1
        return pd.DataFrame(
            {
                name: values[rng.integers(0, len(values), n_rows)]
                for name, values in self.columns_.items()
            }
        )

    def _after_sample(self, frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        return frame.assign(_flag=True) if self.flag else frame

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        numeric = {k: v for k, v in self.columns_.items() if v.dtype.kind in "fiub"}
        other = {k: v.tolist() for k, v in self.columns_.items() if k not in numeric}
        return {"other": other}, {f"col.{k}": v for k, v in numeric.items()}

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        expect(isinstance(state.get("other"), dict), "the columns are missing")
        found = {k[4:]: v for k, v in arrays.items()}
        found.update({k: np.array(v, dtype=object) for k, v in state["other"].items()})
        self.columns_ = {spec.name: found[spec.name] for spec in self.schema_.learned}


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return make_clinical_table(200, seed=7).drop(columns=["admitted"])


def test_the_parameter_table_gives_one_line_errors():
    with pytest.raises(
        InvalidParameterError,
        match=r"^The 'shrink' parameter of "
        r"MarginalSynthesizer must be a number in \[0, 1\]\. Got 2\.$",
    ):
        MarginalSynthesizer(shrink=2)
    with pytest.raises(InvalidParameterError, match="one of 'bootstrap', 'median'. Got 'x'"):
        MarginalSynthesizer(mode="x")
    with pytest.raises(InvalidParameterError, match="'flag' .* True or False. Got 1."):
        MarginalSynthesizer(flag=1)
    assert MarginalSynthesizer(shrink=np.float32(0.5)).shrink == 0.5


def test_conditions_are_met_by_the_one_rejection_loop(table):
    # without the table's relations: rows that break one would be drawn again (more calls)
    synth = MarginalSynthesizer(seed=0).fit(table, schema=Schema.infer(table).with_relations(()))
    rows = synth.sample(300, conditions={"sex": "female", "age": (30, 40)}, seed=1)
    assert len(rows) == 300 and (rows["sex"] == "female").all()
    assert rows["age"].between(30, 40).all()
    # batches follow the acceptance seen (about 1 in 13 here): a handful, not hundreds
    assert synth.sample_calls_ <= 6


def test_rare_conditions_fail_in_one_line_naming_the_columns(table):
    synth = MarginalSynthesizer(seed=0).fit(table)
    age = int(table["age"].iloc[0])
    rare = {"age": age, "bmi": float(table["bmi"].iloc[0]), "smoker": "unknown-rare"}
    with pytest.raises(
        ConditionError, match="conditions on age, bmi, smoker: they are too rare"
    ) as info:
        synth.sample(50, conditions=rare, seed=0)
    assert "\n" not in str(info.value)


def test_the_post_processing_hook_and_the_same_seed(table):
    synth = MarginalSynthesizer(flag=True, seed=0).fit(table)
    first = synth.sample(40, seed=3)
    assert first["_flag"].all() and list(first.columns)[:-1] == list(table.columns)
    pd.testing.assert_frame_equal(first, synth.sample(40, seed=3))
    assert synth.last_sample_report_ is None  # nothing to report


def test_a_model_in_memory_round_trips_and_is_checked(table):
    synth = MarginalSynthesizer(seed=0).fit(table)
    saved = synth.to_saved()
    again = MarginalSynthesizer.from_saved(saved)
    pd.testing.assert_frame_equal(synth.sample(30, seed=2), again.sample(30, seed=2))
    broken = type(saved)(saved.manifest, saved.schema, {"other": 3}, saved.arrays)
    with pytest.raises(ModelFileError, match="the columns are missing"):
        MarginalSynthesizer.from_saved(broken)
    wrong = type(saved)(
        {**saved.manifest, "params": {"shrink": 5}}, saved.schema, saved.state, saved.arrays
    )
    with pytest.raises(ModelFileError, match="its parameters do not fit"):
        MarginalSynthesizer.from_saved(wrong)


@pytest.mark.parametrize("public", ["fit", "sample", "save", "load"])
def test_no_backend_overrides_the_public_methods(public):
    # the template: validation, seeding, schema enforcement and identifiers live in the base
    # only; backends (the longitudinal one included) fill the private hooks
    from synthpatient.synthesizers import available_synthesizers, get_synthesizer_class

    for key in available_synthesizers():
        klass = get_synthesizer_class(key)
        owners = [c for c in klass.__mro__ if public in vars(c)]
        assert owners[0] is Synthesizer, f"{key} defines its own {public}()"
