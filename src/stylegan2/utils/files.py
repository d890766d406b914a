"""Safe file handling: atomic writes with temporaries we can recognise and sweep, and archive checks.

Temporaries are named `.<target name>.<pid>.<8 hex>.tmp<target suffix>` beside their target, so a
later start can tell ours from anything else and knows whether the process that wrote one is gone. The earlier
file that a set written with `replace` keeps until the set is in place is `.<target name>.<pid>.<8 hex>.bak<suffix>`,
which no sweep deletes: after a kill it may be the only copy of a user's file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import signal
import stat
import threading
import time
import zipfile
from pathlib import Path
from typing import BinaryIO, Collection, Iterator, Sequence

from .notes import warn

STALE_AFTER_SECONDS = 60.0  # a temporary untouched this long whose writer is gone is stale
ORPHAN_AFTER_SECONDS = 24 * 3600.0  # any temporary of ours untouched this long is stale (e.g. from another host)
MAX_ZIP_RATIO = 200  # declared size / compressed size of a deflated zip entry
_TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.(?P<kind>tmp|bak)(?:\.[A-Za-z0-9]+)?$")
_OLD_TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp(?:\.[A-Za-z0-9]+)?$")  # mkstemp, before the pid
BINARY = getattr(os, "O_BINARY", 0)  # Windows: without it os.open gives a text-mode descriptor (\n written as \r\n)
NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # POSIX: opening a FIFO must not block
PROBES_PROCESSES = os.name != "nt"  # Windows' os.kill(pid, 0) sends Ctrl-C instead of probing
DEFAULT_NAME_MAX = 255  # bytes in a file name, where the file system cannot be asked (most allow this many)


class ArchiveError(ValueError):
    """A zip entry is encrypted, compressed with a method we do not inflate, or claims too much."""


class OutputAppearedError(FileExistsError):
    """`path` appeared while the command ran (after it checked that the name was free) and replacing was not asked
    for: the file there was left alone. `kept`: where the command's own output went instead (None: it was removed)."""

    def __init__(self, path: str | Path, kept: Path | None = None) -> None:
        super().__init__(errno.EEXIST, "appeared while this command ran", str(path))
        self.path, self.kept = Path(path), kept

    @property
    def cause(self) -> str:
        """What happened, without what became of the command's own output."""
        return f"{self.path} appeared while this command ran (another command?); nothing was overwritten"

    def __str__(self) -> str:
        own = f"this command's output is kept as {self.kept}" if self.kept else "this command's output was not kept"
        return f"{self.cause}; {own}"


@contextlib.contextmanager
def writing(path: str | Path) -> Iterator[None]:
    """Give an OSError raised inside the block the path being written when it names none or names our temporary
    for it: a write or flush to an open file on a full disk says only 'No space left on device'."""
    path = Path(path)
    try:
        yield
    except OutputAppearedError:
        raise
    except OSError as err:
        named = Path(err.filename) if err.filename is not None else None
        target = _temp_target(named) if named is not None else None  # cut short where the name was long
        if named is not None and not (named.parent == path.parent and target and path.name.startswith(target)):
            raise
        raise OSError(err.errno, err.strerror or str(err), str(path)) from err


def write_failure(err: OSError) -> str:
    """'could not write PATH: REASON' for an OSError raised inside `writing(PATH)`."""
    return f"could not write {err.filename}: {err.strerror or err}"


def temp_name(path: Path, kind: str = "tmp") -> Path:
    """A fresh temporary path beside `path` in our naming (it keeps the target's suffix, for writers that pick the
    format from the name); `kind` "bak" names the backup of an earlier file. The target's name is cut short where
    the whole would pass the file system's limit, so any name that fits can be written."""
    tail = f".{os.getpid()}.{secrets.token_hex(4)}.{kind}{path.suffix}"
    room = max(_name_max(path.parent) - len(os.fsencode(tail)) - 1, 1)  # 1: the leading dot
    target = os.fsencode(path.name)[:room].decode(errors="ignore") or path.name[0]  # never half a character
    return path.with_name(f".{target}{tail}")


