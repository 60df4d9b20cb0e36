"""Uploads: a table streamed into the session's folder (or a bundled one), read and inspected.

The size limit is enforced while reading, only the extension of the user's file name is kept
(from a short allow-list) and the name is shown, never used as a path. The table is read and
its schema inferred at once, so identifier and free-text columns are flagged before anything
is learned. A session keeps a few tables; past that the oldest goes, and the user is told.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pandas as pd

from synthpatient.errors import DataError, NotFoundError, SynthPatientError, UploadTooLargeError
from synthpatient.web._timelines import UploadTimeline, find_timeline, flag_note
from synthpatient.web.sessions import Session, new_id
from synthpatient.web.settings import Settings

SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")


MAX_UPLOADS_PER_SESSION = 5


#: room for the multipart envelope around the file (boundaries, part headers, a long name)
MULTIPART_OVERHEAD = 64 * 1024


_FLAG_NOTE = {
    "identifier": "identifier: not learned, made up fresh in the synthetic rows",
    "text": "free text: not learned; left empty in the synthetic rows (the hybrid generator "
    "writes new notes)",
}


@dataclass
class Upload:
    id: str
    filename: str  # for display only
    path: Path
    size_bytes: int
    sha256: str
    n_rows: int
    columns: list[dict[str, Any]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # told to the user with this upload
    #: set when the rows repeat a patient id: the table is read as patient histories
    timeline: UploadTimeline | None = None
    #: generators that cannot learn from so few rows: key -> why (told at upload)
    too_small: dict[str, str] = field(default_factory=dict)
    #: column -> unit, where the table's documentation gives one (a bundled dataset)
    units: dict[str, str] = field(default_factory=dict)

    @property
    def flagged(self) -> list[str]:
        return [c["name"] for c in self.columns if c["flagged"]]


def display_name(filename: str | None) -> str:
    """The user's file name, safe to show: no folders, no control characters, short."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip() or "upload"
    return name[:100]


async def receive_upload(
    session: Session,
    settings: Settings,
    content_type: str,
    content_length: str | None,
    chunks: AsyncIterator[bytes],
) -> Upload:
    """Stream a multipart upload into the session, enforcing the size limit while reading.

    Starlette's form parsing would first spool the whole body (in memory, then a temp file)
    and only then let the size be checked; here the ``file`` field goes straight to its final
    place as it arrives, and reading stops at the first byte over the limit. A declared
    ``Content-Length`` over the limit is refused before anything is read. Whatever fails, the
    partial file is deleted.

    Raises:
        UploadTooLargeError: over the size limit (413).
        DataError: not a multipart upload with one table in a field named ``file``, a file
            type this app does not read, or a table it cannot use.
    """
    import anyio
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import MultipartParser, parse_options_header

    limit = settings.max_upload_bytes + MULTIPART_OVERHEAD
    if content_length and content_length.isdigit() and int(content_length) > limit:
        raise _too_large(None, settings)
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise DataError(
            "Send the table as a multipart/form-data upload with one field named "
            "'file' (as a browser form does; with curl: -F file=@table.csv)."
        )
    part = _FilePart(session.workdir("uploads"), settings)
    try:
        parser = MultipartParser(boundary, part.callbacks())
        received = 0
        async for chunk in chunks:
            received += len(chunk)
            if received > limit:  # the envelope around the file is small: this is the file
                raise _too_large(part.name, settings)
            # parsing and writing to disk off the event loop, so other users are not held up
            await anyio.to_thread.run_sync(parser.write, chunk)
        parser.finalize()
        part.finish()
    except FormParserError:
        part.discard()
        raise DataError(
            "The upload is not a well-formed multipart/form-data body. Send the "
            "table in a field named 'file' (curl -F file=@table.csv)."
        ) from None
    except BaseException:
        part.discard()
        raise
    assert part.path is not None and part.name is not None  # finish() checked both
    name, path, size, sha256 = part.name, part.path, part.size, part.digest.hexdigest()
    try:  # reading the table and inferring its schema take CPU: off the event loop too
        return await anyio.to_thread.run_sync(
            lambda: _keep(session, _inspect(settings, new_id(12), name, path, size, sha256))
        )
    except BaseException:
        path.unlink(missing_ok=True)
        raise


