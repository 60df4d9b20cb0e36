"""The benchmark runner: candidates x datasets x seeds, each scored by the evaluation suite.

For every run the dataset is split (seeded) into training rows and a holdout the generator
never sees; the generator is fitted on the training rows and samples as many rows; then
``evaluate(metrics=BENCHMARK_METRICS)`` measures fidelity (SDMetrics QualityReport), ML utility
(TSTR vs TRTR on the holdout), privacy (DCR and membership inference against the holdout) and
the dataset's rule pack, with fit time, sample time (and time for 100,000 rows) and the peak
resident memory of the process while fitting and sampling.

Every generator gets the same schema: inferred from the dataset, or the one the user declared
for it (:class:`DeclaredSchema`); a generator that takes a target (AIM) gets the dataset's.
Each run records both (``target``, ``schema``), so the results say what each generator got.

A run's columns are the metrics' registry keys (their scores) and ``key.detail`` for the
figures read from a metric's details (``dcr.share_closer_to_training``...).
"""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthpatient import datasets as bundled
from synthpatient._atomic import write_text_atomic
from synthpatient.benchmark._candidates import Candidate
from synthpatient.errors import SynthPatientError
from synthpatient.schema import Schema

HOLDOUT_SHARE = 0.25
LARGE_SAMPLE = 100_000


class PeakMemory:
    """Peak resident memory (MB) of this process while the block runs, read from /proc every
    20 ms: unlike tracemalloc it sees memory that torch and numpy allocate in C."""

    def __init__(self) -> None:
        self.peak_mb = float("nan")
        self._stop = threading.Event()

    @staticmethod
    def _rss_mb() -> float:
        try:
            with open("/proc/self/statm", encoding="ascii") as handle:
                return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except (OSError, ValueError):
            return float("nan")

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            now = self._rss_mb()
            self.peak_mb = now if np.isnan(self.peak_mb) else max(self.peak_mb, now)

    def __enter__(self) -> PeakMemory:
        self.peak_mb = self._rss_mb()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._rss_mb())


@dataclass(frozen=True)
class DeclaredSchema:
    """A schema the user wrote for a dataset: every generator in the run gets it instead of
    the inferred one; ``source`` (its file name) is shown in the results."""

    schema: Schema
    source: str


@dataclass
class BenchmarkResult:
    """Per-run rows (``runs``) and their mean and spread per candidate and dataset."""

    runs: pd.DataFrame
    summary: pd.DataFrame
    failures: list[str]


#: The registry keys every run is scored by (a metric whose input is missing, such as rules
#: for a dataset without a rule pack, is skipped).
BENCHMARK_METRICS = (
    "quality",
    "column_shapes",
    "column_pair_trends",
    "ml_utility",
    "dcr",
    "membership_inference",
    "rule_violations",
)
#: Figures read from a metric's details beside its score: key -> detail names.
BENCHMARK_DETAILS: dict[str, tuple[str, ...]] = {
    "ml_utility": ("tstr", "trtr", "primary_metric"),
    "dcr": ("share_closer_to_training",),
    "membership_inference": ("auc",),
    "rule_violations": ("excess_mean",),
}
#: Numeric columns summarised as mean and spread over seeds.
METRICS = ["epsilon_spent", "fit_s", "sample_s", "sample_100k_s", "cost_per_1k", "peak_mb"] + [
    column
    for key in BENCHMARK_METRICS
    for column in (key, *(f"{key}.{d}" for d in BENCHMARK_DETAILS.get(key, ())))
    if not column.endswith(".primary_metric")
]


