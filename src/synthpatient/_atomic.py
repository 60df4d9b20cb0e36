"""Writing user files atomically, with one-line errors: the one module that writes outputs.

Every table, text, byte string or folder is written to a temporary sibling of its target and
renamed into place only when complete, so a failed or interrupted run never leaves a partial
file and never half-replaces what the user had. Any ``OSError`` (read-only folder, full disk,
permission, name too long, folder removed meanwhile) becomes a one-line
:class:`~synthpatient.errors.FileIOError` naming the target and the reason.

Temporaries are named ``.NAME.synthpatient-<host>-<pid>-<random>.tmp``: the mark says whose
they are, the host tag and PID say which process made them. A process killed outright
(SIGKILL, power loss) cannot remove its temporary, so before a target is written the
temporaries of that target left by processes of this host that no longer run are removed;
those of a live process never are. A folder being replaced is first moved aside as
``...old``; if the run died before the new folder took its place, the old one is put back.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import os
import re
import secrets
import shutil
import socket
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING

from synthpatient.errors import DataError, FileIOError, SynthPatientWarning

if TYPE_CHECKING:
    import pandas as pd

TABLE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}
MARK = "synthpatient"
_STEM_CHARS = 64  # a temporary's name must stay valid when the target's name is near the limit
_TEMP_TAIL = re.compile(
    rf"{MARK}-(?P<host>[0-9a-f]{{6}})-(?P<pid>\d+)-[a-z0-9_]+\.(?P<kind>tmp|old)"
)
_IN_TEMP = re.compile(rf"\..*\.{MARK}-[0-9a-f]{{6}}-\d+-[a-z0-9_]+\.tmp")

# (what went wrong, what to do) by errno; anything else reports the system's own words.
_REASONS = {
    errno.ENOSPC: ("no space is left on the device", "Free some space or write elsewhere"),
    errno.EDQUOT: ("the disk quota is exceeded", "Free some space or write elsewhere"),
    errno.EFBIG: (
        "the file is larger than this system allows",
        "Write fewer rows or write elsewhere",
    ),
    errno.EACCES: ("permission denied", "Choose a folder you can write to"),
    errno.EPERM: ("permission denied", "Choose a folder you can write to"),
    errno.EROFS: ("the file system is read-only", "Choose a folder you can write to"),
    errno.ENAMETOOLONG: ("the name is too long", "Choose a shorter name or path"),
    errno.ENOENT: ("its folder no longer exists", "Create the folder again or choose another path"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "Check the path"),
    errno.EISDIR: ("a folder of that name is in the way", "Choose another path"),
    errno.EIO: ("the device reported an input/output error", "Check the disk and try again"),
}

_WRITTEN: ContextVar[list[Path] | None] = ContextVar("synthpatient_written", default=None)


def table_format(path: Path) -> str:
    """The table format implied by the file extension, or a clear error."""
    fmt = TABLE_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"Cannot tell the table format of '{path.name}' from its extension. "
            f"Use one of: {', '.join(sorted(TABLE_SUFFIXES))}."
        )
    return fmt


# -- errors ------------------------------------------------------------------------------------
def _errno_of(exc: BaseException) -> int | None:
    code = getattr(exc, "errno", None)
    if isinstance(code, int):
        return code
    # pyarrow raises OSError without errno and puts "[Errno 28] ..." in the text instead
    found = re.search(r"\[Errno (\d+)\]", str(exc))
    return int(found.group(1)) if found else None


def _root_os_error(exc: BaseException) -> BaseException:
    """The OSError under FileIOErrors raised by nested writes (a model saved into a folder)."""
    while isinstance(exc, FileIOError) and isinstance(exc.__cause__, OSError):
        exc = exc.__cause__
    return exc


def write_error(path: Path, exc: BaseException, *, what: str = "") -> FileIOError:
    """A one-line :class:`FileIOError` saying which target could not be written and why."""
    code = _errno_of(exc)
    if code in _REASONS:
        reason, advice = _REASONS[code]
    else:
        text = str(exc).strip()
        reason = text.splitlines()[0][:200] if text else type(exc).__name__
        advice = "Check the path and the disk"
    target = f"{what} '{path}'" if what else f"'{path}'"
    error = FileIOError(f"Cannot write {target}: {reason}. {advice}; nothing there was changed.")
    error.errno = code  # so callers can still tell a full disk from a permission problem
    return error


# -- temporaries -----------------------------------------------------------------------------
def _parent(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def _host_tag() -> str:
    """A short tag of this machine: PIDs of another host sharing the folder mean nothing here."""
    return hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:6]


def _stem(name: str) -> str:
    if len(name) <= _STEM_CHARS:
        return name
    return f"{name[:48]}~{hashlib.sha1(name.encode('utf-8', 'replace')).hexdigest()[:8]}"


def _prefix(path: Path) -> str:
    return f".{_stem(path.name)}.{MARK}-{_host_tag()}-{os.getpid()}-"


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host; when in doubt, it does (nothing is removed)."""
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill would terminate the process on Windows, not probe it
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists but belongs to someone else
        return True
    return True


