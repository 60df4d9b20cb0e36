"""Every write is atomic and every OSError is one line: full disks, read-only folders, long
names, vanished folders, temporaries of killed runs (issue 16, item 3)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

from synthpatient import _atomic
from synthpatient._atomic import (
    atomic_folder,
    check_output_path,
    recording_writes,
    temporary_sibling,
    write_table,
    write_text_atomic,
)
from synthpatient._io import read_table
from synthpatient.errors import DataError, FileIOError, SynthPatientWarning

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
# root writes into a chmod 0o555 folder anyway, so the read-only case cannot be staged as root
needs_non_root = pytest.mark.skipif(AS_ROOT, reason="chmod does not deny writes to root")


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _dead_pid() -> int:
    """The PID of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _temporary_name(target: str, pid: int, kind: str = "tmp", host: str | None = None) -> str:
    return f".{target}.synthpatient-{host or _atomic._host_tag()}-{pid}-k3x9q2_a.{kind}"


def test_temporaries_carry_the_mark_and_this_pid_and_are_removed(tmp_path):
    target = tmp_path / "out.csv"
    with temporary_sibling(target) as tmp:
        assert tmp.parent == tmp_path and tmp.exists()
        assert tmp.name.startswith(f".out.csv.synthpatient-{_atomic._host_tag()}-{os.getpid()}-")
        assert tmp.name.endswith(".tmp")
    assert _names(tmp_path) == []
    with atomic_folder(tmp_path / "f", overwrite=False) as folder:
        assert f"-{os.getpid()}-" in folder.name and folder.is_dir()
        (folder / "a.txt").write_text("a")
    assert _names(tmp_path) == ["f"] and _names(tmp_path / "f") == ["a.txt"]


def test_a_full_disk_while_writing_text_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "report.html"
    path.write_text("old report\n")
    real_write = os.write
    calls = []

    def fills_the_disk(fd: int, data: bytes) -> int:
        calls.append(fd)
        if len(calls) == 1:  # the first chunk lands, then the device is full
            return real_write(fd, bytes(data[:5]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", fills_the_disk)
    with pytest.raises(FileIOError, match="no space is left on the device") as caught:
        write_text_atomic(path, "new report " * 100)
    monkeypatch.undo()
    message = str(caught.value)
    assert str(path) in message and "\n" not in message and caught.value.errno == errno.ENOSPC
    assert len(calls) == 2 and path.read_text() == "old report\n"
    assert _names(tmp_path) == ["report.html"]


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        OSError("IOError: [Errno 28] No space left on device. Detail: write failed"),  # pyarrow's
    ],
)
def test_a_full_disk_while_writing_a_table_leaves_nothing(tmp_path, monkeypatch, error):
    def fails(*args, **kwargs):
        raise error

    monkeypatch.setattr(pd.DataFrame, "to_parquet", fails)
    with pytest.raises(FileIOError, match="no space is left.*nothing there was changed"):
        write_table(pd.DataFrame({"a": [1.0, 2.0]}), tmp_path / "s.parquet")
    assert _names(tmp_path) == []


def test_a_failed_folder_keeps_the_old_folder_and_names_the_target(tmp_path):
    target = tmp_path / "cohort"
    target.mkdir()
    (target / "patients.csv").write_text("precious\n")
    with pytest.raises(FileIOError) as caught, atomic_folder(target, overwrite=True) as tmp:
        (tmp / "patients.csv").write_text("new\n")
        with atomic_folder(tmp / "model", overwrite=False) as inner:  # as a model saved inside
            raise OSError(errno.ENOSPC, "No space left on device", str(inner / "arrays.npz"))
    message = str(caught.value)
    assert message.startswith(f"Cannot write the folder '{target}': no space is left")
    assert ".tmp" not in message  # the temporary's path would only confuse
    assert _names(tmp_path) == ["cohort"] and (target / "patients.csv").read_text() == "precious\n"