def _scores(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    schema: Schema,
    seed: int,
    target: str | None,
    key: str,
) -> dict[str, Any]:
    """Every benchmark metric of one run, by registry key (and ``key.detail``)."""
    from synthpatient.evaluation.evaluate import evaluate
    from synthpatient.rules import list_rule_packs, load_rule_pack

    rules = load_rule_pack(key) if key in list_rule_packs() else None
    report = evaluate(
        train,
        synthetic,
        metrics=BENCHMARK_METRICS,
        holdout=holdout,
        target=target,
        rules=rules,
        schema=schema,
        seed=seed,
        detailed=False,
    )
    row: dict[str, Any] = dict(zip(report.summary["metric"], report.summary["score"], strict=True))
    for metric, names in BENCHMARK_DETAILS.items():
        details = report.sections.get(metric, {})
        row.update({f"{metric}.{name}": details[name] for name in names if name in details})
    return row


def _one_run(
    candidate: Candidate,
    key: str,
    real: pd.DataFrame,
    schema: Schema,
    seed: int,
    target: str | None,
    schema_name: str,
) -> dict[str, Any]:
    train = real.sample(frac=1 - HOLDOUT_SHARE, random_state=seed).sort_index()
    holdout = real.drop(train.index)
    given = target if candidate.takes_target else None
    with PeakMemory() as memory:
        start = time.perf_counter()
        if given is not None:
            model = candidate.fit(train, schema, seed, target=given)
        else:
            model = candidate.fit(train, schema, seed)
        fit_s = _own_seconds(model, start)
        try:
            start = time.perf_counter()
            synthetic = candidate.sample(model, len(train), seed + 1000)
            sample_s = _own_seconds(model, start)
            cost = getattr(getattr(model, "last_sample_report_", None), "cost_per_1k_rows", None)
            sample_100k_s = float("nan")
            if candidate.large_sample:
                start = time.perf_counter()
                candidate.sample(model, LARGE_SAMPLE, seed + 2000)
                sample_100k_s = _own_seconds(model, start)
        finally:
            if callable(getattr(model, "close", None)):  # a peer's worker process
                model.close()
    row: dict[str, Any] = {
        "synthesizer": candidate.name,
        "source": candidate.source,
        "dataset": key,
        "seed": seed,
        "target": given,
        "schema": _schema_given(candidate, schema_name, model),
        "fit_s": fit_s,
        "sample_s": sample_s,
        "sample_100k_s": sample_100k_s,
        "peak_mb": memory.peak_mb + _worker_peak_mb(model),
    }
    if cost is not None:  # a prompted LLM: money per 1,000 delivered rows, at the set prices
        row["cost_per_1k"] = float(cost)
    spent = getattr(model, "privacy_spent_", None)
    if spent:
        row["epsilon_spent"] = float(spent["epsilon"])
    row.update(_scores(train, synthetic, holdout, schema, seed, target, key))
    return row


def _schema_given(candidate: Candidate, schema_name: str, model: Any) -> str:
    """What the generator got of the schema: all of it or only the column kinds, and the
    columns whose bounds or categories a private model read from the rows (outside its
    budget: the schema did not declare them)."""
    label = schema_name if candidate.full_schema else f"{schema_name}, column kinds only"
    spent = getattr(model, "privacy_spent_", None) or {}
    read = spent.get("read_from_data") or {}
    columns = {name for names in read.values() for name in names}
    if columns:
        label += f"; {len(columns)} columns' bounds/categories read from the rows"
    return label


def _own_seconds(model: Any, start: float) -> float:
    """Seconds since ``start``, or the model's own time of its last step where it reports
    one (a peer in its worker process: neither the process start nor the transfer of rows
    between processes is billed to it)."""
    wall = time.perf_counter() - start
    own = getattr(model, "last_seconds", None)
    return float(own) if isinstance(own, float) and not np.isnan(own) else wall


def _worker_peak_mb(model: Any) -> float:
    """A peer's worker process's own peak memory (it is held beside this process's)."""
    peak = getattr(model, "peak_mb", None)
    return peak if isinstance(peak, float) else 0.0


def _checkpoint_path(folder: Path, key: str, name: str, seed: int) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_.=" else "_" for ch in name)
    return folder / f"{key}__{safe}__seed{seed}.json"


