"""The one row hash: which rows are equal, for copies and duplicates, without keeping the rows.

Used by the synthesizers that reject copies of training rows (the tabular LM keeps the hashes
of its training rows in its model folder; the LLM synthesizer keyed ones) and by the privacy
evaluation's exact-copy counts.

A row's key is text: each value's canonical spelling, joined by ``\\x1f``. Numbers are rounded
to the column's decimals (``-0.0`` is ``0``, whole numbers lose their ``.0``, so int ``3``, float
``3.0`` and the CSV text ``"3"`` are one value); dates are ``YYYY-MM-DD HH:MM:SS`` (time-zone
aware ones in UTC); categories use :func:`synthpatient.schema.category_key` (and booleans also
read ``yes``/``no``/``1``/``0``); a missing value is ``\\x00`` (a missing date the empty string:
both are what the tabular LM has always saved). The hash is pandas' 64-bit SipHash
of the key, under a 16-character key: the default one (what the tabular LM has always saved,
so its saved hashes keep their values), or a random one per model, which stops tables of
precomputed hashes from being tried against a saved model.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import reduce

import numpy as np
import pandas as pd

from synthpatient.schema import category_key, utc_datetimes

NUMERIC_KINDS = frozenset({"numeric", "integer"})
MISSING = "\x00"
MISSING_DATE = ""
SEPARATOR = "\x1f"
#: pandas' default SipHash key; the tabular LM's saved hashes were made with it.
DEFAULT_KEY = "0123456789123456"
_BOOL_WORDS = {
    "true": "True",
    "false": "False",
    "1": "True",
    "0": "False",
    "yes": "True",
    "no": "False",
}

#: Decimals per column: one number for every numeric column, or a mapping (a missing name or
#: None: not rounded).
Decimals = int | Mapping[str, int | None] | None


def value_keys(values: pd.Series, kind: str, decimals: int | None = None) -> np.ndarray:
    """The canonical spelling of each value of one column (object array; ``MISSING`` where
    missing, ``MISSING_DATE`` in a date column). Spellings are computed once per distinct
    value, so this is fast on long tables."""
    missing = MISSING
    if kind in NUMERIC_KINDS:
        series: pd.Series = (
            values.astype(float) if values.dtype == bool else pd.to_numeric(values, errors="coerce")
        )
        numbers = np.array(series.to_numpy(dtype=float, na_value=np.nan))
        numbers[~np.isfinite(numbers)] = np.nan
        if decimals is not None:
            with np.errstate(over="ignore", invalid="ignore"):
                rounded = np.round(numbers, decimals)
            # np.round scales by 10**decimals first: near the float limit (1e308) that is
            # infinite, and distinct numbers would share the key "inf"; keep those as they are
            overflow = np.isfinite(numbers) & ~np.isfinite(rounded)
            rounded[overflow] = numbers[overflow]
            numbers = rounded
        codes, uniques = pd.factorize(numbers + 0.0, use_na_sentinel=True)  # -0.0 -> 0.0
        keys = [category_key(float(v)) for v in uniques]
    elif kind == "datetime":
        # schema's reading (offsets, mixed ones too, to UTC); every date kept, so a key never
        # depends on the resolution or range pandas computes with
        stamps = utc_datetimes(values, nanoseconds=False)
        codes, uniques = pd.factorize(stamps, use_na_sentinel=True)
        keys = [str(pd.Timestamp(v)) for v in uniques]
        missing = MISSING_DATE
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        keys = [category_key(v) for v in uniques]
        if kind == "boolean":
            keys = [_BOOL_WORDS.get(k.lower(), k) for k in keys]
    lookup = np.array(keys + [missing], dtype=object)
    return lookup[codes]  # code -1 (missing) picks the trailing entry


def row_keys(
    frame: pd.DataFrame, kinds: Mapping[str, str], decimals: Decimals = None
) -> np.ndarray:
    """One canonical text per row over ``kinds``' columns, in that order (object array)."""
    if not len(kinds):
        return np.full(len(frame), "", dtype=object)
    parts = [
        value_keys(frame[name].reset_index(drop=True), kind, _decimals(decimals, name))
        for name, kind in kinds.items()
    ]
    return reduce(lambda left, right: left + SEPARATOR + right, parts)


def hash_keys(keys: np.ndarray | list[str], key: str = DEFAULT_KEY) -> np.ndarray:
    """64-bit SipHash of each row key under ``key`` (16 ASCII characters), as uint64."""
    values = np.asarray(keys, dtype=object)
    if not len(values):
        return np.zeros(0, dtype=np.uint64)
    return pd.util.hash_array(values, hash_key=key).astype(np.uint64)


def row_hashes(
    frame: pd.DataFrame, kinds: Mapping[str, str], decimals: Decimals = 9, *, key: str = DEFAULT_KEY
) -> np.ndarray:
    """One uint64 hash per row over ``kinds``' columns; ``frame`` is not modified.

    Args:
        frame: The rows.
        kinds: Column name -> schema kind ("numeric", "integer", "datetime", "categorical",
            "boolean"), in the order the key reads them.
        decimals: Numbers are compared rounded to this many places (9 by default, so CSV
            round trips do not break equality), or per column.
        key: The SipHash key, 16 characters.
    """
    return hash_keys(row_keys(frame, kinds, decimals), key)


def new_key(rng: np.random.Generator) -> str:
    """A random 16-character hash key (64 bits, as hexadecimal digits)."""
    return rng.bytes(8).hex()


def _decimals(decimals: Decimals, name: str) -> int | None:
    if decimals is None or isinstance(decimals, int):
        return decimals
    return decimals.get(name)