def test_a_replaced_folder_is_swapped_whole(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "old.json").write_text("{}")
    with recording_writes() as written:
        with atomic_folder(target, overwrite=True) as tmp:
            (tmp / "new.json").write_text("{}")
            write_text_atomic(tmp / "inner.json", "{}")  # inside the folder: not a target
        write_text_atomic(tmp_path / "notes.txt", "x")
    assert _names(target) == ["inner.json", "new.json"]
    assert _names(tmp_path) == ["model", "notes.txt"]
    assert written == [target, tmp_path / "notes.txt"]


def test_a_read_failing_inside_a_folder_is_not_called_a_write(tmp_path):
    with (
        pytest.raises(FileNotFoundError) as caught,
        atomic_folder(tmp_path / "out", overwrite=False),
    ):
        (tmp_path / "missing-input.csv").read_text()
    assert not isinstance(caught.value, FileIOError)
    assert _names(tmp_path) == []


def test_a_folder_removed_during_the_write_is_named(tmp_path):
    parent = tmp_path / "out"
    parent.mkdir()
    with (
        pytest.raises(FileIOError, match="its folder no longer exists"),
        atomic_folder(parent / "cohort", overwrite=False) as tmp,
    ):
        (tmp / "a.csv").write_text("a\n")
        import shutil

        shutil.rmtree(parent)  # another process cleaned up the output folder meanwhile
    assert not parent.exists()


def test_names_too_long(tmp_path):
    with pytest.raises(FileIOError, match="name is too long") as caught:
        write_table(pd.DataFrame({"a": [1]}), tmp_path / ("n" * 300 + ".csv"))
    assert "\n" not in str(caught.value)
    # a name near the limit is fine: its temporary's name is shortened, not the target's
    long_name = "p" * 240 + ".csv"
    write_table(pd.DataFrame({"a": [1]}), tmp_path / long_name)
    assert _names(tmp_path) == [long_name]


@needs_non_root
def test_a_read_only_folder_is_one_line(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "keep.csv").write_text("a\n1\n")
    folder.chmod(0o555)
    try:
        with pytest.raises(FileIOError, match="permission denied"):
            write_table(pd.DataFrame({"a": [1]}), folder / "out.csv")
        with pytest.raises(FileIOError, match="permission denied"):
            write_table(pd.DataFrame({"a": [2]}), folder / "keep.csv", overwrite=True)
        with (
            pytest.raises(FileIOError, match="permission denied"),
            atomic_folder(folder / "model", overwrite=False),
        ):
            pass
    finally:
        folder.chmod(0o755)
    assert _names(folder) == ["keep.csv"] and (folder / "keep.csv").read_text() == "a\n1\n"


def test_stale_temporaries_of_dead_processes_are_removed_live_ones_kept(tmp_path):
    dead, alive = _dead_pid(), os.getppid()
    stale_file = tmp_path / _temporary_name("t.csv", dead)
    stale_folder = tmp_path / _temporary_name("t.csv", dead).replace("k3x9q2_a", "zz")
    live = tmp_path / _temporary_name("t.csv", alive)
    other_host = tmp_path / _temporary_name(
        "t.csv", dead, host="abcdef" if _atomic._host_tag() != "abcdef" else "fedcba"
    )
    other_target = tmp_path / _temporary_name("u.csv", dead)
    unmarked = tmp_path / ".t.csv.x8y7z6.tmp"  # an older version's: no owner to check
    for path in (stale_file, live, other_host, other_target, unmarked):
        path.write_text("partial")
    stale_folder.mkdir()
    (stale_folder / "arrays.npz").write_text("partial")
    write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.csv")
    assert _names(tmp_path) == sorted(
        ["t.csv", live.name, other_host.name, other_target.name, unmarked.name]
    )