def _name_max(folder: Path) -> int:
    """The longest file name, in bytes, that the file system of `folder` (or of the nearest folder above it that
    exists) takes."""
    try:
        return os.pathconf(_nearest_existing(folder), "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):  # Windows has no pathconf; some file systems do not answer
        return DEFAULT_NAME_MAX


def _nearest_existing(path: str | Path) -> Path:
    """`path` (absolute, ~ expanded), or the nearest folder above it that exists: the disk a write there would use."""
    folder = Path(os.path.abspath(os.path.expanduser(path)))
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _temp_target(path: Path) -> str | None:
    """The target name (or, where it was cut short, its start) that a temporary or backup in our naming is for."""
    match = _TEMP_NAME.match(path.name)
    return match["target"] if match else None


def folder_blocker(folder: str | Path) -> str | None:
    """Why `folder` cannot be made (or written into), as far as can be told before trying: a file where it or a
    parent must be, or no write permission in the nearest folder that exists; None when nothing stands in the way."""
    folder = Path(folder).expanduser()
    existing = folder
    while not existing.exists() and existing != existing.parent:  # folders would be made below the nearest one
        existing = existing.parent
    if existing == folder and not folder.is_dir():
        return f"{folder} exists and is not a directory"
    if not existing.is_dir():
        return f"{existing} is a file, so no folder can be made there"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"no write permission in {existing}"
    return None


def create_temp(path: Path) -> tuple[int, Path]:
    """Create a temporary beside `path` (exclusive, mode 0666 minus the umask); returns (fd, temp path)."""
    while True:
        tmp = temp_name(path)
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | BINARY, 0o666), tmp
        except FileExistsError:
            continue


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold back Ctrl-C until the block ends, then handle it as the code around the block does (by default,
    KeyboardInterrupt; a training run's handler asks the run to stop): a write in progress completes first.

    Only the main thread can handle signals; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)  # None: not set from Python
    for signum in received:
        if callable(previous):
            previous(signum, None)
        elif previous != signal.SIG_IGN:
            raise KeyboardInterrupt


