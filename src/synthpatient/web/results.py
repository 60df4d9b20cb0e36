"""What a finished generation shows and offers: preview, plots, checks, provenance, downloads.

Both flows (a chat request, an uploaded table) end in a :class:`Result`. Downloads are built on
first request into the session's folder under names chosen here, and served only by result id
and format key: nothing a user sends is ever used as a path.
"""

from __future__ import annotations

import io
import math
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

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
    build: Callable[[Path], None]   # writes the file to the path it is given


@dataclass
class Result:
    """A finished cohort or synthetic table, as the results view shows it."""

    id: str
    kind: str                                  # "cohort" or "table"
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
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def file(self, key: str) -> Path:
        """The download ``key`` (one of :attr:`downloads`), built on first use."""
        spec = self.downloads[key]
        path = self.folder / spec.filename
        with self._lock:
            if not path.exists():
                tmp = path.with_name(f".{path.name}.tmp")
                spec.build(tmp)
                tmp.replace(path)
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
    return [{str(k): json_value(v) for k, v in row.items()}
            for row in part.to_dict(orient="records")]


def with_text_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with datetime columns as YYYY-MM-DD text (as the cohort files write them)."""
    out = frame.copy()
    for column in out.columns:
        if str(out[column].dtype).startswith("datetime64"):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    return out


def csv_writer(frame: pd.DataFrame) -> Callable[[Path], None]:
    return lambda path: frame.to_csv(path, index=False)


def parquet_writer(frame: pd.DataFrame) -> Callable[[Path], None]:
    return lambda path: frame.to_parquet(path, index=False)


def text_writer(make_text: Callable[[], str]) -> Callable[[Path], None]:
    return lambda path: path.write_text(make_text(), encoding="utf-8")


def zip_folder(folder: Path, path: Path) -> None:
    """Every file directly in ``folder`` into the zip ``path`` (flat, sorted names)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item in sorted(folder.iterdir()):
            if item.is_file():
                archive.write(item, arcname=item.name)


def zip_texts(texts: dict[str, str], path: Path) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in texts.items():
            archive.writestr(name, text)


def png_bytes(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    return buffer.getvalue()
