"""The benchmark's tree-based peers: a missing one is named, a failing one is recorded."""

from __future__ import annotations

import pandas as pd
import pytest

from synthpatient.benchmark import _peers, default_candidates, run_benchmark
from synthpatient.benchmark._candidates import Candidate


def test_a_missing_peer_is_named_in_the_skipped_list(monkeypatch):
    monkeypatch.setattr(_peers, "peer_available", lambda name: name == "forest_flow")
    import synthpatient.benchmark as bench

    monkeypatch.setattr(bench, "peer_available", _peers.peer_available)
    candidates, skipped = default_candidates(["copula"], include_sdv=True)
    names = [c.name for c in candidates]
    assert "forest_flow" in names and "arf" not in names
    assert any(s.startswith("arf: arfpy (MIT) not installed") for s in skipped)


def test_a_failing_peer_becomes_a_recorded_failure(monkeypatch):
    def broken(train, schema, seed):
        raise AttributeError("module 'numpy' has no attribute 'in1d'")

    monkeypatch.setattr(_peers, "_arf_fit", broken)
    candidate = _peers.peer_candidate("arf")
    with pytest.raises(RuntimeError, match="arfpy failed: AttributeError"):
        candidate.fit(pd.DataFrame({"a": [1.0]}), None, 0)
    result = run_benchmark([candidate], seeds=1)
    assert result.runs.empty
    assert len(result.failures) == 1 and "arfpy failed" in result.failures[0]
    assert isinstance(candidate, Candidate) and candidate.source == "arfpy"
