"""Run directories: `OUTDIR/NNNNN-<desc>/`, numbered so that a new run never reuses an old one, and named after the
dataset, --cfg and the options given, as NVIDIA's train.py names them; the snapshot --resume auto continues; and the
process that trains a run (its training.lock)."""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import functools
import json
import os
import re
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..io.detect import newest_snapshot, snapshot_nimg
from ..io.pretrained import NVIDIA_NETWORKS
from ..utils.files import folder_blocker, remove_stale_temps, writing
from ..utils.text import option_value

if TYPE_CHECKING:
    from .config import TrainingOptions

# The options a run's name carries where they were given (TrainingOptions.given), each as (option, its word in the
# name; '' for a value alone), in NVIDIA's train.py order and spelling: the dataset's before --cfg, the others after
# it, then ours. Options that change how fast a run goes or what it writes, not what it trains (--snap, --metrics,
# --workers, --precision, --batch-gpu, ...), stay out, as NVIDIA's do.
DATA_PARTS = (("cond", "cond"), ("max_size", "subset"), ("mirror", "mirror"))
OPTION_PARTS = (("gamma", "gamma"), ("kimg", "kimg"), ("batch", "batch"), ("aug", ""), ("p", "p"), ("target", "target"),
                ("augpipe", ""), ("diffaugment_policy", ""), ("resume", "resume"), ("freezed", "freezed"),
                ("seed", "seed"), ("resolution", "resolution"), ("loss", "loss"), ("glr", "glr"), ("dlr", "dlr"),
                ("ema_kimg", "emakimg"), ("ada_kimg", "adakimg"), ("map", "map"), ("map_lrmul", "maplrmul"),
                ("cbase", "cbase"), ("cmax", "cmax"), ("mbstd", "mbstd"), ("pack", "pack"),
                ("pack_by_class", "packbyclass"), ("clusters", "clusters"))
MAX_DESC_LENGTH = 200  # characters of a run's name after its number; options that would pass it are left out


def _safe(desc: str) -> str:
    """A run description as it appears in a directory name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", desc)


def run_desc(data_name: str, options: TrainingOptions) -> str:
    """The run directory's name after its number: the dataset's name, the dataset options given, --cfg, then the
    other options given (`00003-mydata-mirror-auto-gamma10-kimg1000-ada-target0.7`), as NVIDIA's train.py names
    runs (without its GPU count after `auto`); at most MAX_DESC_LENGTH characters."""
    desc = "-".join([data_name, *_parts(DATA_PARTS, options), options.cfg])
    for part in _parts(OPTION_PARTS, options):
        if len(desc) + 1 + len(part) <= MAX_DESC_LENGTH:
            desc += f"-{part}"
    return desc


def _parts(parts: tuple[tuple[str, str], ...], options: TrainingOptions) -> list[str]:
    """The name's parts for the options of `parts` that were given: '-mirror' for a switch that is on, '-gamma10'."""
    named = []
    for option, word in parts:
        if option not in options.given:
            continue
        value = getattr(options, option)
        if option == "resume":
            value = _resume_name(value)
        if isinstance(value, bool):
            named += [word] if value else []
        elif value is not None:
            named.append(f"{word}{option_value(value)}")
    return named


def _resume_name(resume: str) -> str | None:
    """--resume in a run's name, as NVIDIA's: the name of one of their networks, else 'custom'; None for 'auto',
    which continues this run (or starts one from new weights) and so names no network; auto:FILE as FILE."""
    if resume == "auto":
        return None
    spec = resume.removeprefix("auto:")
    if spec in NVIDIA_NETWORKS:
        return spec
    downloaded = {file.rpartition("/")[2]: name for name, file in NVIDIA_NETWORKS.items()}  # --resume ffhq256 arrives as its file
    return downloaded.get(Path(spec).name, "custom")


def run_kind(data_name: str, cfg: str) -> re.Pattern[str]:
    """The names (after the number) of the runs of a dataset and --cfg, whatever options they were given: what
    `--resume auto` looks through (and then compares their recorded options). Older versions named runs
    `<data>-<cfg>` alone; those match too."""
    data_parts = "".join(f"(-{re.escape(word)}{'' if option in ('cond', 'mirror') else r'[0-9]+'})?"
                         for option, word in DATA_PARTS)
    return re.compile(f"{re.escape(_safe(data_name))}{data_parts}-{re.escape(_safe(cfg))}(-.+)?")


