"""What the fuzz campaign looks for after each case: the marker anywhere it must not be,
files left behind or changed, and where an exception came from.

The marker is searched case-insensitively in UTF-8, UTF-16 and UTF-32 (numpy stores text
arrays as UTF-32), inside zip members (``.npz``), gzip files and decoded Parquet columns, so a
patient value cannot hide in an encoding.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import traceback
import zipfile
from pathlib import Path
from types import TracebackType
from typing import Any

MARK = "ZQXJ"
_NEEDLES = tuple(MARK.lower().encode(enc) for enc in ("utf-8", "utf-16-le", "utf-32-le"))
_MARK_RE = re.compile(MARK + r"[0-9a-f]{0,8}", re.IGNORECASE)  # for masking
_MARKER_RE = re.compile(MARK + r"[0-9a-f]{8}", re.IGNORECASE)  # whole markers
#: Embedded images (report plots): random base64 letters spell the marker by chance.
_DATA_URI_RE = re.compile(rb"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+")
#: Files bigger than this are searched in their first bytes only (outputs here are small).
MAX_SCAN_BYTES = 64 * 2**20


def text_has_marker(text: str | None) -> bool:
    return bool(text) and MARK.lower() in text.lower()  # type: ignore[union-attr]


def markers_in_text(text: object) -> set[str]:
    """The markers in ``text``, lower-cased; ``'?'`` for a marker cut short."""
    text = str(text)
    found = {m.lower() for m in _MARKER_RE.findall(text)}
    return found or ({"?"} if text_has_marker(text) else set())


def _bytes_have_marker(data: bytes) -> bool:
    low = data.lower()
    return any(needle in low for needle in _NEEDLES)


def markers_in_bytes(data: bytes) -> set[str]:
    """Markers in raw bytes, read as UTF-8, UTF-16 and UTF-32 at every alignment."""
    if not _bytes_have_marker(data):
        return set()
    found: set[str] = set()
    for encoding, width in (("utf-8", 1), ("utf-16-le", 2), ("utf-32-le", 4)):
        for offset in range(width):
            found |= {
                m.lower()
                for m in _MARKER_RE.findall(data[offset:].decode(encoding, errors="ignore"))
            }
    return found or {"?"}


def _parquet_markers(path: Path) -> tuple[list[str], set[str]]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    columns, found = [], set()
    for name, column in zip(table.column_names, table.columns, strict=True):
        hits = markers_in_text(" ".join(map(str, column.to_pylist())))
        if hits:
            columns.append(name)
            found |= hits
    return columns, found


def _csv_marker_columns(data: bytes) -> list[str]:
    import pandas as pd

    try:
        frame = pd.read_csv(
            io.BytesIO(data), dtype=str, keep_default_na=False, sep=None, engine="python"
        )
    except Exception:  # noqa: BLE001 - an unreadable table is reported without columns
        return []
    return [
        str(c) for c in frame.columns if frame[c].str.contains(MARK, case=False, regex=False).any()
    ]


def _json_marker_keys(data: bytes) -> list[str]:
    import json

    try:
        doc = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return []
    found: list[str] = []

    def walk(node: Any, where: str) -> None:
        if len(found) >= 5:
            return
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{where}.{key}" if where else str(key))
        elif isinstance(node, list):
            for value in node:
                walk(value, f"{where}[]")
        elif isinstance(node, str) and text_has_marker(node):
            found.append(where)

    walk(doc, "")
    return sorted(set(found))


def file_leak(path: Path) -> tuple[str, set[str]] | None:
    """Where in ``path`` the marker is and which markers; None when it is not there."""
    try:
        data = path.read_bytes()[:MAX_SCAN_BYTES]
    except OSError:
        return None
    suffix = path.suffix.lower()
    if data[:4] == b"PAR1" or suffix in (".parquet", ".pq"):
        try:
            columns, found = _parquet_markers(path)
        except Exception:  # noqa: BLE001 - unreadable: fall back to the raw bytes
            columns, found = [], set()
        if columns:
            return f"parquet columns {columns}", found
    if data[:2] == b"PK":  # npz and other zip archives
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for name in archive.namelist():
                    found = markers_in_bytes(archive.read(name))
                    if found:
                        return f"zip member {name}", found
        except (zipfile.BadZipFile, OSError, ValueError):
            pass
    if data[:2] == b"\x1f\x8b":
        try:
            found = markers_in_bytes(gzip.decompress(data))
            if found:
                return "gzip content", found
        except (OSError, EOFError):
            pass
    found = markers_in_bytes(_DATA_URI_RE.sub(b"", data))
    if not found:
        return None
    if suffix in (".csv", ".tsv"):
        return f"table columns {_csv_marker_columns(data)}", found
    if suffix == ".json":
        return f"JSON keys {_json_marker_keys(data)}", found
    return f"{suffix or 'file'} bytes", found


# --- folders ----------------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, str]:
    """Relative path -> content hash ('dir' for folders, 'link' for links) under ``root``."""
    out: dict[str, str] = {}
    if not root.exists():
        return out
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = "link"
        elif path.is_dir():
            out[rel] = "dir"
        else:
            try:
                out[rel] = hashlib.sha1(path.read_bytes()).hexdigest()
            except OSError:
                out[rel] = "unreadable"
    return out


def _covered(rel: str, allowed: set[str]) -> bool:
    return any(rel == a or rel.startswith(a.rstrip("/") + "/") for a in allowed)


def folder_problems(
    before: dict[str, str], after: dict[str, str], *, succeeded: bool, allowed: set[str]
) -> list[str]:
    """Files left behind or changed beyond ``allowed``: the expected outputs after a success,
    what the completed steps produce after a failure."""
    problems = []
    for rel in sorted(set(after) - set(before)):
        if not _covered(rel, allowed):
            problems.append(("left after a failure: " if not succeeded else "stale: ") + rel)
    for rel in sorted(set(before) & set(after)):
        if before[rel] != after[rel] and not _covered(rel, allowed):
            problems.append(f"changed: {rel}")
    for rel in sorted(set(before) - set(after)):
        if not _covered(rel, allowed):
            problems.append(f"removed: {rel}")
    return problems


def pattern(rel: str) -> str:
    """A path with its random parts replaced, for grouping signatures."""
    rel = re.sub(r"c\d{6}", "CASE", rel)
    return re.sub(r"\.[A-Za-z0-9_]{6,10}\.tmp", ".*.tmp", rel)


# --- exceptions -------------------------------------------------------------------------


def product_frame(tb: TracebackType | None) -> str:
    """The innermost frame in synthpatient's own code (where a fix would go), else the
    innermost frame at all."""
    frames = traceback.extract_tb(tb) if tb is not None else []
    ours = [
        f
        for f in frames
        if "/synthpatient/" in f.filename.replace("\\", "/") and "/benchmarks/" not in f.filename
    ]
    chosen = ours[-1] if ours else (frames[-1] if frames else None)
    if chosen is None:
        return "?"
    name = chosen.filename.replace("\\", "/")
    name = name.split("/src/", 1)[-1] if "/src/" in name else name.split("/")[-1]
    return f"{name}:{chosen.lineno} in {chosen.name}"


def frame_from_text(text: str) -> str:
    """The innermost synthpatient frame of a printed traceback or faulthandler dump."""
    hits = re.findall(r'File "([^"]+)", line (\d+)(?:, in | in )(\S+)', text)
    ours = [h for h in hits if "/synthpatient/" in h[0] and "/benchmarks/" not in h[0]]
    if "most recent call first" in text:  # faulthandler: innermost first
        ours, hits = ours[::-1], hits[::-1]
    chosen = ours[-1] if ours else (hits[-1] if hits else None)
    if chosen is None:
        return "?"
    name = chosen[0].split("/src/", 1)[-1] if "/src/" in chosen[0] else chosen[0].split("/")[-1]
    return f"{name}:{chosen[1]} in {chosen[2]}"


def exception_type_from_text(text: str) -> str:
    for line in reversed(text.strip().splitlines()):
        match = re.match(
            r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)\w*)\b", line.strip()
        )
        if match:
            return match.group(1).rsplit(".", 1)[-1]
    return "Traceback"


def one_line_error(stderr: str) -> str | None:
    """The error line of a clean CLI failure; None when the error is not a single line."""
    at = stderr.rfind("Error:")
    if at < 0:
        return ""
    tail = stderr[at:].strip()
    return None if "\n" in tail else tail


def mask_markers(text: str) -> str:
    """Messages kept in the report show where a marker was, never the value itself."""
    return _MARK_RE.sub("<MARKER>", text)
