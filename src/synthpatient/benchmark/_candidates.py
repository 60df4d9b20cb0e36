"""What a benchmark runs: our registered synthesizers and, when installed, SDV's, behind one
adapter so that both are timed and scored by exactly the same code."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from synthpatient.schema import Schema


@dataclass(frozen=True)
class Candidate:
    """A named generator: ``fit(train, schema, seed) -> model`` and ``sample(model, n, seed)``.

    With ``takes_target``, ``fit`` also takes ``target=COLUMN``: the dataset's column to
    predict, for a generator whose workload it shapes (AIM measures the target's marginals
    first). ``full_schema`` says whether ``fit`` honours the whole schema (bounds,
    categories, relations) or only its column kinds (a peer in its worker process); the
    results say which, so that a declared schema is never taken as applied where it was not.
    """

    name: str
    fit: Callable[..., Any]
    sample: Callable[[Any, int, int], pd.DataFrame]
    source: str = "synthpatient"
    params: Mapping[str, Any] = field(default_factory=dict)
    #: False for generators billed per row (a prompted LLM): no 100,000-row sample is timed
    large_sample: bool = True
    takes_target: bool = False
    full_schema: bool = False


def synthpatient_candidate(key: str, *, label: str | None = None, **params: Any) -> Candidate:
    """One of our registered synthesizers with the given parameters.

    A synthesizer whose constructor has a ``target`` parameter (read from its signature, not
    its name) gets the dataset's target from the runner, unless ``params`` fix one."""
    from synthpatient.synthesizers import get_synthesizer_class

    klass = get_synthesizer_class(key)
    takes_target = "target" in inspect.signature(klass.__init__).parameters
    takes_target = takes_target and "target" not in params

    def fit(train: pd.DataFrame, schema: Schema, seed: int, target: str | None = None) -> Any:
        given = {"target": target} if takes_target and target is not None else {}
        return klass(seed=seed, **params, **given).fit(train, schema=schema)

    def sample(model: Any, n_rows: int, seed: int) -> pd.DataFrame:
        return model.sample(n_rows, seed=seed)

    return Candidate(
        label or key,
        fit,
        sample,
        "synthpatient",
        dict(params),
        large_sample=not klass.capabilities.needs_network,
        takes_target=takes_target,
        full_schema=True,
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
