"""The Dask client of a partitioned run: an existing cluster's, or a LocalCluster's."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from synthpatient._optional import import_optional
from synthpatient.errors import InvalidParameterError


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """A client of the scheduler at ``scheduler``, or of a LocalCluster with ``workers``
    single-threaded worker processes (one per core this process may use); closed at the end.
    An unreachable scheduler is one line, never a traceback."""
    distributed = import_optional("distributed", extra="scale", purpose="engine='dask'")
    cluster = None
    if scheduler is not None:
        try:
            client = distributed.Client(scheduler)
        except (OSError, TimeoutError, ValueError) as exc:  # unreachable, or not an address
            raise InvalidParameterError(
                f"No Dask scheduler answered at '{scheduler}' ({type(exc).__name__}); start "
                "one (`dask scheduler`) or leave the scheduler out for a local cluster."
            ) from None
    else:
        cluster = distributed.LocalCluster(
            n_workers=workers or len(os.sched_getaffinity(0)),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