def _remove(path: Path) -> None:
    """Remove a temporary; a leftover is removed by the next write of the same target."""
    try:
        if path.is_symlink() or path.is_file():
            path.unlink(missing_ok=True)
        elif path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
    except OSError:
        pass


def remove_stale_temporaries(path: str | Path) -> None:
    """Remove the temporaries of ``path`` left by dead processes of this host.

    A folder that was moved aside to be replaced (``.old``) is put back if the run died before
    the new one took its place, and removed if the new one is there.
    """
    path = Path(path)
    stem = f".{_stem(path.name)}."
    try:
        candidates = list(_parent(path).glob(glob.escape(stem) + f"{MARK}-*"))
    except OSError:
        return
    host = _host_tag()
    stale = []
    for item in candidates:
        match = _TEMP_TAIL.fullmatch(item.name[len(stem) :])
        if match and match["host"] == host and not _pid_alive(int(match["pid"])):
            stale.append((match["kind"], item))
    for kind, item in sorted(stale, key=lambda pair: pair[0] != "old"):  # restore, then clean
        if kind == "old" and not os.path.lexists(path):
            try:
                os.replace(item, path)
            except OSError:
                continue
            warnings.warn(
                f"'{path}' was put back: an interrupted run had moved it aside to replace it.",
                SynthPatientWarning,
                stacklevel=3,
            )
        else:
            _remove(item)


@contextlib.contextmanager
def temporary_sibling(path: Path, *, folder: bool = False) -> Iterator[Path]:
    """A marked temporary file or folder beside ``path``, removed unless renamed into place."""
    parent = _parent(path)
    try:
        if folder:
            tmp = Path(tempfile.mkdtemp(prefix=_prefix(path), suffix=".tmp", dir=parent))
        else:
            handle, name = tempfile.mkstemp(prefix=_prefix(path), suffix=".tmp", dir=parent)
            os.close(handle)
            tmp = Path(name)
    except OSError as exc:
        raise write_error(path, exc, what="the folder" if folder else "") from exc
    try:
        yield tmp
    finally:  # also on KeyboardInterrupt and the CLI's SIGTERM exception
        _remove(tmp)


# -- what a command wrote ----------------------------------------------------------------------
@contextlib.contextmanager
def recording_writes() -> Iterator[list[Path]]:
    """Collect the targets written inside the block (the CLI names them when interrupted)."""
    written: list[Path] = []
    token = _WRITTEN.set(written)
    try:
        yield written
    finally:
        _WRITTEN.reset(token)


def _note_written(path: Path) -> None:
    written = _WRITTEN.get()
    if written is not None and not any(_IN_TEMP.fullmatch(p.name) for p in path.parents):
        written.append(path)


