"""What a finished generation shows and offers: preview, plots, checks, provenance, downloads.

Both flows (a chat request, an uploaded table) end in a :class:`Result`. Downloads are built on
first request into the session's folder under names chosen here, by the exporters of
:mod:`synthpatient.exporters` (atomically), and served only by result id and format key:
nothing a user sends is ever used as a path.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

PREVIEW_ROWS = 20


@dataclass(frozen=True)
class Plot:
    title: str
    alt: str
    png: bytes


@dataclass(frozen=True)
class Download:
    label: str
    filename: str
    media_type: str
    build: Callable[[Path], object]  # writes the file to the path it is given, atomically


@dataclass
class Result:
    """A finished cohort or synthetic table, as the results view shows it."""

    id: str
    kind: Literal["cohort", "table"]
    title: str
    n_rows: int
    columns: list[str]
    preview: list[dict[str, Any]]
    folder: Path
    plots: list[Plot] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)
    targets: list[dict[str, Any]] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    downloads: dict[str, Download] = field(default_factory=dict)
    #: set when patients have several rows: how many patients, and the counts in words
    n_patients: int | None = None
    summary: str = ""
    #: a cohort's history tables: name, what one row is, rows, and their download keys
    tables: list[dict[str, Any]] = field(default_factory=list)
    #: what the page opens with (:mod:`synthpatient.web.verdict`)
    verdict: dict[str, Any] | None = None
    #: per-column shares, real and synthetic, for the interactive chart (``_distributions``)
    distributions: list[dict[str, Any]] = field(default_factory=list)
    #: the numeric columns' correlations, real and synthetic (``_correlations``)
    correlations: dict[str, Any] | None = None
    #: histories over time: a few synthetic patients, real and synthetic quartiles per period
    timelines: dict[str, Any] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def file(self, key: str) -> Path:
        """The download ``key`` (one of :attr:`downloads`), built on first use."""
        spec = self.downloads[key]
        path = self.folder / spec.filename
        with self._lock:
            if not path.exists():
                spec.build(path)  # every builder writes through the atomic writer
        return path


def json_value(value: Any) -> Any:
    """A cell as JSON: NaN/NaT -> None, numpy scalars -> Python, dates -> ISO text."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def jsonable(value: Any) -> Any:
    """Nested dicts and lists made strict-JSON safe (no NaN or infinity, no numpy types)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return json_value(value)


def records(frame: pd.DataFrame, limit: int | None = None) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (the first ``limit``)."""
    part = frame if limit is None else frame.head(limit)
    return [
        {str(k): json_value(v) for k, v in row.items()} for row in part.to_dict(orient="records")
    ]


def export_download(label: str, key: str, data: Any, filename: str, **options: Any) -> Download:
    """A download written by the exporter ``key`` (a folder format comes as one zip)."""
    from synthpatient.exporters import get_exporter

    exporter = get_exporter(key)
    media_type = "application/zip" if exporter.kind == "folder" else exporter.media_type
    return Download(
        label,
        filename,
        media_type,
        lambda path: exporter.archive(data, path, overwrite=True, **options),
    )


def text_download(
    label: str, filename: str, media_type: str, make_text: Callable[[], str]
) -> Download:
    """A download of text made on request (a page or JSON already rendered)."""
    from synthpatient._atomic import write_text_atomic

    return Download(label, filename, media_type, lambda path: write_text_atomic(path, make_text()))


def file_download(label: str, filename: str, media_type: str, source: Path) -> Download:
    """A download of a file written earlier (a cohort folder's provenance or data card)."""
    from synthpatient._atomic import write_bytes_atomic

    return Download(
        label, filename, media_type, lambda path: write_bytes_atomic(path, source.read_bytes())
    )


def folder_download(label: str, filename: str, folder: Path) -> Download:
    """A folder written earlier (a cohort's FHIR), zipped on request."""
    from synthpatient.exporters import archive_folder

    return Download(
        label,
        filename,
        "application/zip",
        lambda path: archive_folder(folder, path, overwrite=True),
    )


def png_bytes(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    return buffer.getvalue()
