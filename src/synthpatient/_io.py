"""Reading user files with one-line errors for every way that can fail.

Writing lives in :mod:`synthpatient._atomic` (temporary sibling, then rename); its functions
are re-exported here so that ``from synthpatient._io import write_table`` keeps working.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path

import pandas as pd

from synthpatient._atomic import (
    TABLE_SUFFIXES,
    atomic_folder,
    check_output_path,
    table_format,
    write_bytes_atomic,
    write_table,
    write_text_atomic,
)
from synthpatient.errors import DataError, FileIOError

__all__ = [
    "TABLE_SUFFIXES",
    "atomic_folder",
    "check_output_path",
    "read_table",
    "read_text",
    "table_format",
    "write_bytes_atomic",
    "write_table",
    "write_text_atomic",
]

#: Delimiters a "CSV" saved by a spreadsheet in another locale may use instead of its own.
OTHER_DELIMITERS = {";": "semicolon", "|": "pipe", "\t": "tab", ",": "comma"}


def read_text(path: Path, *, what: str = "file") -> str:
    _check_readable(path, what)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FileIOError(f"Cannot read the {what} '{path}': {_reason(exc)}.") from exc


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, TSV or Parquet table, with one-line errors for every way that can fail."""
    path = Path(path)
    _check_readable(path, "input file")
    fmt = table_format(path)
    if path.stat().st_size == 0:
        raise DataError(f"The input file '{path}' is empty. Give a table with a header and rows.")
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            names = pq.read_schema(path).names
            _check_unique_columns(names, path)
            frame = pd.read_parquet(path)
        else:
            sep = "\t" if fmt == "tsv" else ","
            header = _csv_header(path, sep)
            _check_delimiter(header, sep, path)
            _check_unique_columns(header, path)
            frame = pd.read_csv(path, sep=sep, low_memory=False)
    except (DataError, FileIOError):
        raise
    except UnicodeDecodeError as exc:
        raise FileIOError(
            f"Cannot read '{path}': it is not UTF-8 text. Save it as UTF-8 CSV."
        ) from exc
    except Exception as exc:  # pandas/pyarrow raise many types for malformed files
        raise DataError(
            f"Cannot parse '{path}' as {fmt.upper()}: {_reason(exc)}. "
            "Check that the file is a well-formed table."
        ) from exc
    if frame.shape[0] == 0:
        raise DataError(f"The table '{path}' has a header but no rows. Give at least a few rows.")
    return frame


def _csv_header(path: Path, sep: str) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle, delimiter=sep), [])


def _check_delimiter(header: list[str], sep: str, path: Path) -> None:
    """Refuse a file whose header is one field holding another delimiter.

    Reading it with the other delimiter was rejected: such files (spreadsheets in locales with
    a decimal comma) usually write numbers as ``5,4``, which would then be read as text and
    learned as categories without a word. The user re-saving the file is one step and safe.
    """
    if len(header) != 1:
        return
    for delimiter, name in OTHER_DELIMITERS.items():
        if delimiter != sep and len(header[0].split(delimiter)) > 1:
            raise DataError(
                f"The table '{path.name}' looks {name}-delimited: its header is one "
                f"column holding {name}s. Save it as comma-separated .csv (with '.' "
                "as the decimal point) or tab-separated .tsv, then try again."
            )


def _check_unique_columns(names: list[str], path: Path) -> None:
    dupes = sorted(n for n, count in Counter(names).items() if count > 1)
    if dupes:
        raise DataError(
            f"The table '{path.name}' has duplicate column names: {', '.join(dupes)}. "
            "Rename them so that each column name is unique."
        )


def _check_readable(path: Path, what: str) -> None:
    if not path.exists():
        raise FileIOError(f"The {what} '{path}' does not exist. Check the path.")
    if path.is_dir():
        raise FileIOError(f"The {what} '{path}' is a folder, not a file. Give a file path.")
    if not os.access(path, os.R_OK):
        raise FileIOError(f"The {what} '{path}' cannot be read (permission denied).")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
