"""A peer generator in its own process: ``python _peer_worker.py`` (no synthpatient import).

The benchmark's peers (SDV, py-synthpop, arfpy, ForestDiffusion) need ``pandas<3`` (SDV,
py-synthpop) or numpy before 2.4 (arfpy 0.1.1 calls ``numpy.in1d``), which the project's own
environment does not have. So they run in a separate environment (``.venv-peers``, made by
``make peers``) through this script, which imports only numpy, pandas and the peer itself.
It reads one JSON request per line on stdin and answers one JSON line on the original stdout
(everything the peers print goes to stderr, so it cannot corrupt the answers):

* ``{"op": "fit", "peer": NAME, "train": PARQUET, "kinds": {column: kind}, "seed": S,
  "params": {...}}`` -> ``{"seconds": fit time}``
* ``{"op": "sample", "n_rows": N, "seed": S, "out": PARQUET}`` -> ``{"seconds": sample time}``

A failure answers ``{"error": "Type: message"}`` and the worker keeps serving. The times
are measured here, around the peer's own calls: the process start and the Parquet transfer
are not billed to the peer.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

SDV_CLASSES = {
    "sdv_gaussiancopula": "GaussianCopulaSynthesizer",
    "sdv_ctgan": "CTGANSynthesizer",
    "sdv_tvae": "TVAESynthesizer",
}
DISCRETE = ("categorical", "boolean")
#: py-synthpop's dtype names by our kinds: a boolean is a category, as R's synthpop makes
#: logicals factors; a datetime goes as its nanoseconds (py-synthpop cannot cast to one).
SYNTHPOP_DTYPES = {
    "numeric": "float",
    "integer": "int",
    "categorical": "category",
    "boolean": "category",
    "datetime": "float",
}
#: A category's missing value as a category of its own: py-synthpop 0.1.2 does the same with
#: ``add_categories(inplace=True)``, which pandas 2 no longer has.
MISSING_CATEGORY = "<missing>"


class Peer:
    """One fitted peer: ``sample(n_rows, seed) -> DataFrame`` with the training columns."""

    def __init__(
        self,
        name: str,
        train: pd.DataFrame,
        kinds: dict[str, str],
        seed: int,
        params: dict[str, Any],
        sdtypes: dict[str, str] | None = None,
    ) -> None:
        self.name, self.kinds, self.columns = name, kinds, list(train.columns)
        self.sdtypes = sdtypes
        fit = {
            "arf": self._fit_arf,
            "forest_flow": self._fit_forest_flow,
            "synthpop": self._fit_synthpop,
        }.get(name, self._fit_sdv)
        fit(train, seed, params)

    # -- SDV -------------------------------------------------------------------------------
    def _fit_sdv(self, train: pd.DataFrame, seed: int, params: dict[str, Any]) -> None:
        import sdv.single_table as single_table
        from sdv.metadata import Metadata

        sdtypes = self.sdtypes or {
            c: "categorical" if k in DISCRETE else "numerical" for c, k in self.kinds.items()
        }
        metadata = Metadata.load_from_dict(
            {"tables": {"table": {"columns": {c: {"sdtype": t} for c, t in sdtypes.items()}}}}
        )
        # SDV draws from numpy's and torch's global generators: seeded for repeatability
        _seed_globals(seed)
        self.model = getattr(single_table, SDV_CLASSES[self.name])(metadata, **params)
        self.model.fit({"table": train})  # SDV 2 takes a table name -> frame mapping

    # -- synthpop's sequential CART (py-synthpop) -----------------------------------------------
    def _fit_synthpop(self, train: pd.DataFrame, seed: int, params: dict[str, Any]) -> None:
        """py-synthpop at its defaults unless ``params`` say otherwise: CART for every column
        but the first (drawn from its marginal), columns visited in table order, no
        smoothing, leaves of at least 5 rows, as R's synthpop does by default."""
        if not hasattr(pd.Series, "iteritems"):  # py-synthpop 0.1.2 was written for pandas<2
            pd.Series.iteritems = pd.Series.items
        from synthpop import Synthpop

        first = self.columns[0]
        if self.kinds[first] not in DISCRETE and train[first].isna().any():
            # its first column is drawn by its "sample" method, which py-synthpop 0.1.2 does
            # not give the missing-value flag its later steps expect (KeyError at generate)
            raise ValueError(
                f"py-synthpop 0.1.2 cannot synthesise missing values in its first column "
                f"({first!r}); put a complete column first"
            )
        data = train.copy()
        dtypes = {}
        for column in self.columns:
            kind = self.kinds[column]
            dtypes[column] = SYNTHPOP_DTYPES[kind]
            if kind in DISCRETE:
                values = data[column].astype(object)
                data[column] = values.where(values.notna(), MISSING_CATEGORY).astype("category")
            elif kind == "datetime":
                stamps = pd.to_datetime(data[column])
                data[column] = stamps.astype("int64").where(stamps.notna()).astype(float)
            else:
                data[column] = pd.to_numeric(data[column], errors="coerce").astype(float)
        self.model = Synthpop(seed=seed, **params)
        self.model.fit(data, dtypes)

    def _sample_synthpop(self, n_rows: int) -> pd.DataFrame:
        out = self.model.generate(n_rows)
        for column in self.columns:
            kind = self.kinds[column]
            if kind in DISCRETE:
                values = out[column].astype(object)
                out[column] = values.where(values != MISSING_CATEGORY, None)
            elif kind == "datetime":
                out[column] = pd.to_datetime(out[column], unit="ns")
        return out

    # -- ARF (arfpy) ---------------------------------------------------------------------------
    def _fit_arf(self, train: pd.DataFrame, seed: int, params: dict[str, Any]) -> None:
        from arfpy import arf

        data = train.copy()
        for column, kind in self.kinds.items():  # arfpy treats object columns as categories
            if kind in DISCRETE:
                data[column] = data[column].astype(str).astype(object)
        np.random.seed(seed)
        self.model = arf.arf(x=data, verbose=False, **params)
        self.model.forde()

    # -- Forest-Flow (ForestDiffusion) ---------------------------------------------------------
    def _fit_forest_flow(self, train: pd.DataFrame, seed: int, params: dict[str, Any]) -> None:
        from ForestDiffusion import ForestDiffusionModel

        self.codes: dict[str, list[Any]] = {}
        matrix = np.empty(train.shape)
        for j, column in enumerate(self.columns):
            if self.kinds[column] in DISCRETE:
                values, uniques = pd.factorize(train[column])
                self.codes[column] = list(uniques)
                matrix[:, j] = np.where(values < 0, np.nan, values)
            else:
                matrix[:, j] = pd.to_numeric(train[column], errors="coerce")
        index = self.columns.index
        self.model = ForestDiffusionModel(
            matrix,
            cat_indexes=[index(c) for c, u in self.codes.items() if len(u) > 2],
            bin_indexes=[index(c) for c, u in self.codes.items() if len(u) <= 2],
            int_indexes=[index(c) for c, k in self.kinds.items() if k == "integer"],
            diffusion_type="flow",
            seed=seed,
            **params,
        )

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        _seed_globals(seed)
        if self.name == "arf":
            out = self.model.forge(n=n_rows)
        elif self.name == "synthpop":
            out = self._sample_synthpop(n_rows)
        elif self.name == "forest_flow":
            out = pd.DataFrame(self.model.generate(batch_size=n_rows), columns=self.columns)
            for column, uniques in self.codes.items():
                codes = np.clip(np.round(out[column].to_numpy()), 0, len(uniques) - 1)
                out[column] = [uniques[int(i)] for i in codes]
        else:
            out = self.model.sample(n_rows)
            out = out["table"] if isinstance(out, dict) else out
        return pd.DataFrame(out)[self.columns].reset_index(drop=True)