@contextlib.contextmanager
def atomic_path(path: str | Path, *, replace: bool = True, keep: bool = False) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; on success it becomes `path` atomically.

    A crash or exception leaves any existing file at `path` untouched and removes the temporary;
    Ctrl-C waits until the write is over. With `replace=False` an existing `path` is never replaced
    (OutputAppearedError; with `keep`, the finished file is kept under a free name beside it, see `commit`).
    The file gets the usual permissions (0666 minus the umask).
    """
    path = Path(path)
    if not replace and path.exists():
        raise OutputAppearedError(path)
    with deferred_interrupts():
        fd, tmp = create_temp(path)
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        os.close(fd)
        try:
            yield tmp
            os.chmod(tmp, mode)  # writers that recreate the file (safetensors' save_file makes it 0600) get it back
            _flush_to_disk(tmp)
            commit(tmp, path, replace=replace, keep=keep)
        finally:
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_paths(paths: Sequence[str | Path], *, replace: bool = True) -> Iterator[list[Path]]:
    """Yield a temporary path for each of `paths` (the caller writes all of them); when the block ends, all of them
    take their places, or none does.

    For outputs that belong together (a projection's images and its w): a failed write (a full disk) or an exception
    leaves every file at `paths` as it was. A commit that fails undoes the ones before it (earlier files are put
    back, new ones removed), so a later command never meets half of one set and half of another. Without `replace`,
    a path that appeared meanwhile stops the set (OutputAppearedError; nothing of the set is kept). Missing folders
    are made, and removed again (when still empty) if the set is not written.
    """
    paths = [Path(path) for path in paths]
    _refuse_repeats(paths)
    if not replace:
        for path in paths:
            if path.exists():
                raise OutputAppearedError(path)
    made: list[Path] = []
    temps: list[Path] = []
    committed = False
    try:
        for path in paths:
            made += missing_folders(path.parent)
            with writing(path.parent):
                path.parent.mkdir(parents=True, exist_ok=True)
            with writing(path):
                fd, tmp = create_temp(path)
            os.close(fd)
            temps.append(tmp)
        yield temps
        for tmp, path in zip(temps, paths):
            with writing(path):
                _flush_to_disk(tmp)
        with deferred_interrupts():
            _commit_all(list(zip(temps, paths)), replace)
        committed = True
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        if not committed:  # the temporaries gone, a folder made for the set is empty again
            remove_empty_folders(made)


def _refuse_repeats(paths: Sequence[Path]) -> None:
    """ValueError naming the first of `paths` that an earlier one names too (`a.png`, `out/../a.png`, its absolute
    path): its commit would overwrite the first one's backup. One pass, as `swapae decode` writes thousands a set."""
    seen: set[str] = set()
    for path in paths:
        absolute = os.path.abspath(path)
        if absolute in seen:
            raise ValueError(f"{path} is given twice in one set of outputs; give each output once")
        seen.add(absolute)


def missing_folders(folder: Path) -> list[Path]:
    """`folder` and those of its parents that do not exist yet: the ones a write into it makes, and that a failed
    write removes again (remove_empty_folders)."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def remove_empty_folders(folders: Sequence[Path]) -> None:
    """Remove those of `folders` that are empty, the deepest first; one that holds something now (put there
    meanwhile) stays."""
    for folder in sorted(folders, key=lambda folder: len(folder.parts), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()


@contextlib.contextmanager
def new_folders_removed_on_failure(folder: Path) -> Iterator[None]:
    """Within it, writes may make `folder` and its missing parents; if the block fails (any exception, Ctrl-C
    too), those of them that are still empty are removed again: a failed first write leaves no new empty folder.
    A folder that existed before, or that holds anything, stays."""
    made = missing_folders(folder)
    try:
        yield
    except BaseException:
        remove_empty_folders(made)
        raise


def _commit_all(pairs: list[tuple[Path, Path]], replace: bool) -> None:
    """Commit each (temporary, path) in order; if one fails, put back what the earlier ones replaced or added.

    An earlier file is first given a second name, its backup (a hard link where the file system has them, so the
    output name is never empty, even for a moment a kill could fall in), and removed once the whole set is in place.
    """
    backups: dict[Path, Path] = {}  # path -> the file it held before, under a backup name
    placed: list[tuple[Path, tuple[int, int] | None]] = []  # path, and the identity of the file we put there
    try:
        for tmp, path in pairs:
            with writing(path):
                ours = _identity(tmp)
                if replace and path.exists():
                    backups[path] = _back_up(path)
                commit(tmp, path, replace=replace)
            placed.append((path, ours))
    except BaseException:
        _undo(placed, backups)
        raise
    for backup in backups.values():
        backup.unlink(missing_ok=True)


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at `path` itself, which a rename or a hard link keeps; None when nothing is there."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    return info.st_dev, info.st_ino


def _back_up(path: Path) -> Path:
    """Give the file at `path` a backup name beside it, and return that name: a hard link, which leaves `path` in
    place; where the file system has none, a rename (then `path` is empty until the new file takes it)."""
    while True:
        backup = temp_name(path, "bak")
        try:
            os.link(path, backup)
            return backup
        except FileExistsError:  # the random name is taken: draw another
            continue
        except OSError:
            break
    os.replace(path, backup)
    return backup


def _undo(placed: list[tuple[Path, tuple[int, int] | None]], backups: dict[Path, Path]) -> None:
    """Take back the files a failed set placed (only those still ours: one another command put there since stays),
    and put each earlier file back from its backup where its name is empty again (never over another's file)."""
    for path, ours in placed:
        if ours is not None and _identity(path) == ours:  # ours alone: the name was free (or replacing was asked for) when we took it
            path.unlink()
    for path, backup in backups.items():
        now = _identity(path)
        if now is not None and now == _identity(backup):  # the link was made, the new file never took the name
            backup.unlink()
        elif now is None:
            os.replace(backup, path)


def _flush_to_disk(path: Path) -> None:
    """fsync a finished file through a handle open for writing, which Windows needs (POSIX takes any)."""
    try:
        file = open(path, "r+b")
    except PermissionError:  # POSIX, a umask without the owner's write bit
        file = open(path, "rb")
    with file:
        os.fsync(file.fileno())


def commit(tmp: Path, path: Path, *, replace: bool, keep: bool = False) -> None:
    """Move the finished temporary to `path`; without `replace`, only if nothing is there (atomically: a file that
    appeared since the command checked the name is never replaced). Then OutputAppearedError; with `keep`, the
    finished file is first kept under the first free name `<stem>-N<suffix>` beside `path` (output that took long to
    make, such as a dataset zip); else the caller removes the temporary."""
    if replace:
        os.replace(tmp, path)
        return
    if not _link_if_free(tmp, path):
        raise OutputAppearedError(path, _keep_beside(tmp, path) if keep else None)


def _link_if_free(tmp: Path, path: Path) -> bool:
    """Give the temporary the name `path` unless something holds that name; whether it was given."""
    try:
        os.link(tmp, path)  # atomic and fails if `path` exists
    except FileExistsError:
        return False
    except OSError:  # the file system has no hard links: a check, then a rename (a small window is left)
        if os.path.lexists(path):
            return False
        os.replace(tmp, path)
    return True


def _keep_beside(tmp: Path, path: Path) -> Path:
    """Give the temporary the first free name `<stem>-N<suffix>` beside `path`; returns it."""
    number = 1
    while not _link_if_free(tmp, kept := path.with_name(f"{path.stem}-{number}{path.suffix}")):
        number += 1
    return kept


def is_stale_temp(path: Path, now: float | None = None, *, legacy_names: bool | Collection[str] = False) -> bool:
    """Whether `path` is a temporary in our naming that no running writer can still be using.

    The older mkstemp naming (`.NAME.xxxxxxxx.tmp`) carries no writer, and a user's own hidden `.notes.20261207.tmp`
    has its form: it counts only with `legacy_names`, True in folders that hold nothing but ours (run directories,
    caches), else the target names (NAME) this command writes, whose temporaries are ours whoever left them."""
    match = _TEMP_NAME.match(path.name)
    if match is not None and match["kind"] == "bak":  # an earlier file kept aside: after a kill, maybe the only copy
        return False
    if match is None and legacy_names:
        match = _OLD_TEMP_NAME.match(path.name)
        if match is not None and legacy_names is not True and match["target"] not in legacy_names:
            match = None
    if match is None:
        return False
    try:
        info = path.lstat()
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(info.st_mode):
        return False
    age = (time.time() if now is None else now) - info.st_mtime
    if age > ORPHAN_AFTER_SECONDS:
        return True
    pid = match.groupdict().get("pid")
    if pid is None:  # the older mkstemp naming carries no writer
        return age > STALE_AFTER_SECONDS
    return age > STALE_AFTER_SECONDS and int(pid) != os.getpid() and not _process_exists(int(pid))


def _process_exists(pid: int) -> bool:
    """Whether process `pid` may still run. Where it cannot be told (PROBES_PROCESSES), our temporaries are stale
    only after ORPHAN_AFTER_SECONDS."""
    if not PROBES_PROCESSES:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # PermissionError: another user's; anything else: cannot tell
        return True
    return True


def remove_stale_temps(directory: Path, *, legacy_names: bool | Collection[str] = False) -> list[Path]:
    """Delete our stale temporaries in `directory` (not below it); returns what was removed. `legacy_names` as
    `is_stale_temp`'s: only for folders that are ours alone."""
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        candidate = Path(entry.path)
        if is_stale_temp(candidate, legacy_names=legacy_names):
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()
                removed.append(candidate)
    return removed


def free_space_short(path: str | Path, needed: int) -> int | None:
    """The free bytes on the disk of `path` (or of the nearest folder above it that exists) when fewer than `needed`,
    else None (also when the disk cannot be asked). Long writes check it first: a full disk would stop them hours on."""
    try:
        free = shutil.disk_usage(_nearest_existing(path)).free
    except OSError:
        return None
    return free if free < needed else None


def open_regular(path: str | Path) -> BinaryIO:
    """Open a file for binary reading only if it is a regular file (a FIFO or device would block)."""
    fd = os.open(path, os.O_RDONLY | NONBLOCK | BINARY)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise IsADirectoryError(f"{path}: not a regular file") if stat.S_ISDIR(mode) else OSError(f"{path}: not a regular file")
        if NONBLOCK:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def append_line(path: str | Path, line: str) -> None:
    """Append `line` and a newline to the regular file `path` (made where missing), as one record of a JSON-lines file.

    Never through a symbolic link or into a FIFO: a run directory from elsewhere could hold the name as a link to any
    file of the user's (refusals are OSErrors naming `path`). A last line without its newline (an append cut short
    by a full disk or a kill) is ended first, with a note: this record glued onto it would be lost with it.
    """
    path = Path(path)
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | NONBLOCK | BINARY
    try:
        fd = os.open(path, flags, 0o666)
    except OSError:
        if path.is_symlink():
            raise OSError(errno.ELOOP, "a symbolic link, which is not written through", str(path)) from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        unended = _last_byte(fd) not in (b"", b"\n")
        data = memoryview(b"\n" * unended + line.encode() + b"\n")
        with writing(path):
            while data:  # O_APPEND: each write goes to the end, wherever the read left the offset
                data = data[os.write(fd, data):]
    finally:
        os.close(fd)
    if unended:
        warn(f"{path}: its last line was cut short (an append stopped by a full disk or a kill); it was ended there, "
             "and this record written on a line of its own")


def _last_byte(fd: int) -> bytes:
    """The last byte of the open file `fd` (b"" for an empty file)."""
    end = os.lseek(fd, 0, os.SEEK_END)
    if end == 0:
        return b""
    os.lseek(fd, end - 1, os.SEEK_SET)
    return os.read(fd, 1)


def check_zip_entry(
    info: zipfile.ZipInfo, where: str, *, compressed: bool = True, max_ratio: float | None = MAX_ZIP_RATIO,
    max_size: int | None = None,
) -> None:
    """Check what one zip entry declares before it is inflated (zipfile never inflates past a declared size).

    Refused: encryption; compression methods zipfile cannot read (or any compression when not
    `compressed`); compressed entries that claim more than `max_ratio` times their compressed size;
    entries larger than `max_size` bytes.
    """
    name = f"{where}/{info.filename}"
    methods = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA} if compressed else {zipfile.ZIP_STORED}
    if info.flag_bits & 0x1:
        raise ArchiveError(f"{name}: the entry is encrypted")
    if info.compress_type not in methods:
        kind = f"compression method {info.compress_type}" if compressed else "compressed"
        raise ArchiveError(f"{name}: {kind}, which this reader does not inflate")
    if max_size is not None and info.file_size > max_size:
        raise ArchiveError(f"{name}: declares {info.file_size:,} bytes (limit {max_size:,})")
    inflated = info.compress_type != zipfile.ZIP_STORED
    if inflated and max_ratio is not None and info.file_size > max_ratio * max(info.compress_size, 1024):
        raise ArchiveError(
            f"{name}: declares {info.file_size:,} bytes from {info.compress_size:,} compressed (more than {max_ratio:g}:1)"
        )


def check_zip_members(archive: zipfile.ZipFile, where: str, **limits) -> list[zipfile.ZipInfo]:
    """The archive's entries, each passed through `check_zip_entry(info, where, **limits)`."""
    members = archive.infolist()
    for info in members:
        check_zip_entry(info, where, **limits)
    return members
