"""The exporter contract: one class per output format, every write through the atomic writer.

An exporter declares what it writes (``key``, ``kind``: one file or a folder, ``suffixes``,
``media_type``, ``description``) and what it takes (``accepts``: a table, a knowledge-driven
cohort, an evaluation report). The public methods live only here, as the synthesizers' do in
their base class: they check the input (a wrong type is one line naming what was expected) and
the options, then hand a checked value to the format's hook:

- ``_text(data)`` for a text file, or ``_bytes(data)`` for a binary one;
- ``_files(data)`` for a folder: ``(name, chunks)`` pairs, streamed to disk or into a zip.

``export`` writes to a temporary sibling and renames it into place (``synthpatient._atomic``),
so a failed or interrupted export leaves nothing half-written, and any ``OSError`` is one
:class:`~synthpatient.errors.FileIOError` line naming the target.
"""

from __future__ import annotations

import hashlib
import io
import re
import tempfile
import zipfile
from abc import ABC
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar, Literal

import pandas as pd

from synthpatient._atomic import atomic_folder, write_bytes_atomic, write_file_atomic
from synthpatient.errors import InvalidParameterError

if TYPE_CHECKING:
    from synthpatient.schema import Schema

DataKind = Literal["table", "cohort", "report"]
_DESCRIBED = {
    "table": "a table (a DataFrame or an exporters.Table)",
    "cohort": "a knowledge-driven Cohort",
    "report": "an EvaluationReport",
}
# the non-table inputs, by class name and package: checking an input's type never imports
# the knowledge base or the evaluation suite, and does not depend on which module of its
# package defines the class
_CLASSES: dict[DataKind, tuple[str, str]] = {
    "cohort": ("synthpatient.knowledge", "Cohort"),
    "report": ("synthpatient.evaluation", "EvaluationReport"),
}


@dataclass(frozen=True)
class Table:
    """A table to export: its rows and, when known, their schema.

    The schema lets an exporter say more than the rows do (kinds, units, codes, which columns
    are identifiers); without one, a bare DataFrame is exported as it is.

    Examples:
        >>> table = Table(synthetic, schema=model.schema_)
        >>> get_exporter("csv").export(table, "synthetic.csv")
    """

    frame: pd.DataFrame
    schema: Schema | None = None


def data_kind(data: object) -> DataKind | None:
    """What ``data`` is to an exporter: a table, a cohort, a report, or nothing it takes."""
    if isinstance(data, (Table, pd.DataFrame)):
        return "table"
    for klass in type(data).__mro__:
        for kind, (package, name) in _CLASSES.items():
            if klass.__name__ == name and klass.__module__.startswith(f"{package}."):
                return kind
    return None


