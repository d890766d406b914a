"""`--resume auto`: which snapshot of this job's run under --outdir to continue (or that a new run starts), refusing
a run that a live process trains or claimed first; the claims that let one of two processes of a job give way."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterator

from ..data.dataset import absolute_spec
from ..io.detect import newest_snapshot, snapshot_nimg
from ..io.errors import CheckpointError
from ..io.native import read_training_state
from ..io.pretrained import cached_file_name, network_file
from ..utils.download import DownloadError
from ..utils.files import missing_folders, remove_empty_folders
from .config import UNRECORDED_START, TrainingOptions, changed_defaults, run_differences, same_place
from .errors import TrainingError
from .rundir import (
    CLAIM_PREFIX,
    OWNER_FILE,
    OWNER_STALE_AFTER_S,
    START_PREFIX,
    UNWRITTEN_CLAIM_S,
    RunOwner,
    claim_continuation,
    claim_start,
    claimed_options,
    earlier_claim,
    latest_snapshot,
    live_claim,
    release_claims,
    run_kind,
    run_owner,
    run_snapshots,
    runs_of_kind,
)

NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)  # a run this process may not write to: continued without a claim
AUTO_RESUME = "auto"  # --resume auto: the newest snapshot of this run under --outdir, if any; auto:FILE, else FILE


def auto_resume(resume: str | None) -> tuple[bool, str | None]:
    """(whether --resume is auto, the file that 'auto:FILE' starts from when --outdir has no snapshot of the run):
    one command line for a fine-tuning job's first start and its requeues."""
    if resume == AUTO_RESUME:
        return True, None
    if resume is not None and resume.startswith(f"{AUTO_RESUME}:"):
        return True, resume[len(AUTO_RESUME) + 1:]
    return False, None


@contextlib.contextmanager
def claims_released(options: TrainingOptions) -> Iterator[None]:
    """Within it, --resume auto may claim the run it continues (`claim_continuation`) or a new run (`claim_start`);
    this process's claims under --outdir are let go on the way out, however the run ends (open_run_dir lets go sooner,
    once training.lock speaks for the run), and an --outdir that a claim made and nothing else filled is removed."""
    outdir = Path(options.outdir).expanduser()
    made = missing_folders(outdir)
    try:
        yield
    finally:
        if auto_resume(options.resume)[0]:
            release_claims(outdir)
            for run_dir in runs_of_kind(outdir, re.compile(".+")):
                release_claims(run_dir)
            remove_empty_folders(made)