class _FilePart:
    """Callbacks of python-multipart's streaming parser: the ``file`` field is written to disk
    as it arrives and counted, every other field is skipped."""

    def __init__(self, folder: Path, settings: Settings) -> None:
        self.folder, self.settings = folder, settings
        self.name: str | None = None  # the user's file name, for display only
        self.path: Path | None = None  # ours, inside the session's folder
        self.size = 0
        self.digest = hashlib.sha256()
        self._out: IO[bytes] | None = None
        self._writing = self._ended = self._done = False
        self._field = self._value = self._disposition = b""

    def callbacks(self) -> Any:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self._disposition = b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        if self._field.strip().lower() == b"content-disposition":
            self._disposition = self._value
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(self._disposition)
        if options.get(b"name") != b"file":
            self._writing = False
            return
        if self.path is not None:
            raise DataError("Send one table per upload (the form has more than one 'file').")
        if b"filename" not in options:
            raise DataError(
                "The 'file' field carries no file name; send the table as a file "
                "(curl -F file=@table.csv)."
            )
        name = display_name(options[b"filename"].decode("utf-8", "replace"))
        suffix = Path(name).suffix.lower()
        if suffix not in SUFFIXES:
            raise DataError(
                f"'{name}' is not a table this app reads. Upload a .csv, .tsv or .parquet file."
            )
        self.name, self.path = name, self.folder / f"{secrets.token_hex(8)}{suffix}"
        self._out = self.path.open("wb")
        self._writing = True

    def _data(self, data: bytes, start: int, end: int) -> None:
        if not self._writing or self._out is None:
            return
        self.size += end - start
        if self.size > self.settings.max_upload_bytes:
            raise _too_large(self.name, self.settings)
        chunk = data[start:end]
        self.digest.update(chunk)
        self._out.write(chunk)

    def _part_end(self) -> None:
        if self._writing and self._out is not None:
            self._out.close()
            self._done = True
        self._writing = False

    def _end(self) -> None:
        self._ended = True

    def finish(self) -> None:
        """After the last byte: the file part must have arrived whole."""
        if self.path is None:
            raise DataError(
                "The upload holds no table: send it in a field named 'file' "
                "(curl -F file=@table.csv)."
            )
        if not (self._done and self._ended):
            self.discard()
            raise DataError("The upload ended before the file did; nothing was kept. Try again.")

    def discard(self) -> None:
        if self._out is not None:
            self._out.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def _too_large(name: str | None, settings: Settings) -> UploadTooLargeError:
    what = f"'{name}'" if name else "The upload"
    return UploadTooLargeError(
        f"{what} is larger than the limit of {settings.max_upload_mb:g} MB; nothing of it was kept."
    )


def _keep(session: Session, upload: Upload) -> Upload:
    """Add a checked upload to the session; past the per-session cap the oldest one goes, and
    the user is told (only now, so a failed upload never costs an earlier one)."""
    with session.lock:
        while len(session.uploads) >= MAX_UPLOADS_PER_SESSION:
            oldest = session.uploads.pop(next(iter(session.uploads)))
            oldest.path.unlink(missing_ok=True)
            upload.notices.append(
                f"Your earliest table, {oldest.filename}, was removed: a "
                f"session keeps at most {MAX_UPLOADS_PER_SESSION} tables."
            )
        session.uploads[upload.id] = upload
    return upload


def bundled_upload(session: Session, settings: Settings, key: str) -> Upload:
    """A bundled real dataset (``synthpatient.datasets``), as if the user had uploaded it."""
    from synthpatient import datasets

    frame = datasets.load(key)
    path = session.workdir("uploads") / f"{secrets.token_hex(8)}.csv"
    frame.to_csv(path, index=False)
    data = path.read_bytes()
    try:
        upload = _inspect(
            settings,
            new_id(12),
            f"{key}.csv (bundled)",
            path,
            len(data),
            hashlib.sha256(data).hexdigest(),
        )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    upload.units = {c.name: c.unit for c in datasets.info(key).columns if c.unit}
    return _keep(session, upload)


