"""Atomic writes: all or nothing, with ordinary file permissions."""

import collections
import errno
import os
import shutil
import stat
import time

import pytest

from stylegan2.utils import files
from stylegan2.utils.files import atomic_path


def test_atomic_path_replaces_the_file_with_usual_permissions(tmp_path):
    target = tmp_path / "out.png"
    with atomic_path(target) as tmp:
        assert tmp.suffix == ".png" and tmp.parent == tmp_path
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask


def test_a_writer_that_recreates_the_file_owner_only_still_gives_usual_permissions(tmp_path):
    """safetensors' save_file deletes and recreates its file with mode 0600."""
    target = tmp_path / "net.safetensors"
    with atomic_path(target) as tmp:
        tmp.unlink()
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "net.safetensors"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("crash while writing")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["net.safetensors"]



def test_the_finished_file_is_flushed_through_a_handle_open_for_writing(tmp_path, monkeypatch):
    """Windows' fsync (FlushFileBuffers) refuses a read-only handle: every save failed there with EBADF."""
    fcntl = pytest.importorskip("fcntl")
    fsync = os.fsync

    def windows_fsync(fd: int) -> None:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:
            raise OSError(errno.EBADF, "Bad file descriptor")
        fsync(fd)

    monkeypatch.setattr(os, "fsync", windows_fsync)
    with atomic_path(tmp_path / "out.bin") as tmp:
        tmp.write_bytes(b"data")
    assert (tmp_path / "out.bin").read_bytes() == b"data"


def test_temporaries_and_folder_images_are_opened_binary(tmp_path, monkeypatch):
    """Windows' os.open gives a text-mode descriptor without O_BINARY: zips and downloads came out corrupt."""
    monkeypatch.setattr(files, "BINARY", files.BINARY or os.O_CLOEXEC)  # POSIX: a harmless stand-in for O_BINARY
    flags = []
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda path, flag, *args, **kwargs: flags.append(flag) or real_open(path, flag, *args, **kwargs))
    fd, tmp = files.create_temp(tmp_path / "out.zip")
    os.close(fd)
    files.open_regular(tmp).close()
    assert len(flags) == 2 and all(flag & files.BINARY for flag in flags)


def test_windows_never_probes_a_writer_with_os_kill(tmp_path, monkeypatch):
    """os.kill(pid, 0) sends Ctrl-C on Windows (or fails with EINVAL): a leftover temporary blocked every start."""
    old = tmp_path / f".net.safetensors.{2**22 + 7}.0123abcd.tmp.safetensors"
    old.write_bytes(b"x")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    monkeypatch.setattr(os, "kill", lambda pid, sig: pytest.fail("os.kill was called"))
    monkeypatch.setattr(files, "PROBES_PROCESSES", False)  # as on Windows
    assert files.remove_stale_temps(tmp_path) == []  # its writer cannot be told gone: kept for a day
    os.utime(old, (time.time() - 2 * 86400, time.time() - 2 * 86400))
    assert files.remove_stale_temps(tmp_path) == [old]


def test_free_space_short_asks_the_nearest_folder_that_exists_and_answers_only_when_short(tmp_path, monkeypatch):
    """An --outdir that a run has yet to make is on the disk of the folder above it."""
    asked = []

    def usage(path):
        asked.append(path)
        return collections.namedtuple("Usage", "total used free")(100, 0, 50)

    monkeypatch.setattr(shutil, "disk_usage", usage)
    assert files.free_space_short(tmp_path / "runs" / "more", 51) == 50 and asked == [tmp_path]
    assert files.free_space_short(tmp_path, 50) is None

    def unreadable(path):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(shutil, "disk_usage", unreadable)
    assert files.free_space_short(tmp_path, 10**12) is None  # not known: no note rather than an error


def test_the_older_temporary_naming_is_swept_only_where_it_is_ours(tmp_path):
    """`.notes.20261207.tmp` is mkstemp's form: in a user's --outdir it is their file, not a killed writer's."""
    old = time.time() - 3600
    theirs, ours = tmp_path / ".notes.20261207.tmp", tmp_path / ".out.zip.ab12cd_9.tmp"
    for path in (theirs, ours):
        path.write_bytes(b"x")
        os.utime(path, (old, old))
    assert files.remove_stale_temps(tmp_path) == []
    assert files.remove_stale_temps(tmp_path, legacy_names={"out.zip"}) == [ours] and theirs.exists()
    assert files.remove_stale_temps(tmp_path, legacy_names=True) == [theirs]  # a run directory or a cache: all ours


def test_a_line_appended_after_one_cut_short_stands_on_its_own_line(tmp_path):
    """An append stopped by a full disk or a kill leaves its line without a newline: the next record is not glued on."""
    records = tmp_path / "metric-fid50k_full.jsonl"
    records.write_text('{"whole": 1}\n{"cut": ')
    with pytest.warns(UserWarning, match=rf"{records}: its last line was cut short"):
        files.append_line(records, '{"next": 2}')
    assert records.read_text() == '{"whole": 1}\n{"cut": \n{"next": 2}\n'


def test_lines_are_appended_to_a_missing_or_whole_file_as_they_are(tmp_path, recwarn):
    records = tmp_path / "stats.jsonl"
    files.append_line(records, "1")
    files.append_line(records, "2")
    assert records.read_text() == "1\n2\n" and not recwarn.list


def test_an_append_the_disk_stops_halfway_names_the_file_and_the_next_one_stands_alone(tmp_path, monkeypatch):
    records = tmp_path / "stats.jsonl"
    records.write_text("1\n")
    write = os.write

    def full(fd, data):
        write(fd, bytes(data[:3]))
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch, pytest.raises(OSError) as raised:
        patch.setattr(os, "write", full)
        files.append_line(records, "22222")
    assert raised.value.filename == str(records) and raised.value.errno == errno.ENOSPC
    with pytest.warns(UserWarning, match="cut short"):
        files.append_line(records, "3")
    assert records.read_text().splitlines() == ["1", "222", "3"]