def find_auto_resume(options: TrainingOptions, data_name: str,
                     claim: bool = False) -> tuple[Path | None, list[str]]:
    """The snapshot `--resume auto` continues (None: none), and lines on what it found: a line per run of this dataset
    and --cfg (`run_kind`: whatever options its name carries, or an older version's `<data>-<cfg>`) that it passed
    over because its recorded options differ in those that tell runs apart (RUN_IDENTITY) or in the network it started
    from (`auto:FILE` starts from FILE, plain `auto` from new weights); of the others, the run furthest along is
    continued. A run that a live process still trains, or is about to, is refused (TrainingError): continuing it
    would fork it; so is a new run where none has a snapshot yet while a live process trains this job's, or claimed
    one first. With `claim` (a run, not --dry-run, which reads the claims alike but makes none), the continuation or
    the new run is claimed before the owners are checked (let go by `claims_released`): of two processes that would
    continue one run, or start one job's run, one gives way. A run this process cannot write to is continued without
    a claim, with a note."""
    read: dict[Path, tuple[dict[str, Any], str]] = {}  # each run's recorded options, read once, and a note on them

    def recorded(run_dir: Path) -> dict[str, Any]:
        if run_dir not in read:
            read[run_dir] = _run_options(run_dir)
        return read[run_dir][0]

    start = auto_resume(options.resume)[1]

    def differences(run_dir: Path) -> str:  # what a passed-over line says after the run's name; '' for none
        return differs(recorded(run_dir))

    def differs(theirs: dict[str, Any]) -> str:  # how a job of these recorded options differs; '' for none
        said = run_differences(options, theirs) + _start_differences(start, theirs)
        changed = changed_defaults(options, theirs)
        if said and len(changed) == len(said):  # only defaults that changed: this job's run, from an older version
            return f"{', '.join(said)}; add {' '.join(changed)} to continue it"
        return f"{', '.join(said)}: a run with other options, so another job's (give one of its snapshots to --resume " \
               "to continue it anyway)" if said else ""

    def same_job(other: Path) -> bool:  # whether another process's claim of a new run is of this job
        theirs = claimed_options(other)
        return theirs.get("cfg", options.cfg) == options.cfg and not differs(theirs)

    kind = run_kind(data_name, options.cfg)
    found, passed_over = latest_snapshot(options.outdir, kind, differences)
    lines = [f"passed over {line}" for line in passed_over]
    if found is None:
        # claimed (let go by `claims_released`) and checked before the locks, which a claim's owner writes before letting go
        held = claim_start(options.outdir, _claimed_job(options, start)) if claim else None
        _refuse_second_start(Path(options.outdir).expanduser(), held, same_job)
        _refuse_beside_live_run(runs_of_kind(options.outdir, kind), differences)
        return found, [*lines, *(note for _, note in read.values() if note)]
    held, unclaimed = _claim_continuation(found, claim)  # let go by `claims_released`
    lines += _owner_notes(found, runs_of_kind(options.outdir, kind), differences, held) + unclaimed
    newest = [path for path in run_snapshots(options.outdir, kind) if not differences(path.parent)][-1]
    lines += [note for _, note in read.values() if note]
    if newest != found:  # two jobs continued one run (a duplicate submission): the one further along holds more work
        lines.append(f"continues {found.parent.name}, the run furthest along ({_kimg(found)} kimg); the newer run "
                     f"{newest.parent.name} is at {_kimg(newest)} kimg (give {newest} to --resume to continue that one)")
    theirs = recorded(found.parent)
    data = theirs.get("data", options.data)
    if isinstance(data, str) and not same_place(data, options.data):
        lines.append(f"its run read --data {data}, taken for this one (the same file name, moved or copied since)")
    started = recorded_start(theirs)
    if started == UNRECORDED_START and not read[found.parent][1]:  # an unreadable record is said as such
        lines.append(f"its run does not record the network it started from (written by an older version): taken for "
                     f"a run from {start or 'new weights'}, as this job's")
    elif start is not None and isinstance(started, str) and not os.path.exists(started):
        lines.append(f"its run started from {started}, which is gone: taken for {start} by its file name")
    return found, lines


def _kimg(snapshot: Path) -> str:
    """The kimg a snapshot's file name says: '0.384'."""
    return f"{(snapshot_nimg(snapshot.name) or 0) / 1000:g}"


def _claim_continuation(found: Path, claim: bool) -> tuple[Path | None, list[str]]:
    """With `claim`, this process's claim of the continuation of `found`'s run (`claim_continuation`; None without,
    --dry-run), and a note where its directory cannot be written to (a finished run made read-only, a colleague's
    run): such a run is continued without a claim, only read as before claims were made, so a job that starts to
    continue it at the same moment is not stopped. A claim that the disk fails to write (full, an I/O error) is a
    TrainingError naming it: the run could not write its snapshots there either."""
    why = None
    if claim:
        try:
            return claim_continuation(found), []
        except OSError as err:
            if err.errno not in NOT_WRITABLE:
                advice = "free space on that disk" if err.errno in (errno.ENOSPC, errno.EDQUOT) else "check that disk"
                raise TrainingError(f"--resume auto: could not write {err.filename or found.parent} to claim the run "
                                    f"it continues ({err.strerror or err}); {advice}, then start again") from None
            why = err.strerror or str(err)
    elif not os.access(found.parent, os.W_OK):  # --dry-run: what the claim would meet
        why = os.strerror(errno.EACCES)
    return None, [] if why is None else [f"cannot claim {found.parent.name} ({why}): continuing it without a claim, so "
                                         "a job that starts to continue it at the same moment is not stopped"]