def check_outdir_outside_data(outdir: str | Path, data: str) -> None:
    """Refuse an --outdir inside a --data folder: the runs' grids and snapshots would become training images."""
    folder = Path(data).expanduser()
    if not folder.is_dir():
        return
    if Path(os.path.realpath(Path(outdir).expanduser())).is_relative_to(os.path.realpath(folder)):
        raise ValueError(f"--outdir {outdir} is inside the --data folder {data}: the runs' image grids would become "
                         "training images; choose an --outdir outside it")


def check_outdir_creatable(outdir: str | Path) -> None:
    """Refuse an --outdir where no run directory can be made (a file on the way, a folder without write
    permission) before the work that comes first (opening and clustering the data); create_run_dir still
    reports what this cannot foresee."""
    blocker = folder_blocker(Path(outdir).expanduser())
    if blocker is not None:
        raise ValueError(f"--outdir {outdir}: cannot create a run directory there ({blocker}); choose another --outdir")


def create_run_dir(outdir: str | Path, desc: str) -> Path:
    """Create and return the next free `NNNNN-desc` directory under `outdir`.

    The number is one more than the largest existing one; `mkdir` without exist_ok means two
    runs started at the same moment cannot share a directory either. Temporaries that killed
    runs left in earlier run directories (half-written snapshots) are removed first.
    """
    check_outdir_creatable(outdir)
    outdir = Path(outdir).expanduser()
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        for name in os.listdir(outdir):
            if re.match(r"^\d+-", name) and (outdir / name).is_dir():
                remove_stale_temps(outdir / name, legacy_names=True)
        safe_desc = _safe(desc)
        while True:
            numbers = [int(m.group(1)) for name in os.listdir(outdir) if (m := re.match(r"^(\d+)-", name))]
            run_dir = outdir / f"{max(numbers, default=-1) + 1:05d}-{safe_desc}"
            try:
                run_dir.mkdir()
                return run_dir
            except FileExistsError:
                continue
    except OSError as err:  # read-only, no permission, a file on the way, ...
        raise ValueError(f"--outdir {outdir}: cannot create a run directory there ({err.strerror or err}); "
                         "choose another --outdir") from None


def runs_of_kind(outdir: str | Path, kind: str | re.Pattern[str]) -> list[Path]:
    """The `NNNNN-<kind>` run directories under `outdir`, in run-number order; `kind` is a run's name after its
    number, or a pattern of such names (`run_kind`)."""
    outdir = Path(outdir).expanduser()
    if not outdir.is_dir():
        return []
    pattern = kind if isinstance(kind, re.Pattern) else re.compile(re.escape(_safe(kind)))
    runs = sorted((int(m.group(1)), outdir / name) for name in os.listdir(outdir)
                  if (m := re.fullmatch(r"(\d+)-(.+)", name)) and pattern.fullmatch(m.group(2)) and (outdir / name).is_dir())
    return [run_dir for _, run_dir in runs]


def run_snapshots(outdir: str | Path, kind: str | re.Pattern[str]) -> list[Path]:
    """The newest snapshot of each `NNNNN-<kind>` run under `outdir` that has one, in run-number order (our snapshots
    only: the ones a run continues from)."""
    newest = (newest_snapshot(run_dir, suffixes=("safetensors",)) for run_dir in runs_of_kind(outdir, kind))
    return [path for path in newest if path is not None]


def latest_snapshot(outdir: str | Path, kind: str | re.Pattern[str],
                    differs: Callable[[Path], str] = lambda run_dir: "") -> tuple[Path | None, list[str]]:
    """The snapshot furthest along (most images seen; of two, the newer run's) among the newest snapshots of the
    `NNNNN-<kind>` runs under `outdir` (None if none has one), passing over runs for which `differs(run_dir)` says how
    they differ from this one; and a line for each run passed over that is newer or further along than the one found
    (every one, when none is found), newest first.

    This is what `--resume auto` continues: a run restarted after a failure (by hand or by torchrun
    --max-restarts) finds the last snapshot of the run it replaces, itself a run directory of its own.
    Of two runs that continued one run (a duplicate job), the one further along holds more of its work.
    Snapshots are written atomically, so every one found here is complete.
    """
    snapshots = run_snapshots(outdir, kind)
    nimg = {path: snapshot_nimg(path.name) or 0 for path in snapshots}
    ranked = sorted(snapshots, key=nimg.__getitem__)  # a stable sort: of equal counts, the newer run comes last
    found = next((path for path in reversed(ranked) if not differs(path.parent)), None)
    later = snapshots if found is None else [path for index, path in enumerate(snapshots)
                                             if index > snapshots.index(found) or nimg[path] > nimg[found]]
    return found, [f"{path.parent.name}: {difference}" for path in reversed(later) if (difference := differs(path.parent))]


