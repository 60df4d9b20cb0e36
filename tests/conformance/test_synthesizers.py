"""The conformance suite: every registered synthesizer; parameter checks on fresh instances,
the others on one fit per backend (the ``fitted`` fixture also watches that fit).

Checks are chosen from each backend's declared ``capabilities`` and parameter constraints,
never from class names, so a new backend is tested the day it is registered. Fixtures are
sized to seconds even on a busy machine (a table of 120 rows, training budgets of a few dozen
steps): the suite checks the contract, not the quality; the real budgets are measured by the
scripts in ``benchmarks/``.

Longitudinal backends (``capabilities.longitudinal``) learn a long table and sample patients:
they get a tiny long table with the same columns (40 patients, 2-5 visits each) and the same
checks, with sizes counted in patients (distinct patient ids) instead of rows.
"""

from __future__ import annotations

import atexit
import inspect
import socket
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from synthpatient.errors import ConditionError, InvalidParameterError, NotFittedError
from synthpatient.synthesizers import Synthesizer, available_synthesizers, get_synthesizer_class
from tests.conftest import make_clinical_table
from tests.fake_llm_server import FakeLLMServer, Faults

KEYS = available_synthesizers()
N_ROWS = 120
N_PATIENTS = 40
KEY = "patient_id"
# Tiny settings per backend for the suite (seconds each); empty means defaults.
FAST_PARAMS: dict[str, dict] = {
    "ctgan": {
        "steps": 80,
        "batch_size": 60,
        "generator_dims": (32,),
        "discriminator_dims": (32,),
        "generator_learning_rate": 5e-3,
        "discriminator_learning_rate": 5e-3,
        "embedding_dim": 16,
        "progress": False,
    },
    "tvae": {
        "steps": 80,
        "batch_size": 60,
        "compress_dims": (32,),
        "decompress_dims": (32,),
        "embedding_dim": 16,
        "learning_rate": 5e-3,
        "progress": False,
    },
    "mst": {"epsilon": 10.0, "n_bins": 6},
    "aim": {"epsilon": 10.0, "n_bins": 4, "rounds": 8},
    "auto": {"candidates": ["copula"], "time_budget_s": 30.0},
    "hybrid": {"base": "copula", "notes_column": None},
    "tabular_lm": {"epochs": 2, "d_model": 16, "n_layers": 1, "n_heads": 2, "progress": False},
}
# The API-backed generator runs against a local test double of an OpenAI-compatible server
# (127.0.0.1 only, a few injected faults); no real LLM and no network are ever used.
_LLM_SERVER = FakeLLMServer(
    faults=Faults(rate_limit=0.05, truncate=0.05, malformed=0.05, misspell=0.02, duplicate=0.02)
)
atexit.register(_LLM_SERVER.close)
FAST_PARAMS["llm"] = {
    "base_url": _LLM_SERVER.url,
    "model": "fake-llm",
    "rows_per_request": 100,
    "timeout_s": 10.0,
    "backoff_s": 0.01,
}


def _make(key: str, **extra) -> Synthesizer:
    return get_synthesizer_class(key)(**{**FAST_PARAMS.get(key, {}), **extra})


def _longitudinal(key: str) -> bool:
    return get_synthesizer_class(key).capabilities.longitudinal


def make_long_table(n_patients: int, seed: int) -> pd.DataFrame:
    """The clinical table's patients, each with 2-5 visits: identifiers, age, sex and smoking
    constant per patient; visit day, BMI, HbA1c and LDL (sometimes missing) moving."""
    rng = np.random.default_rng(seed)
    patients = make_clinical_table(n_patients, seed=seed)
    visits = rng.integers(2, 6, n_patients)
    rows = patients.loc[np.repeat(np.arange(n_patients), visits)].reset_index(drop=True)
    step = rng.normal(0, 1, len(rows))
    start = np.r_[True, rows["patient_id"].to_numpy()[1:] != rows["patient_id"].to_numpy()[:-1]]
    walk = pd.Series(step).groupby(np.cumsum(start)).cumsum().to_numpy()
    gaps = np.where(start, 0, rng.integers(30, 200, len(rows)))
    return pd.DataFrame(
        {
            KEY: rows[KEY],
            "name": rows["name"],
            "email": rows["email"],
            "age": rows["age"],
            "sex": rows["sex"],
            "smoker": rows["smoker"],
            "day": pd.Series(gaps).groupby(np.cumsum(start)).cumsum().to_numpy(),
            "bmi": np.round(rows["bmi"] + walk, 1),
            "hba1c": np.round(rows["hba1c"] + 0.2 * walk, 1),
            "ldl": np.where(rng.random(len(rows)) < 0.15, np.nan, np.round(4 * rows["bmi"] + walk)),
        }
    )