def _saved_run(path: Path | None, target: str | None, schema_name: str) -> dict[str, Any] | None:
    """A finished run from the checkpoint, if it got the same target and schema as this run
    would (a run saved before they were recorded had no target and the inferred schema)."""
    if path is None or not path.exists():
        return None
    try:
        row: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None  # cut short by a kill before writes were atomic: run it again
    # the label starts with the schema's name (see _schema_given); a declared schema is
    # known by its file name, not its content
    if row.get("target") != target or not str(row.get("schema", "inferred")).startswith(
        schema_name
    ):
        return None
    return row


def run_benchmark(
    candidates: Sequence[Candidate],
    dataset_keys: Sequence[str] = ("diabetes",),
    *,
    seeds: int = 3,
    progress: Any = None,
    checkpoint: str | Path | None = None,
    schemas: Mapping[str, DeclaredSchema] | None = None,
) -> BenchmarkResult:
    """Run every candidate on every dataset for ``seeds`` seeds.

    Every candidate gets the dataset's schema from ``schemas`` (dataset key -> the schema the
    user declared) or, for a dataset not there, the one inferred from its rows; a candidate
    that takes a target gets the dataset's (:func:`synthpatient.datasets.info`).

    A candidate that fails on a dataset is recorded in ``failures`` (with its one-line error)
    instead of stopping the whole benchmark. With ``checkpoint`` (a folder), each finished
    run is written there as one JSON file and a run already there is read instead of run
    again, so that a long benchmark stopped part-way resumes where it stopped (the file name
    holds the dataset, the candidate's name and the seed: change the name when changing its
    parameters). A saved run is used only if it got the same target and schema.
    """
    folder = Path(checkpoint) if checkpoint is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    rows, failures = [], []
    for key in dataset_keys:
        real = bundled.load(key)
        declared = (schemas or {}).get(key)
        schema = declared.schema if declared is not None else Schema.infer(real)
        schema_name = f"declared ({declared.source})" if declared is not None else "inferred"
        target = bundled.info(key).target
        for candidate in candidates:
            for seed in range(seeds):
                if progress is not None:
                    progress(f"{candidate.name} on {key}, seed {seed}")
                saved = folder and _checkpoint_path(folder, key, candidate.name, seed)
                given = target if candidate.takes_target else None
                done = _saved_run(saved, given, schema_name)
                if done is not None:
                    rows.append(done)
                    continue
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        row = _one_run(candidate, key, real, schema, seed, target, schema_name)
                except (SynthPatientError, ImportError, ValueError, RuntimeError) as exc:
                    failures.append(
                        f"{candidate.name} on {key} (seed {seed}): "
                        f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                    )
                    break
                rows.append(row)
                if saved is not None:
                    # atomic: a run killed mid-write must not leave a checkpoint that
                    # a resumed run would then fail to read
                    write_text_atomic(saved, json.dumps(row, default=_plain))
    runs = pd.DataFrame(rows)
    return BenchmarkResult(runs, summarise(runs), failures)


def _plain(value: Any) -> Any:
    """A numpy scalar as its Python value (for a checkpoint's JSON)."""
    return value.item() if isinstance(value, np.generic) else str(value)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    if runs.empty:
        return pd.DataFrame()
    present = [m for m in METRICS if m in runs.columns]
    keys = runs.groupby(["dataset", "synthesizer", "source"], sort=False)
    grouped = keys[present]
    mean = grouped.mean().add_suffix("_mean")
    spread = grouped.std(ddof=0).add_suffix("_sd")
    # what each generator got: the same in every seed (a run saved before it was recorded
    # had no target and the inferred schema)
    given = [c for c in ("target", "schema") if c in runs.columns]
    out = pd.concat([keys[given].first(), mean, spread], axis=1).reset_index()
    out.insert(3, "n_seeds", grouped.size().to_numpy())
    return out
