"""What a benchmark runs: our registered synthesizers and, when installed, SDV's, behind one
adapter so that both are timed and scored by exactly the same code."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from synthpatient.schema import Schema


@dataclass(frozen=True)
class Candidate:
    """A named generator: ``fit(train, schema, seed) -> model`` and ``sample(model, n, seed)``."""

    name: str
    fit: Callable[[pd.DataFrame, Schema, int], Any]
    sample: Callable[[Any, int, int], pd.DataFrame]
    source: str = "synthpatient"
    params: Mapping[str, Any] = field(default_factory=dict)
    #: False for generators billed per row (a prompted LLM): no 100,000-row sample is timed
    large_sample: bool = True


def synthpatient_candidate(key: str, *, label: str | None = None, **params: Any) -> Candidate:
    """One of our registered synthesizers with the given parameters."""
    from synthpatient.synthesizers import get_synthesizer_class

    klass = get_synthesizer_class(key)

    def fit(train: pd.DataFrame, schema: Schema, seed: int) -> Any:
        return klass(seed=seed, **params).fit(train, schema=schema)

    def sample(model: Any, n_rows: int, seed: int) -> pd.DataFrame:
        return model.sample(n_rows, seed=seed)

    return Candidate(
        label or key,
        fit,
        sample,
        "synthpatient",
        dict(params),
        large_sample=not klass.capabilities.needs_network,
    )


SDV_MODELS = {
    "sdv_gaussiancopula": "GaussianCopulaSynthesizer",
    "sdv_ctgan": "CTGANSynthesizer",
    "sdv_tvae": "TVAESynthesizer",
}


def sdv_available() -> bool:
    """Whether SDV can run: in the peers' environment (see :mod:`._peers`) or this one."""
    from synthpatient.benchmark._peers import peer_available

    return peer_available("sdv_gaussiancopula")


def sdv_candidate(name: str) -> Candidate:
    """SDV's synthesizer at its defaults, on the same metadata as ours (sdtypes from our schema).

    SDV is BUSL-1.1 and needs pandas<3: it runs in the peers' worker process, never imported
    by synthpatient itself.
    """
    from synthpatient.benchmark._peers import peer_candidate

    return peer_candidate(name)
