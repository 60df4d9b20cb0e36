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

from typing import TYPE_CHECKING

import pandas as pd

from synthpatient.datasets._catalog import CATALOG, ColumnInfo, DatasetInfo, load_frame
from synthpatient.datasets._tables import TABLES_CATALOG, TablesInfo, load_frames

if TYPE_CHECKING:
    from synthpatient.longitudinal import PatientTables

__all__ = [
    "ColumnInfo",
    "DatasetInfo",
    "TablesInfo",
    "info",
    "list_datasets",
    "list_table_sets",
    "load",
    "load_tables",
    "split",
    "tables_info",
]


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


def split(
    key: str, *, holdout_share: float = 0.25, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A bundled dataset split into training rows and held-out rows, by patient.

    The held-out patients are those a generator must never see, so that privacy (distance to
    the closest record, membership inference) and ML utility are measured against patients the
    model did not learn from. A longitudinal dataset is split by patient: all of a patient's
    visits fall on the same side. The demo uses the same split for the same seed.

    Args:
        key: The dataset's key, one of those :func:`list_datasets` returns.
        holdout_share: Share of the patients held out, strictly between 0 and 1.
        seed: The same seed gives the same split.

    Returns:
        ``(train, holdout)``, each in the original row order.

    Examples:
        >>> from synthpatient import datasets
        >>> train, holdout = datasets.split("diabetes")
        >>> len(train), len(holdout)
        (332, 110)
    """
    if not 0 < holdout_share < 1:
        from synthpatient.errors import InvalidParameterError

        raise InvalidParameterError(
            "The holdout share must be between 0 and 1 (0.25 keeps a quarter). "
            f"Got {holdout_share}."
        )
    meta = info(key)
    real = load_frame(key)
    if meta.patient_key is None:
        train = real.sample(frac=1 - holdout_share, random_state=seed).sort_index()
        return train, real.drop(train.index)
    patients = pd.Series(real[meta.patient_key].unique())
    kept = patients.sample(frac=1 - holdout_share, random_state=seed)
    in_train = real[meta.patient_key].isin(kept)
    return real[in_train], real[~in_train]


def list_table_sets() -> list[TablesInfo]:
    """Describe every bundled multi-table dataset (a patients table and event tables)."""
    return [TABLES_CATALOG[key] for key in sorted(TABLES_CATALOG)]


def tables_info(key: str) -> TablesInfo:
    """Describe one bundled multi-table dataset without loading it.

    Raises:
        UnknownDatasetError: ``key`` is not a bundled multi-table dataset.
    """
    if key not in TABLES_CATALOG:
        from synthpatient.errors import UnknownDatasetError

        raise UnknownDatasetError(
            f"Unknown multi-table dataset '{key}'. Known: {', '.join(sorted(TABLES_CATALOG))}."
        )
    return TABLES_CATALOG[key]


def load_tables(key: str) -> PatientTables:
    """Load a bundled multi-table dataset as :class:`~synthpatient.longitudinal.PatientTables`.

    Examples:
        >>> from synthpatient import datasets
        >>> tables = datasets.load_tables("nafld")
        >>> tables.names, tables.n_patients
        (('labs', 'diagnoses'), 998)
    """
    from synthpatient.longitudinal import PatientTables

    meta = tables_info(key)
    patients, events = load_frames(key)
    times = {name: time for name, (time, _) in meta.tables.items()}
    return PatientTables.from_frames(patients, events, key=meta.patient_key, times=times)
