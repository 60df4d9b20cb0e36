"""Reading a dataset larger than memory partition by partition, and running a function over
its partitions in this process or on Dask.

A dataset is a folder of Parquet files (each file a partition, read in batches of at most
``BATCH_ROWS`` rows, so memory stays bounded whatever a file's size) or a Dask DataFrame (each
of its partitions one batch). ``map_partitions`` returns the per-partition results in
partition order, so a reduction over them does not depend on the number of workers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from synthpatient.errors import DataError, InvalidParameterError
from synthpatient.scale._cluster import dask_client

Engine = Literal["local", "dask"]
BATCH_ROWS = 250_000


@dataclass(frozen=True)
class Partition:
    """One partition: a Parquet file (``path``) or a Dask partition (``delayed``)."""

    index: int
    rows: int
    path: str | None = None
    delayed: Any = None

    def batches(self, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
        """The partition's rows, a bounded batch at a time."""
        if self.path is None:
            frame = self.delayed.compute() if hasattr(self.delayed, "compute") else self.delayed
            yield frame if columns is None else frame[columns]
            return
        import pyarrow.parquet as pq

        handle = pq.ParquetFile(self.path)
        for batch in handle.iter_batches(batch_size=BATCH_ROWS, columns=columns):
            yield batch.to_pandas()


def partitions_of(source: Any) -> list[Partition]:
    """The partitions of a Parquet folder (or one Parquet file) or of a Dask DataFrame.

    Raises:
        DataError: the path holds no Parquet file or is not there.
    """
    if hasattr(source, "to_delayed") and hasattr(source, "map_partitions"):
        lengths = source.map_partitions(len).compute()
        return [
            Partition(index=i, rows=int(n), delayed=d)
            for i, (n, d) in enumerate(zip(lengths, source.to_delayed(), strict=True))
        ]
    path = Path(source)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        # the folder's own files; a Hive-style dataset keeps its files in key=value folders
        files = _parquet_files(path.glob("*.parquet")) or _parquet_files(path.rglob("*.parquet"))
    else:
        raise DataError(f"'{path}' is not there; give a folder of Parquet files.")
    if not files:
        raise DataError(
            f"'{path}' holds no .parquet file; give a folder of Parquet files (one per "
            "partition) or a Dask DataFrame."
        )
    import pyarrow.parquet as pq

    parts, names = [], None
    for i, f in enumerate(files):
        handle = pq.ParquetFile(f)
        if names is None:
            names = set(handle.schema_arrow.names)
        elif set(handle.schema_arrow.names) != names:
            raise DataError(
                f"'{f.relative_to(path) if path.is_dir() else f}' has other columns than the "
                "first partition; a partitioned table needs the same columns in every file."
            )
        parts.append(Partition(index=i, rows=int(handle.metadata.num_rows), path=str(f)))
    return parts


def _parquet_files(found: Iterator[Path]) -> list[Path]:
    return sorted(p for p in found if p.is_file() and not p.name.startswith((".", "_")))


def columns_of(parts: list[Partition]) -> list[str]:
    """The dataset's column names (from the first partition's schema)."""
    first = parts[0]
    if first.path is not None:
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(first.path).schema_arrow.names)
    return list(next(first.batches()).columns)


def sample_plan(parts: list[Partition], n_rows: int, seed: int) -> list[np.ndarray]:
    """Which rows of each partition a uniform sample without replacement of ``n_rows`` rows
    (all rows if fewer) takes: sorted row positions within each partition."""
    total = sum(p.rows for p in parts)
    k = min(n_rows, total)
    rng = np.random.default_rng([seed, 0x5A4D])
    chosen = np.sort(rng.choice(total, size=k, replace=False)) if k < total else np.arange(total)
    starts = np.cumsum([0] + [p.rows for p in parts])
    return [
        chosen[(chosen >= starts[i]) & (chosen < starts[i + 1])] - starts[i]
        for i in range(len(parts))
    ]


def take_rows(part: Partition, positions: np.ndarray, columns: list[str] | None) -> pd.DataFrame:
    """The rows at ``positions`` (sorted) of one partition, read a batch at a time."""
    pieces, offset = [], 0
    for batch in part.batches(columns):
        inside = positions[(positions >= offset) & (positions < offset + len(batch))] - offset
        if len(inside):
            pieces.append(batch.iloc[inside])
        offset += len(batch)
    if not pieces:
        return pd.DataFrame()
    return pd.concat(pieces, ignore_index=True)


@contextlib.contextmanager
def session(
    engine: Engine = "local", scheduler: str | None = None, workers: int | None = None
) -> Iterator[dict[str, Any]]:
    """The keyword arguments of ``map_partitions`` for several passes: on Dask, one client
    (and LocalCluster, without ``scheduler``) for all of them, closed at the end."""
    if engine not in ("local", "dask"):
        raise InvalidParameterError(f"engine must be 'local' or 'dask'; got {engine!r}.")
    if engine == "local":
        yield {"engine": "local"}
        return
    with dask_client(scheduler, workers) as client:
        yield {"engine": "dask", "client": client}


def map_partitions(
    func: Callable[..., Any],
    tasks: list[tuple[Any, ...]],
    *,
    engine: Engine = "local",
    client: Any = None,
    scheduler: str | None = None,
    workers: int | None = None,
) -> list[Any]:
    """``[func(*t) for t in tasks]``, in this process or on Dask (``client``, else a client
    made for this call); results in task order."""
    if client is None and engine == "dask":
        with session(engine, scheduler, workers) as run:
            return map_partitions(func, tasks, **run)
    if engine not in ("local", "dask"):
        raise InvalidParameterError(f"engine must be 'local' or 'dask'; got {engine!r}.")
    if engine == "local":
        return [func(*t) for t in tasks]
    futures = [client.submit(func, *t, pure=False) for t in tasks]
    return list(client.gather(futures))