def _seed_globals(seed: int) -> None:
    np.random.seed(seed % 2**32)
    # torch only where the peer has loaded it (SDV): importing it here took seconds of the
    # timed sample of the peers that never use it
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def _handle(request: dict[str, Any], state: dict[str, Peer]) -> dict[str, Any]:
    if request["op"] == "fit":
        train = pd.read_parquet(request["train"])
        start = time.perf_counter()
        state["peer"] = Peer(
            request["peer"],
            train,
            request["kinds"],
            int(request["seed"]),
            request["params"],
            request.get("sdtypes"),
        )
        return {"seconds": time.perf_counter() - start}
    if request["op"] == "sample":
        start = time.perf_counter()
        out = state["peer"].sample(int(request["n_rows"]), int(request["seed"]))
        seconds = time.perf_counter() - start
        out.columns = [str(c) for c in out.columns]
        out.to_parquet(request["out"], index=False)
        return {"seconds": seconds}
    raise ValueError(f"unknown op {request['op']!r}")


def main() -> None:
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr  # what a peer prints must not reach the answer channel
    os.dup2(sys.stderr.fileno(), 1)
    state: dict[str, Peer] = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = _handle(json.loads(line), state)
        except Exception as exc:  # reported to the parent, which records it as the peer's failure
            first = (str(exc).splitlines() or [""])[0]
            answer = {"error": f"{type(exc).__name__}: {first}"}
        # the worker's peak resident memory so far (Linux reports ru_maxrss in KiB)
        answer["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        answers.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
