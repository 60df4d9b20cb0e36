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
    try:
        import sdv  # noqa: F401
    except ImportError:
        return False
    return True


def sdv_candidate(name: str) -> Candidate:
    """SDV's synthesizer at its defaults, on the same metadata as ours (sdtypes from our schema).

    SDV is BUSL-1.1: it is only ever imported here, when the user installed the `compare` extra.
    """

    def fit(train: pd.DataFrame, schema: Schema, seed: int) -> Any:
        import sdv.single_table as single_table
        from sdv.metadata import Metadata

        sdtypes = schema.sdtypes()
        metadata = Metadata.load_from_dict(
            {"tables": {"table": {"columns": {c: {"sdtype": t} for c, t in sdtypes.items()}}}}
        )
        model = getattr(single_table, SDV_MODELS[name])(metadata)
        model.fit({"table": train[list(sdtypes)]})
        return model

    def sample(model: Any, n_rows: int, seed: int) -> pd.DataFrame:
        out = model.sample(n_rows)
        return out["table"] if isinstance(out, dict) else out

    return Candidate(name, fit, sample, "sdv")