def _umask() -> int:
    """The process's umask, read without changing it where the system allows (threads)."""
    try:
        with open("/proc/self/status", encoding="utf-8", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _set_mode(tmp: Path, path: Path) -> None:
    """Give the temporary the mode a plain write would have (``mkstemp`` makes it private):
    the replaced file's mode, or the default under the umask."""
    try:
        if path.exists() and not path.is_dir():
            mode = path.stat().st_mode & 0o7777
        else:
            mode = (0o777 if tmp.is_dir() else 0o666) & ~_umask()
        os.chmod(tmp, mode)
    except OSError:  # a file system without modes: the private default stays
        pass


def _commit(tmp: Path, path: Path, *, overwrite: bool, what: str = "") -> None:
    """Rename ``tmp`` onto ``path`` (a file, or a folder that is not there)."""
    if not overwrite and os.path.lexists(path):
        raise _appeared(path)
    _set_mode(tmp, path)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        raise write_error(path, exc, what=what) from exc
    _note_written(path)


def _appeared(path: Path) -> FileIOError:
    return FileIOError(
        f"The output '{path}' appeared while it was being written. "
        "Choose another path or pass --overwrite to replace it."
    )


# -- checks and writers ------------------------------------------------------------------------
def check_output_path(path: str | Path, *, overwrite: bool, kind: str = "file") -> Path:
    """Refuse an existing path (unless ``overwrite``) or a missing folder, before any work starts.

    ``kind`` is ``"file"``, ``"table"`` (the extension must name a table format) or
    ``"folder"``.
    """
    path = Path(path)
    if kind == "table":
        table_format(path)
    parent = _parent(path)
    try:
        if not parent.is_dir():
            if parent.exists():
                raise FileIOError(
                    f"The output folder '{parent}' is a file, not a folder. "
                    "Choose another output path."
                )
            raise FileIOError(
                f"The output folder '{parent}' does not exist. Create it first "
                "or choose another output path."
            )
        remove_stale_temporaries(path)  # first: it may put back a folder a killed run moved
        exists = os.path.lexists(path)
        is_dir = path.is_dir()
    except FileIOError:
        raise
    except OSError as exc:
        raise write_error(path, exc) from exc
    if exists and not overwrite:
        raise FileIOError(
            f"The output '{path}' already exists. Choose another path or pass "
            "--overwrite to replace it."
        )
    if exists and is_dir != (kind == "folder"):
        raise FileIOError(
            f"The output '{path}' exists and is a {'folder' if is_dir else 'file'}. "
            "Choose another path."
        )
    return path


def write_table(frame: pd.DataFrame, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a table as CSV/TSV/Parquet (by extension) atomically."""
    path = check_output_path(path, overwrite=overwrite, kind="table")
    fmt = table_format(path)
    with temporary_sibling(path) as tmp:
        try:
            if fmt == "parquet":
                frame.to_parquet(tmp, index=False)
            else:
                frame.to_csv(tmp, index=False, sep="\t" if fmt == "tsv" else ",")
        except OSError as exc:
            raise write_error(path, exc) from exc
        except (ValueError, TypeError, NotImplementedError) as exc:
            if fmt != "parquet":
                raise
            raise _parquet_error(path, exc) from exc
        _commit(tmp, path, overwrite=overwrite)
    return path


def _parquet_error(path: Path, exc: BaseException) -> DataError:
    """Parquet refused a column. pyarrow's text may quote a cell, so only the column is named."""
    found = re.search(r"column (\S+) with type", str(exc))
    which = f"the column '{found.group(1)}'" if found else "a column"
    return DataError(
        f"Cannot write '{path}' as Parquet: {which} cannot be stored in Parquet "
        "(for example, it mixes numbers and text). Give the column one type, or "
        "write CSV."
    )


def write_bytes_atomic(path: str | Path, data: bytes, *, overwrite: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (replacing a file there unless ``overwrite=False``)."""
    path = check_output_path(path, overwrite=overwrite)
    with temporary_sibling(path) as tmp:
        try:
            _write_all(tmp, data)
        except OSError as exc:
            raise write_error(path, exc) from exc
        _commit(tmp, path, overwrite=overwrite)
    return path


def write_file_atomic(
    path: str | Path, write: Callable[[Path], object], *, overwrite: bool = False
) -> Path:
    """Write ``path`` by calling ``write(tmp)`` on a temporary sibling, then renaming it.

    For writers that stream (a zip built entry by entry): nothing is held in memory, and a
    failure leaves no partial file. An ``OSError`` raised by ``write`` becomes one
    :class:`FileIOError` line naming ``path``.
    """
    path = check_output_path(path, overwrite=overwrite)
    with temporary_sibling(path) as tmp:
        try:
            write(tmp)
        except FileIOError:
            raise
        except OSError as exc:
            raise write_error(path, exc) from exc
        _commit(tmp, path, overwrite=overwrite)
    return path


def write_text_atomic(path: str | Path, text: str, *, overwrite: bool = True) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`write_bytes_atomic`)."""
    return write_bytes_atomic(path, text.encode("utf-8"), overwrite=overwrite)


def _write_all(path: Path, data: bytes) -> None:
    handle = os.open(path, os.O_WRONLY | os.O_TRUNC | getattr(os, "O_BINARY", 0))
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(handle, view) :]
    finally:
        os.close(handle)


@contextlib.contextmanager
def atomic_folder(path: Path, *, overwrite: bool) -> Iterator[Path]:
    """Yield a temporary folder to fill; it replaces ``path`` only if the block succeeds.

    An ``OSError`` in the block (from any write into the folder) becomes a
    :class:`FileIOError` naming ``path``; the temporary folder is removed either way.
    """
    path = check_output_path(path, overwrite=overwrite, kind="folder")
    with temporary_sibling(path, folder=True) as tmp:
        try:
            yield tmp
        except OSError as exc:
            root = _root_os_error(exc)
            if isinstance(root, FileIOError) or not _concerns(root, tmp):
                raise  # a check of ours (already one line), or not a write into this folder
            raise write_error(path, root, what="the folder") from root
        _swap_in(tmp, path, overwrite=overwrite)


def _concerns(exc: BaseException, folder: Path) -> bool:
    """Whether an OSError came from writing into ``folder``: it names a file there, or none
    (a full disk reported by pyarrow or ``os.write`` names no file)."""
    filename = getattr(exc, "filename", None)
    if filename is None:
        return True
    try:
        return Path(os.fsdecode(filename)).resolve().is_relative_to(folder.resolve())
    except (TypeError, ValueError, OSError):
        return True


def _swap_in(tmp: Path, path: Path, *, overwrite: bool) -> None:
    """Move the filled folder onto ``path``; an existing folder is moved aside, then removed."""
    if not os.path.lexists(path):
        _commit(tmp, path, overwrite=overwrite, what="the folder")
        return
    if not overwrite:
        raise _appeared(path)
    backup = path.with_name(f"{_prefix(path)}{secrets.token_hex(4)}.old")
    _set_mode(tmp, path)
    try:
        os.replace(path, backup)
    except OSError as exc:
        raise write_error(path, exc, what="the folder") from exc
    try:
        os.replace(tmp, path)
    except BaseException as exc:
        if not os.path.lexists(path):  # put the user's folder back before reporting
            os.replace(backup, path)
        if isinstance(exc, OSError):
            raise write_error(path, exc, what="the folder") from exc
        raise
    _remove(backup)
    _note_written(path)