def _claim_refusal(what: str, first: tuple[Path, RunOwner | None], instead: str) -> TrainingError:
    """The refusal of a run that a live process claimed first (`earlier_claim`, `live_claim`): `what` it is about to
    do, by whom, what to do `instead`, and when its claim counts as gone (an unreadable one sooner)."""
    where, owner = first
    after = (f"after {OWNER_STALE_AFTER_S / 3600:g} hour without a heartbeat it counts as gone" if owner else
             f"a claim still being written counts as gone {UNWRITTEN_CLAIM_S:g} seconds after it was made")
    return TrainingError(f"--resume auto: {what} by {owner.describe() if owner else 'another process'}, which claimed "
                         f"it first; wait for that process to end or stop it, or {instead} anyway (if that process is "
                         f"gone, delete {where}: {after})")


def _owner_notes(found: Path, runs: list[Path], differences: Callable[[Path], str], claim: Path | None) -> list[str]:
    """Refuse (TrainingError) to continue `found`'s run while a live process trains it, trains a run of this job
    (`differences` finds none) that continues it, or claimed it before this process's `claim` (None: any live claim,
    where this process made none); a note where the run's training.lock was left by a process that is gone (killed,
    so it could not remove the file)."""
    run_dir = found.parent.resolve()
    first = earlier_claim(claim) if claim is not None else live_claim(found.parent, CLAIM_PREFIX)
    if first is not None:
        raise _claim_refusal(f"the run it would continue, {found.parent}, is about to be continued", first,
                             "pass a snapshot to --resume to start from that file")
    notes = []
    for other in runs:
        owner = run_owner(other)
        continues = owner is not None and owner.continues(found.parent)
        if owner is None or not (other.resolve() == run_dir or (continues and not differences(other))):
            continue
        where = "" if other.resolve() == run_dir else f", which continues it in {other.name}"
        if owner.alive():
            raise TrainingError(
                f"--resume auto: the run it would continue, {found.parent}, is still being trained by {owner.describe()}"
                f"{where}; wait for that process to end or stop it, or pass a snapshot to --resume to start from that "
                f"file anyway (if that process is gone, delete {other / OWNER_FILE}: after "
                f"{OWNER_STALE_AFTER_S / 3600:g} hour without a heartbeat it counts as gone)")
        if other.resolve() == run_dir:
            gone = ("an earlier instance of this job" if owner.earlier_instance()
                    else "gone (its pid now names another process)" if owner.pid_reused() else "gone (killed?)")
            notes.append(f"{found.parent.name} was left by {owner.describe()}, which is {gone}: continuing it")
    return notes


def _refuse_beside_live_run(runs: list[Path], differences: Callable[[Path], str]) -> None:
    """Refuse (TrainingError) to start a new run while a live process trains a run of this job (`differences` finds
    none) that has no snapshot yet: a duplicate submission would train the job twice. A dead owner's run is no such
    run: its job is this one, started again."""
    for run_dir in runs:
        owner = run_owner(run_dir)
        if owner is not None and owner.alive() and not differences(run_dir):
            raise TrainingError(
                f"--resume auto: {run_dir}, a run of this job with no snapshot yet, is being trained by "
                f"{owner.describe()}; wait for that process to end or stop it, or pass a file to --resume or another "
                f"--outdir to start another run anyway (if that process is gone, delete {run_dir / OWNER_FILE}: after "
                f"{OWNER_STALE_AFTER_S / 3600:g} hour without a heartbeat it counts as gone)")


def _claimed_job(options: TrainingOptions, start: str | None) -> dict[str, Any]:
    """The options a new run's claim records, as its training_options.json will (`differences` reads either), with
    the network it starts from (`start`, --resume auto:FILE; None: new weights) as a path that `_same_start` knows."""
    started_from = start if start is None else cached_file_name(start) or os.path.abspath(os.path.expanduser(start))
    return {**options.to_json(), "data": absolute_spec(options.data), "started_from": started_from}


def _refuse_second_start(outdir: Path, claim: Path | None, same_job: Callable[[Path], bool]) -> None:
    """Refuse (TrainingError) to start a new run in `outdir` while a live process that claimed one of this job
    (`same_job`) before this process's `claim` (None, --dry-run: any live claim) sets it up: of two starts of one job
    at once (`srun --ntasks=2`, a requeue racing the first start), the first claim trains."""
    first = earlier_claim(claim, same_job) if claim is not None else live_claim(outdir, START_PREFIX, same_job)
    if first is not None:
        raise _claim_refusal(f"a new run of this job under {outdir} is about to be started", first,
                             "pass a file to --resume or another --outdir to start another run")


