"""The data flow: an uploaded table (or a bundled one), a generator, rows, conditions.

Uploads are streamed straight into the session's folder under a name chosen here, the size
limit enforced while reading (only the extension of the user's file name is kept, from a short
allow-list); the user's name is shown, never used as a path. The table is read and its schema
inferred at once, so identifier and free-text columns are flagged before anything is learned.
Generation fits on three quarters of the rows and keeps the rest aside to measure privacy,
then evaluates with the evaluation suite.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
import re
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import pandas as pd

from synthpatient.errors import (  # noqa: F401  (defined in errors.py; re-exported)
    DataError,
    InvalidParameterError,
    NotFoundError,
    SynthPatientError,
    UploadTooLargeError,
)
from synthpatient.web.jobs import Job
from synthpatient.web.plots import PLOT_LOCK, report_plots
from synthpatient.web.results import (
    PREVIEW_ROWS,
    Result,
    export_download,
    records,
    text_download,
)
from synthpatient.web.sessions import Session, new_id
from synthpatient.web.settings import Settings

log = logging.getLogger("synthpatient.web")
SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")
HOLDOUT_SHARE = 0.25
MIN_ROWS_FOR_HOLDOUT = 40
MAX_UPLOADS_PER_SESSION = 5
#: room for the multipart envelope around the file (boundaries, part headers, a long name)
MULTIPART_OVERHEAD = 64 * 1024
_FLAG_NOTE = {
    "identifier": "identifier: not learned, made up fresh in the synthetic rows",
    "text": "free text: not learned, made up fresh in the synthetic rows",
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

    @property
    def flagged(self) -> list[str]:
        return [c["name"] for c in self.columns if c["flagged"]]


# -- uploads -------------------------------------------------------------------------------
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
    schema = _schema(frame)
    upload.n_rows = len(frame)
    upload.columns = [
        {
            "name": c.name,
            "kind": c.kind,
            "flagged": c.kind in _FLAG_NOTE,
            "note": _FLAG_NOTE.get(c.kind, "learned"),
        }
        for c in schema
    ]
    return upload


def _schema(frame: pd.DataFrame, identifiers: list[str] | tuple[str, ...] = ()) -> Any:
    from synthpatient import Schema

    try:
        return Schema.infer(frame, identifiers=identifiers)
    except SynthPatientError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        raise DataError(
            f"The table's columns could not be read ({type(exc).__name__}). "
            "Check that it is a well-formed table."
        ) from None


# -- synthesizers ----------------------------------------------------------------------------
def synthesizer_choices() -> list[dict[str, Any]]:
    """Every registered synthesizer, whether it can run here, and why not (worked out once)."""
    return [dict(entry) for entry in _choices()]


@functools.cache
def _choices() -> tuple[dict[str, Any], ...]:
    from importlib.util import find_spec

    from synthpatient import available_synthesizers, get_synthesizer_class
    from synthpatient._optional import extra_module

    choices = []
    for key in available_synthesizers():
        entry: dict[str, Any] = {
            "key": key,
            "available": True,
            "reason": None,
            "differentially_private": False,
            "native_conditions": False,
        }
        try:
            klass = get_synthesizer_class(key)
            caps = klass.capabilities
            # the page shows the privacy budget box for every synthesizer that takes one
            entry.update(
                label=klass.__name__,
                differentially_private=caps.accepts_epsilon,
                native_conditions=caps.native_conditions,
            )
            if caps.needs_network:
                entry.update(available=False, reason="needs a configured LLM server")
            elif caps.extra and find_spec(extra_module(caps.extra)) is None:
                # found, not imported: importing torch or JAX here would take seconds (a
                # broken install still fails at fit time, with a one-line message)
                entry.update(
                    available=False,
                    reason=f"needs the {caps.extra} extra: pip "
                    f"install 'synthpatient[{caps.extra}]'",
                )
        except Exception as exc:  # noqa: BLE001 - one broken backend must not hide the others
            log.warning("synthesizer %s cannot be loaded: %s", key, exc)
            entry.update(available=False, reason="it could not be loaded (see the server log)")
        entry.setdefault("label", key)
        choices.append(entry)
    return tuple(choices)


def check_synthesizer(key: str) -> dict[str, Any]:
    for entry in synthesizer_choices():
        if entry["key"] == key:
            if not entry["available"]:
                raise InvalidParameterError(
                    f"The {key} synthesizer cannot run here: {entry['reason']}."
                )
            return entry
    known = ", ".join(e["key"] for e in synthesizer_choices())
    raise InvalidParameterError(f"Unknown synthesizer '{key}'. Known: {known}.")


# -- generation -------------------------------------------------------------------------------
@dataclass(frozen=True)
class TableRequest:
    upload_id: str
    synthesizer: str
    n_rows: int
    conditions: tuple[str, ...] = ()
    seed: int | None = None
    identifiers: tuple[str, ...] = ()
    target: str | None = None
    holdout: bool = True
    rules: str = "auto"
    epsilon: float | None = None


def parse_conditions(items: tuple[str, ...] | list[str], columns: list[str]) -> dict[str, Any]:
    """``COLUMN=VALUE`` or ``COLUMN=LOW..HIGH`` (either end may be empty), as the CLI takes."""
    out: dict[str, Any] = {}
    for item in items:
        column, sep, value = item.partition("=")
        column, value = column.strip(), value.strip()
        if not sep or not column or not value:
            raise DataError(
                f"Cannot read the condition '{item[:80]}'. Write COLUMN=VALUE "
                "(sex=2) or COLUMN=LOW..HIGH (age=40..65, age=65..)."
            )
        if column not in columns:
            raise DataError(
                f"The condition names the column '{column[:80]}', which the table "
                f"does not have. Columns: {', '.join(columns)}."
            )
        if ".." in value:
            low, _, high = value.partition("..")
            out[column] = (low.strip() or None, high.strip() or None)
        else:
            out[column] = value
    return out


def check_request(session: Session, settings: Settings, request: TableRequest) -> Upload:
    """Everything that can be checked before a job starts, with one-line errors."""
    upload = session.uploads.get(request.upload_id)
    if upload is None:
        raise NotFoundError("No such upload in this session: upload the table again.")
    if not settings.min_rows <= request.n_rows <= settings.max_rows:
        raise InvalidParameterError(
            f"The number of rows must be between {settings.min_rows:,} "
            f"and {settings.max_rows:,}. Got {request.n_rows:,}."
        )
    check_synthesizer(request.synthesizer)
    columns = [c["name"] for c in upload.columns]
    for name in (*request.identifiers, *([request.target] if request.target else [])):
        if name not in columns:
            raise DataError(
                f"The table has no column '{name[:80]}'. Columns: {', '.join(columns)}."
            )
    if request.target and request.target in (set(request.identifiers) | set(upload.flagged)):
        raise DataError(
            f"The outcome column '{request.target}' is an identifier; choose another or none."
        )
    parse_conditions(request.conditions, columns)
    if request.rules not in ("auto", "none"):
        from synthpatient.rules import list_rule_packs

        if request.rules not in list_rule_packs():
            raise DataError(
                f"Unknown rule pack '{request.rules[:80]}'. Use auto, none or one "
                f"of: {', '.join(list_rule_packs())}."
            )
    return upload


def _rules(choice: str, columns: list[str]) -> Any:
    from synthpatient.rules import list_rule_packs, load_rule_pack

    if choice == "none":
        return None
    if choice != "auto":
        return load_rule_pack(choice).restricted_to(columns)
    for name in list_rule_packs():
        pack = load_rule_pack(name)
        if pack.columns() and pack.columns() <= set(columns):
            return pack
    return None


def _synthesizer(key: str, seed: int, epsilon: float | None) -> Any:
    from synthpatient import get_synthesizer_class, make_synthesizer

    params = set(inspect.signature(get_synthesizer_class(key).__init__).parameters)
    options: dict[str, Any] = {}
    if "progress" in params:
        options["progress"] = False
    if epsilon is not None:
        if "epsilon" not in params:
            private = [e["key"] for e in synthesizer_choices() if e["differentially_private"]]
            raise InvalidParameterError(
                f"The {key} synthesizer takes no privacy budget "
                "(epsilon); leave it empty or choose "
                f"{', '.join(private) or 'another synthesizer'}."
            )
        options["epsilon"] = epsilon
    return make_synthesizer(key, seed=seed, **options)


def table_work(
    session: Session, settings: Settings, upload: Upload, request: TableRequest
) -> Callable[[Job], dict[str, Any]]:
    """A job: fit, sample, evaluate; the result is put in the session."""

    def work(job: Job) -> dict[str, Any]:
        seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
        job.report(f"Reading {upload.filename}...", 0.05)
        real = read_upload(upload)
        columns = [str(c) for c in real.columns]
        conditions = parse_conditions(request.conditions, columns)
        schema = _schema(real, request.identifiers)
        notices: list[str] = []
        if request.holdout and len(real) >= MIN_ROWS_FOR_HOLDOUT:
            training = real.sample(frac=1 - HOLDOUT_SHARE, random_state=seed % 2**32).sort_index()
            holdout: pd.DataFrame | None = real.drop(training.index)
        else:
            training, holdout = real, None
            notices.append(
                "No rows were kept aside, so the privacy tests against unseen "
                "patients were not run."
                if request.holdout
                else "Every row was learned (no holdout): privacy against unseen "
                "patients was not measured."
            )
        model = _synthesizer(request.synthesizer, seed, request.epsilon)
        job.report(
            f"Learning the table with {request.synthesizer} ({len(training):,} rows)...", 0.15
        )
        model.fit(training, schema=schema)
        job.report(f"Generating {request.n_rows:,} rows...", 0.45)
        synthetic = model.sample(request.n_rows, conditions=conditions or None, seed=seed)
        job.report("Evaluating fidelity, privacy and clinical rules...", 0.6)
        from synthpatient.evaluation.evaluate import evaluate

        rules = _rules(request.rules, columns)
        report = evaluate(
            training,
            synthetic,
            holdout=holdout,
            target=request.target,
            rules=rules,
            schema=model.schema_,
        )
        job.report("Drawing the report's plots...", 0.8)
        with PLOT_LOCK:
            report_html = report.to_html()
        result = _table_result(
            session,
            upload,
            request,
            seed,
            report,
            report_html,
            synthetic,
            model,
            len(training),
            holdout,
            rules,
            conditions,
        )
        if len(synthetic) > settings.max_fhir_patients:
            # one validated resource per value: beyond this it takes minutes and gigabytes
            del result.downloads["fhir"]
            notices.append(
                f"FHIR is offered for up to {settings.max_fhir_patients:,} rows per request."
            )
        else:  # the columns FHIR leaves out are named now, not found missing in the zip
            notices.extend(_fhir_notice(synthetic, model.schema_))
        result.notices = notices + list(report.meta.get("notices", []))
        session.results[result.id] = result
        return {"result_id": result.id}

    return work


def _table_result(
    session: Session,
    upload: Upload,
    request: TableRequest,
    seed: int,
    report: Any,
    report_html: str,
    synthetic: pd.DataFrame,
    model: Any,
    n_training: int,
    holdout: pd.DataFrame | None,
    rules: Any,
    conditions: dict[str, Any],
) -> Result:
    from synthpatient import __version__

    schema = model.schema_
    not_learned = [c.name for c in schema if not c.is_learned]
    provenance = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "generator": f"synthpatient {__version__} ({request.synthesizer}, data-driven)",
        "source": {"file": upload.filename, "sha256": upload.sha256, "rows": upload.n_rows},
        "request": {
            "synthesizer": request.synthesizer,
            "n_rows": request.n_rows,
            "conditions": list(request.conditions),
            "epsilon": request.epsilon,
            "target": request.target,
            "rules": None if rules is None else rules.name,
        },
        "seed": seed,
        "training_rows": n_training,
        "holdout_rows": 0 if holdout is None else len(holdout),
        "not_learned": not_learned,
        "privacy_spent": getattr(model, "privacy_spent_", None),
        "spec": schema.to_dict(),
        "synthetic": "Every row is synthetic; identifier columns were made up, not copied.",
    }
    summary = report.summary
    scores = [
        {
            "family": r["family"],
            "metric": r["metric"],
            "score": r["score"],
            "verdict": r["verdict"],
            "level": r["level"],
        }
        for r in records(summary[["family", "metric", "score", "verdict", "level"]])
    ]
    rule_rows = records(report.sections["rules"]) if "rules" in report.sections else []
    result_id = new_id(12)
    stem = f"synthpatient-{Path(upload.filename.split(' ')[0]).stem or 'table'}-{len(synthetic)}"
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", stem)[:80]
    result = Result(
        id=result_id,
        kind="table",
        title=f"{len(synthetic):,} synthetic rows like {upload.filename}",
        n_rows=len(synthetic),
        columns=[str(c) for c in synthetic.columns],
        preview=records(synthetic, PREVIEW_ROWS),
        folder=session.workdir("results", result_id),
        plots=report_plots(report_html),
        scores=scores,
        rules=rule_rows,
        provenance=provenance,
    )
    result.downloads = _downloads(
        stem, result.title, synthetic, schema, report, report_html, provenance
    )
    return result


def _downloads(
    stem: str,
    title: str,
    synthetic: pd.DataFrame,
    schema: Any,
    report: Any,
    report_html: str,
    provenance: dict[str, Any],
) -> dict[str, Any]:
    """The result's files: the table's formats and FHIR by their exporters, texts as made."""
    from synthpatient.exporters import Table

    table, source, request = Table(synthetic, schema), provenance["source"], provenance["request"]
    card = {
        "title": title,
        "source": f"the uploaded table {source['file']} "
        f"({source['rows']:,} rows, sha256 {source['sha256']})",
        "generator": provenance["generator"],
        "synthesizer": request["synthesizer"],
        "parameters": request,
        "seed": provenance["seed"],
        "evaluation": report,
        **{k: provenance[k] for k in ("training_rows", "holdout_rows", "privacy_spent")},
    }
    return {
        "csv": export_download("Synthetic table (CSV)", "csv", table, f"{stem}.csv"),
        "parquet": export_download(
            "Synthetic table (Parquet)", "parquet", table, f"{stem}.parquet"
        ),
        "fhir": export_download(
            "FHIR R4 (zip of NDJSON; LOINC-coded where known)",
            "fhir_ndjson",
            table,
            f"{stem}-fhir-ndjson.zip",
        ),
        "report": text_download(
            "Full evaluation report (HTML)", f"{stem}-report.html", "text/html", lambda: report_html
        ),
        "scores": text_download(
            "Scores (JSON)", f"{stem}-scores.json", "application/json", report.to_json
        ),
        "datacard": export_download(
            "Data card (Markdown)", "datacard", table, f"{stem}-datacard.md", **card
        ),
        "provenance": text_download(
            "Provenance (JSON)",
            f"{stem}-provenance.json",
            "application/json",
            lambda: json.dumps(provenance, indent=2, default=str),
        ),
    }


def _fhir_notice(synthetic: pd.DataFrame, schema: Any) -> list[str]:
    from synthpatient.exporters import map_table

    notice = map_table(synthetic, schema).notice()
    return [notice] if notice else []
