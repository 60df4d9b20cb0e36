"""Bundled real clinical datasets, each with column descriptions, units, source and licence.

Examples:
    >>> from synthpatient import datasets
    >>> [info.key for info in datasets.list_datasets()]
    ['breast_cancer', 'diabetes']
    >>> real = datasets.load("diabetes")      # 442 patients, raw clinical units
    >>> datasets.info("diabetes").target
    'progression'
"""

from __future__ import annotations

import pandas as pd

from synthpatient.datasets._catalog import CATALOG, ColumnInfo, DatasetInfo

__all__ = ["ColumnInfo", "DatasetInfo", "info", "list_datasets", "load"]


def _entry(key: str):  # type: ignore[no-untyped-def]
    if key not in CATALOG:
        from synthpatient.errors import UnknownDatasetError

        raise UnknownDatasetError(f"Unknown dataset '{key}'. Known datasets: "
                                  f"{', '.join(sorted(CATALOG))}. Run `synthpatient datasets list`.")
    return CATALOG[key]


def list_datasets() -> list[DatasetInfo]:
    """Every bundled dataset's description, sorted by key."""
    return [CATALOG[key].info() for key in sorted(CATALOG)]


def info(key: str) -> DatasetInfo:
    """One dataset's description: columns with units, source, licence, target and task."""
    return _entry(key).info()


def load(key: str) -> pd.DataFrame:
    """A fresh copy of the dataset as a DataFrame (read offline from scikit-learn's wheel)."""
    return _entry(key).load()