# A run directory's owner: training.lock, written by the process that trains the run (rank 0) and removed when it ends.
# --resume auto refuses to continue a run that a live process still trains. A pid can be asked on its own host only,
# so the owner touches the file every HEARTBEAT_S while it holds the run, from a thread of its own (a metric at a
# snapshot can take an hour between two steps); a file untouched for OWNER_STALE_AFTER_S is a dead owner's (a killed
# process cannot remove it), whichever host it names. On its own host a pid may since name another process: the lock
# records the process's start too, where the system tells it (Linux, Windows).
# On another host, a lock of this process's own job left by an earlier instance of it (a SLURM job requeued on another
# node, a torchrun restart that put rank 0 elsewhere) is passed however fresh its heartbeat: the lock records the
# job's restart counts, and only a lower one is an earlier instance. Two processes of one job and one instance (two
# trainers in one allocation) are two live trainers.
# The continuation itself is claimed before the minutes of set-up that come before training.lock: each process that
# would continue a run creates the next `continue-NNNNN.lock` in its directory exclusively (O_EXCL, which NFSv3+ keeps)
# and gives way to a live owner of a lower-numbered one. A new run of a job is claimed alike, before the same set-up,
# by the next `start-NNNNN.lock` in --outdir, which records the job's options too: a process gives way only to a live
# owner of a lower-numbered claim of its own job. A claim that cannot be read was made a moment ago and is being
# written (its line follows its creation at once), unless it is older than UNWRITTEN_CLAIM_S: its writer was killed.
# A claim is held with a heartbeat as a lock is (`RunLock`), so a set-up longer than OWNER_STALE_AFTER_S (clustering
# a large dataset) keeps it on any host.
OWNER_FILE = "training.lock"
CLAIM_PREFIX = "continue-"  # a run's continuation, in its run directory
START_PREFIX = "start-"  # a new run, in --outdir
HEARTBEAT_S = 60.0
OWNER_STALE_AFTER_S = 3600.0
UNWRITTEN_CLAIM_S = 60.0
RELEASE_WAIT_S = 5.0  # how long `RunLock.release` waits for a touch under way (one hung on a dead mount: no longer)
JOB_VARIABLES = ("SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID", "TORCHELASTIC_RUN_ID")  # kept by requeues and restarts
RESTART_COUNTS = ("SLURM_RESTART_COUNT", "TORCHELASTIC_RESTART_COUNT")  # which instance of its job, in this order


def job_id() -> str | None:
    """This process's job as its scheduler (or torchrun) names it, e.g. 'SLURM_JOB_ID=4242'; None outside one (our
    launcher names its rendezvous after the endpoint where --rdzv-id is not given: `ProcessLayout.run_id`)."""
    for name in JOB_VARIABLES:
        value = os.environ.get(name, "")
        if value and value != "none":  # 'none': torchrun's placeholder without a rendezvous id
            return f"{name}={value}"
    return None


def job_instance() -> list[int]:
    """Which instance of its job this process is: its scheduler's requeues, then torchrun's restarts (0 where not
    told); of two instances of one job, the earlier one's is lower."""
    counts = []
    for name in RESTART_COUNTS:
        value = os.environ.get(name, "0")
        counts.append(int(value) if value.isdigit() else 0)
    return counts