def remove_upload(session: Session, upload_id: str) -> None:
    upload = session.uploads.pop(upload_id, None)
    if upload is None:
        raise NotFoundError("No such upload in this session.")
    upload.path.unlink(missing_ok=True)


def read_upload(upload: Upload) -> pd.DataFrame:
    """The table, with errors that name the user's file, never the server's path."""
    from synthpatient import read_table

    try:
        return read_table(upload.path)
    except SynthPatientError as exc:
        message = str(exc).replace(str(upload.path), upload.filename)
        raise DataError(message.replace(upload.path.name, upload.filename)) from None


def _inspect(
    settings: Settings, upload_id: str, name: str, path: Path, size: int, sha256: str
) -> Upload:
    """Read the table and infer its schema, so identifiers are flagged before any learning."""
    upload = Upload(upload_id, name, path, size, sha256, 0)
    frame = read_upload(upload)
    if len(frame) > settings.max_upload_rows:
        raise DataError(
            f"'{name}' has {len(frame):,} rows; the limit is "
            f"{settings.max_upload_rows:,}. Upload fewer rows."
        )
    if frame.shape[1] > settings.max_upload_columns:
        raise DataError(
            f"'{name}' has {frame.shape[1]:,} columns; the limit is "
            f"{settings.max_upload_columns:,}."
        )
    schema, decisions = _explained(frame)
    upload.n_rows = len(frame)
    upload.timeline, notice = find_timeline(frame, decisions)
    if notice:
        upload.notices.append(notice)
    if upload.timeline is None:  # a history table is counted in patients by its generator
        upload.too_small = _too_small(name, len(frame))
    upload.columns = []
    for c in schema:
        role = upload.timeline.role(c.name) if upload.timeline else None
        upload.columns.append(
            {
                "name": c.name,
                "kind": c.kind,
                "flagged": c.kind in _FLAG_NOTE,
                "note": flag_note(c.kind, role) or _FLAG_NOTE.get(c.kind, "learned"),
                "role": role,
                "timeline": upload.timeline.reasons.get(c.name) if upload.timeline else None,
            }
        )
    return upload


def _too_small(name: str, n_rows: int) -> dict[str, str]:
    """The generators that cannot learn from this many rows (three quarters of them, when a
    quarter is kept aside), each with why; refused at once when none of them can."""
    from synthpatient.web.tables import HOLDOUT_SHARE, MIN_ROWS_FOR_HOLDOUT, synthesizer_choices

    learned = n_rows if n_rows < MIN_ROWS_FOR_HOLDOUT else round(n_rows * (1 - HOLDOUT_SHARE))
    out = {
        c["key"]: f"needs at least {c['min_rows']} rows to learn from"
        for c in synthesizer_choices()
        if not c["longitudinal"] and learned < c.get("min_rows", 0)
    }
    usable = [
        c
        for c in synthesizer_choices()
        if c["available"] and not c["longitudinal"] and c["key"] not in out
    ]
    if not usable:
        least = min(c.get("min_rows", 0) for c in synthesizer_choices())
        raise DataError(
            f"'{name}' has {n_rows:,} rows: too few to learn from (every generator here "
            f"needs at least {least}). Upload a table with more rows."
        )
    return out


def _schema(
    frame: pd.DataFrame,
    identifiers: list[str] | tuple[str, ...] = (),
    learn: list[str] | tuple[str, ...] = (),
) -> Any:
    return _explained(frame, identifiers, learn)[0]


def _explained(
    frame: pd.DataFrame,
    identifiers: list[str] | tuple[str, ...] = (),
    learn: list[str] | tuple[str, ...] = (),
) -> tuple[Any, list[Any]]:
    """The schema and the decision behind each column (the patient key among them);
    ``learn``: flagged columns the user chose to learn anyway (read as categories)."""
    from synthpatient.schema import explain_schema

    try:
        return explain_schema(frame, identifiers=identifiers, categorical=learn)
    except SynthPatientError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        raise DataError(
            f"The table's columns could not be read ({type(exc).__name__}). "
            "Check that it is a well-formed table."
        ) from None