def text_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with datetime columns as YYYY-MM-DD text (as a cohort's files write them)."""
    out = frame.copy()
    for column in out.columns:
        if str(out[column].dtype).startswith("datetime64"):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    return out


#: the tables of a cohort with a history (``cohort.timeline``), in the order written, with
#: what one row of each is
HISTORY_TABLES = {
    "encounters": "visit (date, kind, reason)",
    "observations": "value measured at a visit (date, encounter id, LOINC, UCUM unit)",
    "medications": "prescription (start date; stop date, empty while ongoing)",
    "conditions": "condition (onset date; the cohort's own at diagnosis)",
}


def cohort_tables(cohort: Any) -> dict[str, Table]:
    """A cohort's tables, dates as text: ``patients`` (one row each) and ``observations``
    (one row per patient and observation, with LOINC code and UCUM unit).

    A cohort with a history (``cohort.timeline`` set) gives ``patients`` (the values at the
    last visit) and the history's tables (:data:`HISTORY_TABLES`): observations are then long
    over time, each with its date and encounter id.
    """
    tables = {"patients": Table(text_dates(cohort.wide))}
    timeline = getattr(cohort, "timeline", None)
    if timeline is None:
        tables["observations"] = Table(text_dates(cohort.long()))
        return tables
    for name in HISTORY_TABLES:
        tables[name] = Table(text_dates(getattr(timeline, name)))
    return tables


class Exporter(ABC):
    """One output format. Subclasses set the class attributes and fill one hook.

    Attributes:
        key: The registry key (``synthpatient.exporters.get_exporter(key)``).
        kind: ``"file"`` or ``"folder"``.
        suffixes: A file's accepted extensions, the first being the usual one.
        media_type: The MIME type of ``to_bytes`` (``application/zip`` for a folder).
        description: One line for listings.
        accepts: The inputs it writes; a cohort given to a table format is its patients table.
        tabular: Whether it writes a table's rows as one file (the CLI's ``--out`` picks
            among these by extension).
        options: The keyword options ``export`` takes.

    Examples:
        >>> exporter = get_exporter("parquet")
        >>> exporter.export(synthetic, "synthetic.parquet", overwrite=True)
        >>> data = exporter.to_bytes(synthetic)          # for a download, in memory
    """

    key: ClassVar[str]
    kind: ClassVar[Literal["file", "folder"]] = "file"
    suffixes: ClassVar[tuple[str, ...]] = ()
    media_type: ClassVar[str] = "application/octet-stream"
    description: ClassVar[str] = ""
    accepts: ClassVar[frozenset[DataKind]] = frozenset({"table"})
    tabular: ClassVar[bool] = False
    binary: ClassVar[bool] = False
    options: ClassVar[tuple[str, ...]] = ()

    @property
    def suffix(self) -> str:
        """The usual extension of a file export ("" for a folder)."""
        return self.suffixes[0] if self.suffixes else ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    # -- public ----------------------------------------------------------------------------
    def export(
        self, data: Any, path: str | Path, *, overwrite: bool = False, **options: Any
    ) -> Path:
        """Write ``data`` to ``path`` atomically; the path written."""
        data = self._checked(data, options)
        path = Path(path)
        if self.kind == "folder":
            with atomic_folder(path, overwrite=overwrite) as tmp:
                for name, chunks in self._files(data, **options):
                    with open(tmp / name, "wb") as handle:
                        _write_chunks(handle, chunks)
            return path
        self._check_suffix(path)
        return self._write(data, path, overwrite=overwrite, **options)

    def to_bytes(self, data: Any, **options: Any) -> bytes:
        """The export in memory: a file's bytes, or a zip of a folder's files."""
        data = self._checked(data, options)
        if self.kind == "folder":
            buffer = io.BytesIO()
            self._zip(buffer, data, options)
            return buffer.getvalue()
        return self._bytes(data, **options)

    def to_text(self, data: Any, **options: Any) -> str:
        """The export as text (text formats only)."""
        if self.kind == "folder" or self.binary:
            what = "a folder" if self.kind == "folder" else "binary data"
            raise InvalidParameterError(
                f"The {self.key} exporter writes {what}, not text. Use to_bytes()."
            )
        return self._text(self._checked(data, options), **options)

    def archive(
        self, data: Any, path: str | Path, *, overwrite: bool = False, **options: Any
    ) -> Path:
        """A folder export as one zip file at ``path`` (a download), streamed, atomically."""
        if self.kind != "folder":
            return self.export(data, path, overwrite=overwrite, **options)
        data = self._checked(data, options)
        return write_file_atomic(
            path, lambda tmp: self._zip(tmp, data, options), overwrite=overwrite
        )

    # -- hooks -----------------------------------------------------------------------------
    def _text(self, data: Any, **options: Any) -> str:
        raise NotImplementedError

    def _bytes(self, data: Any, **options: Any) -> bytes:
        return self._text(data, **options).encode("utf-8")

    def _files(self, data: Any, **options: Any) -> Iterator[tuple[str, Iterable[bytes]]]:
        raise NotImplementedError

    def _write(self, data: Any, path: Path, *, overwrite: bool, **options: Any) -> Path:
        """A file export; formats that pandas writes straight to disk override this."""
        return write_bytes_atomic(path, self._bytes(data, **options), overwrite=overwrite)

    # -- checks ----------------------------------------------------------------------------
    def _checked(self, data: Any, options: dict[str, Any]) -> Any:
        """``data`` as the hooks take it (a :class:`Table`, a cohort or a report)."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            takes = ", ".join(self.options) or "none"
            raise InvalidParameterError(
                f"The {self.key} exporter has no option '{unknown[0]}'. Its options: {takes}."
            )
        kind = data_kind(data)
        if kind == "table" and "table" in self.accepts:
            return data if isinstance(data, Table) else Table(data)
        if kind is not None and kind in self.accepts:
            return data
        if kind == "cohort" and "table" in self.accepts:  # its patients table, dates as text
            return Table(text_dates(data.wide))
        wanted = " or ".join(_DESCRIBED[k] for k in sorted(self.accepts))
        got = _DESCRIBED[kind] if kind else f"a {type(data).__name__}"
        raise InvalidParameterError(
            f"The {self.key} exporter writes {wanted}; got {got}. "
            "Pass what it writes, or choose another format."
        )

    def _check_suffix(self, path: Path) -> None:
        if self.suffixes and path.suffix.lower() not in self.suffixes:
            raise InvalidParameterError(
                f"The {self.key} exporter writes {' or '.join(self.suffixes)} files; the name "
                f"'{path.name}' ends otherwise. Give a name ending in {self.suffix}."
            )

    def _zip(self, target: Path | IO[bytes], data: Any, options: dict[str, Any]) -> None:
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, chunks in self._files(data, **options):
                with archive.open(name, "w", force_zip64=True) as handle:
                    _write_chunks(handle, chunks)


def _write_chunks(handle: IO[bytes], chunks: Iterable[bytes]) -> None:
    for chunk in chunks:
        handle.write(chunk)


def archive_folder(folder: str | Path, path: str | Path, *, overwrite: bool = False) -> Path:
    """The files of an exported folder as one zip at ``path`` (flat, sorted), atomically.

    For a folder already written (a cohort's FHIR), so a download need not build it again.
    """
    folder = Path(folder)

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for item in sorted(folder.iterdir()):
                if item.is_file():
                    archive.write(item, arcname=item.name)

    return write_file_atomic(path, write, overwrite=overwrite)


def table_bytes(exporter: Exporter, table: Table) -> bytes:
    """A table format's bytes, made by its own file writer (one code path for disk and memory)."""
    with tempfile.TemporaryDirectory(prefix="synthpatient-") as folder:
        path = Path(folder) / f"table{exporter.suffix}"
        exporter.export(table, path)
        return path.read_bytes()


def safe_name(text: str, fallback: str) -> str:
    """``text`` as a file name if it is a plain one (letters, digits, ``._-``), else ``fallback``:
    a value from the data never chooses a path."""
    if re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}", text):
        return text
    return fallback


def checksums(files: Mapping[str, str | Path]) -> dict[str, dict[str, Any]]:
    """SHA-256 and size of each named file; a folder gives one entry per file inside it
    (``name/relative/path``), so nothing written escapes the record."""
    found: dict[str, dict[str, Any]] = {}
    for name, path in files.items():
        path = Path(path)
        items = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for item in items:
            rel = name if item == path else f"{name}/{item.relative_to(path).as_posix()}"
            digest = hashlib.sha256()
            with item.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):  # noqa: B023
                    digest.update(block)
            found[rel] = {"sha256": digest.hexdigest(), "bytes": item.stat().st_size}
    return found