@dataclasses.dataclass(frozen=True)
class RunOwner:
    """The process that trains a run directory, as its training.lock says: host, pid, start time, the snapshot it
    continued (None: none), and when it last said it was alive (the file's modification time)."""

    host: str
    pid: int
    started: float
    resumed: str | None
    heartbeat: float
    job: str | None = None
    process_start: int | None = None  # process_start(pid) when it wrote the file; None: not told (older files, other systems)
    instance: tuple[int, ...] | None = None  # job_instance() when it wrote the file; None: older files (a first instance)
    resumed_run: str | None = None  # `resumed` as 'RUN/SNAPSHOT' where it lies beside the run; None: elsewhere, older files

    def alive(self, now: float | None = None) -> bool:
        """Whether the owner may still train the run: it touched the file lately and, on this host, its process
        exists and is the one that wrote the file (not another that was given its pid since; this process is not an
        owner: it is choosing what to train), or on another host it is not an earlier instance of this process's job."""
        if (time.time() if now is None else now) - self.heartbeat > OWNER_STALE_AFTER_S:
            return False
        if self.host != socket.gethostname():
            return not self.earlier_instance()
        if self.pid == os.getpid() or not _process_exists(self.pid):
            return False
        return not self.pid_reused()

    def pid_reused(self) -> bool:
        """Whether the owner's pid now names another process on this host: one that started after the owner wrote the
        file (told where the file records its process's start, on Linux)."""
        if self.host != socket.gethostname() or self.process_start is None or not _process_exists(self.pid):
            return False
        return process_start(self.pid) not in (None, self.process_start)

    def earlier_instance(self) -> bool:
        """Whether the owner was an earlier instance of this process's job (its restart counts are lower). A file of
        an older version, which does not record the counts, is taken for its job's first instance: a requeue passes it,
        as that version did, while a second trainer of the same allocation does not."""
        instance = [0] * len(RESTART_COUNTS) if self.instance is None else list(self.instance)
        return self.job is not None and self.job == job_id() and instance < job_instance()

    def continues(self, run_dir: Path) -> bool:
        """Whether the owner's run continues a snapshot of `run_dir`, a run of the same --outdir: by the run's name,
        which every host that mounts the disk sees alike (older files: by the absolute path)."""
        if self.resumed_run is not None:
            return Path(self.resumed_run).parts[0] == run_dir.name
        return self.resumed is not None and Path(self.resumed).parent == run_dir.resolve()

    def describe(self) -> str:
        """'process 1234 on host gpu7 (started 2024-05-01 10:00:00)'."""
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        return f"process {self.pid} on host {self.host} (started {started})"


ON_WINDOWS = os.name == "nt"  # no signal 0 (os.kill ends the process) and no /proc there: kernel32 tells both
PROCESS_QUERY_LIMITED_INFORMATION = 0x1000  # the access to a process that its owner grants every user
MAX_PID = 2**31 - 1  # the largest pid_t (a signed 32-bit int); Windows' process ids are below it too
STILL_ACTIVE = 259  # GetExitCodeProcess's code for a process that has not ended
ERROR_ACCESS_DENIED = 5  # OpenProcess's error for a process that exists but may not be opened (a protected one)


def _process_exists(pid: int) -> bool:
    """Whether a process of this id exists on this machine."""
    if ON_WINDOWS:  # os.kill would end the process there
        return _windows_process(pid)[0]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: it exists
        return True
    return True


def process_start(pid: int) -> int | None:
    """When process `pid` started: on Linux in clock ticks after boot (field 22 of /proc/PID/stat), on Windows in
    100 ns since 1601 (its creation time); with its pid, this names one process, where a pid alone may be given to
    another once it ended. None where the system does not tell it (neither of those) or there is no such process."""
    if ON_WINDOWS:
        return _windows_process(pid)[1]
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        return int(stat.rpartition(")")[2].split()[19])  # after the command's name, which may hold spaces and ')'
    except (OSError, ValueError, IndexError):
        return None


class _FileTime(ctypes.Structure):
    """Windows' FILETIME: 100 ns intervals since 1601, in two halves."""

    _fields_ = [("low", ctypes.c_uint32), ("high", ctypes.c_uint32)]


@functools.cache
def _kernel32() -> Any:
    """Windows' kernel32.dll with the calls `_windows_process` makes, typed (a handle is pointer-sized)."""
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.OpenProcess.restype = ctypes.c_void_p
    kernel32.OpenProcess.argtypes = (ctypes.c_uint32, ctypes.c_int, ctypes.c_uint32)
    kernel32.GetExitCodeProcess.argtypes = (ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32))
    kernel32.GetProcessTimes.argtypes = (ctypes.c_void_p, *[ctypes.POINTER(_FileTime)] * 4)
    kernel32.CloseHandle.argtypes = (ctypes.c_void_p,)
    return kernel32


