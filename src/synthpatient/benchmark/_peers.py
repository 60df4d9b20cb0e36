"""Peers from the literature, run beside ours on the same splits when installed.

* SDV's GaussianCopula, CTGAN and TVAE (``sdv`` on PyPI, BUSL-1.1).
* synthpop's sequential CART (Nowok, Raab and Dibben, J Stat Softw 2016) as ``py-synthpop``
  0.1.2, Hazy's Python port of the R package (MIT; module ``synthpop``), at its defaults:
  an independent implementation of the algorithm our ``cart`` follows.
* ARF, adversarial random forests (Watson et al., AISTATS 2023): ``arfpy``, MIT.
* Forest-Flow (Jolicoeur-Martineau, Fatras and Kachman, AISTATS 2024): ``ForestDiffusion``,
  MIT; it pulls XGBoost, LightGBM and CatBoost (no torch).

SDV and py-synthpop need ``pandas<3`` and arfpy 0.1.1 calls ``numpy.in1d`` (removed in numpy
2.4), so they cannot share the project's environment: each peer runs in a worker process
(:mod:`synthpatient.benchmark._peer_worker`) under the Python named by
``SYNTHPATIENT_PEERS_PYTHON``, else ``.venv-peers/bin/python`` (made by ``make peers``),
else this interpreter (when the peers happen to be importable here). The training rows go to
the worker as Parquet and its rows come back the same way; the fit and sample times are the
worker's own, around the peer's calls. A peer that is not installed is named in the
benchmark's skipped list; one that fails is recorded as a failure with its one-line error,
never dropped silently. Beside py-synthpop, ``benchmarks/check_peers.py`` runs the project's
own ``cart`` at synthpop's defaults as a second sequential-CART reference.
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from synthpatient.benchmark._candidates import Candidate
from synthpatient.schema import Schema

#: name -> (module to import, PyPI project, licence)
PEERS = {
    "sdv_gaussiancopula": ("sdv", "sdv", "BUSL-1.1"),
    "sdv_ctgan": ("sdv", "sdv", "BUSL-1.1"),
    "sdv_tvae": ("sdv", "sdv", "BUSL-1.1"),
    "synthpop": ("synthpop", "py-synthpop", "MIT"),
    "arf": ("arfpy", "arfpy", "MIT"),
    "forest_flow": ("ForestDiffusion", "ForestDiffusion", "MIT"),
}
#: The tree-based peers of issue 18 (SDV's are listed apart, as before).
TREE_PEERS = ("synthpop", "arf", "forest_flow")
#: Labels that say which implementation a peer's name stands for.
LABELS = {"synthpop": "synthpop[py-synthpop]"}
#: Forest-Flow's defaults (n_t 50, duplicate_K 100, the authors' benchmark settings) took
#: ~24 min per fit on 2 idle cores for the bundled table; a run with fewer is labelled with them.
FOREST_FLOW_DEFAULTS = {"n_t": 50, "duplicate_K": 100}
#: What `synthpatient benchmark` runs it with (about 12x less work: minutes, not an hour per
#: seed), always under a label that names them; `benchmarks/check_peers.py` runs the defaults.
FOREST_FLOW_QUICK = {"n_t": 20, "duplicate_K": 20}
WORKER = Path(__file__).with_name("_peer_worker.py")
ENV_PYTHON = "SYNTHPATIENT_PEERS_PYTHON"


def peer_python() -> str:
    """The interpreter that runs the peers (see the module docstring for the order)."""
    named = os.environ.get(ENV_PYTHON)
    if named:
        return named
    for root in (Path.cwd(), Path(__file__).resolve().parents[3]):
        candidate = root / ".venv-peers" / "bin" / "python"
        if candidate.exists():
            return str(candidate)
    return sys.executable


@functools.lru_cache(maxsize=8)
def _missing_modules(python: str) -> frozenset[str]:
    modules = sorted({module for module, _, _ in PEERS.values()})
    code = (
        "import importlib.util, sys\n"
        "print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))"
    )
    try:
        done = subprocess.run(
            [python, "-c", code, *modules], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError):
        return frozenset(modules)
    if done.returncode != 0:
        return frozenset(modules)
    return frozenset(done.stdout.split())


def peer_available(name: str) -> bool:
    return PEERS[name][0] not in _missing_modules(peer_python())


def peer_note(name: str) -> str:
    module, project, licence = PEERS[name]
    return (
        f"{name}: {project} ({licence}) not installed for {peer_python()} "
        "(make peers, or set SYNTHPATIENT_PEERS_PYTHON)"
    )


class PeerProcess:
    """A fitted peer living in its worker process. ``last_seconds`` is the worker's time of
    the last fit or sample (the runner reports it instead of the time around the call)."""

    def __init__(self, name: str, python: str) -> None:
        self.name = name
        self.folder = Path(tempfile.mkdtemp(prefix="synthpatient-peer-"))
        self._log: IO[str] = open(self.folder / "stderr.log", "w", encoding="utf-8")  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                [python, str(WORKER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._log,
                text=True,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
        except OSError:
            self._log.close()
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        self.last_seconds = math.nan
        self.peak_mb = 0.0  # the worker's peak resident memory (MB), added to the runner's
        self._samples = 0

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            pass  # the worker died; its last words are read below
        line = self.process.stdout.readline()
        if not line:
            self._log.flush()
            tail = (self.folder / "stderr.log").read_text(encoding="utf-8").strip().splitlines()
            raise RuntimeError(f"the worker stopped: {tail[-1] if tail else 'no message'}")
        answer: dict[str, Any] = json.loads(line)
        if "peak_mb" in answer:
            self.peak_mb = max(self.peak_mb, float(answer["peak_mb"]))
        if "error" in answer:
            raise RuntimeError(answer["error"])
        self.last_seconds = float(answer["seconds"])
        return answer

    def fit(self, train: pd.DataFrame, schema: Schema, seed: int, params: dict[str, Any]) -> None:
        path = self.folder / "train.parquet"
        train.to_parquet(path, index=False)
        kinds = {s.name: s.kind for s in schema.learned}
        sdtypes = {c: t for c, t in schema.sdtypes().items() if c in kinds}
        self.ask(
            {
                "op": "fit",
                "peer": self.name,
                "train": str(path),
                "kinds": kinds,
                "sdtypes": sdtypes,
                "seed": seed,
                "params": params,
            }
        )

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        self._samples += 1
        path = self.folder / f"sample{self._samples}.parquet"
        self.ask({"op": "sample", "n_rows": n_rows, "seed": seed, "out": str(path)})
        out = pd.read_parquet(path)
        path.unlink()
        return out

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def forest_flow_candidate(**settings: Any) -> Candidate:
    """Forest-Flow with ``settings`` over its defaults, labelled with all of them unless they
    are the defaults (a cheaper run is never shown under the plain name)."""
    settings = {**FOREST_FLOW_DEFAULTS, **settings}
    label = None
    if settings != FOREST_FLOW_DEFAULTS:
        label = "forest_flow[" + ",".join(f"{k}={v}" for k, v in settings.items()) + "]"
    return peer_candidate("forest_flow", label=label, **settings)


def peer_candidate(name: str, *, label: str | None = None, **params: Any) -> Candidate:
    """The peer ``name`` behind the benchmark's adapter, with ``params`` passed to its
    constructor (Forest-Flow's default to :data:`FOREST_FLOW_DEFAULTS`). Its errors become
    RuntimeErrors with the peer's project name, which the runner records as a failure."""
    project = PEERS[name][1]
    if name == "forest_flow":
        params = {**FOREST_FLOW_DEFAULTS, "n_jobs": 1, **params}

    def fit(train: pd.DataFrame, schema: Schema, seed: int) -> PeerProcess:
        learned = train[[s.name for s in schema.learned]].reset_index(drop=True)
        python = peer_python()
        try:
            model = PeerProcess(name, python)
        except OSError as exc:
            raise RuntimeError(f"{project} failed: cannot start {python}: {exc}") from exc
        try:
            model.fit(learned, schema, seed, params)
        except (RuntimeError, OSError) as exc:
            model.close()
            raise RuntimeError(f"{project} failed: {exc}") from exc
        model.reference = learned  # type: ignore[attr-defined]
        return model

    def sample(model: PeerProcess, n_rows: int, seed: int) -> pd.DataFrame:
        try:
            out = model.sample(n_rows, seed)
        except (RuntimeError, OSError) as exc:
            raise RuntimeError(f"{project} failed: {exc}") from exc
        return restore_types(out, model.reference)  # type: ignore[attr-defined]

    return Candidate(label or LABELS.get(name, name), fit, sample, project, dict(params))


def restore_types(out: pd.DataFrame, train: pd.DataFrame) -> pd.DataFrame:
    """The peer's rows with the training columns' types: integers rounded (Forest-Flow and
    ARF may return floats), categories mapped back from their text (ARF returns strings)."""
    out = out[list(train.columns)].copy()
    for column in train.columns:
        dtype = train[column].dtype
        if pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_integer_dtype(
            out[column].dtype
        ):
            values = pd.to_numeric(out[column], errors="coerce").round()
            out[column] = values.astype(dtype if not values.isna().any() else "Int64")
        elif not pd.api.types.is_numeric_dtype(out[column].dtype):
            text = {str(v): v for v in train[column].dropna().unique()}
            out[column] = out[column].map(lambda v, text=text: text.get(str(v), v))
            if pd.api.types.is_numeric_dtype(dtype):
                out[column] = pd.to_numeric(out[column], errors="coerce")
        elif pd.api.types.is_float_dtype(dtype):
            out[column] = out[column].astype(np.float64)
    return out
