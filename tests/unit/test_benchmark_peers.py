"""The benchmark's peers: a missing one is named, a failing one is recorded, their rows come
back in the training columns' types, and finished runs are kept for a resumed benchmark."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest

from synthpatient.benchmark import _peers, default_candidates, run_benchmark
from synthpatient.benchmark._candidates import Candidate
from synthpatient.benchmark._runner import _own_seconds


def test_a_missing_peer_is_named_in_the_skipped_list(monkeypatch):
    import synthpatient.benchmark as bench

    monkeypatch.setattr(bench, "peer_available", lambda name: name == "forest_flow")
    monkeypatch.setattr(bench, "sdv_available", lambda: False)
    candidates, skipped = default_candidates(["copula"], include_sdv=True)
    names = [c.name for c in candidates]
    # the benchmark's cheaper Forest-Flow is never shown under the plain name
    assert "forest_flow[n_t=20,duplicate_K=20]" in names and "arf" not in names
    assert not any(name.startswith("sdv") for name in names)
    assert any(s.startswith("arf: arfpy (MIT) not installed") for s in skipped)
    assert any(s.startswith("SDV: sdv (BUSL-1.1) not installed") for s in skipped)


def test_a_peer_failing_in_its_worker_becomes_a_recorded_failure(monkeypatch):
    # this interpreter has no SDV (it needs pandas<3): the worker process starts, answers
    # with the import error, and the runner records it under the peer's name
    monkeypatch.setenv(_peers.ENV_PYTHON, sys.executable)
    if _peers.peer_available("sdv_gaussiancopula"):
        pytest.skip("SDV is importable in this interpreter")
    candidate = _peers.peer_candidate("sdv_gaussiancopula")
    result = run_benchmark([candidate], seeds=2)
    assert result.runs.empty
    assert len(result.failures) == 1  # the second seed is not tried after the first failed
    assert "sdv failed: ModuleNotFoundError" in result.failures[0]
    assert isinstance(candidate, Candidate) and candidate.source == "sdv"


def test_a_worker_that_cannot_start_is_a_one_line_failure(monkeypatch):
    monkeypatch.setenv(_peers.ENV_PYTHON, "/nonexistent/python")
    result = run_benchmark([_peers.peer_candidate("arf")], seeds=1)
    assert len(result.failures) == 1 and "arfpy failed" in result.failures[0]


def test_peer_rows_get_the_training_types_back():
    train = pd.DataFrame({"age": [40, 50], "sex": [1, 2], "bmi": [20.5, 30.1], "site": ["a", "b"]})
    out = pd.DataFrame(
        {"age": [41.4, 49.6], "sex": ["2", "1"], "bmi": np.array([21, 29]), "site": ["b", "a"]}
    )
    restored = _peers.restore_types(out, train)
    assert restored["age"].tolist() == [41, 50] and restored["age"].dtype == np.int64
    assert restored["sex"].tolist() == [2, 1] and pd.api.types.is_integer_dtype(restored["sex"])
    assert restored["bmi"].dtype == np.float64
    assert restored["site"].tolist() == ["b", "a"]


class _Model:
    last_seconds = 0.25


def test_a_peer_is_billed_its_own_time_not_the_process_overhead():
    import time

    assert _own_seconds(_Model(), time.perf_counter() - 10) == 0.25
    assert _own_seconds(object(), time.perf_counter() - 10) >= 10


def test_finished_runs_are_read_back_from_the_checkpoint(tmp_path):
    calls = []

    def fit(train, schema, seed):
        calls.append(seed)
        return train

    def sample(model, n_rows, seed):
        return model.sample(n=n_rows, replace=True, random_state=seed).reset_index(drop=True)

    candidate = Candidate("resample", fit, sample, "test", large_sample=False)
    first = run_benchmark([candidate], seeds=2, checkpoint=tmp_path)
    assert calls == [0, 1] and len(list(tmp_path.glob("*.json"))) == 2
    again = run_benchmark([candidate], seeds=2, checkpoint=tmp_path)
    assert calls == [0, 1]  # nothing fitted again
    pd.testing.assert_frame_equal(first.summary, again.summary)
    # a checkpoint cut short (a kill before writes were atomic) is run again, not a crash
    cut = sorted(tmp_path.glob("*.json"))[1]
    cut.write_text(cut.read_text(encoding="utf-8")[:20], encoding="utf-8")
    run_benchmark([candidate], seeds=2, checkpoint=tmp_path)
    assert calls == [0, 1, 1] and json.loads(cut.read_text(encoding="utf-8"))["seed"] == 1


def test_forest_flow_is_labelled_with_settings_other_than_its_authors():
    assert _peers.forest_flow_candidate().name == "forest_flow"
    quick = _peers.forest_flow_candidate(n_t=20)
    assert quick.name == "forest_flow[n_t=20,duplicate_K=100]"
    assert quick.params["n_t"] == 20 and quick.params["duplicate_K"] == 100


def _peer_or_skip(name: str) -> str:
    """The interpreter that has peer ``name`` (the peers' environment), or a skip that says
    why: these tests run the real peer in its worker, which `make peers` installs."""
    if not _peers.peer_available(name):
        pytest.skip(_peers.peer_note(name))
    return _peers.peer_python()


def _small_table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    age = rng.integers(20, 80, 120)
    table = pd.DataFrame(
        {
            "age": age,
            "sex": rng.choice(["F", "M"], 120),
            "weight": 50 + 0.3 * age + rng.normal(0, 5, 120),
            "smoker": rng.choice([True, False], 120),
            "stage": rng.choice(["I", "II", "III"], 120),
        }
    )
    table.loc[::6, "weight"] = np.nan
    table.loc[::10, "stage"] = None
    return table


def test_py_synthpop_runs_in_its_worker_with_missing_values():
    from synthpatient.schema import Schema

    python = _peer_or_skip("synthpop")
    train = _small_table()
    candidate = _peers.peer_candidate("synthpop")
    assert candidate.name == "synthpop[py-synthpop]" and candidate.source == "py-synthpop"
    model = _peers.PeerProcess("synthpop", python)
    try:
        # py-synthpop 0.1.2 breaks on a missing value in its first column: one line, and the
        # worker serves the next request
        first_missing = train[["weight", "age"]]
        with pytest.raises(RuntimeError, match="first column .'weight'.; put a complete column"):
            model.fit(first_missing, Schema.infer(first_missing), 0, {})
        model.fit(train, Schema.infer(train), 0, {})
        first, again = model.sample(300, 1), model.sample(300, 1)
    finally:
        model.close()
    pd.testing.assert_frame_equal(first, again)  # the donors are drawn from the seeded numpy
    out = _peers.restore_types(first, train)
    assert list(out.columns) == list(train.columns) and len(out) == 300
    assert set(out["sex"]) == {"F", "M"} and set(out["smoker"]) <= {True, False}
    assert set(out["stage"].dropna()) <= {"I", "II", "III"}
    # py-synthpop 0.1.2 keeps the missing values of later columns (a category of its own, a
    # flag column for a number): about a sixth and a tenth of the rows, as in training
    assert 0.05 < out["weight"].isna().mean() < 0.35 and 0.02 < out["stage"].isna().mean() < 0.25
    assert out["age"].between(20, 79).all() and pd.api.types.is_integer_dtype(out["age"])


def test_forest_flow_runs_in_its_worker_and_its_codes_map_back():
    from synthpatient.schema import Schema

    python = _peer_or_skip("forest_flow")
    train = _small_table()[["age", "sex", "weight", "stage"]].dropna().head(60)
    train = train.reset_index(drop=True)
    model = _peers.PeerProcess("forest_flow", python)
    tiny = {"n_t": 2, "duplicate_K": 2, "n_jobs": 1, "n_estimators": 5}  # seconds, not minutes
    try:
        model.fit(train, Schema.infer(train), 0, tiny)
        first, again = model.sample(100, 1), model.sample(100, 1)
    finally:
        model.close()
    pd.testing.assert_frame_equal(first, again)
    out = _peers.restore_types(first, train)
    # the categories travel as codes and come back as the training values
    assert set(out["sex"]) <= {"F", "M"} and set(out["stage"]) <= {"I", "II", "III"}
    assert pd.api.types.is_integer_dtype(out["age"]) and out["age"].between(20, 79).all()
    assert out["weight"].dtype == np.float64 and out["weight"].notna().all()