def _windows_process(pid: int) -> tuple[bool, int | None]:
    """(Whether process `pid` runs on this Windows machine, when it started: its creation time; None where not
    told.) A process that ended is still known while someone holds a handle to it: its exit code tells it."""
    kernel32 = _kernel32()
    handle = kernel32.OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:  # no such process (ERROR_INVALID_PARAMETER), or one that may not be opened
        return ctypes.get_last_error() == ERROR_ACCESS_DENIED, None
    try:
        code = ctypes.c_uint32()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True, None  # it could be opened: it exists
        if code.value != STILL_ACTIVE:
            return False, None
        creation, exit_time, kernel_time, user_time = (_FileTime() for _ in range(4))
        if not kernel32.GetProcessTimes(handle, *map(ctypes.byref, (creation, exit_time, kernel_time, user_time))):
            return True, None
        return True, creation.high << 32 | creation.low
    finally:
        kernel32.CloseHandle(handle)


def _owner_record(outdir: Path, resumed: Path | None, **more: Any) -> str:
    """The line a training.lock or a claim holds for this process, which trains a run under `outdir` from `resumed`
    (`more`: what else a claim records)."""
    resumed_run = None
    if resumed is not None:
        resumed = Path(resumed).resolve()
        if resumed.parent.parent == Path(outdir).resolve():
            resumed_run = f"{resumed.parent.name}/{resumed.name}"
    record = {"host": socket.gethostname(), "pid": os.getpid(), "process_start": process_start(os.getpid()),
              "started": time.time(), "job": job_id(), "instance": job_instance(),
              "resumed": None if resumed is None else str(resumed), "resumed_run": resumed_run, **more}
    return json.dumps(record) + "\n"


def claim_run_dir(run_dir: Path, resumed: Path | None) -> Path:
    """Write `run_dir`'s training.lock for this process (which trains the run; `resumed`: the snapshot it continues)
    and return its path."""
    lock = run_dir / OWNER_FILE
    lock.write_text(_owner_record(run_dir.parent, resumed), encoding="utf-8")
    return lock


def run_owner(run_dir: Path) -> RunOwner | None:
    """The owner that `run_dir`'s training.lock names (None: no such file, or one that cannot be read, which a
    process killed while writing it left)."""
    return _read_owner(run_dir / OWNER_FILE)


def _read_owner(lock: Path) -> RunOwner | None:
    """The owner a training.lock or a claim names (None: no such file, or one that cannot be read)."""
    try:
        heartbeat = lock.stat().st_mtime
        record = json.loads(lock.read_text(encoding="utf-8"))
        start, instance, pid = record.get("process_start"), record.get("instance"), int(record["pid"])
        if not 0 < pid <= MAX_PID:  # os.kill(0 or -1) asks about a group, and a huge pid overflows: a corrupt record
            raise ValueError(f"pid {pid}")
        return RunOwner(host=str(record["host"]), pid=pid, started=float(record["started"]),
                        resumed=record.get("resumed"), heartbeat=heartbeat, job=record.get("job"),
                        process_start=None if start is None else int(start),
                        instance=None if instance is None else tuple(int(count) for count in instance),
                        resumed_run=record.get("resumed_run"))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _claims(folder: Path, prefix: str) -> list[tuple[int, Path]]:
    """The claims named `<prefix>NNNNN.lock` in `folder`, by number."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted((int(m.group(1)), folder / name) for name in names
                  if (m := re.fullmatch(rf"{re.escape(prefix)}(\d+)\.lock", name)))


def _claim(folder: Path, prefix: str, record: str) -> Path:
    """Create the next `<prefix>NNNNN.lock` in `folder` exclusively, holding `record`; returns its path. A claim whose
    write fails (a full disk) is removed again, and the OSError names it: left empty, it would read as one still being
    written by another process, and stop this job's next start with a false diagnosis."""
    while True:
        path = folder / f"{prefix}{max((n for n, _ in _claims(folder, prefix)), default=-1) + 1:05d}.lock"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:  # another process took this number first: the next one
            continue
        try:
            with writing(path), os.fdopen(fd, "wb") as file:
                file.write(record.encode())
        except BaseException:
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        _held_claims[path.resolve()] = RunLock(path)
        return path


def claim_continuation(snapshot: Path) -> Path:
    """Claim the continuation of `snapshot`'s run for this process: create the next `continue-NNNNN.lock` in its
    directory exclusively; returns its path. A claim made before this one whose owner lives wins
    (`earlier_claim`), whichever of the two checks first."""
    return _claim(snapshot.parent, CLAIM_PREFIX, _owner_record(snapshot.parent.parent, snapshot))