def test_a_folder_moved_aside_by_a_killed_run_is_put_back(tmp_path):
    dead = _dead_pid()
    target = tmp_path / "model"
    backup = tmp_path / _temporary_name("model", dead, kind="old")
    backup.mkdir()
    (backup / "manifest.json").write_text("{}")
    with (
        pytest.warns(SynthPatientWarning, match="put back"),
        pytest.raises(FileIOError, match="already exists"),
    ):
        check_output_path(target, overwrite=False, kind="folder")
    assert _names(tmp_path) == ["model"] and _names(target) == ["manifest.json"]
    # once the new folder is in place, a leftover backup is only removed
    backup.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_output_path(target, overwrite=True, kind="folder")
    assert _names(tmp_path) == ["model"]


def test_parquet_refusing_a_column_names_it_and_not_its_values(tmp_path):
    frame = pd.DataFrame({"code": [1, "SECRET-VALUE-77", 2.5]})
    with pytest.raises(DataError, match="'code'") as caught:
        write_table(frame, tmp_path / "t.parquet")
    assert "SECRET-VALUE-77" not in str(caught.value)
    assert _names(tmp_path) == []


def test_an_output_that_appears_meanwhile_is_not_replaced(tmp_path):
    target = tmp_path / "out"
    with (
        pytest.raises(FileIOError, match="appeared"),
        atomic_folder(target, overwrite=False) as tmp,
    ):
        (tmp / "a").write_text("new")
        target.mkdir()  # someone else's folder, made while ours was being filled
        (target / "theirs").write_text("theirs")
    assert _names(tmp_path) == ["out"] and _names(target) == ["theirs"]


@pytest.mark.parametrize(
    ("header", "name"),
    [("a;b;c\n1,5;2;3\n", "semicolon"), ("a|b\n1|2\n", "pipe"), ("a\tb\n1\t2\n", "tab")],
)
def test_a_csv_with_another_delimiter_is_named(tmp_path, header, name):
    path = tmp_path / "t.csv"
    path.write_text(header * 1)
    with pytest.raises(DataError, match=f"looks {name}-delimited") as caught:
        read_table(path)
    assert "1,5" not in str(caught.value)
    tsv = tmp_path / "t.tsv"
    tsv.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="looks comma-delimited"):
        read_table(tsv)


def test_written_files_get_ordinary_permissions(tmp_path):
    if os.name == "nt":
        pytest.skip("POSIX modes")
    mask = os.umask(0o022)
    os.umask(mask)
    path = write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.csv")
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's private 0o600
    path.chmod(0o640)
    write_table(pd.DataFrame({"a": [2]}), path, overwrite=True)
    assert path.stat().st_mode & 0o777 == 0o640  # a replaced file keeps its mode


def test_a_swap_that_fails_halfway_puts_the_old_folder_back(tmp_path, monkeypatch):
    target = tmp_path / "model"
    target.mkdir()
    (target / "manifest.json").write_text("old")
    real_replace = os.replace
    moves = []

    def second_move_fails(src, dst):
        moves.append((Path(src).name, Path(dst).name))
        if len(moves) == 2:  # the old folder is aside, the new one cannot take its place
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", second_move_fails)
    with (
        pytest.raises(FileIOError, match="input/output error"),
        atomic_folder(target, overwrite=True) as tmp,
    ):
        (tmp / "manifest.json").write_text("new")
    monkeypatch.undo()
    assert moves[0][0] == "model" and moves[0][1].endswith(".old") and len(moves) == 3
    assert _names(tmp_path) == ["model"] and (target / "manifest.json").read_text() == "old"


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_a_read_only_target_is_one_line_even_as_root(tmp_path, monkeypatch, code):
    """The chmod test above cannot run as root (CI may be root): the same refusal, raised
    where the operating system raises it, when the temporary sibling is created."""
    import tempfile

    def refused(*args, **kwargs):
        raise OSError(code, os.strerror(code), str(tmp_path))

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    monkeypatch.setattr(tempfile, "mkdtemp", refused)
    with pytest.raises(FileIOError) as caught:
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "out.csv")
    assert "\n" not in str(caught.value) and "out.csv" in str(caught.value)
    with pytest.raises(FileIOError), atomic_folder(tmp_path / "model", overwrite=False):
        pass
    assert _names(tmp_path) == []
