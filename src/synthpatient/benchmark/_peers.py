"""Tree-based peers from the literature, run beside ours on the same splits when installed.

* ARF, adversarial random forests (Watson et al., AISTATS 2023): ``arfpy`` on PyPI, MIT.
* Forest-Flow (Jolicoeur-Martineau, Fatras and Kachman, AISTATS 2024): ``ForestDiffusion``
  on PyPI, MIT; it pulls XGBoost, LightGBM and CatBoost (no torch).

Both come with the `compare` extra and are only ever imported here. A peer that is not
installed is named in the benchmark's skipped list; one that fails on a table (arfpy 0.1.1
calls ``numpy.in1d``, removed in numpy 2.4) is recorded as a failure with its one-line error,
never dropped silently. The synthpop-style sequential CART reference is the project's own
``cart`` synthesizer (the same algorithm: visit order, leaf donors, smoothing), so it runs as
a registered synthesizer rather than as a peer.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.benchmark._candidates import Candidate
from synthpatient.schema import Schema

#: name -> (module to import, PyPI project, licence)
PEERS = {
    "arf": ("arfpy", "arfpy", "MIT"),
    "forest_flow": ("ForestDiffusion", "ForestDiffusion", "MIT"),
}
#: Forest-Flow's settings of the authors' benchmark (n_t 50, duplicate_K 100) take ~24 min on
#: 2 cores for the bundled table; these keep a benchmark run in minutes (say so beside it).
FOREST_FLOW_PARAMS = {"n_t": 20, "duplicate_K": 20}


def peer_available(name: str) -> bool:
    return importlib.util.find_spec(PEERS[name][0]) is not None


def peer_note(name: str) -> str:
    module, project, licence = PEERS[name]
    return f"{name}: {project} ({licence}) not installed (pip install 'synthpatient[compare]')"


def peer_candidate(name: str) -> Candidate:
    """The peer ``name`` behind the benchmark's adapter; its errors become RuntimeErrors with
    the peer's name, which the runner records as a failure of this candidate."""
    fit, sample = {"arf": (_arf_fit, _arf_sample), "forest_flow": (_ff_fit, _ff_sample)}[name]

    def guarded_fit(train: pd.DataFrame, schema: Schema, seed: int) -> Any:
        try:
            return fit(train, schema, seed)
        except Exception as exc:  # a third-party failure: named, recorded, never swallowed
            raise RuntimeError(f"{PEERS[name][1]} failed: {type(exc).__name__}: {exc}") from exc

    def guarded_sample(model: Any, n_rows: int, seed: int) -> pd.DataFrame:
        try:
            return sample(model, n_rows, seed)
        except Exception as exc:  # as above
            raise RuntimeError(f"{PEERS[name][1]} failed: {type(exc).__name__}: {exc}") from exc

    params = FOREST_FLOW_PARAMS if name == "forest_flow" else {}
    return Candidate(name, guarded_fit, guarded_sample, PEERS[name][1], dict(params))


def _learned(train: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    return train[[s.name for s in schema.learned]].reset_index(drop=True)


# -- ARF ------------------------------------------------------------------------------------
def _arf_fit(train: pd.DataFrame, schema: Schema, seed: int) -> Any:
    from arfpy import arf

    np.random.seed(seed)  # arfpy draws from numpy's global generator; seeded for repeatability
    model = arf.arf(x=_learned(train, schema), verbose=False)
    model.forde()
    return model


def _arf_sample(model: Any, n_rows: int, seed: int) -> pd.DataFrame:
    np.random.seed(seed)
    return model.forge(n=n_rows)


# -- Forest-Flow ------------------------------------------------------------------------------
def _ff_fit(train: pd.DataFrame, schema: Schema, seed: int) -> Any:
    from ForestDiffusion import ForestDiffusionModel

    data = _learned(train, schema)
    codes: dict[str, list[Any]] = {}
    kinds = {s.name: s.kind for s in schema.learned}
    matrix = np.empty(data.shape)
    for j, column in enumerate(data.columns):
        if kinds[column] in ("categorical", "boolean"):
            values, uniques = pd.factorize(data[column])
            codes[column] = list(uniques)
            matrix[:, j] = np.where(values < 0, np.nan, values)
        else:
            matrix[:, j] = pd.to_numeric(data[column], errors="coerce")
    names = list(data.columns)
    model = ForestDiffusionModel(
        matrix,
        cat_indexes=[names.index(c) for c in codes if len(codes[c]) > 2],
        bin_indexes=[names.index(c) for c in codes if len(codes[c]) <= 2],
        int_indexes=[names.index(c) for c, k in kinds.items() if k == "integer"],
        diffusion_type="flow",
        n_jobs=1,
        seed=seed,
        **FOREST_FLOW_PARAMS,
    )
    return model, names, codes


def _ff_sample(fitted: Any, n_rows: int, seed: int) -> pd.DataFrame:
    model, names, codes = fitted
    matrix = model.generate(batch_size=n_rows)
    out = pd.DataFrame(matrix, columns=names)
    for column, uniques in codes.items():
        index = np.clip(np.round(out[column].to_numpy()), 0, len(uniques) - 1).astype(int)
        out[column] = [uniques[i] for i in index]
    return out