def _size(synth: Synthesizer, frame: pd.DataFrame) -> int:
    """Rows, or patients for a longitudinal backend (its n counts patients)."""
    return frame[KEY].nunique() if synth.capabilities.longitudinal else len(frame)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return make_clinical_table(N_ROWS, seed=1)


@pytest.fixture(scope="module")
def long_table() -> pd.DataFrame:
    return make_long_table(N_PATIENTS, seed=1)


@pytest.fixture(scope="module")
def tables(table, long_table):
    """The training table a backend takes: rows, or a long table for longitudinal ones."""
    return lambda key: long_table if _longitudinal(key) else table


#: What each backend's one fit did (by id of the fitted instance), watched by ``fitted``.
FITS: dict[int, dict[str, Any]] = {}


def _refuse(connections: list[Any]) -> Callable[..., None]:
    """A ``socket.connect`` that records the attempt and refuses it."""

    def connect(sock: socket.socket, address: Any, *args: Any) -> None:
        connections.append(address)
        raise ConnectionRefusedError("the conformance suite refuses network connections")

    return connect


@pytest.fixture(scope="module", params=KEYS)
def fitted(request, tables):
    """Each backend fitted once for every check below (fits are the suite's cost). The fit
    itself is watched: what it returned, whether it changed its input, and any network
    connection (refused unless the backend declares it talks to a server); the tests
    ``test_fit_returns_self_and_does_not_mutate_input`` and ``test_no_network_unless_declared``
    read what was seen."""
    table = tables(request.param)
    before = table.copy(deep=True)
    synth = _make(request.param, seed=0)
    connections: list[Any] = []
    with pytest.MonkeyPatch.context() as patch:
        if not synth.uses_network():
            patch.setattr(socket.socket, "connect", _refuse(connections))
        returned = synth.fit(table)
    try:
        pd.testing.assert_frame_equal(table, before)
        changed = None
    except AssertionError as exc:
        changed = str(exc)
    FITS[id(synth)] = {"returned": returned, "changed": changed, "connections": connections}
    return synth


@pytest.mark.parametrize("key", KEYS)
def test_init_only_stores_params(key):
    params = {**FAST_PARAMS.get(key, {}), "seed": 3}
    synth = _make(key, seed=3)
    assert synth.get_params() == {**synth.get_params(), **params}
    assert not [name for name in vars(synth) if name.endswith("_") and not name.startswith("_")]
    assert not synth.is_fitted


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("seed", [-1, "abc", 1.5, True])
def test_bad_seed_rejected_at_init(key, seed):
    with pytest.raises(InvalidParameterError, match="seed"):
        _make(key, seed=seed)


@pytest.mark.parametrize("key", KEYS)
def test_every_parameter_is_constrained_and_its_default_allowed(key):
    klass = get_synthesizer_class(key)
    declared = klass._parameter_constraints
    assert sorted(declared) == sorted(n for n in klass._param_names() if n != "seed")
    defaults = {name: p.default for name, p in inspect.signature(klass.__init__).parameters.items()}
    for name, param in declared.items():
        value = FAST_PARAMS.get(key, {}).get(name, defaults[name])
        assert param.allows(value), f"{key}: the default of '{name}' breaks its constraint"


@pytest.mark.parametrize(
    ("key", "name"),
    [(key, name) for key in KEYS for name in get_synthesizer_class(key)._parameter_constraints],
)
def test_every_declared_constraint_rejects_a_bad_value_in_one_line(key, name):
    param = get_synthesizer_class(key)._parameter_constraints[name]
    bad = param.bad_value()
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of") as info:
        _make(key, **{name: bad})
    message = str(info.value)
    assert "\n" not in message and message.endswith(".")
    assert param.secret or repr(bad)[:20] in message  # the value is shown, unless secret


@pytest.mark.parametrize("key", KEYS)
def test_capabilities_are_class_data_that_match_the_parameters(key):
    klass = get_synthesizer_class(key)
    caps = klass.capabilities
    assert _make(key).capabilities is caps  # never computed per instance
    params = klass._param_names()
    assert caps.accepts_epsilon == ("epsilon" in params)
    assert not caps.differentially_private or caps.accepts_epsilon
    assert caps.fine_tunes == ("base_model" in params)
    assert not caps.needs_network or klass.endpoint_params