def claim_start(outdir: str | Path, options: dict[str, Any]) -> Path:
    """Claim a new run of the job that `options` describe (as training_options.json records them) for this process:
    create the next `start-NNNNN.lock` in `outdir` (made where missing) exclusively; returns its path. A claim of the
    same job made before this one whose owner lives wins (`earlier_claim`, with the caller's test of the job)."""
    outdir = Path(outdir).expanduser()
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        return _claim(outdir, START_PREFIX, _owner_record(outdir, None, options=options))
    except OSError as err:  # read-only, no permission, a file on the way, ...
        raise ValueError(f"--outdir {outdir}: cannot create a run directory there ({err.strerror or err}); "
                         "choose another --outdir") from None


def claimed_options(claim: Path) -> dict[str, Any]:
    """The options a new run's claim records ({} where it cannot be read)."""
    try:
        options = json.loads(claim.read_text(encoding="utf-8")).get("options")
    except (OSError, ValueError, AttributeError):
        return {}
    return options if isinstance(options, dict) else {}


def earlier_claim(claim: Path, rival: Callable[[Path], bool] = lambda earlier: True) -> tuple[Path, RunOwner | None] | None:
    """A claim made before `claim` in its directory whose owner lives and that `rival` says competes with it (a new
    run's: of the same job), with that owner (None: a claim still being written); None where there is none. Claims of
    owners that are gone are removed (their numbers are below `claim`'s, so none is given out again)."""
    named = re.fullmatch(r"(.+-)(\d+)\.lock", claim.name)
    return _live_claim(claim.parent, named[1], rival, before=int(named[2]))


def live_claim(folder: Path, prefix: str,
               rival: Callable[[Path], bool] = lambda earlier: True) -> tuple[Path, RunOwner | None] | None:
    """`earlier_claim` for a process that made no claim in `folder` (--dry-run, a run it cannot write to): every live
    claim named `<prefix>NNNNN.lock` counts, as each was made before one not made yet; it only reads."""
    return _live_claim(folder, prefix, rival, before=None)


def _live_claim(folder: Path, prefix: str, rival: Callable[[Path], bool],
                before: int | None) -> tuple[Path, RunOwner | None] | None:
    """The first claim in `folder` numbered below `before` (None: any, and none is removed) whose owner lives and that
    `rival` says competes, with that owner (None: a claim still being written)."""
    for number, earlier in _claims(folder, prefix):
        if before is not None and number >= before:
            break
        owner = _read_owner(earlier)
        with contextlib.suppress(OSError):  # a claim gone meanwhile is no claim
            if owner is None and time.time() - earlier.stat().st_mtime < UNWRITTEN_CLAIM_S:
                return earlier, None
            if owner is None or not owner.alive():
                if before is not None:
                    earlier.unlink()
            elif rival(earlier):
                return earlier, owner
    return None


def release_claims(folder: Path) -> None:
    """Remove this process's claims in `folder` (a run directory's continuation claims, --outdir's claims of new
    runs): its training.lock (or its end) now speaks for it."""
    for prefix in (CLAIM_PREFIX, START_PREFIX):
        for _, claim in _claims(folder, prefix):
            owner = _read_owner(claim)  # a claim removed as dead and made again by another process is not this one's
            if owner is not None and owner.pid == os.getpid() and owner.host == socket.gethostname():
                heartbeat = _held_claims.pop(claim.resolve(), None)
                if heartbeat is not None:
                    heartbeat.release()
                with contextlib.suppress(OSError):
                    claim.unlink()


class RunLock:
    """A training.lock this process wrote (claim_run_dir), held while it trains the run, or a claim held while it sets
    up (`_claim`): a daemon thread touches it every HEARTBEAT_S, whatever the process does meanwhile (a step, an hour of
    metrics, a slow snapshot write, clustering), until `release` stops the thread and removes the file. A touch that
    fails (a full disk's metadata) is tried again at the next beat; a file that is gone (deleted by hand) ends the
    heartbeat."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat of {path}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stopped.wait(HEARTBEAT_S):
            try:
                os.utime(self.path)
            except FileNotFoundError:
                return
            except OSError:
                continue

    def release(self) -> None:
        """Stop the heartbeat and remove the file: this process trains the run no more."""
        self._stopped.set()
        self._thread.join(RELEASE_WAIT_S)  # a daemon: one still hung in a touch does not keep the process alive
        with contextlib.suppress(OSError):
            self.path.unlink()


_held_claims: dict[Path, RunLock] = {}  # this process's claims, each with its heartbeat, until release_claims
