"""Reading and writing user files: clear errors, and atomic writes that never leave partial files.

Every write goes to a temporary file in the target folder and is renamed into place, so an
interrupted or failed run leaves the user's existing files untouched and no half-written file.
"""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from synthpatient.errors import DataError, FileIOError

TABLE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}


def table_format(path: Path) -> str:
    """The table format implied by the file extension, or a clear error."""
    fmt = TABLE_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"Cannot tell the table format of '{path.name}' from its extension. "
            f"Use one of: {', '.join(sorted(TABLE_SUFFIXES))}."
        )
    return fmt


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
            _check_unique_columns(_csv_header(path, sep), path)
            frame = pd.read_csv(path, sep=sep, low_memory=False)
    except (DataError, FileIOError):
        raise
    except UnicodeDecodeError as exc:
        raise FileIOError(f"Cannot read '{path}': it is not UTF-8 text. Save it as UTF-8 CSV.") from exc
    except Exception as exc:  # pandas/pyarrow raise many types for malformed files
        raise DataError(f"Cannot parse '{path}' as {fmt.upper()}: {_reason(exc)}. "
                        "Check that the file is a well-formed table.") from exc
    if frame.shape[0] == 0:
        raise DataError(f"The table '{path}' has a header but no rows. Give at least a few rows.")
    return frame


def _csv_header(path: Path, sep: str) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle, delimiter=sep), [])


def _check_unique_columns(names: list[str], path: Path) -> None:
    seen: set[str] = set()
    dupes = sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]
    if dupes:
        raise DataError(f"The table '{path.name}' has duplicate column names: {', '.join(dupes)}. "
                        "Rename them so that each column name is unique.")


def _check_readable(path: Path, what: str) -> None:
    if not path.exists():
        raise FileIOError(f"The {what} '{path}' does not exist. Check the path.")
    if path.is_dir():
        raise FileIOError(f"The {what} '{path}' is a folder, not a file. Give a file path.")
    if not os.access(path, os.R_OK):
        raise FileIOError(f"The {what} '{path}' cannot be read (permission denied).")


def check_output_path(path: str | Path, *, overwrite: bool, kind: str = "file") -> Path:
    """Refuse an existing path (unless ``overwrite``) or a missing folder, before any work starts."""
    path = Path(path)
    if kind == "table":
        table_format(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise FileIOError(f"The output folder '{parent}' does not exist. Create it first "
                          "or choose another output path.")
    if path.exists() and not overwrite:
        raise FileIOError(f"The output '{path}' already exists. Choose another path or pass "
                          "--overwrite to replace it.")
    if path.exists() and path.is_dir() != (kind == "folder"):
        raise FileIOError(f"The output '{path}' exists and is a {'folder' if path.is_dir() else 'file'}. "
                          "Choose another path.")
    return path


@contextlib.contextmanager
def _temporary_sibling(path: Path, *, folder: bool = False) -> Iterator[Path]:
    """A temporary file/folder beside ``path``; removed unless it was renamed into place."""
    parent = path.parent if str(path.parent) else Path(".")
    if folder:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def write_table(frame: pd.DataFrame, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a table as CSV/TSV/Parquet (by extension) atomically."""
    path = check_output_path(path, overwrite=overwrite, kind="table")
    fmt = table_format(path)
    with _temporary_sibling(path) as tmp:
        try:
            if fmt == "parquet":
                frame.to_parquet(tmp, index=False)
            else:
                frame.to_csv(tmp, index=False, sep="\t" if fmt == "tsv" else ",")
        except OSError as exc:
            raise FileIOError(f"Cannot write '{path}': {_reason(exc)}.") from exc
        os.replace(tmp, path)
    return path


def write_text_atomic(path: Path, text: str) -> None:
    with _temporary_sibling(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)


@contextlib.contextmanager
def atomic_folder(path: Path, *, overwrite: bool) -> Iterator[Path]:
    """Yield a temporary folder to fill; it replaces ``path`` only if the block succeeds."""
    path = check_output_path(path, overwrite=overwrite, kind="folder")
    with _temporary_sibling(path, folder=True) as tmp:
        yield tmp
        if path.exists():
            backup = path.with_name(f".{path.name}.old")
            os.replace(path, backup)
            os.replace(tmp, path)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(tmp, path)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
