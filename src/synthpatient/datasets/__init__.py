"""Bundled real clinical datasets, each with column descriptions, units, source and licence.

The row-level tables are read at run time from the files that ship inside scikit-learn; the
longitudinal one (``pbcseq``: several visits per patient) ships inside synthpatient, with its
source and licence. Nothing is downloaded and everything works offline.

Examples:
    >>> from synthpatient import datasets
    >>> [meta.key for meta in datasets.list_datasets()]
    ['breast_cancer', 'diabetes', 'pbcseq']
    >>> real = datasets.load("diabetes")      # 442 patients, raw clinical units
    >>> real.shape
    (442, 11)
    >>> datasets.info("diabetes").target
    'progression'
    >>> meta = datasets.info("pbcseq")        # 1,945 visits of 312 patients
    >>> meta.n_patients, meta.patient_key, meta.time
    (312, 'id', 'day')
"""

from __future__ import annotations

import pandas as pd

from synthpatient.datasets._catalog import CATALOG, ColumnInfo, DatasetInfo, load_frame

__all__ = ["ColumnInfo", "DatasetInfo", "info", "list_datasets", "load"]


def _check_key(key: str) -> None:
    if key not in CATALOG:
        # Imported here so that this module never depends on errors.py at import time.
        from synthpatient.errors import UnknownDatasetError

        raise UnknownDatasetError(
            f"Unknown dataset '{key}'. Known datasets: "
            f"{', '.join(sorted(CATALOG))}. "
            "Run `synthpatient datasets list`."
        )


def list_datasets() -> list[DatasetInfo]:
    """Describe every bundled dataset, sorted by key.

    Listing reads no data and does not import scikit-learn.

    Returns:
        One :class:`DatasetInfo` per dataset: title, size, columns with units, source, licence,
        target and task.

    Examples:
        >>> from synthpatient import datasets
        >>> for meta in datasets.list_datasets():
        ...     print(meta.key, meta.n_rows, meta.task)
        breast_cancer 569 classification
        diabetes 442 regression
        pbcseq 1945 classification
    """
    return [CATALOG[key][0] for key in sorted(CATALOG)]


def info(key: str) -> DatasetInfo:
    """Describe one bundled dataset without loading it.

    Args:
        key: The dataset's key, one of those :func:`list_datasets` returns.

    Returns:
        The dataset's :class:`DatasetInfo`: columns with descriptions and units, source,
        licence, target and task.

    Raises:
        UnknownDatasetError: ``key`` is not a bundled dataset (also a ``KeyError``); the
            message lists the known keys.

    Examples:
        >>> from synthpatient import datasets
        >>> meta = datasets.info("diabetes")
        >>> meta.n_rows, meta.target, meta.task
        (442, 'progression', 'regression')
        >>> {c.name: c.unit for c in meta.columns}["glucose"]
        'mg/dL'
    """
    _check_key(key)
    return CATALOG[key][0]


def load(key: str) -> pd.DataFrame:
    """Load a bundled dataset as a DataFrame, read offline (from scikit-learn's files or this
    package's).

    Every call returns a fresh copy: changing it never changes what the next call returns.

    Args:
        key: The dataset's key, one of those :func:`list_datasets` returns.

    Returns:
        One row per patient (per visit for a longitudinal dataset, whose
        ``info(key).patient_key`` and ``info(key).time`` name the patient id and time columns),
        with the columns (and in the order) that ``info(key).columns`` describes.

    Raises:
        UnknownDatasetError: ``key`` is not a bundled dataset (also a ``KeyError``); the
            message lists the known keys.

    Examples:
        >>> from synthpatient import datasets
        >>> real = datasets.load("diabetes")
        >>> real.shape
        (442, 11)
        >>> int(real["age"].min()), int(real["age"].max())
        (19, 79)
        >>> datasets.load("breast_cancer")["diagnosis"].value_counts().to_dict()
        {'benign': 357, 'malignant': 212}
    """
    _check_key(key)
    return load_frame(key)