@pytest.mark.parametrize("key", KEYS)
def test_sample_and_save_before_fit_raise(key, tmp_path):
    synth = _make(key)
    with pytest.raises(NotFittedError, match="fit"):
        synth.sample(5)
    with pytest.raises(NotFittedError):
        synth.save(tmp_path / "model")


def test_fit_returns_self_and_does_not_mutate_input(fitted):
    seen = FITS[id(fitted)]
    assert seen["returned"] is fitted
    assert seen["changed"] is None, f"fit changed its input: {seen['changed']}"


@pytest.mark.parametrize("n_rows", [0, 1, 257])
def test_sizes_and_schema_conformance(fitted, tables, n_rows):
    synthetic = fitted.sample(n_rows, seed=1)
    assert _size(fitted, synthetic) == n_rows
    assert list(synthetic.columns) == list(tables(fitted.key).columns)
    if n_rows:
        fitted.schema_.validate(synthetic)


def test_bad_n_rows_rejected(fitted):
    for bad in (-1, 2.5, "10", True):
        with pytest.raises(InvalidParameterError, match="n_rows"):
            fitted.sample(bad)


def test_same_seed_same_rows_and_different_seed_different_rows(fitted):
    first = fitted.sample(50, seed=11)
    pd.testing.assert_frame_equal(first, fitted.sample(50, seed=11))
    other = fitted.sample(50, seed=12)
    learned = [c.name for c in fitted.schema_.learned]
    assert not first[learned].equals(other[learned])


def test_save_load_round_trip_gives_same_rows(fitted, tmp_path):
    fitted.save(tmp_path / "model")
    # a folder never chooses a server: network-using models get theirs again on load
    endpoint = {name: getattr(fitted, name) for name in fitted.endpoint_params}
    loaded = Synthesizer.load(tmp_path / "model", **endpoint)
    assert type(loaded) is type(fitted)
    pd.testing.assert_frame_equal(fitted.sample(40, seed=5), loaded.sample(40, seed=5))
    # no pickle anywhere: every array loads with pickling disabled
    with np.load(tmp_path / "model" / "arrays.npz", allow_pickle=False) as arrays:
        assert arrays.files


def test_identifiers_are_never_copied(fitted, tables):
    table = tables(fitted.key)
    synthetic = fitted.sample(300, seed=2)
    for column in ("patient_id", "name", "email"):
        assert fitted.schema_[column].kind == "identifier"
        assert not set(synthetic[column]) & set(table[column])


def test_categorical_condition_honoured(fitted):
    synthetic = fitted.sample(120, conditions={"sex": "female"}, seed=3)
    assert _size(fitted, synthetic) == 120
    assert (synthetic["sex"] == "female").all()


def test_range_condition_honoured(fitted):
    if not fitted.capabilities.range_conditions:
        pytest.skip(f"{fitted.key} declares no range conditions")
    synthetic = fitted.sample(100, conditions={"age": (40, 65), "sex": "male"}, seed=3)
    assert _size(fitted, synthetic) == 100
    assert synthetic["age"].between(40, 65).all() and (synthetic["sex"] == "male").all()


def test_impossible_conditions_raise_clear_errors(fitted):
    with pytest.raises(ConditionError, match="not a category"):
        fitted.sample(10, conditions={"sex": "unknown"})
    with pytest.raises(ConditionError, match="no such column"):
        fitted.sample(10, conditions={"height": 3})
    with pytest.raises(ConditionError, match="outside"):
        fitted.sample(10, conditions={"age": (500, 600)})
    with pytest.raises(ConditionError, match="identifier"):
        fitted.sample(10, conditions={"patient_id": 3})


def test_missing_values_handled(fitted, tables):
    if not fitted.capabilities.handles_missing:
        pytest.skip(f"{fitted.key} declares no missing-value support")
    table = tables(fitted.key)
    synthetic = fitted.sample(2000 if not fitted.capabilities.longitudinal else 600, seed=4)
    real_rate = table["ldl"].isna().mean()
    assert abs(synthetic["ldl"].isna().mean() - real_rate) < 0.06
    assert synthetic["age"].notna().all()


def test_no_network_unless_declared(fitted, monkeypatch):
    if fitted.uses_network():
        pytest.skip(f"{fitted.key} talks to a server by design")
    connections: list[Any] = []
    monkeypatch.setattr(socket.socket, "connect", _refuse(connections))
    fitted.sample(20, seed=0)
    assert not FITS[id(fitted)]["connections"], f"{fitted.key} connected while fitting"
    assert not connections, f"{fitted.key} connected while sampling"