def _run_options(run_dir: Path) -> tuple[dict[str, Any], str]:
    """The options a run directory records: its training_options.json, or where that cannot be read (emptied by a
    crash, a bad copy) those its newest snapshot records, with a note on that ('' otherwise); {} where it has none."""
    try:
        raw = (run_dir / "training_options.json").read_bytes()
        found = json.loads(raw) if raw.strip() else None
    except FileNotFoundError:  # as an older version's run that cannot be followed back: nothing recorded
        return {}, ""
    except OSError as err:
        why = err.strerror or str(err)
    except ValueError as err:  # not UTF-8 either
        why = f"not valid JSON: {err}"
    else:
        if isinstance(found, dict):
            return found, ""
        why = "empty" if found is None else "not a JSON object"
    unreadable = f"training_options.json of {run_dir.name} is unreadable ({why})"
    newest = newest_snapshot(run_dir, suffixes=("safetensors",))
    try:
        options = read_training_state(newest).get("options") if newest is not None else None
    except (OSError, CheckpointError):
        options = None
    if not isinstance(options, dict):
        return {}, f"{unreadable}, and its newest snapshot records no options: its options were not compared"
    return options, f"{unreadable}: compared with the options that its newest snapshot, {newest.name}, records"


MAX_CONTINUATIONS = 1000  # runs followed back to find where an older version's run started (a cycle would not end)


def recorded_start(recorded: dict[str, Any]) -> str | None:
    """The network a run's training_options.json says it started from (None: new weights). An older version's run
    did not say: it started from new weights where it had no --resume, from its --resume file where that is not one
    of our run snapshots, and where it continued a snapshot, from where that snapshot's run started (followed back
    run by run); UNRECORDED_START where that cannot be told."""
    for _ in range(MAX_CONTINUATIONS):
        if "started_from" in recorded:
            return recorded["started_from"]
        resume = recorded.get("resume", UNRECORDED_START)
        if not isinstance(resume, str) or not Path(resume).name.startswith("network-snapshot-"):
            return resume
        recorded = _run_options(Path(resume).parent)[0]
        if not recorded:
            return UNRECORDED_START
    return UNRECORDED_START


def _start_differences(start: str | None, recorded: dict[str, Any]) -> list[str]:
    """How the network a run started from differs from `start`, the one this job starts from (None: new weights):
    ['started from new weights, not /nets/ffhq.pkl'], or [] (the same, or not recorded)."""
    theirs = recorded_start(recorded)
    if theirs == UNRECORDED_START or _same_start(start, theirs):
        return []
    return [f"started from {theirs or 'new weights'}, not {start or 'new weights'}"]


def _same_start(start: str | None, theirs: Any) -> bool:
    """Whether a run that recorded starting from `theirs` (a path; None: new weights) started from `start`, the
    --resume auto:FILE of this job: for one of NVIDIA's names or a URL, the file downloaded for it (a URL's hash is
    in its name); for a path, the same file, or the same file name where the recorded one is gone (moved with the
    job's files). Two files of one name and size are not taken for each other: a sweep's snapshots share both."""
    if start is None or theirs is None:
        return start == theirs
    if not isinstance(theirs, str):
        return False
    cached = cached_file_name(start)
    if cached is not None:
        return Path(theirs).name == cached
    ours = os.path.abspath(os.path.expanduser(start))
    if not os.path.exists(theirs):
        return Path(ours).name == Path(theirs).name
    return same_place(ours, theirs)


def fallback_file(spec: str) -> str:
    """The file `--resume auto:FILE` starts from, fetched only now that the run has no snapshot (NVIDIA's network
    names and URLs are downloaded into the cache dir once)."""
    try:
        return str(network_file(spec))
    except DownloadError as err:
        raise TrainingError(f"--resume auto:{spec}: {err}, or pass the file's path") from None
